"""The reference study's claims beside charsuite's measured numbers (conf/claims/ispass2026.yaml): from the
result table and summaries of runs on the claim's device, one number per pair of runs, each with the setup it
ran (analysis/setups.py) so a reader sees which method gave it. charsuite/claims.py adds the simulated ones.

Kinds: `reach` - the largest prefill that ran for the SSM and for the Transformer, and their ratio;
`speedup` - the largest latency ratio (slower / faster) at the contexts both runs measured within the claim's
range (a single length: the common context nearest it, within a factor 1.5), prefill, trusted points only;
`share` - the claim's categories' share of a profiled prefill of the SSM (the breakdown's seconds)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charsuite.analysis.setups import setup
from charsuite.analysis.trust import usable
from charsuite.units import human_tokens

NEAR = 1.5  # a single-length claim compares the common context nearest it, within this factor


@dataclass(frozen=True)
class ClaimNumber:
    claim: str        # its id in the claims file
    stated: str       # as the study states it
    value: str        # charsuite's number, in words
    basis: str        # "measured (RUN_DIR)" or "simulated (...)"
    method: str       # how it ran: a measured run's setup, or a method of the claims file
    compared: str     # which models
    ratio: float | None = None  # the number itself, where the claim is a ratio or a share


def _model(spec: str) -> tuple[str, str]:
    name, size = spec.split("/")
    return name, size


def _runs(points, device: str, spec: str) -> dict[str, Any]:
    """{run_dir: its lines} of one model/size on the device."""
    name, size = _model(spec)
    mine = points[(points["model"] == name) & (points["size"].astype(str) == size) & (points["device"] == device)]
    return {d: g for d, g in mine.groupby("run_dir", sort=True)}


def _how(rows) -> str:
    s = setup(rows)
    return ", ".join(f"{k} {v}" for k, v in s.items() if v not in ("-", None))


def _label(run_dir: str) -> str:
    return Path(run_dir).name


def reach_numbers(claim: dict, device: str, points, summaries) -> list[ClaimNumber]:
    out = []
    tops: dict[str, list] = {"ssm": [], "transformer": []}
    for side in tops:
        for d, rows in _runs(points, device, claim[side]).items():
            s = summaries[(summaries["run_dir"] == d) & (summaries["phase"] == "prefill")]["max_context_ok"].dropna()
            if len(s):
                tops[side].append((d, rows, int(s.iloc[0])))
    for d, rows, n in tops["ssm"]:
        for td, _, tn in tops["transformer"] or [(None, None, None)]:
            ratio = n / tn if tn else None
            value = f"{human_tokens(n)} tokens" + (f", {ratio:.1f}x the Transformer's {human_tokens(tn)}" if tn else "")
            out.append(ClaimNumber(claim["id"], claim["stated"], value, f"measured ({_label(d)}"
                                   + (f", {_label(td)})" if td else ")"), _how(rows),
                                   f"{claim['ssm']} vs {claim['transformer']}", ratio))
    return out


def faster_text(fast: str, ratio: float, at: int, lengths: int) -> str:
    """The claim's side `fast` being `ratio` times faster at `at`, said the right way round when it is not."""
    names = {"ssm": "the SSM", "transformer": "the Transformer"}
    other = "transformer" if fast == "ssm" else "ssm"
    lead, times = (fast, ratio) if ratio >= 1 else (other, 1 / ratio)
    return (f"{names[lead]} {times:.2f}x faster at {human_tokens(at)} (prefill; the claim's best case over "
            f"{lengths} length{'s' if lengths > 1 else ''})")


def _window(claim: dict) -> tuple[float, float]:
    lo, hi = claim["contexts"]
    return (lo / NEAR, hi * NEAR) if lo == hi else (lo, hi)


def speedup_numbers(claim: dict, device: str, points, include_noisy: bool = False) -> list[ClaimNumber]:
    trusted = usable(points, include_noisy)
    lo, hi = _window(claim)
    out = []
    for d, rows in _runs(trusted, device, claim["ssm"]).items():
        for td, trows in _runs(trusted, device, claim["transformer"]).items():
            lat = {k: {int(r["context"]): float(r["latency_s"]) for _, r in g[g["phase"] == "prefill"].iterrows()}
                   for k, g in (("ssm", rows), ("transformer", trows))}
            common = sorted(set(lat["ssm"]) & set(lat["transformer"]))
            common = [n for n in common if lo <= n <= hi]
            if claim["contexts"][0] == claim["contexts"][1] and common:  # the one nearest the stated length
                common = [min(common, key=lambda n: abs(math.log(n / claim["contexts"][0])))]
            if not common:
                continue
            slow = "ssm" if claim["faster"] == "transformer" else "transformer"
            fast = "transformer" if slow == "ssm" else "ssm"
            best = max(common, key=lambda n: lat[slow][n] / lat[fast][n])
            ratio = lat[slow][best] / lat[fast][best]
            out.append(ClaimNumber(claim["id"], claim["stated"], faster_text(fast, ratio, best, len(common)),
                                   f"measured ({_label(d)}, {_label(td)})", _how(rows),
                                   f"{claim['ssm']} vs {claim['transformer']}", ratio))
    return out


def share_numbers(claim: dict, device: str, points) -> list[ClaimNumber]:
    out = []
    for d, rows in _runs(points, device, claim["ssm"]).items():
        if "profiled_phase" not in rows or "breakdown" not in rows:
            continue
        prof = rows[(rows["phase"] == "profile") & (rows["profiled_phase"] == "prefill") & rows["breakdown"].notna()]
        if not len(prof):
            continue
        r = prof.iloc[(prof["context"] - claim["context"]).abs().argsort().iloc[0]]
        b = r["breakdown"]
        secs = {k: v for k, v in b.items() if isinstance(v, (int, float)) and k != "coverage"}
        total = sum(secs.values())
        if total <= 0:
            continue
        part = sum(secs.get(c, 0.0) for c in claim["categories"]) / total
        out.append(ClaimNumber(claim["id"], claim["stated"],
                               f"{part:.0%} of a profiled prefill at {human_tokens(int(r['context']))} "
                               f"({' + '.join(claim['categories'])}; {b.get('time_basis')} time)",
                               f"measured ({_label(d)})", _how(rows), claim["ssm"], part))
    return out


def measured_numbers(claim: dict, device: str, points, summaries, include_noisy: bool = False) -> list[ClaimNumber]:
    if claim["kind"] == "reach":
        return reach_numbers(claim, device, points, summaries)
    if claim["kind"] == "speedup":
        return speedup_numbers(claim, device, points, include_noisy)
    return share_numbers(claim, device, points)
