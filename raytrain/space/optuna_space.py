"""The space as an Optuna define-by-run function, so TPE sees the conditional structure.

Each parameter is suggested under its dotted path name, in dependency order, and only when
its `when` condition holds for the values already suggested. Optuna is imported by the
caller (Ray's OptunaSearch); nothing here imports it at module level.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from raytrain.space.conditions import holds, sampling_order
from raytrain.space.types import CategoricalParam, FloatParam, IntParam, Param, Space

if TYPE_CHECKING:
    import optuna


def define_by_run(space: Space) -> Callable[[optuna.trial.Trial], dict[str, Any] | None]:
    """A function for `OptunaSearch(space=...)` / `study.optimize`; returns None."""
    order = sampling_order(space.parameters)

    def suggest(trial: optuna.trial.Trial) -> dict[str, Any] | None:
        chosen: dict[str, Any] = {}
        for p in order:
            if holds(p.when, chosen):
                chosen[p.path] = suggest_one(trial, p)
        return None

    return suggest


def suggest_one(trial: optuna.trial.Trial, p: Param) -> Any:
    if isinstance(p, FloatParam):
        return trial.suggest_float(p.path, p.low, p.high, log=p.log, step=p.step)
    if isinstance(p, IntParam):
        return trial.suggest_int(p.path, p.low, p.high, step=p.step, log=p.log)
    if isinstance(p, CategoricalParam):
        return trial.suggest_categorical(p.path, list(p.values))
    raise TypeError(f"unknown parameter type {type(p).__name__}")


def distribution(param: Param) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution `suggest_one` samples `param` from (same arguments)."""
    import optuna

    if isinstance(param, FloatParam):
        return optuna.distributions.FloatDistribution(
            param.low, param.high, log=param.log, step=param.step
        )
    if isinstance(param, IntParam):
        return optuna.distributions.IntDistribution(
            param.low, param.high, log=param.log, step=param.step
        )
    if isinstance(param, CategoricalParam):
        return optuna.distributions.CategoricalDistribution(list(param.values))
    raise TypeError(f"unknown parameter type {type(param).__name__}")


def grid_values(space: Space) -> dict[str, list[Any]]:
    """Every value of every parameter, for Optuna's GridSampler (needs finite domains)."""
    out: dict[str, list[Any]] = {}
    for p in space.parameters:
        if isinstance(p, CategoricalParam):
            out[p.path] = list(p.values)
        elif isinstance(p, IntParam):
            out[p.path] = list(range(p.low, p.high + 1, p.step))
        elif p.step is not None:
            n = round((p.high - p.low) / p.step + 1e-9)
            out[p.path] = [min(p.low + i * p.step, p.high) for i in range(n + 1)]
        else:
            raise ValueError(f"{p.path}: a continuous float has no grid (give it a step)")
    return out
