"""One W&B sweep parameter -> one raytrain parameter (the distribution table).

W&B's `distribution` names map to raytrain's three parameter types where the meaning is
the same; every other distribution (normal, beta, inverse log-uniform...) and option
(`probabilities`) has no counterpart and is an error, never a silent approximation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from raytrain.config.tree import suggest
from raytrain.config.types_check import is_int, is_number


class Unsupported(Exception):
    """This parameter cannot be expressed in raytrain; the message says why and what to do."""


@dataclass(frozen=True)
class Constant:
    value: Any


Converted = Constant | dict[str, Any]  # a constant, or a canonical parameter spec

SPEC_KEYS = (
    "distribution",
    "value",
    "values",
    "min",
    "max",
    "q",
    "probabilities",
    "mu",
    "sigma",
    "a",
    "b",
    "parameters",
)
NO_COUNTERPART = {
    "normal": "a normal distribution is unbounded",
    "q_normal": "a normal distribution is unbounded",
    "log_normal": "a log-normal distribution is unbounded",
    "q_log_normal": "a log-normal distribution is unbounded",
    "inv_log_uniform": "raytrain has no inverse log-uniform distribution",
    "inv_log_uniform_values": "raytrain has no inverse log-uniform distribution",
    "beta": "raytrain has no beta distribution",
    "q_beta": "raytrain has no beta distribution",
}
BOUNDED_HINT = "use `min`/`max` with uniform or log_uniform_values instead"


def _bounds(spec: Mapping[str, Any], ints: bool = False) -> tuple[Any, Any]:
    missing = [k for k in ("min", "max") if k not in spec]
    if missing:
        raise Unsupported(f"needs {' and '.join(missing)}")
    low, high = spec["min"], spec["max"]
    check = is_int if ints else is_number
    if not (check(low) and check(high)):
        raise Unsupported(
            f"min/max must be {'integers' if ints else 'numbers'}, got {low!r}, {high!r}"
        )
    if low >= high:
        raise Unsupported(f"min ({low}) must be below max ({high})")
    return low, high


def _q(spec: Mapping[str, Any]) -> Any:
    q = spec.get("q", 1)
    if not is_number(q) or q <= 0:
        raise Unsupported(f"q must be a number > 0, got {q!r}")
    return q


def _float(spec: Mapping[str, Any]) -> Converted:
    low, high = _bounds(spec)
    return {"type": "float", "low": float(low), "high": float(high)}


def _int(spec: Mapping[str, Any]) -> Converted:
    low, high = _bounds(spec, ints=True)
    return {"type": "int", "low": low, "high": high}


def _q_uniform(spec: Mapping[str, Any]) -> Converted:
    low, high = _bounds(spec)
    q = _q(spec)
    steps = (high - low) / q
    if abs(steps - round(steps)) > 1e-9:
        raise Unsupported(f"max - min ({high - low}) must be a multiple of q ({q})")
    return {"type": "float", "low": float(low), "high": float(high), "step": float(q)}


def _log_values(spec: Mapping[str, Any]) -> Converted:
    low, high = _bounds(spec)
    if low <= 0:
        raise Unsupported(f"min must be > 0 for a log distribution, got {low}")
    return {"type": "float", "low": float(low), "high": float(high), "log": True}


def _log_exponents(spec: Mapping[str, Any]) -> Converted:
    """W&B's `log_uniform` takes min/max as natural-log exponents: exp(min)..exp(max)."""
    low, high = _bounds(spec)
    return {
        "type": "float",
        "low": _round(math.exp(low)),
        "high": _round(math.exp(high)),
        "log": True,
    }


def _q_log(spec: Mapping[str, Any], exponents: bool) -> Converted:
    low, high = _bounds(spec)
    if exponents:
        low, high = _round(math.exp(low)), _round(math.exp(high))
    q = _q(spec)
    if q != 1 or not (float(low).is_integer() and float(high).is_integer()) or low < 1:
        raise Unsupported(
            "raytrain's log-scaled parameters cannot also be quantised (q != 1 or non-integer "
            "bounds); use q: 1 with integer min/max for an int log scale, or list `values`"
        )
    return {"type": "int", "low": int(low), "high": int(high), "log": True}


