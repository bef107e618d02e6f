"""The `parameters:` section as a whole: specs, overlapping paths and `when` conditions.

Each entry is parsed by `raytrain.space.param_entry`; here the entries are checked against each
other (a condition must name another searched parameter and a value it can take, with no
cycles). Whether they fit the train config is `raytrain.space.crosscheck`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from raytrain.config.problems import Problems
from raytrain.config.tree import suggest
from raytrain.space.conditions import can_take, find_cycle
from raytrain.space.param_entry import Constant, parse_param
from raytrain.space.types import CategoricalParam, FloatParam, Param


def parse_parameters(raw: Any, probs: Problems) -> tuple[dict[str, Param], dict[str, Any]]:
    """`parameters:` -> (searched parameters, constants), both keyed by dotted path."""
    if raw is None:
        probs.add((), "missing key: at least one parameter to search")
        return {}, {}
    if not isinstance(raw, Mapping):
        probs.add((), f"expected a mapping of dotted config paths to specs, got {raw!r}")
        return {}, {}
    params: dict[str, Param] = {}
    constants: dict[str, Any] = {}
    before = len(probs)
    for path, spec in raw.items():
        parsed = parse_param(str(path), spec, probs.under(str(path)))
        if isinstance(parsed, Constant):
            constants[str(path)] = parsed.value
        elif parsed is not None:
            params[str(path)] = parsed
    if not raw:
        probs.add((), "empty: give at least one parameter to search")
    elif not params and len(probs) == before:
        probs.add((), "only constants: give at least one float/int/categorical parameter")
    _check_paths(raw, probs)
    _check_conditions(params, constants, [str(k) for k in raw], probs)
    return params, constants


def _check_paths(raw: Mapping[str, Any], probs: Problems) -> None:
    paths = [str(p) for p in raw]
    for path in paths:
        for other in paths:
            if other != path and path.startswith(other + "."):
                probs.add((path,), f"overlaps parameter {other!r} (one sets the other's value)")


def _check_conditions(
    params: Mapping[str, Param],
    constants: Mapping[str, Any],
    names: Sequence[str],
    probs: Problems,
) -> None:
    """`when` must name another searched parameter and values it can take; no cycles.

    `names` are all keys under `parameters` (a parameter whose own spec is broken is
    reported there, not again as unknown).
    """
    for p in params.values():
        for dep, values in p.when.items():
            where = probs.under(p.path, "when")
            if dep == p.path:
                where.add((dep,), "a parameter cannot depend on itself")
            elif dep in constants:
                where.add((dep,), "names a constant; `when` can only test searched parameters")
            elif dep not in names:
                where.add((dep,), f"unknown parameter; {suggest(dep, names, 'parameters')}")
            elif dep not in params:
                continue
            else:
                target = params[dep]
                if isinstance(target, FloatParam) and target.step is None:
                    where.add(
                        (dep,),
                        "a continuous float never takes one exact value; test a "
                        "categorical or int parameter",
                    )
                    continue
                for v in values:
                    if not can_take(target, v):
                        where.add((dep,), f"{dep} can never be {v!r}; {_domain(target)}")
    cycle = find_cycle(params.values())
    if cycle:
        probs.add((cycle[0], "when"), f"conditions form a cycle: {' -> '.join(cycle)}")


def _domain(p: Param) -> str:
    if isinstance(p, CategoricalParam):
        return "its values: " + ", ".join(repr(v) for v in p.values)
    step = f" step {p.step}" if p.step not in (None, 1) else ""
    return f"its range: [{p.low}, {p.high}]{step}"
