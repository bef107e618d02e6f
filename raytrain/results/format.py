"""Display text of values, parameters and durations: the one place every view formats them.

Pure and free of rich, so the live view of `raytrain tune`, `status`, `analyze`, the
end-of-search summary and the plots print a number the same way. (trials.csv keeps full
precision: that encoding lives with the table, in `_table.format_cell`.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def fmt_number(value: float, digits: int = 4) -> str:
    """Compact text of a float: `digits` significant digits in plain notation between
    0.01 and 1000 (`0.1075`, `220.5`), else a short exponent (`7.6e-3`, `1.2e5`) with one
    digit fewer, so a table column stays narrow without cutting a value."""
    if not math.isfinite(value):
        return str(value)  # nan, inf, -inf
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    if -2 <= exponent < 3:
        text = f"{value:.{max(digits - 1 - exponent, 0)}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    mantissa, _, exp = f"{value:.{max(digits - 2, 1)}e}".partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exp)}"


def fmt_value(value: Any, digits: int = 4, missing: str = "") -> str:
    """Text of a metric or parameter value; `missing` stands for None (not reported)."""
    if value is None:
        return missing
    if isinstance(value, float):
        return fmt_number(value, digits)
    return str(value)


def fmt_param(value: Any) -> str:
    """Text of a parameter value: 3 significant digits are enough to tell points apart."""
    return fmt_value(value, 3)


def fmt_params(params: Mapping[str, Any], limit: int = 6) -> str:
    """`a=1, b=0.01, +2 more`: the parameters of a trial on one line, sorted by path."""
    items = [f"{k}={fmt_param(v)}" for k, v in sorted(params.items())]
    more = len(items) - limit
    return ", ".join(items[:limit]) + (f", +{more} more" if more > 0 else "")


def fmt_duration(seconds: float | None) -> str:
    """`1:02:05` or `4:07`; `?` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# Last keys that say nothing on their own (`optimizer.name`): shown as their parent.
GENERIC_KEYS = frozenset({"name", "type", "kind", "value"})


def short_names(paths: list[str]) -> dict[str, str]:
    """A short, still unambiguous column header for each dotted path: its last key
    (`optimizer.lr` -> `lr`), the parent for a generic last key (`optimizer.name` ->
    `optimizer`), else the shortest unique dotted suffix."""

    def clashes(path: str, cand: str) -> bool:
        return any(p != path and (p == cand or p.endswith("." + cand)) for p in paths)

    out: dict[str, str] = {}
    for path in paths:
        parts = path.split(".")
        cands = [".".join(parts[-n:]) for n in range(1, len(parts) + 1)]
        if len(parts) > 1 and parts[-1] in GENERIC_KEYS:
            cands[0] = parts[-2]
        taken = set(out.values())
        out[path] = next((c for c in cands if c not in taken and not clashes(path, c)), path)
    return out
