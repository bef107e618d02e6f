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

import contextlib
import dataclasses
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from raytrain.layout import SearchRunLayout
from raytrain.redaction import redact
from raytrain.space import define_by_run, grid_values
from raytrain.space.catalogue import SAMPLERS
from raytrain.space.types import Constraint, Space
from raytrain.tune.budget import StartupBarrier
from raytrain.tune.relocation import relocating
from raytrain.tune.warm import WarmStart, add_warm_trials


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


def _direction(mode: str) -> optuna.study.StudyDirection:
    return (
        optuna.study.StudyDirection.MAXIMIZE
        if mode == "max"
        else optuna.study.StudyDirection.MINIMIZE
    )


def create_study(
    space: Space, storage: optuna.storages.BaseStorage, warm: WarmStart | None = None
) -> int:
    """Create the run's study with its objectives named after the metrics, so
    optuna-dashboard shows `val_acc` rather than "Objective 0". The names are stored in the
    journal once; `OptunaSearch` then loads this study, and a resumed run keeps it. Several
    objectives make a multi-objective study (optuna-dashboard draws its Pareto front).
    `warm`: earlier trials added as completed ones (once); returns how many it holds."""
    objectives = space.objectives
    study = optuna.create_study(
        storage=storage,
        study_name=space.name,
        directions=[_direction(o.mode) for o in objectives],
        load_if_exists=True,
    )
    # experimental since Optuna 3.2, unchanged since
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([o.name for o in objectives])
    return add_warm_trials(study, space, warm)


class ConstrainedOptunaSearch(OptunaSearch):
    """Ray's `OptunaSearch` that also hands the space's constraints to Optuna.

    When a trial completes, each constraint's value (`threshold - value` for `>=`,
    `value - threshold` for `<=`, so > 0 = violated, Optuna's convention) from the trial's
    last result is set with Optuna 5's `Trial.set_constraint` before the trial is told;
    TPE, NSGA-II and GP then rank feasible trials above infeasible ones. The Optuna trial
    is the one Ray's class keeps per Tune trial (`_ot_trials`, its own state, pickled
    with it, so a resumed search still finds it): Ray offers no hook between a result and
    `study.tell`.
    """

    def __init__(self, *args: Any, constraints: tuple[Constraint, ...] = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.constraints = constraints

    def restore(self, checkpoint_path: str) -> None:
        super().restore(checkpoint_path)
        target = relocating()
        if target is not None:
            _open_journal_of(self._storage, target)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        ot_trial = self._ot_trials.get(trial_id)
        if result and ot_trial is not None and trial_id not in self._completed_trials:
            # Already finished in the journal: a trial that ended just before its driver
            # was killed, whose end Tune's older state did not have (it reports it again
            # on --resume, raytrain.executor.trainable); it was told with its constraints.
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                for c in self.constraints:
                    value = c.optuna_value(_number(result.get(c.metric)))
                    ot_trial.set_constraint(c.key, value)
        super().on_trial_complete(trial_id, result=result, error=error)


def _open_journal_of(storage: Any, run_dir: Path) -> None:
    """Point the restored study's journal at `run_dir`'s, when the run moved since it was
    saved (raytrain.tune.relocation). The study, and each Optuna trial Ray keeps, share
    this one storage object (one pickle), so its file backend is changed in place."""
    backend = getattr(storage, "_backend", None)
    if not isinstance(backend, JournalFileBackend):
        return
    path = str(SearchRunLayout(run_dir).journal)
    if backend._file_path != path:
        backend._file_path = path
        backend._lock = JournalFileSymlinkLock(path)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


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


def make_searcher(space: Space, run_dir: Path, warm: WarmStart | None = None) -> Searcher:
    """The searcher chain for a new run (a resumed run gets it back from Tune's state).

    Warm trials count towards the start-up: the sampler counts completed trials of the
    study, and the barrier waits only for the start-up trials still missing."""
    storage = journal_storage(run_dir)
    warm_trials = create_study(space, storage, warm)
    objective: dict[str, Any] = {"metric": space.metric, "mode": space.mode}
    if space.multi_objective:
        objective = {
            "metric": [o.name for o in space.objectives],
            "mode": [o.mode for o in space.objectives],
        }
    optuna_search = ConstrainedOptunaSearch(
        space=SpaceFunction(space),
        sampler=make_sampler(space),
        study_name=space.name,
        storage=storage,
        constraints=space.constraints,
        **objective,
    )
    model_based = SAMPLERS[space.search.sampler].model_based
    wait_for = max(0, startup_trials(space) - warm_trials) if model_based else 0
    return StartupBarrier(optuna_search, startup_trials=wait_for)
