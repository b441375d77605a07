"""`python -m charsuite.summary RUN_OR_BATCH_DIR...`: the claims a paper makes, as markdown.

Per model and device: largest context measured and predicted (memory model), scaling
exponents, roofline shares, noisy points; per SSM/hybrid x Transformer pair on one device:
where the prefill and decode latencies cross, with a 95% bootstrap interval from the timed
repeats. Exponents and crossovers leave noisy points out unless `analysis.include_noisy=true`.

    python -m charsuite.summary RUN_OR_BATCH_DIR... [analysis.include_noisy=true]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from charsuite import __version__, results
from charsuite.analysis.crossover import bootstrap_crossings, crossings, speedup_curve
from charsuite.analysis.memory_model import predicted_max_for_run, runtime_baseline
from charsuite.analysis.roofline import point_shares
from charsuite.analysis.scaling import fit_exponent
from charsuite.analysis.setups import PAIR_SETTINGS, bootstrap_speedup, differing, label, like_for_like, modelled, setup
from charsuite.analysis.stops import max_context_cell
from charsuite.analysis.trust import include_noisy_arg, incomparable, is_noisy, usable
from charsuite.engines import DEFAULT, baseline_labels
from charsuite.errors import UsageError, description, run_command
from charsuite.units import human_tokens


def _fmt_ctx(v) -> str:
    return "-" if v is None or (isinstance(v, float) and pd.isna(v)) else human_tokens(int(v))


MODEL_COLUMNS = ["model", "size", "family", "device", "max context prefill (how it ended)",
                 "max context decode (how it ended)", "predicted max",
                 "prefill exponent", "decode exponent", "noisy points",
                 "prefill TFLOP/s (share of peak: calibrated* or data sheet) at max",
                 "decode GB/s (share of peak) at max", "setup", "weights (MiB)"]
CROSSOVER_COLUMNS = ["SSM/hybrid", "Transformer", "device", "phase", "crossover (tokens)", "95% bootstrap interval",
                     "predicted (simulated)", "setup"]
PATH_COLUMNS = ["model", "size", "device", "phase", "compared", "speedup", "95% bootstrap interval", "contexts"]
# Which side of a pair is the one tried: compile/cudagraph over eager, chunked over one-shot, kernels over
# reference, another engine over transformers (and, within llama.cpp, a quantized weight type over f32).
BASELINES = dict(zip(PAIR_SETTINGS, (("eager",), ("one-shot",), ("reference",), baseline_labels())))


def _setup_text(s: dict[str, str]) -> str:
    return label(s, [k for k in PAIR_SETTINGS if s[k] != "-" and not (k == "engine" and s[k] == DEFAULT)])


def model_rows(points: pd.DataFrame, summaries: pd.DataFrame, include_noisy: bool = False) -> list[list[str]]:
    """One row of MODEL_COLUMNS per run."""
    rows = []
    trusted = usable(points, include_noisy)
    for run_dir, g in summaries.groupby("run_dir", sort=True):
        model, size, device = g.iloc[0]["model"], g.iloc[0]["size"], g.iloc[0]["device"]
        by_phase = {r["phase"]: r for _, r in g.iterrows()}
        exps = {}
        for phase in ("prefill", "decode"):
            p = trusted[(trusted["run_dir"] == run_dir) & (trusted["phase"] == phase)].sort_values("context")
            top = p.iloc[len(p) // 2:] if len(p) >= 4 else p  # the long-context end of the curve
            e = fit_exponent(list(top["context"]), list(top["latency_s"]))
            exps[phase] = f"{e:.2f}" if e is not None else "-"
        fam = g.iloc[0]["family"]
        mine = points[points["run_dir"] == run_dir]
        ok = mine[(mine["status"] == "ok") & mine["phase"].isin(["prefill", "decode"])]
        noisy = f"{int(is_noisy(ok).sum())} of {len(ok)}"
        how = setup(mine)
        pred = None if not modelled(mine) else predicted_max_for_run(
            g.iloc[0]["run"], g.iloc[0]["memory_limit_bytes"], runtime_baseline(mine["mem"]) if "mem" in mine else 0)
        roof = {}
        for phase in ("prefill", "decode"):
            p = mine[(mine["phase"] == phase) & (mine["status"] == "ok")]
            r = point_shares(g.iloc[0]["run"], p.sort_values("context").iloc[-1].to_dict()) if len(p) else None
            if r is None:
                roof[phase] = "-"
            elif phase == "prefill":
                mark = "*" if r["peak_basis"].startswith("calibrated") else ""
                share = f" ({r['flops_share']:.1%}{mark})" if r["flops_share"] is not None else ""
                roof[phase] = f"{r['achieved_tflops']:.3g}{share}"
            else:
                mark = "*" if r["peak_basis"].startswith("calibrated") else ""
                share = f" ({r['bandwidth_share']:.1%}{mark})" if r["bandwidth_share"] is not None else ""
                roof[phase] = f"{r['achieved_bandwidth_gbs']:.3g}{share}"
        held = [m["weights"] for m in ok["mem"] if isinstance(m, dict) and m.get("weights")] if "mem" in ok else []
        rows.append([model, size, fam, device, max_context_cell(by_phase.get("prefill"), points),
                     max_context_cell(by_phase.get("decode"), points), _fmt_ctx(pred), exps["prefill"],
                     exps["decode"], noisy, roof["prefill"], roof["decode"], _setup_text(how),
                     f"{held[0] / 2**20:,.0f}" if held else "-"])  # as the engine holds them (llama.cpp: per quant)
    return rows


def crossover_rows(points: pd.DataFrame, include_noisy: bool = False) -> list[list[str]] | None:
    """One row of CROSSOVER_COLUMNS per crossing (or per pair and phase that never crosses);
    None when no SSM/hybrid and Transformer share a device."""
    rows = []
    ok = usable(points, include_noisy)
    ok = ok[ok["phase"].isin(["prefill", "decode"])]
    runs = {}
    for run_dir, g in ok.groupby("run_dir", sort=True):
        r = g.iloc[0]
        runs[(r["model"], r["size"], r["device"], r["family"], run_dir)] = g
    found = False
    for (m1, s1, d1, f1, r1), g1 in runs.items():
        if f1 not in ("ssm", "hybrid"):
            continue
        for (m2, s2, d2, f2, r2), g2 in runs.items():
            if f2 != "transformer" or d2 != d1 or not like_for_like(g1, g2):
                continue
            for phase in ("prefill", "decode"):
                a = {r["context"]: r["latency_samples_s"] for _, r in g1[g1["phase"] == phase].iterrows()}
                b = {r["context"]: r["latency_samples_s"] for _, r in g2[g2["phase"] == phase].iterrows()}
                if len(set(a) & set(b)) < 2:
                    continue
                found = True
                pair = [f"{m1} {s1}", f"{m2} {s2}", d1, phase]
                how = _setup_text({**setup(g1), "impl": "-"})
                apart = incomparable(g1, g2)
                predicted = predicted_crossings(g1[g1["phase"] == phase], g2[g2["phase"] == phase])
                for res in bootstrap_crossings(a, b, n=500) or [{"estimate": None, "ci95": None}]:
                    est, ci = res["estimate"], res["ci95"]
                    rows.append([*pair, human_tokens(int(round(est))) if est else "no crossover in range",
                                 f"- (not comparable: {apart})" if apart and est else
                                 f"{human_tokens(int(ci[0]))} - {human_tokens(int(ci[1]))}" if ci and est else "-",
                                 predicted, how])
    return rows if found else None


def predicted_crossings(a: pd.DataFrame, b: pd.DataFrame) -> str:
    """Where the latency model's predictions of the same two runs cross (workload.predict_latency: each line's
    latency_predicted_s), for the measured crossing beside it; "-" where either run predicted nothing."""
    pa, pb = ({int(r["context"]): float(r["latency_predicted_s"]) for _, r in g.iterrows()
               if pd.notna(r.get("latency_predicted_s"))} if "latency_predicted_s" in g else {} for g in (a, b))
    if len(set(pa) & set(pb)) < 2:
        return "-"
    found = crossings(speedup_curve(pa, pb))
    return ", ".join(human_tokens(int(round(x))) for x in found) if found else "none in range"


def no_crossings(points: pd.DataFrame, include_noisy: bool) -> str:
    """Why the Crossovers section is empty, truly: no such pair measured, or one whose points are noisy."""
    ok = points[(points["status"] == "ok") & points["phase"].isin(["prefill", "decode"])]
    for device, g in ok.groupby("device"):
        if {"ssm", "hybrid"} & set(g["family"]) and "transformer" in set(g["family"]):
            if not include_noisy and crossover_rows(points, include_noisy=True) is not None:
                return (f"none from trusted points: an SSM/hybrid and a Transformer ran on {device}, but too few of "
                        "their points are left once noisy ones are (analysis.include_noisy=true puts them back)")
            return (f"none: an SSM/hybrid and a Transformer ran on {device}, but not in like-for-like setups over "
                    "two or more shared lengths")
    return "no SSM/hybrid and Transformer measured on the same device"


def execution_rows(points: pd.DataFrame, include_noisy: bool = False) -> list[list[str]] | None:
    """One row of PATH_COLUMNS per pair of runs of one model, size, device and dtype that differ
    in exactly one execution setting (mode, chunking, mixer path), per phase: how many times
    faster the tried path is, with a 95% bootstrap interval. None when no such pair exists."""
    ok = usable(points, include_noisy)
    ok = ok[ok["phase"].isin(["prefill", "decode"])]
    runs = {d: (g, setup(points[points["run_dir"] == d])) for d, g in ok.groupby("run_dir", sort=True)}
    rows, names = [], sorted(runs)
    for i, d1 in enumerate(names):
        for d2 in names[i + 1:]:
            (g1, s1), (g2, s2) = runs[d1], runs[d2]
            same = all(g1.iloc[0][k] == g2.iloc[0][k] for k in ("model", "size", "device", "dtype"))
            diff = differing([s1, s2])
            if not same or len(diff) != 1 or diff[0] not in BASELINES:
                continue
            k = diff[0]
            base = next((b for b in BASELINES[k] if b in (s1[k], s2[k])), None)
            (ga, sa), (gb, sb) = ((g2, s2), (g1, s1)) if s1[k] == base else ((g1, s1), (g2, s2))
            for phase in ("prefill", "decode"):
                a, b = ({r["context"]: r["latency_samples_s"] for _, r in g[g["phase"] == phase].iterrows()
                         if isinstance(r["latency_samples_s"], list)} for g in (ga, gb))
                r = bootstrap_speedup(a, b)
                if r is None:
                    continue
                ctx = r["contexts"]
                apart = incomparable(ga, gb)
                rows.append([ga.iloc[0]["model"], str(ga.iloc[0]["size"]), ga.iloc[0]["device"], phase,
                             f"{sa[k]} vs {sb[k]}", f"{r['speedup']:.2f}x",
                             f"- (not comparable: {apart})" if apart else
                             f"{r['ci95'][0]:.2f}-{r['ci95'][1]:.2f}x" if r["ci95"] else "- (one sample)",
                             f"{human_tokens(ctx[0])}-{human_tokens(ctx[-1])} ({len(ctx)})"])
    return rows or None


def _md(columns: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def markdown(paths: list[Path], include_noisy: bool = False) -> str:
    points = results.load_table(paths)
    summaries = results.load_summaries(paths)
    if points.empty:
        raise UsageError(f"no results under {', '.join(map(str, paths))}")
    if summaries.empty:
        raise UsageError(f"no readable summary.json under {', '.join(map(str, paths))} (a run writes it when it "
                         "ends: re-run its command to finish it)")
    basis = ("noisy points included (analysis.include_noisy=true)" if include_noisy else
             "noisy points left out (analysis.include_noisy=true puts them back)")
    crossings = crossover_rows(points, include_noisy)
    paths_ = execution_rows(points, include_noisy)
    out = ["## Models", "", f"Exponents and crossovers: {basis}.", "",
           *_md(MODEL_COLUMNS, model_rows(points, summaries, include_noisy)), "", "## Crossovers", "",
           *(_md(CROSSOVER_COLUMNS, crossings) if crossings is not None else [no_crossings(points, include_noisy)])]
    if paths_ is not None:
        out += ["", "## Execution paths", "",
                "Speedup: geometric mean over the contexts both runs measured of (baseline latency / tried "
                "latency); above 1x the first-named path is faster.", "", *_md(PATH_COLUMNS, paths_)]
    elif not include_noisy and execution_rows(points, include_noisy=True) is not None:
        out += ["", "## Execution paths", "", "none from trusted points: the runs that differ in one setting were "
                "flagged noisy where they overlap (analysis.include_noisy=true compares them anyway)"]
    return "\n".join(out) + "\n"


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m charsuite.summary", description=description(__doc__))
    ap.add_argument("--version", action="version", version=f"charsuite.summary (charsuite) {__version__}")
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--claims", metavar="EXPERIMENT", help="append the reference study's claims for an experiment "
                    "(ispass_rtx4090, ispass_orin_nano) beside charsuite's numbers (charsuite.claims)")
    argv, include_noisy = include_noisy_arg(list(argv if argv is not None else sys.argv[1:]))
    args = ap.parse_args(argv)
    if args.claims:
        from charsuite import claims

        claims.experiment(args.claims)  # an unknown name is one line before any folder is read
    results.check_folders(args.dirs)
    print(markdown(args.dirs, include_noisy), end="")
    if args.claims:
        nums = claims.numbers(args.claims, args.dirs, say=lambda s: print(s, file=sys.stderr, flush=True))
        print("\n" + claims.claims_markdown(args.claims, nums), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("charsuite.summary", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
