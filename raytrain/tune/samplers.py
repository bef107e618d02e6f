"""The Optuna sampler factories named by `raytrain.space.catalogue.SAMPLERS`.

Each is `factory(space, n_startup_trials) -> optuna.samplers.BaseSampler`; samplers that do
not model the results ignore `n_startup_trials`. Only the tuner imports this module (the
catalogue resolves a factory by name), so Optuna at its top stays out of `validate`.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import optuna

from raytrain.space import grid_values
from raytrain.space.types import Space


def tpe_sampler(space: Space, n_startup: int) -> optuna.samplers.BaseSampler:
    # `group` is marked experimental in Optuna (unchanged in behaviour since 2.8).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=space.search.seed,
            n_startup_trials=n_startup,
            # constant_liar: suggestions made while other trials run treat those as bad
            # points, so parallel trials do not all pile onto the same region.
            constant_liar=space.search.constant_liar,
            multivariate=True,
            group=True,  # conditional parameters: model each sub-space separately
        )


def random_sampler(space: Space, n_startup: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=space.search.seed)


def cmaes_sampler(space: Space, n_startup: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.CmaEsSampler(
        seed=space.search.seed,
        n_startup_trials=n_startup,
        independent_sampler=optuna.samplers.RandomSampler(seed=space.search.seed),
    )


def grid_sampler(space: Space, n_startup: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.GridSampler(grid_values(space), seed=space.search.seed)


class PicklableNSGAIISampler(optuna.samplers.NSGAIISampler):
    """NSGA-II that survives Tune's pickling of the searcher (its state file, every few
    seconds): Optuna 5.1's genetic samplers hold a `threading.Lock` (`_thread_lock`,
    samplers/_ga/_base.py), which cannot be pickled, so a `sampler: nsga2` search failed at
    its first state save. The lock guards generation bookkeeping within one process; a
    restored sampler gets a new one."""

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_thread_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._thread_lock = threading.Lock()


def nsga2_sampler(space: Space, n_startup: int) -> optuna.samplers.BaseSampler:
    """NSGA-II needs no start-up barrier: a generation is bred only from finished trials,
    and until `population_size` of them have finished new trials join the random first
    generation."""
    population = space.search.population_size
    if population is None:
        return PicklableNSGAIISampler(seed=space.search.seed)
    return PicklableNSGAIISampler(population_size=population, seed=space.search.seed)


def gp_sampler(space: Space, n_startup: int) -> optuna.samplers.BaseSampler:
    # Optuna's GP sampler is deterministic given the seed; scipy fits its kernel.
    return optuna.samplers.GPSampler(
        seed=space.search.seed,
        n_startup_trials=n_startup,
        independent_sampler=optuna.samplers.RandomSampler(seed=space.search.seed),
    )
