"""The catalogue of samplers and schedulers: one spec per name, and nothing else knows names.

Torch-, Optuna- and Ray-free: `raytrain validate` checks names and prints settings from it,
and the tuner builds the object by resolving the spec's lazy "module:attr" factory (the
`Entry` idea of `raytrain.config.registry`). Adding a sampler = one `SamplerSpec` here plus
its factory; `tests/unit/test_catalogue.py` builds and drives every entry.

Capabilities the space parser and plan read: `multi_objective` (the sampler can run a study
with several `objectives`) and `constrained` (it steers away from trials that break the
space's `constraints`, given to Optuna with `Trial.set_constraint`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class _Spec:
    name: str
    description: str  # one line, shown by `validate`
    factory: str  # "package.module:function", resolved only by the tuner
    # Fields of the space's settings section (SearchSettings / SchedulerSettings) that this
    # entry reads; `validate` prints them.
    settings: tuple[str, ...]

    def load(self) -> Any:
        module, _, attr = self.factory.partition(":")
        return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class SamplerSpec(_Spec):
    """`factory(space, n_startup_trials) -> optuna.samplers.BaseSampler`."""

    # Starts with `n_startup_trials` random trials, then models their results: the searcher
    # holds further suggestions until those trials have finished (tune/budget.py).
    model_based: bool = False
    # Enumerates a finite set of points: every float needs a `step`, and a run has at most
    # as many trials as there are points.
    finite_only: bool = False
    multi_objective: bool = True
    constrained: bool = False


@dataclass(frozen=True)
class SchedulerSpec(_Spec):
    """`factory(space, run_dir) -> ray.tune.schedulers.TrialScheduler`; its time unit is
    epochs."""

    rungs: bool = False  # stops trials at the ASHA rungs of `raytrain.space.asha`


_SAMPLERS = "raytrain.tune.samplers"
_SCHEDULERS = "raytrain.tune.schedulers"

SAMPLERS: dict[str, SamplerSpec] = {
    s.name: s
    for s in (
        SamplerSpec(
            "tpe",
            "Optuna TPE (tree-structured Parzen estimator)",
            f"{_SAMPLERS}:tpe_sampler",
            settings=("n_startup_trials", "constant_liar"),
            model_based=True,
            constrained=True,
        ),
        SamplerSpec("random", "Optuna random sampling", f"{_SAMPLERS}:random_sampler", ()),
        SamplerSpec(
            "grid",
            "Optuna grid search over every combination",
            f"{_SAMPLERS}:grid_sampler",
            (),
            finite_only=True,
            multi_objective=False,
        ),
        SamplerSpec(
            "cmaes",
            "Optuna CMA-ES",
            f"{_SAMPLERS}:cmaes_sampler",
            settings=("n_startup_trials",),
            model_based=True,
            multi_objective=False,
        ),
        SamplerSpec(
            "nsga2",
            "Optuna NSGA-II genetic algorithm (its first generation is random)",
            f"{_SAMPLERS}:nsga2_sampler",
            settings=("population_size",),
            constrained=True,
        ),
        SamplerSpec(
            "gp",
            "Optuna Gaussian-process Bayesian optimisation (needs scipy; best for few, "
            "costly trials of mostly numeric parameters)",
            f"{_SAMPLERS}:gp_sampler",
            settings=("n_startup_trials",),
            model_based=True,
            constrained=True,
        ),
    )
}

SCHEDULERS: dict[str, SchedulerSpec] = {
    s.name: s
    for s in (
        SchedulerSpec(
            "asha",
            "ASHA early stopping (Ray Tune ASHAScheduler; with several objectives raytrain's "
            "Pareto ASHA), time unit = scheduler.time_attr (epochs by default)",
            f"{_SCHEDULERS}:asha_scheduler",
            settings=("max_t", "grace_period", "reduction_factor"),
            rungs=True,
        ),
        SchedulerSpec(
            "fifo",
            "no early stopping: every trial runs to max_epochs",
            f"{_SCHEDULERS}:fifo_scheduler",
            (),
        ),
    )
}
