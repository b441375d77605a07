"""What a killed driver leaves is cleaned (issue 31): a GGUF writer dies with its driver, half-written
files and worker cgroups of dead drivers are swept at the next start."""

import os
import subprocess
import sys
import time

import pytest

from charsuite import cgroups
from charsuite.engines import gguf_files


def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_half_written_files_of_dead_drivers_are_swept(tmp_path):
    stale, live = tmp_path / f"m-tiny-abc.tmp{dead_pid()}", tmp_path / f"m-tiny-abc.tmp{os.getpid()}"
    stale_f32 = tmp_path / f"m-tiny-abc.f32.tmp{dead_pid()}"
    done = tmp_path / "m-tiny-abc-f32.gguf"
    for f in (stale, live, stale_f32, done):
        f.write_bytes(b"x")
    assert set(gguf_files.sweep_stale(tmp_path)) == {stale, stale_f32}
    assert live.exists() and done.exists()


def test_a_writer_dies_with_its_driver_killed_hard():
    driver = ("import subprocess, sys, time\n"
              "from charsuite.engines.gguf_files import die_with_parent\n"
              "w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],\n"
              "                     preexec_fn=die_with_parent)\n"
              "print(w.pid, flush=True)\n"
              "time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", driver], stdout=subprocess.PIPE, text=True)
    writer = None
    try:
        writer = int(proc.stdout.readline())
        proc.kill()  # kill -9: no clean-up of its own runs
        proc.wait()
        deadline = time.monotonic() + 30 * max(1.0, os.getloadavg()[0] / len(os.sched_getaffinity(0)))
        while not gone(writer) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gone(writer)
    finally:
        proc.kill()
        proc.wait()
        if writer is not None and not gone(writer):
            os.kill(writer, 9)


@pytest.mark.skipif(cgroups.parent_dir() is None, reason="no writable memory cgroup on this machine")
def test_worker_cgroups_of_dead_drivers_are_swept():
    parent, _ = cgroups.parent_dir()
    stale = parent / f"charsuite-{dead_pid()}-0"
    stale.mkdir()
    try:
        group = cgroups.MemoryCgroup(2**30)  # a new run's first group sweeps the old ones
        assert not stale.exists() and group.path.exists()
        group.remove()
        assert not group.path.exists()
    finally:
        if stale.exists():
            stale.rmdir()


def test_llamacpp_failures_are_classified_by_what_it_logged():
    from charsuite.engines.llamacpp_context import LlamaRefused, failure

    oom = failure(["llama_init_from_model: failed to allocate compute pp buffers"], "a context of 8192 tokens")
    refused = failure(["llama_init_from_model: K cache type q8_0 with block size 32 does not divide "
                       "n_embd_head_k=16"], "a context of 256 tokens")
    silent = failure([], "the model x.gguf")
    assert isinstance(oom, MemoryError) and "could not allocate a context of 8192" in str(oom)
    assert isinstance(refused, LlamaRefused) and "does not divide" in str(refused)
    assert isinstance(silent, LlamaRefused)  # nothing said is no out-of-memory either


def test_repacked_buffers_are_probed_once_and_the_choice_says_why(tmp_path, monkeypatch):
    from charsuite.engines import llamacpp_repack

    monkeypatch.setattr(llamacpp_repack, "probe_key", lambda gguf: "k-" + gguf)
    calls = []

    def crashed(gguf):
        calls.append(gguf)
        return False, "a probe with them died on this CPU (signal SIGSEGV)"

    monkeypatch.setattr(llamacpp_repack, "probe", crashed)
    assert llamacpp_repack.decide(True, "q8_0", "m.gguf", tmp_path) == (True, "engine.repack=true")
    assert llamacpp_repack.decide(False, "q8_0", "m.gguf", tmp_path)[0] is False
    assert llamacpp_repack.decide("auto", "f32", "m.gguf", tmp_path)[0] is True and not calls  # never repacked
    first = llamacpp_repack.decide("auto", "q8_0", "m.gguf", tmp_path)
    again = llamacpp_repack.decide("auto", "q8_0", "m.gguf", tmp_path)
    assert first == again and first[0] is False and "SIGSEGV" in first[1] and "engine.repack=false" in first[1]
    assert calls == ["m.gguf"]  # probed once, then read from the cache
