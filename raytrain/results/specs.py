"""The searched parameters of a run, typed, from its space.yaml (or guessed from values).

Analysis needs each parameter's kind, range, log flag and condition: from `space.yaml`
through the same parser `raytrain validate` uses; a parameter the file does not declare
(an older or hand-edited run) is described from the values the trials took.
"""

from __future__ import annotations

import math
from typing import Any

from raytrain.config.problems import Problems
from raytrain.results._records import Run
from raytrain.space.param_entry import Constant, parse_param
from raytrain.space.types import CategoricalParam, FloatParam, IntParam, Param


def run_params(run: Run) -> dict[str, Param]:
    """Parameter path -> typed parameter, for every searched parameter of the run."""
    raw = run.space.get("parameters") or {}
    out: dict[str, Param] = {}
    if isinstance(raw, dict):
        for path, spec in raw.items():
            parsed = parse_param(str(path), spec, Problems())
            if parsed is not None and not isinstance(parsed, Constant):
                out[str(path)] = parsed
    for path in run.param_paths:
        if path not in out:
            guessed = _guess(path, [t.params[path] for t in run.trials if path in t.params])
            if guessed is not None:
                out[path] = guessed
    return out


def _guess(path: str, values: list[Any]) -> Param | None:
    if not values:
        return None
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if not numeric:
        distinct: list[Any] = []
        for v in values:  # values may be unhashable (lists)
            if v not in distinct:
                distinct.append(v)
        return CategoricalParam(path=path, values=tuple(distinct))
    low, high = min(values), max(values)
    if all(isinstance(v, int) for v in values):
        return IntParam(path=path, low=int(low), high=int(max(high, low + 1)))
    log = low > 0 and high / low > 100
    return FloatParam(path=path, low=float(low), high=float(max(high, low * 1.000001)), log=log)


def position(p: Param, value: Any) -> float | None:
    """Where a value sits in a numeric parameter's range: 0 = low, 1 = high (log-aware)."""
    if isinstance(p, CategoricalParam) or not isinstance(value, int | float):
        return None
    lo, hi, v = float(p.low), float(p.high), float(value)
    if p.log and lo > 0 and v > 0:
        lo, hi, v = math.log(lo), math.log(hi), math.log(v)
    return (v - lo) / (hi - lo) if hi > lo else None


def describe_condition(p: Param) -> str:
    """`optimizer.name=sgd` for a parameter that only exists under a condition."""
    return ", ".join(
        f"{path}={'|'.join(str(v) for v in values)}" for path, values in p.when.items()
    )