def _values(spec: Mapping[str, Any]) -> Converted:
    values = spec.get("values")
    if not isinstance(values, list) or not values:
        raise Unsupported(f"`values` must be a non-empty list, got {values!r}")
    return {"type": "categorical", "values": list(values)}


def _constant(spec: Mapping[str, Any]) -> Converted:
    if "value" not in spec:
        raise Unsupported("needs `value`")
    return Constant(spec["value"])


def _round(x: float) -> float:
    return float(f"{x:.12g}")


# distribution -> (keys it reads besides `distribution`, converter)
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], Callable[[Mapping[str, Any]], Converted]]] = {
    "constant": (("value",), _constant),
    "categorical": (("values",), _values),
    "int_uniform": (("min", "max"), _int),
    "uniform": (("min", "max"), _float),
    "q_uniform": (("min", "max", "q"), _q_uniform),
    "log_uniform_values": (("min", "max"), _log_values),
    "log_uniform": (("min", "max"), _log_exponents),
    "q_log_uniform_values": (("min", "max", "q"), lambda s: _q_log(s, exponents=False)),
    "q_log_uniform": (("min", "max", "q"), lambda s: _q_log(s, exponents=True)),
}


def infer_distribution(spec: Mapping[str, Any]) -> str:
    """W&B's rule when `distribution` is left out."""
    if "value" in spec:
        return "constant"
    if "values" in spec:
        return "categorical"
    if "min" in spec or "max" in spec:
        both_int = is_int(spec.get("min")) and is_int(spec.get("max"))
        return "int_uniform" if both_int else "uniform"
    raise Unsupported("give `value`, `values`, or `min`/`max` (with an optional `distribution`)")


def convert_param(spec: Any) -> Converted:
    """A W&B parameter spec -> Constant or a canonical spec; raises Unsupported."""
    if not isinstance(spec, Mapping):
        raise Unsupported(f"expected a mapping such as {{values: [...]}}, got {spec!r}")
    unknown = [k for k in spec if k not in SPEC_KEYS]
    if unknown:
        raise Unsupported(f"unknown key {unknown[0]!r}; " + suggest(str(unknown[0]), SPEC_KEYS))
    if "probabilities" in spec:
        raise Unsupported(
            "`probabilities` (weighted categorical sampling) has no raytrain counterpart: "
            "the searcher chooses among `values`; remove `probabilities`"
        )
    dist = spec.get("distribution") or infer_distribution(spec)
    if dist in NO_COUNTERPART:
        raise Unsupported(
            f"distribution {dist!r} has no raytrain counterpart "
            f"({NO_COUNTERPART[dist]}); {BOUNDED_HINT}"
        )
    if dist not in DISTRIBUTIONS:
        valid = suggest(str(dist), [*DISTRIBUTIONS, *NO_COUNTERPART], "W&B distributions")
        raise Unsupported(f"unknown distribution {dist!r}; {valid}")
    reads, convert = DISTRIBUTIONS[dist]
    extra = [k for k in spec if k not in (*reads, "distribution")]
    if extra:
        raise Unsupported(
            f"{', '.join(extra)} cannot be combined with distribution {dist!r} "
            f"(it reads {', '.join(reads)})"
        )
    return convert(spec)


def grid_size(param: Mapping[str, Any]) -> int | None:
    """How many values a grid search visits for this parameter (None = continuous)."""
    if param["type"] == "categorical":
        return len(param["values"])
    if param["type"] == "int" and not param.get("log"):
        return (param["high"] - param["low"]) // param.get("step", 1) + 1
    if param["type"] == "float" and param.get("step"):
        return round((param["high"] - param["low"]) / param["step"]) + 1
    return None
