"""`python -m charsuite.claims EXPERIMENT [RUN_DIR ...] [--no-simulate] [--format md|json]`: the reference
study's claims for an experiment (conf/claims/ispass2026.yaml: ispass_rtx4090, ispass_orin_nano), each beside
charsuite's number for it - measured from the run folders given where they ran on the claim's device
(analysis/claims.py), simulated otherwise under the study's method and charsuite's defaults (dry-runs of the
real code for memory, the latency model for time and shares) - with the method differences that move them.

Simulated numbers take minutes at the study's sizes (a boundary search per model and method); every one is
labelled with what it rests on. `charsuite.summary DIR --claims EXPERIMENT` appends the same section."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from omegaconf import OmegaConf

from charsuite import __version__, results
from charsuite.analysis.claims import ClaimNumber, _model, faster_text, measured_numbers
from charsuite.config import CONF_DIR, ConfigError
from charsuite.errors import description, one_line, run_command
from charsuite.units import human_tokens

CLAIMS_FILE = CONF_DIR / "claims" / "ispass2026.yaml"


def load_claims() -> dict:
    return OmegaConf.to_container(OmegaConf.load(CLAIMS_FILE), resolve=True)


def experiment(name: str) -> dict:
    found = load_claims()["experiments"]
    if name not in found:
        raise ConfigError(f"no claims for experiment {name!r}; choose one of: {', '.join(found)}")
    return found[name]


def _overrides(spec: str, side: str, device: str, method: dict, extra: list[str]) -> list[str]:
    name, size = _model(spec)
    engine = method["ssm_engine"] if side == "ssm" else "transformers"
    own = method["ssm_overrides"] if side == "ssm" else []
    return [f"+model={name}", f"model.size={size}", f"device={device}", f"engine={engine}", *method["overrides"],
            *own, *extra]


def _method_text(name: str, method: dict) -> str:
    return f"{name}: SSM engine={method['ssm_engine']} " + " ".join(method["overrides"] + method["ssm_overrides"])


def _reach(claim: dict, device: str, name: str, method: dict) -> ClaimNumber:
    from charsuite.compose import compose
    from charsuite.predict import prediction

    window = ["context.min=1024", "context.max=1024"]
    tops = {side: prediction(compose(_overrides(claim[side], side, device, method, window)))["predicted_max_context"]
            for side in ("ssm", "transformer")}
    n, tn = tops["ssm"], tops["transformer"]
    ratio = n / tn if n and tn else None
    value = (f"{human_tokens(n) if n else 'none'} tokens"
             + (f", {ratio:.1f}x the Transformer's {human_tokens(tn)}" if ratio else ""))
    return ClaimNumber(claim["id"], claim["stated"], value, "simulated (boundary search on dry-runs of the real "
                       "code, the device profile's usable memory)", _method_text(name, method),
                       f"{claim['ssm']} vs {claim['transformer']}", ratio)


def _ladder(spec: str, side: str, device: str, method: dict, lengths: list[int]) -> dict[int, dict]:
    from charsuite.compose import compose
    from charsuite.predict import target_impl
    from charsuite.simulate import latency
    from charsuite.simulate.boundary import options

    run = compose(_overrides(spec, side, device, method, []))
    rows, roof = latency.ladder(run, run.model, lengths, options(run, target_impl(run)))
    if roof is None:
        raise ConfigError(f"device={device} has neither a calibration nor data-sheet peaks for {run.model.dtype}")
    return {r["context"]: r for r in rows if "prefill_s" in r}


def _lengths(lo: int, hi: int) -> list[int]:
    out = [lo]
    while out[-1] * 2 <= hi:
        out.append(out[-1] * 2)
    return out


def _speedup(claim: dict, device: str, name: str, method: dict) -> ClaimNumber:
    lengths = _lengths(*claim["contexts"])
    lat = {side: _ladder(claim[side], side, device, method, lengths) for side in ("ssm", "transformer")}
    slow = "ssm" if claim["faster"] == "transformer" else "transformer"
    fast = "transformer" if slow == "ssm" else "ssm"
    common = [n for n in lengths if n in lat["ssm"] and n in lat["transformer"]]
    best = max(common, key=lambda n: lat[slow][n]["prefill_s"] / lat[fast][n]["prefill_s"])
    ratio = lat[slow][best]["prefill_s"] / lat[fast][best]["prefill_s"]
    return ClaimNumber(claim["id"], claim["stated"], faster_text(fast, ratio, best, len(common)), _simulated_latency(),
                       _method_text(name, method), f"{claim['ssm']} vs {claim['transformer']}", ratio)


def _share(claim: dict, device: str, name: str, method: dict) -> ClaimNumber:
    row = _ladder(claim["ssm"], "ssm", device, method, [claim["context"]])[claim["context"]]
    cats = row["latency_by_category"]
    part = sum(cats.get(c, 0.0) for c in claim["categories"]) / sum(cats.values())
    return ClaimNumber(claim["id"], claim["stated"], f"{part:.0%} of the prefill at {human_tokens(claim['context'])} "
                       f"({' + '.join(claim['categories'])})", _simulated_latency(), _method_text(name, method),
                       claim["ssm"], part)


def _simulated_latency() -> str:
    from charsuite.simulate.latency import KNOWN_GAPS

    return f"simulated (latency model at the device's peaks; not yet modelled: {KNOWN_GAPS})"


SIMULATORS = {"reach": _reach, "speedup": _speedup, "share": _share}


def numbers(name: str, paths: list[Path], simulate: bool = True, say=print,
            exp: dict | None = None) -> list[ClaimNumber]:
    """Every claim of experiment `name` (or of `exp`, an experiment of the claims file's shape), measured where
    `paths` hold runs on its device, else simulated under each method."""
    exp = exp or experiment(name)
    device = exp["device"]
    points = results.load_table(paths) if paths else None
    summaries = results.load_summaries(paths) if paths else None
    methods = load_claims()["methods"]
    out: list[ClaimNumber] = []
    for claim in exp["claims"]:
        found = measured_numbers(claim, device, points, summaries) if points is not None and not points.empty else []
        out += found
        if found or not simulate:
            continue
        for mname, method in methods.items():
            say(f"charsuite.claims: {claim['id']}: simulating under the {mname} method")
            try:
                out.append(SIMULATORS[claim["kind"]](claim, device, mname, method))
            except ConfigError as exc:  # a method this machine cannot dry-run (mamba_ssm not installed): said
                out.append(ClaimNumber(claim["id"], claim["stated"], "not simulated here", f"({one_line(exc)})",
                                       _method_text(mname, method), claim.get("ssm", "")))
    return out


def claims_markdown(name: str, nums: list[ClaimNumber]) -> str:
    data = load_claims()
    exp = data["experiments"][name]
    lines = [f"## Claims: {data['study']} ({name}, device={exp['device']})", "",
             "| claim (as the study states it) | charsuite | basis | method | compared |", "|---|---|---|---|---|"]
    lines += [f"| {n.stated} | {n.value} | {n.basis} | {n.method} | {n.compared} |" for n in nums]
    lines += ["", "What else differs between the study's method and charsuite's (flip a setting to see a claim move):",
              ""]
    lines += [f"- {d['what']}: `{d['flip']}`" for d in data["differences"]]
    return "\n".join(lines) + "\n"


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m charsuite.claims", description=description(__doc__))
    ap.add_argument("--version", action="version", version=f"charsuite.claims (charsuite) {__version__}")
    ap.add_argument("experiment")
    ap.add_argument("dirs", nargs="*", type=Path)
    ap.add_argument("--no-simulate", action="store_true", help="measured numbers only")
    ap.add_argument("--format", choices=("md", "json"), default="md")
    args = ap.parse_args(argv)
    experiment(args.experiment)  # an unknown name is one line before any folder is read
    if args.dirs:
        results.check_folders(args.dirs)
    nums = numbers(args.experiment, args.dirs, simulate=not args.no_simulate,
                   say=lambda s: print(s, file=sys.stderr, flush=True))
    if args.format == "json":
        print(json.dumps([dataclasses.asdict(n) for n in nums], indent=2))
    else:
        print(claims_markdown(args.experiment, nums), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command("charsuite.claims", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
