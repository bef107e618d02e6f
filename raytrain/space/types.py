"""Typed search-space objects: what a space file becomes after parsing and validation.

Parameters are keyed by dotted paths into the train config (`optimizer.lr`). A `when`
condition maps other parameter paths to the tuple of values for which this one exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from raytrain.space.fidelity import TimeAttr, time_key

Mode = Literal["min", "max"]
Condition = dict[str, tuple[Any, ...]]


@dataclass(frozen=True)
class FloatParam:
    path: str
    low: float
    high: float
    log: bool = False
    step: float | None = None
    when: Condition = field(default_factory=dict)
    kind: Literal["float"] = "float"


@dataclass(frozen=True)
class IntParam:
    path: str
    low: int
    high: int
    log: bool = False
    step: int = 1
    when: Condition = field(default_factory=dict)
    kind: Literal["int"] = "int"


@dataclass(frozen=True)
class CategoricalParam:
    path: str
    values: tuple[Any, ...]
    when: Condition = field(default_factory=dict)
    kind: Literal["categorical"] = "categorical"


Param = FloatParam | IntParam | CategoricalParam

Comparator = Literal[">=", "<="]


@dataclass(frozen=True)
class Objective:
    """One metric to optimise; a single-objective space has exactly one."""

    name: str
    mode: Mode


@dataclass(frozen=True)
class Constraint:
    """`metric` must be `>=` or `<=` `threshold` for a trial to count as feasible."""

    metric: str
    op: Comparator
    threshold: float

    @property
    def key(self) -> str:
        """The constraint's name in Optuna and in results (`val_active_units>=4`)."""
        return f"{self.metric}{self.op}{self.threshold:g}"

    def optuna_value(self, value: float | None) -> float:
        """Optuna's constraint value: <= 0 when met, the distance by which it is broken
        otherwise (a missing or non-finite metric: inf, the worst)."""
        if value is None or not math.isfinite(value):
            return math.inf
        return self.threshold - value if self.op == ">=" else value - self.threshold

    def violation(self, value: float | None) -> float:
        """How far `value` is on the wrong side (0 = met)."""
        return max(0.0, self.optuna_value(value))


@dataclass(frozen=True)
class SearchSettings:
    sampler: str = "tpe"  # a name in raytrain.space.catalogue.SAMPLERS
    num_samples: int = 20
    seed: int | None = 0
    n_startup_trials: int | None = None  # TPE/CMA-ES random start-up; None = sampler default
    constant_liar: bool = True  # TPE: penalise points being evaluated by running trials
    # NSGA-II: trials per generation; None = Optuna's default (50). A `null` default keeps
    # `--resume` of runs stored before this field existed working (missing == null).
    population_size: int | None = None


@dataclass(frozen=True)
class SchedulerSettings:
    type: str = "asha"  # a name in raytrain.space.catalogue.SCHEDULERS
    max_t: int = 20  # in time_attr units; epochs: default = config.trainer.max_epochs
    grace_period: int = 1  # steps/samples: default = report_every (the first report)
    reduction_factor: float = 3.0
    # the unit trials report progress in (raytrain.space.fidelity); steps/samples report
    # every `report_every` of them, inside epochs
    time_attr: TimeAttr = "epochs"
    report_every: int | None = None

    @property
    def within_epoch(self) -> bool:
        return self.time_attr != "epochs"

    @property
    def key(self) -> str:
        """The result key trials report their progress under (`epoch`, `steps`, ...)."""
        return time_key(self.time_attr)


@dataclass(frozen=True)
class ResourceSettings:
    workers_per_trial: int = 1
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    max_concurrent_trials: int | Literal["auto"] = "auto"
    # warm: long-lived Ray Train worker groups serve trial after trial (raytrain.executor);
    # fresh: a TorchTrainer (new worker processes) per trial.
    executor: Literal["warm", "fresh"] = "warm"
    recycle_after: int | None = None  # warm: restart a worker group after this many trials


@dataclass(frozen=True)
class FailureSettings:
    max_failures: int = 1


@dataclass(frozen=True)
class BudgetSettings:
    """Limits of a whole search, in hours (None: no limit); see raytrain.tune.ledger."""

    wall_clock: float | None = None  # the tuner's running time, over all parts of the run
    trial_hours: float | None = None  # sum of the trials' running times
    gpu_hours: float | None = None  # trial hours x GPUs per trial

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.wall_clock, self.trial_hours, self.gpu_hours))


@dataclass(frozen=True)
class ConfirmSettings:
    """`confirm:` re-run the `top_k` best configs with `seeds` new seeds each after the
    search, and choose `best.yaml` by `pick` over those seeds (raytrain.results.confirm):
    `mean`, or `lcb` (mean minus one std for mode max, plus one std for mode min)."""

    top_k: int = 3
    seeds: int = 3
    pick: Literal["mean", "lcb"] = "mean"

    @property
    def trials(self) -> int:
        """Confirmation trials the search adds (at most: fewer when fewer trials scored)."""
        return self.top_k * self.seeds


@dataclass(frozen=True)
class Space:
    name: str
    config: dict[str, Any]  # the base train config (resolved, interpolations done), plain dict
    metric: str  # the single objective, or the first of several (checkpoint default)
    mode: Mode
    parameters: tuple[Param, ...]
    constants: dict[str, Any] = field(default_factory=dict)  # path -> fixed value
    search: SearchSettings = field(default_factory=SearchSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    resources: ResourceSettings = field(default_factory=ResourceSettings)
    failure: FailureSettings = field(default_factory=FailureSettings)
    budget: BudgetSettings = field(default_factory=BudgetSettings)
    confirm: ConfirmSettings | None = None  # None: no confirmation trials
    source: Path | None = None
    # every objective in file order (one for `metric:`/`mode:`), and the constraints a
    # feasible trial meets; several objectives make a Pareto search (raytrain.pareto)
    objectives: tuple[Objective, ...] = ()
    constraints: tuple[Constraint, ...] = ()

    def __post_init__(self) -> None:
        if not self.objectives:  # built from metric/mode alone
            object.__setattr__(self, "objectives", (Objective(self.metric, self.mode),))

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def watched_metrics(self) -> list[str]:
        """Every metric the search reads: objectives, then constraint metrics."""
        names = [o.name for o in self.objectives]
        return list(dict.fromkeys([*names, *(c.metric for c in self.constraints)]))

    # config key paths interpolating secret environment variables (`raytrain.redaction`)
    secrets: tuple[tuple[str, str], ...] = field(default=(), compare=False)
