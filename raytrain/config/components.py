"""Validate the pluggable sections: model, data, optimizer, lr_scheduler.

A built-in is checked against its registry `Entry` (torch-free, fast). A user class given
as `_target_: pkg.mod.Class` is imported and its keyword arguments are checked against the
constructor's signature, unless the constructor takes `**kwargs`; importing it may pull in
torch, which is acceptable only because the user asked for that class.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Mapping
from typing import Any

from raytrain.config.problems import Problems
from raytrain.config.registry import Entry, Registry
from raytrain.config.tree import suggest
from raytrain.config.types_check import is_int, is_number

TARGET_KEY = "_target_"


def check_kwarg_value(entry: Entry, key: str, value: Any) -> str | None:
    """Type of a built-in's keyword argument, judged by its declared default."""
    default = entry.params.get(key)
    expected: str | None = None
    if default is None:
        return None
    if isinstance(default, bool):
        expected = None if isinstance(value, bool) else "true/false"
    elif isinstance(default, int):
        expected = None if is_int(value) else "an integer"
    elif isinstance(default, float):
        expected = None if is_number(value) else "a number"
    elif isinstance(default, str):
        expected = None if isinstance(value, str) else "a string"
    elif isinstance(default, (tuple, list)):
        ok = (
            isinstance(value, (list, tuple))
            and len(value) == len(default)
            and all(is_number(v) for v in value)
        )
        expected = None if ok else f"a list of {len(default)} numbers"
    if expected is None:
        return None
    return f"{entry.name} expects {expected} for {key!r}, got {value!r}"


def check_builtin_kwargs(
    entry: Entry, kwargs: Mapping[str, Any], probs: Problems, kind: str
) -> None:
    for key, value in kwargs.items():
        if key in entry.data_injected:
            probs.add((key,), f"is set from the data module for {kind} {entry.name!r}; remove it")
        elif key not in entry.params:
            probs.add(
                (key,),
                f"{kind} {entry.name!r} has no parameter {key!r}; "
                + suggest(key, entry.params, "valid"),
            )
        else:
            message = check_kwarg_value(entry, key, value)
            if message:
                probs.add((key,), message)


def import_target(target: str) -> Any:
    """`pkg.mod.Class` or `pkg.mod:Class` -> the object (the working dir is importable)."""
    module_name, colon, attr = target.partition(":")
    if not colon:
        module_name, _, attr = target.rpartition(".")
    if not module_name or not attr:
        raise ImportError(f"{target!r} is not of the form package.module.Class")
    added = False
    if "" not in sys.path and "." not in sys.path:
        sys.path.append(".")
        added = True
    try:
        module = importlib.import_module(module_name)
    finally:
        if added:
            sys.path.remove(".")
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImportError(f"module {module_name!r} has no attribute {attr!r}") from None


# Where `configure_optimizers` is Lightning's placeholder or raytrain's config-driven one;
# defined anywhere else, the module's own wins (the rule of `trial.optimizers`).
_CONFIG_OPTIMIZERS = frozenset(
    {
        "lightning.pytorch.core.module.LightningModule",
        "pytorch_lightning.core.module.LightningModule",
        "raytrain.models.base.RaytrainModule",
    }
)


def defines_own_optimizers(cls: object) -> bool:
    """Whether a LightningModule class brings its own `configure_optimizers`, so the
    config's optimizer and lr_scheduler are not used. Decided by class names along the MRO,
    without importing Lightning (for `validate`); tested against `trial.optimizers`."""
    for klass in getattr(cls, "__mro__", ()):
        if "configure_optimizers" in vars(klass):
            return f"{klass.__module__}.{klass.__qualname__}" not in _CONFIG_OPTIMIZERS
    return False


def check_target(target: Any, kwargs: Mapping[str, Any], probs: Problems) -> None:
    if not isinstance(target, str) or not target:
        probs.add((TARGET_KEY,), f"expected a dotted class path, got {target!r}")
        return
    try:
        obj = import_target(target)
    except Exception as exc:  # any error while importing user code is theirs to fix
        probs.add((TARGET_KEY,), f"cannot import {target!r}: {type(exc).__name__}: {exc}")
        return
    if not callable(obj):
        probs.add((TARGET_KEY,), f"{target!r} is not a class or callable")
        return
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return  # no introspectable signature (C extension): nothing to check
    params = sig.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [
        n
        for n, p in params.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    for key in kwargs:
        if key not in accepted:
            probs.add(
                (key,),
                f"{target} has no parameter {key!r}; {suggest(key, accepted, 'valid')}",
            )


def check_component(
    raw: Any, probs: Problems, registry: Registry, default_name: str | None
) -> tuple[str | None, str | None, dict[str, Any]]:
    """A model/data section -> (name, target, kwargs), reporting what is wrong."""
    kind = registry.kind
    if raw is None:  # section left out: the default built-in with its defaults
        return default_name, None, {}
    if not isinstance(raw, Mapping):
        probs.add((), f"expected a mapping with `name` or `{TARGET_KEY}`, got {raw!r}")
        return default_name, None, {}
    name = raw.get("name")
    target = raw.get(TARGET_KEY)
    kwargs = {k: v for k, v in raw.items() if k not in ("name", TARGET_KEY)}
    if name is not None and target is not None:
        probs.add((), f"give either `name` (a built-in) or `{TARGET_KEY}` (your class), not both")
        return name, target, kwargs
    if target is not None:
        check_target(target, kwargs, probs)
        return None, target, kwargs
    if name is None:
        probs.add(("name",), f"missing key: set `name` (a built-in) or `{TARGET_KEY}`")
        return None, None, kwargs
    if not isinstance(name, str) or name not in registry:
        probs.add(("name",), f"unknown {kind} {name!r}; {registry.suggest(str(name))}")
        return name, None, kwargs
    check_builtin_kwargs(registry[name], kwargs, probs, kind)
    return name, None, kwargs
