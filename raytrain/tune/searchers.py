"""Searcher assembly: the Optuna sampler registry and the searcher chain given to Tune.

Chain (outermost first): `StartupBarrier` -> Ray's `OptunaSearch` (define-by-run space,
study kept in `<run>/optuna.journal`). Tune's concurrency cap is set separately through
`TuneConfig.max_concurrent_trials`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raytrain.layout import SearchRunLayout
from raytrain.space.types import Space

if TYPE_CHECKING:
    import optuna
    from ray.tune.search import Searcher


def default_startup_trials(num_samples: int) -> int:
    """Random trials before TPE/CMA-ES model the space: ~1/4 of the budget, 2..10."""
    return max(2, min(10, num_samples // 4))


def _tpe(space: Space, n_startup: int) -> optuna.samplers.BaseSampler:
    import warnings

    import optuna

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


def _random(space: Space, n_startup: int) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.RandomSampler(seed=space.search.seed)


def _cmaes(space: Space, n_startup: int) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.CmaEsSampler(
        seed=space.search.seed,
        n_startup_trials=n_startup,
        independent_sampler=optuna.samplers.RandomSampler(seed=space.search.seed),
    )


def _grid(space: Space, n_startup: int) -> optuna.samplers.BaseSampler:
    import optuna

    from raytrain.space import grid_values

    return optuna.samplers.GridSampler(grid_values(space), seed=space.search.seed)


def grid_size(space: Space) -> int:
    from raytrain.space import grid_values

    size = 1
    for values in grid_values(space).values():
        size *= len(values)
    return size


SAMPLERS: dict[str, Callable[[Space, int], Any]] = {
    "tpe": _tpe,
    "random": _random,
    "cmaes": _cmaes,
    "grid": _grid,
}
# Samplers that start with random trials and then model the results.
MODEL_BASED = {"tpe", "cmaes"}


def startup_trials(space: Space) -> int:
    if space.search.n_startup_trials is not None:
        return space.search.n_startup_trials
    return default_startup_trials(space.search.num_samples)


def journal_storage(run_dir: Path) -> optuna.storages.BaseStorage:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    backend = JournalFileBackend(str(SearchRunLayout(run_dir).journal))
    return optuna.storages.JournalStorage(backend)


class SpaceFunction:
    """Picklable define-by-run function (Tune pickles the searcher, and with it the
    space, into its experiment state; a closure would not survive that)."""

    def __init__(self, space: Space) -> None:
        self.space = space

    def __call__(self, trial: optuna.trial.Trial) -> dict[str, Any] | None:
        from raytrain.space import define_by_run

        return define_by_run(self.space)(trial)


def make_searcher(space: Space, run_dir: Path) -> Searcher:
    """The searcher chain for a new run (a resumed run gets it back from Tune's state)."""
    from ray.tune.search.optuna import OptunaSearch

    from raytrain.tune.budget import StartupBarrier

    n_startup = startup_trials(space)
    sampler = SAMPLERS[space.search.sampler](space, n_startup)
    optuna_search = OptunaSearch(
        space=SpaceFunction(space),
        metric=space.metric,
        mode=space.mode,
        sampler=sampler,
        study_name=space.name,
        storage=journal_storage(run_dir),
    )
    wait_for = n_startup if space.search.sampler in MODEL_BASED else 0
    return StartupBarrier(optuna_search, startup_trials=wait_for)
