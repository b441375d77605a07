"""Whether a JSON value fits a dataclass field's annotation: how readers tell a result line from a
line of the wrong types (a list where a length goes, a string of numbers, NaN) before using it."""

from __future__ import annotations

import math
import re
from dataclasses import fields
from typing import Any

_JSON_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "list": (list,),
               "dict": (dict,), "Status": (str,), "Any": (object,)}


def fits(value: Any, annotation: str) -> bool:
    """Whether a JSON value fits a field's annotation (as written: "float | None", "list[float] | None"):
    the outer type, and a list's items or a dict's values one level down. A bool is no number, and
    NaN or infinity is no measurement."""
    for option in (a.strip() for a in re.split(r"\|(?![^\[]*\])", annotation)):
        if option == "None":
            if value is None:
                return True
            continue
        outer, _, inner = option.partition("[")
        allowed = _JSON_TYPES.get(outer, (object,))
        if isinstance(value, bool) and bool not in allowed and object not in allowed:
            continue
        if not isinstance(value, allowed):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if inner and isinstance(value, (list, dict)):
            item = inner[:-1]  # list[ITEM] or dict[str, ITEM]
            item = f"{item.split(',', 1)[1].strip()} | None" if outer == "dict" else item  # a dict's value may be null
            items = value.values() if isinstance(value, dict) else value
            if not all(fits(v, item) for v in items):
                continue
        return True
    return False


def check_types(cls, data: dict[str, Any]) -> None:
    """ValueError naming the first field whose value does not fit its type (a line from another
    program, a hand edit): readers skip such a line rather than fail on it later."""
    for f in fields(cls):
        if f.name in data and not fits(data[f.name], str(f.type)):
            raise ValueError(f"{f.name} is {data[f.name]!r:.60}, not {f.type}")
