"""Searcher assembly: the space's Optuna sampler (named in the catalogue) and the searcher
chain given to Tune.

Chain (outermost first), as `tune/runner.py` puts it together: `BudgetedSearchGenerator`
(the budget, re-read on resume) -> Ray's `ConcurrencyLimiter` (at most
`max_concurrent_trials` suggestions outstanding; it is the only concurrency cap, Tune's
`TuneConfig.max_concurrent_trials` is left unset) -> `StartupBarrier` (model-based samplers
wait for their random start-up trials) -> Ray's `OptunaSearch` (define-by-run space, study
kept in `<run>/optuna.journal`). `make_searcher` builds the last two.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.storages.journal import JournalFileBackend
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from raytrain.layout import SearchRunLayout
from raytrain.redaction import redact
from raytrain.space import define_by_run, grid_values
from raytrain.space.catalogue import SAMPLERS
from raytrain.space.types import Space
from raytrain.tune.budget import StartupBarrier


def default_startup_trials(num_samples: int) -> int:
    """Random trials before TPE/CMA-ES model the space: ~1/4 of the budget, 2..10."""
    return max(2, min(10, num_samples // 4))


def grid_size(space: Space) -> int:
    size = 1
    for values in grid_values(space).values():
        size *= len(values)
    return size


def startup_trials(space: Space) -> int:
    if space.search.n_startup_trials is not None:
        return space.search.n_startup_trials
    return default_startup_trials(space.search.num_samples)


def make_sampler(space: Space) -> optuna.samplers.BaseSampler:
    """The space's sampler, built by its catalogue entry's factory."""
    factory = SAMPLERS[space.search.sampler].load()
    return factory(space, startup_trials(space))


def journal_storage(run_dir: Path) -> optuna.storages.BaseStorage:
    backend = JournalFileBackend(str(SearchRunLayout(run_dir).journal))
    return optuna.storages.JournalStorage(backend)


def create_study(space: Space, storage: optuna.storages.BaseStorage) -> None:
    """Create the run's study with its objective named after the metric, so
    optuna-dashboard shows `val_acc` rather than "Objective 0". The name is stored in the
    journal once; `OptunaSearch` then loads this study, and a resumed run keeps it."""
    study = optuna.create_study(
        storage=storage,
        study_name=space.name,
        direction="maximize" if space.mode == "max" else "minimize",
        load_if_exists=True,
    )
    # experimental since Optuna 3.2, unchanged since
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([space.metric])


class SpaceFunction:
    """Picklable define-by-run function (Tune pickles the searcher, and with it the
    space, into its experiment state; a closure would not survive that)."""

    def __init__(self, space: Space) -> None:
        self.space = space

    def __call__(self, trial: optuna.trial.Trial) -> dict[str, Any] | None:
        return define_by_run(self.space)(trial)

    def __getstate__(self) -> dict[str, Any]:
        # Tune writes this pickle to disk: the config with its secrets as written (the
        # sampler needs only the parameters).
        space = dataclasses.replace(self.space, config=redact(self.space.config))
        return {**self.__dict__, "space": space}


def make_searcher(space: Space, run_dir: Path) -> Searcher:
    """The searcher chain for a new run (a resumed run gets it back from Tune's state)."""
    storage = journal_storage(run_dir)
    create_study(space, storage)
    optuna_search = OptunaSearch(
        space=SpaceFunction(space),
        metric=space.metric,
        mode=space.mode,
        sampler=make_sampler(space),
        study_name=space.name,
        storage=storage,
    )
    wait_for = startup_trials(space) if SAMPLERS[space.search.sampler].model_based else 0
    return StartupBarrier(optuna_search, startup_trials=wait_for)
