"""One entry of `parameters:` -> a typed parameter or a constant, and back.

Each spec is checked on its own here (bounds, log, step, values, key names); whether its
path exists in the train config and whether its `when` can hold are checked in
`raytrain.space.parse`, which sees all parameters at once.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from typing import Any

from raytrain.config.problems import Problems
from raytrain.config.tree import suggest
from raytrain.config.types_check import is_number
from raytrain.space.types import CategoricalParam, Condition, FloatParam, IntParam, Param

TYPES = ("float", "int", "categorical", "constant")
_KEYS = {
    "float": ("type", "low", "high", "log", "step", "when"),
    "int": ("type", "low", "high", "log", "step", "when"),
    "categorical": ("type", "values", "when"),
    "constant": ("type", "value"),
}
_SEARCH_KEYS = {"low", "high", "log", "step", "values", "when"}
_PATH = re.compile(r"^[\w\-]+(\.[\w\-]+)*$")
SCALARS = (str, int, float, bool, type(None))
_NONE = object()


class Constant:
    """Marker for a fixed value given under `parameters:` (not searched)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def parse_param(path: str, spec: Any, probs: Problems) -> Param | Constant | None:
    """`probs` is rooted at `parameters.<path>`; returns None when the spec is unusable."""
    if not _PATH.match(path):
        probs.add((), "a parameter name must be a dotted config path like optimizer.lr")
        return None
    if not isinstance(spec, Mapping):
        return Constant(spec)  # scalars and lists are constant overrides
    if "type" not in spec:
        return _untyped_mapping(spec, probs)
    kind = spec["type"]
    if not isinstance(kind, str) or kind not in _KEYS:
        probs.add(("type",), f"unknown type {kind!r}; {suggest(str(kind), TYPES, 'valid types')}")
        return None
    ok = _check_keys(kind, spec, probs)
    if kind == "constant":
        if "value" not in spec:
            probs.add(("value",), "missing key: a constant needs `value`")
            return None
        return Constant(spec["value"]) if ok else None
    when = parse_when(spec.get("when", {}), probs.under("when"))
    if kind == "categorical":
        param: Param | None = _categorical(path, spec, when, probs)
    else:
        param = _numeric(path, kind, spec, when, probs)
    return param if ok else None


def _untyped_mapping(spec: Mapping[str, Any], probs: Problems) -> Constant | None:
    searchy = sorted(_SEARCH_KEYS & set(spec))
    typo = [k for k in spec if difflib.get_close_matches(str(k), ["type"], cutoff=0.7)]
    if typo:
        probs.add((typo[0],), "unknown key; did you mean 'type'?")
        return None
    if searchy:
        probs.add(
            ("type",),
            f"missing key: {', '.join(searchy)} given but no `type` "
            f"(valid types: {', '.join(TYPES[:3])})",
        )
        return None
    return Constant(dict(spec))  # a mapping without `type` is a constant too


def _check_keys(kind: str, spec: Mapping[str, Any], probs: Problems) -> bool:
    ok = True
    for key in spec:
        if key in _KEYS[kind]:
            continue
        ok = False
        if kind == "categorical" and key in ("low", "high", "log", "step"):
            probs.add((key,), "a categorical parameter takes `values`, not low/high/log/step")
        elif kind in ("float", "int") and key == "values":
            probs.add(
                (key,),
                f"a {kind} parameter takes low/high; for a list of values use type: categorical",
            )
        else:
            probs.add((key,), f"unknown key for type {kind}; {suggest(str(key), _KEYS[kind])}")
    return ok


def _number(spec: Mapping[str, Any], key: str, probs: Problems, integer: bool) -> Any:
    if key not in spec:
        probs.add((key,), "missing key")
        return None
    value = spec[key]
    if isinstance(value, float) and not math.isfinite(value):
        probs.add((key,), f"must be a finite number, got {value!r}")
        return None
    if not is_number(value):
        probs.add((key,), f"must be a number, got {value!r}")
        return None
    if integer:
        if not float(value).is_integer():
            probs.add((key,), f"an int parameter needs a whole number here, got {value!r}")
            return None
        return int(value)
    return float(value)


