"""The machine's own roofline, measured (issue 30, first piece): calibrate's numbers are rates from timed
repeats with their interval and noise verdict, saved as data; a CUDA profile on a CPU is one line, exit 2."""

import json

import torch

from charsuite.calibrate import calibrate, main

CPU = torch.device("cpu")


def test_every_rate_is_measured_with_its_repeats_interval_and_noise_verdict():
    r = calibrate(CPU, ["float32"], quick=True)
    probes = [r["bandwidth"]["copy_gbs"], r["bandwidth"]["triad_gbs"], r["dispatch"], r["module_dispatch"],
              *r["matmul_tflops"]["float32"].values()]
    for p in probes:
        low, high = p["median_ci_s"]
        assert p["value"] > 0 and p["repeats"] == 3 and low <= p["seconds"] <= high
        assert isinstance(p["noisy"], bool) and (p["noise_reason"] is None) != p["noisy"]
    large = r["matmul_tflops"]["float32"]["large"]
    assert large["mnk"] == [256, 256, 256] and large["value"] == 2 * 256**3 / 1e12 / large["seconds"]
    assert r["dispatch"]["us_per_op"] > 0 and "cuda_graph" not in r
    # a block: rsqrt-norm (pow, mean, add, rsqrt, mul, mul), gated MLP (mm, split, silu, mul, mm), residual add
    assert r["module_dispatch"]["ops"] >= 4 * 10 and r["module_dispatch"]["us_per_op"] > 0
    grid = r["gemm_grid_tflops"]["float32"]
    assert len(grid) == 8 and all(g["value"] > 0 and len(g["mnk"]) == 3 for g in grid)  # the quick grid: 2 x 2 x 2
    assert [g["mnk"] for g in r["attention_grid_tflops"]["float32"]] == [[64, 16, 64], [1, 16, 64]]  # prefill, decode
    rates = {(o["class"], o["key"]): o for o in r["op_rates"]}
    assert set(rates) == {("masked_fill", 2**20), ("cumsum", 2**20), ("exp_infinite", 2**20), ("depthwise_conv", 2**20),
                          ("depthwise_conv", 1024 * 4)}
    assert all(o["value"] > 0 and o["bytes"] > 0 and isinstance(o["noisy"], bool) for o in rates.values())
    touch = r["first_touch"]
    assert touch is None or (touch["ns_per_byte"] >= 0 and touch["fresh_gbs"] > 0)  # None: not glibc


def test_the_command_saves_its_record_and_refuses_what_this_machine_cannot_measure(tmp_path, capsys):
    out = tmp_path / "cpu.json"
    assert main(["quick=true", f"out={out}"]) == 0
    saved = json.loads(out.read_text())
    assert saved["profile"] == "cpu" and saved["bandwidth"]["copy_gbs"]["value"] > 0
    assert main(["nonsense"]) == 2
    assert main(["quick=maybe"]) == 2
    assert main(["quick=true", f"out={tmp_path / 'no' / 'such' / 'dir' / 'x.json'}"]) == 0  # folders are made
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert main(["quick=true", f"out={blocked / 'x.json'}"]) == 2  # unwritable: one line, the record on stdout
    if not torch.cuda.is_available():
        assert main(["device=h100", f"out={tmp_path / 'h100.json'}"]) == 2 and not (tmp_path / "h100.json").exists()
    captured = capsys.readouterr()
    assert len([ln for ln in captured.err.splitlines() if ln.startswith("charsuite.calibrate: ")]) >= 4
    assert '"bandwidth"' in captured.out and "Traceback" not in captured.err


def test_the_roofline_shares_use_the_calibration_when_run_json_carries_one():
    from charsuite.analysis.roofline import peaks
    from charsuite.run_records import RunRecord

    sheet = {"config": {"device": {"peak_tflops": {"float32": 1.0}, "peak_bandwidth_gbs": 50.0}}}
    assert peaks(RunRecord.from_dict(sheet), "float32") == (1.0, 50.0, "data sheet")
    cal = {"measured_at": "2026-12-05T19:00:00Z", "matmul_tflops": {"float32": {"large": {"value": 0.2}}},
           "bandwidth": {"triad_gbs": {"value": 9.5}}}
    calibrated = RunRecord.from_dict({**sheet, "calibration": cal})
    assert peaks(calibrated, "float32") == (0.2, 9.5, "calibrated 2026-12-05T19:00:00Z")
    hostile = {**sheet, "calibration": {"matmul_tflops": 5, "bandwidth": {"triad_gbs": {"value": "fast"}}}}
    # a hand-edited file never breaks a summary
    assert peaks(RunRecord.from_dict(hostile), "float32") == (1.0, 50.0, "data sheet")
