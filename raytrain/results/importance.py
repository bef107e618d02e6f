"""Parameter importance with Optuna's PED-ANOVA evaluator over the run's trials.

The study is rebuilt in memory from the trial records (each trial scored by its best
value, which is what ASHA ranks trials on) with distributions from space.yaml, so it works
whatever searcher ran and on a copied run without its journal. PED-ANOVA was chosen over
fANOVA because it handles conditional parameters (`when:`) natively (Optuna's conditional
PED-ANOVA), needs no random forest (fast, no scikit-learn import) and is less noisy on the
tens of trials a sweep has: it asks "which parameters separate the top trials from the
rest", and an irrelevant parameter gets ~0.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from raytrain.results._records import Run, TrialRecord, is_finite
from raytrain.results.specs import describe_condition
from raytrain.space.types import CategoricalParam, FloatParam, Objective, Param

MIN_TRIALS = 8  # fewer trials give importances that are mostly noise
TOP_TRIALS = 5  # PED-ANOVA wants about this many trials in the top quantile


@dataclass
class Importance:
    values: dict[str, float] = field(default_factory=dict)  # path -> share (sums to 1)
    scope: dict[str, str] = field(default_factory=dict)  # conditional path -> its condition
    trials_used: int = 0
    note: str | None = None


def choice(value: Any) -> Any:
    """Optuna's categorical choices must be scalars: a list value becomes its JSON text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value)


def distribution(p: Param) -> Any:
    if isinstance(p, CategoricalParam):
        return CategoricalDistribution([choice(v) for v in p.values])
    if isinstance(p, FloatParam):
        return FloatDistribution(float(p.low), float(p.high), log=p.log, step=p.step)
    return IntDistribution(int(p.low), int(p.high), log=p.log, step=1 if p.log else p.step)


def best_value(t: TrialRecord) -> float | None:
    return t.best_value


def build_study(
    trials: Sequence[TrialRecord],
    params: Mapping[str, Param],
    mode: str,
    score: Callable[[TrialRecord], float | None] = best_value,
) -> Any:
    """In-memory Optuna study: one COMPLETE trial per record with a finite score (its
    best value unless `score` says otherwise)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize" if mode == "min" else "maximize")
    dists = {path: distribution(p) for path, p in params.items()}
    for t in trials:
        value = score(t)
        if not is_finite(value):
            continue
        values = {
            k: choice(v) if isinstance(params[k], CategoricalParam) else v
            for k, v in t.params.items()
            if k in dists
        }
        try:
            frozen = optuna.trial.create_trial(
                params=values,
                distributions={k: dists[k] for k in values},
                value=value,
            )
        except ValueError:  # a value outside the range in space.yaml (edited space)
            continue
        study.add_trial(frozen)
    return study


def param_importance(
    run: Run, params: Mapping[str, Param], objective: Objective | None = None
) -> Importance:
    """Importance for the run's metric (each trial's best value), or for one objective of
    a multi-objective run (each trial's value at its last epoch, the value it is ranked
    by)."""
    if objective is None:
        metric, study = run.metric, build_study(run.searched, params, run.mode)
    else:
        name = objective.name
        metric = name
        study = build_study(run.searched, params, objective.mode, lambda t: t.objectives.get(name))
    n = len(study.trials)
    if n < MIN_TRIALS:
        return Importance(
            trials_used=n,
            note=f"parameter importance needs at least {MIN_TRIALS} trials with a finite "
            f"{metric}; this run has {n}",
        )
    quantile = min(0.5, max(0.1, TOP_TRIALS / n))
    evaluator = optuna.importance.PedAnovaImportanceEvaluator(target_quantile=quantile)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (ValueError, RuntimeError, ZeroDivisionError) as exc:
        return Importance(trials_used=n, note=f"importance could not be computed: {exc}")
    values = {k: float(v) if math.isfinite(v) else 0.0 for k, v in raw.items()}
    top = max(1, math.ceil(quantile * n))
    note = (
        f"PED-ANOVA over {n} trials: how much each parameter separates the top {top} "
        f"trials (by {'last' if objective else 'best'} {metric}) from the rest"
    )
    if run.rungs and objective is None:
        note += "; trials stopped early by ASHA count with their best value before stopping"
    return Importance(
        values=values,
        scope={p: describe_condition(s) for p, s in params.items() if s.when and p in values},
        trials_used=n,
        note=note,
    )
