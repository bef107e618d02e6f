"""Check a YAML value against a dataclass field's type hint, and say what was expected.

Driven by the annotations in `raytrain.config.schema` / `raytrain.space.types`, so a field
added there is validated here without another list to keep in sync.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union, get_args, get_origin

from raytrain.config.problems import Problems
from raytrain.config.tree import suggest

Rule = Callable[[Any], "str | None"]


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float that fits a float (YAML ints can be arbitrarily large)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -1e308 < value < 1e308
    return isinstance(value, float) and math.isfinite(value)


def describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in get_args(hint))
    if origin is Literal:
        return " | ".join(str(a) for a in get_args(hint))
    if origin is dict:
        return f"a mapping of {_plural(get_args(hint)[1])}"
    if origin is tuple:
        return f"a list of {_plural(get_args(hint)[0])}"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false"}
    if hint is type(None):
        return "null"
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _plural(hint: Any) -> str:
    names = {int: "integers", float: "numbers", str: "strings", bool: "true/false values"}
    return names.get(hint, describe(hint))


def matches(value: Any, hint: Any) -> bool:
    origin = get_origin(hint)
    if hint is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(matches(value, a) for a in get_args(hint))
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in get_args(hint))
    if origin is dict:
        _, vt = get_args(hint)
        return isinstance(value, Mapping) and all(
            isinstance(k, str) and matches(v, vt) for k, v in value.items()
        )
    if origin is tuple:
        return isinstance(value, (list, tuple)) and all(
            matches(v, get_args(hint)[0]) for v in value
        )
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return is_int(value)
    if hint is float:
        return is_number(value)
    if hint is str:
        return isinstance(value, str)
    return isinstance(value, hint) if isinstance(hint, type) else True


def coerce(value: Any, hint: Any) -> Any:
    """YAML -> field value for the few shapes that differ (list -> tuple, int -> float)."""
    origin = get_origin(hint)
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    if hint is float and is_int(value):
        return float(value)
    if origin in (Union, types.UnionType) and float in get_args(hint) and is_int(value):
        return value if int in get_args(hint) else float(value)
    return value


def check_fields(
    cls: type,
    raw: Any,
    probs: Problems,
    rules: Mapping[str, Rule] | None = None,
    aliases: Mapping[str, str] | None = None,
    forbidden: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Validate a mapping against dataclass `cls`; return the checked, coerced kwargs.

    Unknown keys get a closest-match hint, `forbidden` keys get their own message, fields
    without a default are required. `rules` add value checks beyond the type.
    """
    rules = rules or {}
    aliases = aliases or {}
    forbidden = forbidden or {}
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        probs.add((), f"expected a mapping, got {raw!r}")
        return {}
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = aliases.get(key, key)
        if key in forbidden:
            probs.add((key,), forbidden[key])
            continue
        if name not in fields:
            probs.add((key,), f"unknown key; {suggest(key, [*fields, *aliases])}")
            continue
        hint = hints[name]
        if not matches(value, hint):
            probs.add((key,), f"expected {describe(hint)}, got {value!r}")
            continue
        rule = rules.get(name)
        message = rule(value) if rule else None
        if message:
            probs.add((key,), message)
            continue
        out[name] = coerce(value, hint)
    for name, f in fields.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and name not in out and name not in raw:
            probs.add((name,), "missing required key")
    return out


def at_least(bound: float) -> Rule:
    def rule(value: Any) -> str | None:
        if value is None or value >= bound:
            return None
        return f"must be >= {bound:g}, got {value!r}"

    return rule


def above(bound: float) -> Rule:
    def rule(value: Any) -> str | None:
        if value is None or value > bound:
            return None
        return f"must be > {bound:g}, got {value!r}"

    return rule