def _numeric(
    path: str, kind: str, spec: Mapping[str, Any], when: Condition, probs: Problems
) -> Param | None:
    integer = kind == "int"
    low = _number(spec, "low", probs, integer)
    high = _number(spec, "high", probs, integer)
    log = spec.get("log", False)
    if not isinstance(log, bool):
        probs.add(("log",), f"must be true or false, got {log!r}")
        log = False
    step = spec.get("step")
    n = len(probs)
    if step is not None:
        step = _number(spec, "step", probs, integer)
        if step is not None and step <= 0:
            probs.add(("step",), f"must be > 0, got {step!r}")
        if step is not None and log and (not integer or step != 1):
            probs.add(("step",), "cannot be combined with log: true")
    if low is not None and high is not None and low > high:
        probs.add(("low",), f"low ({low!r}) is greater than high ({high!r})")
    if log and low is not None and (low < 1 if integer else low <= 0):
        need = ">= 1" if integer else "> 0"
        probs.add(("low",), f"log: true needs low {need}, got {low!r}")
    if low is None or high is None or len(probs) > n:
        return None
    if step is not None and not _on_grid(high - low, step):
        top = low + step * math.floor((high - low) / step + 1e-9)
        probs.add(
            ("step",),
            f"high - low must be a multiple of step (Optuna would silently "
            f"stop at {top:g}); e.g. high: {top:g}",
        )
        return None
    if integer:
        return IntParam(path, low, high, log=log, step=1 if step is None else step, when=when)
    return FloatParam(path, low, high, log=log, step=step, when=when)


def _on_grid(span: float, step: float) -> bool:
    k = span / step
    return abs(k - round(k)) <= 1e-9 * max(1.0, abs(k))


def _categorical(
    path: str, spec: Mapping[str, Any], when: Condition, probs: Problems
) -> Param | None:
    values = spec.get("values")
    if "values" not in spec:
        probs.add(("values",), "missing key: a categorical parameter needs `values`")
        return None
    if not isinstance(values, list) or not values:
        probs.add(("values",), f"must be a non-empty list, got {values!r}")
        return None
    n = len(probs)
    for i, v in enumerate(values):
        if not isinstance(v, SCALARS) or (isinstance(v, float) and not math.isfinite(v)):
            probs.add(
                ("values", str(i)),
                f"values must be plain scalars (str, number, bool, null), got {v!r}",
            )
    if len(probs) == n:
        for i, v in enumerate(values):
            # Optuna (and Python) treat 1, 1.0 and True as the same choice
            twin = next((w for w in values[:i] if w == v), _NONE)
            if twin is not _NONE:
                same = "is listed twice" if _same(twin, v) else f"equals {twin!r} to Optuna"
                probs.add(("values",), f"value {v!r} {same}; values must be distinct")
    return CategoricalParam(path, tuple(values), when=when) if len(probs) == n else None


def _same(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)


def parse_when(raw: Any, probs: Problems) -> Condition:
    """`{path: value}` or `{path: [v1, v2]}` -> {path: (values...)} (checked later)."""
    if not isinstance(raw, Mapping):
        probs.add((), f"expected a mapping like {{optimizer.name: sgd}}, got {raw!r}")
        return {}
    out: Condition = {}
    for dep, values in raw.items():
        vals = tuple(values) if isinstance(values, list) else (values,)
        if not vals:
            probs.add((dep,), "an empty list of values: the condition could never hold")
            continue
        out[dep] = vals
    return out


def dump_param(p: Param | Constant) -> Any:
    """The canonical spec of one parameter (what `parse_param` reads back)."""
    if isinstance(p, Constant):
        return {"type": "constant", "value": p.value} if isinstance(p.value, Mapping) else p.value
    spec: dict[str, Any] = {"type": p.kind}
    if isinstance(p, CategoricalParam):
        spec["values"] = list(p.values)
    else:
        spec.update(low=p.low, high=p.high, log=p.log)
        if p.step is not None:
            spec["step"] = p.step
    if p.when:
        spec["when"] = {k: list(v) for k, v in p.when.items()}
    return spec
