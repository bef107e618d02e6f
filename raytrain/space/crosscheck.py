"""Check that every parameter and constant fits the train config it will be merged into.

Rather than keep a second schema of "valid parameter paths", each parameter's extreme
values (low/high, every categorical value) are put into the base config together with
what its `when` requires, and the real train-config check runs on the result. Anything
that breaks only then is reported at the parameter. Parameters of a pluggable section
(`optimizer.momentum`) are also tried with every value of that section's `name` when the
name is itself searched, so a keyword that one of the choices lacks is caught before a
trial crashes on it.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from raytrain.config.parse import check_train_config
from raytrain.config.problems import Problems
from raytrain.config.tree import set_path, split_path
from raytrain.space.conditions import can_take
from raytrain.space.types import CategoricalParam, Param

NAMED_SECTIONS = ("model", "data", "optimizer", "lr_scheduler")


def problems_of(config: Mapping[str, Any]) -> dict[tuple[str, str], None]:
    """The train-config problems of `config` as (path, message), in order (no lines)."""
    sink = Problems()
    check_train_config(config, sink)
    return {(p.path, p.message): None for p in sink.items}


def with_values(config: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any] | str:
    """A copy of `config` with dotted `values` set, or why they cannot be set."""
    out = copy.deepcopy(dict(config))
    for path, value in values.items():
        try:
            set_path(out, split_path(path), copy.deepcopy(value))
        except TypeError as exc:
            return str(exc)
    return out


def representatives(p: Param) -> tuple[Any, ...]:
    return p.values if isinstance(p, CategoricalParam) else (p.low, p.high)


def _requirements(p: Param, by_path: Mapping[str, Param], seen: frozenset[str]) -> dict[str, Any]:
    """Values that make `p` active: the first allowed value of each condition, chained."""
    out: dict[str, Any] = {}
    for dep, values in p.when.items():
        possible = [v for v in values if dep in by_path and can_take(by_path[dep], v)]
        if dep in seen or not possible:
            continue  # a condition that can never hold is reported on its own
        out.update(_requirements(by_path[dep], by_path, seen | {dep}))
        out[dep] = possible[0]
    return out


def assignments(p: Param, params: Mapping[str, Param]) -> Iterator[dict[str, Any]]:
    """Every combination to try for `p`: its extremes x the names of its section."""
    base = _requirements(p, params, frozenset({p.path}))
    section = p.path.split(".")[0]
    name_path = f"{section}.name"
    names: tuple[Any, ...] = (None,)
    if section in NAMED_SECTIONS and name_path != p.path and name_path not in base:
        name_param = params.get(name_path)
        if isinstance(name_param, CategoricalParam):
            names = name_param.values
    for value, name in itertools.product(representatives(p), names):
        point = dict(base)
        if name is not None:
            point[name_path] = name
        point[p.path] = value
        yield point


def check_against_config(
    config: Mapping[str, Any],
    constants: Mapping[str, Any],
    params: Mapping[str, Param],
    probs: Problems,
) -> None:
    """Report constants and parameters that do not fit `config` (probs at `parameters`)."""
    known = problems_of(config)
    for path, value in constants.items():
        _report(config, {path: value}, path, known, probs, context=False)
    merged = with_values(config, constants)
    if isinstance(merged, str):
        return
    known = problems_of(merged)
    for p in params.values():
        for point in assignments(p, params):
            _report(merged, point, p.path, known, probs, context=True)


def _report(
    config: Mapping[str, Any],
    point: Mapping[str, Any],
    owner: str,
    known: Mapping[tuple[str, str], None],
    probs: Problems,
    context: bool,
) -> None:
    trial = with_values(config, point)
    if isinstance(trial, str):
        probs.add((owner,), trial)
        return
    others = {k: v for k, v in point.items() if k != owner}
    when = ", ".join(f"{k}={v!r}" for k, v in others.items())
    suffix = f" (when {when})" if context and when else ""
    for path, message in problems_of(trial):
        if (path, message) in known:
            continue
        where = "" if path == owner else f"{path}: "
        probs.add((owner,), f"{where}{message}{suffix}")
