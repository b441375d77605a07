"""Hostile input through the real CLI (issue 31): what the machine bounds, refused in one line
with exit 2 before a worker starts; the thread case inside a child held to a few processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from charsuite.config import physical_memory_bytes
from helpers import REPO, load_factor, run_cli

TINY = ("+model=qwen2_5", "model.size=tiny", "context.min=64", "context.max=64")
PIDS = Path("/sys/fs/cgroup/pids")


def one_line(r) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-3000:]
    return lines[0]


def test_more_threads_than_cores_and_a_cap_above_the_machine_are_refused(tmp_path):
    cores = len(os.sched_getaffinity(0))
    line = one_line(run_cli(*TINY, f"device.threads={cores + 1}", f"hydra.run.dir={tmp_path / 't'}", timeout=300))
    assert f"device.threads={cores + 1}" in line and f"{cores} cores" in line
    gb = physical_memory_bytes() / 1024**3 * 2
    line = one_line(run_cli(*TINY, f"device.memory_gb={gb:.0f}", f"hydra.run.dir={tmp_path / 'm'}", timeout=300))
    assert "more than this machine's" in line
    assert not (tmp_path / "t").exists() and not (tmp_path / "m").exists()  # refused before the folder is made


@pytest.mark.skipif(not (PIDS / "cgroup.procs").exists() or not os.access(PIDS, os.W_OK),
                    reason="needs a writable pids cgroup (v1) to hold the child to a few processes")
def test_a_million_threads_is_refused_inside_a_child_held_to_64_processes(tmp_path):
    group = PIDS / f"charsuite-test-{os.getpid()}"
    group.mkdir()
    proc = None
    try:
        (group / "pids.max").write_text("64")  # the host's process table is never at stake
        procs = str(group / "cgroup.procs")

        def enter() -> None:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))

        proc = subprocess.Popen([sys.executable, "-m", "charsuite", *TINY, "device.threads=1000000",
                                 f"hydra.run.dir={tmp_path / 'run'}"], cwd=REPO, preexec_fn=enter,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _, err = proc.communicate(timeout=300)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and "device.threads=1000000" in lines[0], err[-3000:]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in (group / "cgroup.procs").read_text().split():
            os.kill(int(pid), 9)
        group.rmdir()


HYDRA_BAD = [
    (("hydra.run.dir=${oops}",), "hydra.run.dir does not resolve"),
    (("hydra.run.dir=",), "hydra.run.dir is empty"),
    (("hydra/launcher=nope",), "unknown hydra/launcher 'nope'; choose one of: basic"),
    (("hydra.run.dir='unterminated",), "cannot parse overrides"),
    (("hydra.run.dir=/tmp/a]b",), "cannot parse overrides"),
    (("hydra.nope=3",), "unknown config key 'hydra.nope'"),
    (("hydra.job.chdir=maybe",), "hydra.job.chdir"),
    (("+model=mamba2,qwen2_5",), "add -m first"),
    (("workload.repeats=2", "-m"), "-m goes before the overrides"),
    (("hydra.run.dir=/proc/charsuite-run",), "cannot create run folder /proc/charsuite-run"),  # root passes access()
]


@pytest.mark.parametrize("extra,why", HYDRA_BAD, ids=[" ".join(e) for e, _ in HYDRA_BAD])
def test_hydra_overrides_and_misplaced_flags_are_checked_up_front(tmp_path, extra, why):
    r = subprocess.run([sys.executable, "-m", "charsuite", *TINY, *extra], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert why in one_line(r)
    assert not list(tmp_path.iterdir())  # nothing written, the current directory least of all


def test_a_batch_checks_its_overrides_before_any_family_starts(tmp_path):
    r = run_cli("cpu_quick", "workload.repeats=0", f"hydra.sweep.dir={tmp_path / 'b'}", module="charsuite.batch",
                timeout=300)
    assert "workload.repeats" in one_line(r) and not (tmp_path / "b").exists()


def _descendants(pid: int) -> set[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    out, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - out
        out |= frontier
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_to_a_batch_ends_the_family_it_runs_and_reports_its_own_folder(tmp_path):
    import signal
    import time

    sweep = tmp_path / "mine"
    proc = subprocess.Popen([sys.executable, "-m", "charsuite.batch", "cpu_quick", f"hydra.sweep.dir={sweep}",
                             "workload.repeat_time_s=600", "workload.max_repeats=100000",
                             "workload.target_rel_ci=0.00001"], cwd=REPO, stderr=subprocess.PIPE, text=True)
    kids: set[int] = set()
    try:
        def worker_started() -> bool:  # an event, not a clock: the family's worker measures its first point
            return any("charsuite.worker" in Path(f"/proc/{k}/cmdline").read_text(errors="replace")
                       for k in _descendants(proc.pid) if _alive(k))

        while not worker_started():
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            time.sleep(0.5)
        kids = _descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=300 * load_factor())
        assert proc.returncode == 143, err[-3000:]
        deadline = time.monotonic() + 60 * load_factor()  # the worker ends with its driver
        while any(_alive(k) for k in kids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(k) for k in kids), [Path(f"/proc/{k}/cmdline").read_text() for k in kids if _alive(k)]
        assert f"charsuite batch {sweep}" in err  # the report reads the folder the jobs wrote
        assert [p.name for p in sweep.iterdir() if p.is_dir()] == ["mamba2-tiny-float32_cpu"]  # no family after
    finally:
        for pid in [proc.pid, *kids]:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        proc.wait()


def test_a_finished_run_resubmitted_builds_nothing_and_a_longer_ladder_still_measures(tmp_path):
    run_dir = tmp_path / "run"
    base = ("+model=qwen2_5", "model.size=tiny", "context.min=64", "workload.phases=[prefill]",
            f"hydra.run.dir={run_dir}")
    assert run_cli(*base, "context.max=128", timeout=600).returncode == 0
    before = {f: (run_dir / f).stat().st_mtime_ns for f in ("results.jsonl", "run.json")}
    again = run_cli(*base, "context.max=128", timeout=600)
    assert again.returncode == 0 and "holds this run, finished" in again.stderr, again.stderr[-2000:]
    assert {f: (run_dir / f).stat().st_mtime_ns for f in before} == before  # no worker, no model, no write
    longer = run_cli(*base, "context.max=256", timeout=600)
    assert longer.returncode == 0 and "holds this run" not in longer.stderr
    from charsuite import results

    assert sorted(p.context for p in results.read_points(run_dir / "results.jsonl")) == [64, 128, 256]


def _folders(root: Path) -> dict[str, Path]:
    """Model folders whose config.json a user might hand over broken."""
    out = {}
    for name, content in (("not-utf8", b"\xff\xfe{}"), ("a-list", b"[1, 2]"),
                          ("unknown-type", b'{"model_type": "frobnicator"}'),
                          ("nested", b'{"model_type": "qwen2", "text_config": {"hidden_size": 64}}')):
        (root / name).mkdir(parents=True)
        (root / name / "config.json").write_bytes(content)
        out[name] = root / name
    return out


RAW_BEFORE = [  # each once raised a raw exception (exit 1); now one line, exit 2
    (("model.config_class=Nope",), "model.config_class='Nope' is not a transformers config class"),
    (("model.config_class=__class__",), "is not a transformers config class"),
    (("model.gguf=/etc/hostname",), "add engine=llamacpp"),
    (("model.path={not-utf8}",), "its config.json is unreadable"),
    (("model.path={a-list}",), "holds a JSON list"),
    (("model.path={unknown-type}",), "transformers cannot read its config.json"),
    (("model.path={nested}",), "transformers cannot build a model from its config.json"),
]


@pytest.mark.parametrize("extra,why", RAW_BEFORE, ids=[" ".join(e) for e, _ in RAW_BEFORE])
def test_what_once_raised_raw_is_one_line(tmp_path, extra, why):
    folders = _folders(tmp_path / "models")
    extra = [e.format(**folders) for e in extra]
    assert why in one_line(run_cli(*TINY, *extra, f"hydra.run.dir={tmp_path / 'run'}", timeout=600))


def test_run_folder_files_that_are_folders_and_unwritable_profiles_are_said_before_any_point(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "results.jsonl").mkdir(parents=True)
    assert "results.jsonl there is not a file" in one_line(run_cli(*TINY, f"hydra.run.dir={run_dir}", timeout=600))
    prof = tmp_path / "prof"
    (prof / "profiles").parent.mkdir()
    (prof / "profiles").write_text("a file where the folder goes")
    r = run_cli(*TINY, "profile.enabled=true", "profile.contexts=[64]", f"hydra.run.dir={prof}", timeout=600)
    assert "profiles" in one_line(r) and not (prof / "results.jsonl").exists()


def test_a_cache_that_is_a_file_and_lengths_past_the_bound_in_predict_are_one_line(tmp_path):
    pytest.importorskip("llama_cpp")
    cache = tmp_path / "cache"
    cache.write_text("a file")
    r = run_cli(*TINY, "engine=llamacpp", f"hydra.run.dir={tmp_path / 'run'}", env={"CHARSUITE_CACHE": str(cache)},
                timeout=600)
    assert "CHARSUITE_CACHE" in one_line(r)


def test_predict_past_the_longest_length_is_one_line():
    r = run_cli("+model=mamba2", "model.size=tiny", "context.max=2000000000000000000", module="charsuite.predict",
                timeout=600)
    assert "more tokens than a tensor length" in one_line(r)


def test_a_deeply_nested_trace_is_one_line(tmp_path):
    trace = tmp_path / "deep.json"
    trace.write_text("[" * 200_000 + "]" * 200_000)
    r = run_cli(str(trace), module="kernels_profile", timeout=600)
    assert "deep.json" in one_line(r)


def test_a_broken_browser_keeps_report_html(tmp_path):
    from synthetic import ssm_vs_transformer

    runs = ssm_vs_transformer(tmp_path / "runs")
    r = run_cli(str(runs), "--out", str(tmp_path / "figs"), "--formats", "svg", module="charsuite.figures",
                env={"BROWSER_PATH": "/nonexistent/chromium"}, timeout=600)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "report.html" in r.stderr and (tmp_path / "figs" / "report.html").stat().st_size > 10_000


def test_a_named_batch_reports_once_for_all_its_families(tmp_path):
    sweep = tmp_path / "quick"
    r = run_cli("cpu_quick", "context.min=64", "context.max=64", "workload.phases=[prefill]", "workload.repeats=1",
                "workload.max_repeats=1", "workload.warmup=0", f"hydra.sweep.dir={sweep}", module="charsuite.batch",
                timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr.count("charsuite batch ") == 1 and "3 job(s) succeeded, 0 failed" in r.stderr, r.stderr[-3000:]


def test_a_refusal_that_needs_the_model_leaves_no_folder_and_spares_a_running_drivers(tmp_path):
    # issue 32: 8 refusals once left 8 run folders; Mamba-1 cannot prefill in chunks (its guard says so)
    refused = run_cli("+model=mamba", "model.size=tiny", "workload.prefill_chunk=64", "context.max=256",
                      f"hydra.run.dir={tmp_path / 'chunked'}", timeout=600)
    assert "cannot prefill in chunks" in one_line(refused) and not (tmp_path / "chunked").exists()
    from charsuite import results

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "run.json").write_text("{}")
    held = results.lock(busy)  # another driver has just started there
    try:
        r = run_cli(*TINY, f"hydra.run.dir={busy}", timeout=600)
        assert "in use by another charsuite driver" in one_line(r)
        assert (busy / "run.json").exists() and (busy / ".lock").exists()
    finally:
        held.close()


def test_a_batch_reports_only_the_jobs_it_ran(tmp_path):
    # issue 32: a report once counted a job an earlier batch had left in the same folder ("3 succeeded" for 2)
    sweep = tmp_path / "shared"
    common = ("model.size=tiny", "context.min=64", "context.max=64", "workload.phases=[prefill]",
              "workload.repeats=1", "workload.max_repeats=1", "workload.warmup=0", f"hydra.sweep.dir={sweep}")
    first = run_cli("-m", "+model=qwen2_5", *common, timeout=600)
    assert first.returncode == 0 and "1 job(s) succeeded, 0 failed" in first.stderr, first.stderr[-2000:]
    second = run_cli("-m", "+model=mamba2,llama3_2", *common, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    report = second.stderr.split("charsuite batch")[-1]
    assert "2 job(s) succeeded, 0 failed" in report and "qwen2_5" not in report


def test_remeasure_noisy_measures_noisy_points_again_and_each_line_says_its_session(tmp_path):
    from charsuite import results

    run_dir = tmp_path / "run"
    base = ("+model=qwen2_5", "model.size=tiny", "context.min=64", "context.max=128", "workload.phases=[prefill]",
            f"hydra.run.dir={run_dir}")
    assert run_cli(*base, timeout=600).returncode == 0
    path = run_dir / results.RESULTS
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0].replace('"noisy": false', '"noisy": true'), *lines[1:]]) + "\n")
    first = results.read_points(path)
    noisy = sorted(p.context for p in first if p.noisy)  # the one flagged here, and any the machine flagged
    assert first[0].noisy and first[0].session  # the first session's stamp
    plain = run_cli(*base, timeout=600)
    assert plain.returncode == 0 and "remeasure=noisy" in plain.stderr  # kept as it was, and said how to redo it
    assert len(results.read_points(path)) == 2
    again = run_cli(*base, "remeasure=noisy", timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    points = results.read_points(path)
    assert sorted(p.context for p in points[2:]) == noisy  # the noisy points alone, measured again
    assert all(p.session for p in points) and points[-1].session >= first[0].session


def test_a_model_with_learned_positions_stops_at_them_in_each_phase(tmp_path):
    # issue 32: GPT-Neo 125M's 2K decode point (2,048 positions, and decode's tokens after them) was an IndexError
    from charsuite import results

    run_dir = tmp_path / "run"
    r = run_cli("+model=gpt_neo", "model.size=tiny", "model.sizes.tiny.config.max_position_embeddings=256",
                "context.min=64", "context.max=256", "workload.decode_tokens=4", f"hydra.run.dir={run_dir}",
                timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    by = {(p.phase, p.context): p for p in results.read_points(run_dir / results.RESULTS)}
    assert by[("prefill", 256)].status.value == "ok" and by[("decode", 128)].status.value == "ok"
    assert by[("decode", 256)].status.value == "skipped" and "learned positions" in by[("decode", 256)].error
    (decode,) = [s for s in results.read_json(run_dir / results.SUMMARY) if s["phase"] == "decode"]
    assert decode["stop_reason"] == "reached the model's 256 learned positions" and decode["max_context_ok"] == 128
