"""Apply the kernel taxonomy (taxonomy.yaml): ordered rules, first match wins."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

TAXONOMY_FILE = Path(__file__).with_name("taxonomy.yaml")
FIELDS = ("kernel", "op", "module", "path", "scope")


@dataclass(frozen=True)
class Rule:
    category: str
    patterns: tuple[tuple[str, re.Pattern], ...]

    def matches(self, unit: dict[str, str | None]) -> bool:
        return all(unit.get(f) is not None and p.search(unit[f]) for f, p in self.patterns)


@dataclass(frozen=True)
class Taxonomy:
    categories: tuple[str, ...]
    rules: tuple[Rule, ...]
    scoped_functions: re.Pattern
    kernel_wins: tuple[str, ...] = ()
    context_wins: tuple[str, ...] = ()
    study_groups: tuple[str, ...] = ()   # the reference study's grouping (taxonomy.yaml `study`)
    study_rules: tuple[Rule, ...] = ()

    def classify(self, **unit: str | None) -> str:
        """Category of one unit of time given its kernel/op/module/path/scope names."""
        for rule in self.rules:
            if rule.matches(unit):
                return rule.category
        return "other"

    def classify_kernel(self, kernel: str, **context: str | None) -> str:
        """Category of a GPU kernel launched from `context` (op/module/path/scope)."""
        own = self.classify(kernel=kernel)
        if own in self.kernel_wins:
            return own
        ctx = self.classify(**context) if any(context.values()) else "other"
        if ctx in self.context_wins:
            return ctx
        return own if own != "other" else ctx

    def study_group(self, **unit: str | None) -> str:
        """The reference study's group of a unit, from its outermost op and innermost module."""
        return next((r.category for r in self.study_rules if r.matches(unit)), "other")


def _rules(rows: list[dict], names: list[str], key: str = "category") -> tuple[Rule, ...]:
    rules = []
    for row in rows:
        pats = tuple((f, re.compile(row[f], re.IGNORECASE)) for f in FIELDS if f in row)
        if not pats or row[key] not in names:
            raise ValueError(f"bad taxonomy rule {row}")
        rules.append(Rule(row[key], pats))
    return tuple(rules)


@lru_cache(maxsize=4)
def load(path: Path = TAXONOMY_FILE) -> Taxonomy:
    data = yaml.safe_load(Path(path).read_text())
    study = data.get("study") or {"groups": [], "rules": []}
    return Taxonomy(tuple(data["categories"]), _rules(data["rules"], data["categories"]),
                    re.compile(data["scoped_functions"]), tuple(data.get("kernel_wins", ())),
                    tuple(data.get("context_wins", ())), tuple(study["groups"]),
                    _rules(study["rules"], study["groups"], key="group"))


def classify(**unit: str | None) -> str:
    return load().classify(**unit)
