"""Typed search-space objects: what a space file becomes after parsing and validation.

Parameters are keyed by dotted paths into the train config (`optimizer.lr`). A `when`
condition maps other parameter paths to the tuple of values for which this one exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
    max_t: int = 20  # epochs; default = config.trainer.max_epochs
    grace_period: int = 1
    reduction_factor: float = 3.0


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
class Space:
    name: str
    config: dict[str, Any]  # the base train config (resolved, interpolations done), plain dict
    metric: str
    mode: Mode
    parameters: tuple[Param, ...]
    constants: dict[str, Any] = field(default_factory=dict)  # path -> fixed value
    search: SearchSettings = field(default_factory=SearchSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    resources: ResourceSettings = field(default_factory=ResourceSettings)
    failure: FailureSettings = field(default_factory=FailureSettings)
    source: Path | None = None
    # config key paths interpolating secret environment variables (`raytrain.redaction`)
    secrets: tuple[tuple[str, str], ...] = field(default=(), compare=False)
