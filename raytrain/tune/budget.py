"""Trial budget and start-up pacing around the Optuna searcher.

`StartupBarrier` makes the random start-up phase exactly `startup_trials` long when trials
run in parallel: without it, every trial started before the first `startup_trials` have
*finished* is also random (ray-project/ray#52535), and with several trials at once a search
can spend most of a small budget on random points. It holds new suggestions until the
start-up trials are done, then releases full parallelism.

`BudgetedSearchGenerator` reads the budget (`search.num_samples`) from the run directory's
`space.yaml` when Tune restores a run, so `raytrain tune --resume search.num_samples=N`
can extend a finished search: Tune itself would restore the budget it started with.

The time budget (`budget:` of the space; the ledger and its rules are in
`raytrain.tune.ledger`) has three Tune pieces, all reading the ledger of the run in this
process: `LedgerCallback` adds the time, `BudgetGate` (in the searcher chain) ends the
search when a new trial would exceed a limit, `BudgetStopper` ends running trials at their
next rung once a limit is reached. The limits are read from `space.yaml` each time the
tuner starts, so a resumed run may raise them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from ray.tune import Callback
from ray.tune.search import Searcher, SearchGenerator

from raytrain.layout import SearchRunLayout
from raytrain.space.catalogue import SCHEDULERS
from raytrain.space.fidelity import WITHIN_EPOCH, time_key
from raytrain.space.types import BudgetSettings
from raytrain.tune.ledger import RunLedger, ledger_for
from raytrain.tune.relocation import RunDirBound

if TYPE_CHECKING:
    from ray.tune.experiment import Trial


class StartupBarrier(Searcher):
    def __init__(self, searcher: Searcher, startup_trials: int) -> None:
        super().__init__(metric=searcher.metric, mode=searcher.mode)
        self.searcher = searcher
        self.startup_trials = startup_trials
        self._suggested: set[str] = set()
        self._completed: set[str] = set()

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def suggest(self, trial_id: str) -> dict | None:
        if len(self._suggested) >= self.startup_trials > len(self._completed):
            return None  # wait: the model-based phase needs the start-up results first
        config = self.searcher.suggest(trial_id)
        if config is not None and config != Searcher.FINISHED:
            self._suggested.add(trial_id)
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        self._completed.add(trial_id)
        self.searcher.on_trial_complete(trial_id, result=result, error=error)

    def get_state(self) -> dict:
        return {
            "suggested": sorted(self._suggested),
            "completed": sorted(self._completed),
            "startup_trials": self.startup_trials,
        }

    def set_state(self, state: dict) -> None:
        self._suggested = set(state["suggested"])
        self._completed = set(state["completed"])
        self.startup_trials = state["startup_trials"]

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)


def space_data(run_dir: Path) -> dict[str, Any]:
    path = SearchRunLayout(Path(run_dir)).space
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    return data if isinstance(data, dict) else {}


def read_budget(run_dir: Path) -> int | None:
    """`search.num_samples` from the run's resolved space file, if there is one."""
    path = SearchRunLayout(Path(run_dir)).space
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text()) or {}
    value = (data.get("search") or {}).get("num_samples")
    return int(value) if value is not None else None


class BudgetedSearchGenerator(RunDirBound, SearchGenerator):
    """A SearchGenerator whose total is taken from `<run_dir>/space.yaml` again on restore
    (Tune restores from a staging copy of its state, so the run dir is kept here):
    `search.num_samples` plus `extra(run_dir)` (the confirmation trials, tune/confirm.py)."""

    def __init__(
        self,
        searcher: Searcher,
        run_dir: Path,
        extra: Callable[[Path], int] | None = None,
    ) -> None:
        super().__init__(searcher)
        self.run_dir = Path(run_dir)
        self.extra = extra

    def restore_from_dir(self, dirpath: str) -> None:
        super().restore_from_dir(dirpath)
        self._follow_move()
        budget = read_budget(self.run_dir)
        extra = getattr(self, "extra", None)  # a generator pickled before `extra` existed
        if budget is not None:
            self._total_samples = budget + (extra(self.run_dir) if extra else 0)
        # "finished" again only if the trial count is used up: a search that its time
        # budget ended asks `BudgetGate` again (the limit may have been raised)
        self._finished = self._counter >= self._total_samples

    def _follow_move(self) -> None:
        """Point new trials at the run's new place when it moved (raytrain.tune.relocation).

        The restored generator keeps the Experiment it was given at the start, with the
        storage of that time; new trials are made from it, so after a move their
        directories (and checkpoints) would go to the old place. Tune moves the restored
        trials itself, not this one (Ray 2.60, `SearchGenerator.get_state`)."""
        experiment = self._experiment
        old = self.moved_from
        if experiment is None or old is None:
            return
        storage = experiment.storage
        if Path(storage.storage_fs_path) != old:
            return  # stored elsewhere (e.g. a bucket): nothing of it lies in the old dir
        moved = type(storage)(  # ray.train._internal.storage.StorageContext
            storage_path=str(self.run_dir),
            experiment_dir_name=storage.experiment_dir_name,
            storage_filesystem=storage.storage_filesystem if storage.custom_fs_provided else None,
            sync_config=storage.sync_config,
        )
        experiment.storage = moved
        experiment.spec["storage"] = moved


@dataclass(frozen=True)
class TimeLimits:
    """What the budget rules need from the run's stored space."""

    budget: BudgetSettings
    gpus_per_trial: float
    max_epochs: int  # a trial's length in `progress_key` units (max_t inside epochs)
    progress_key: str = "epoch"

    @classmethod
    def of_run(cls, run_dir: Path) -> TimeLimits:
        data = space_data(run_dir)
        raw = data.get("budget") or {}
        budget = BudgetSettings(
            **{k: float(raw[k]) for k in ("wall_clock", "trial_hours", "gpu_hours") if k in raw}
        )
        res = data.get("resources") or {}
        gpus = float(res.get("workers_per_trial", 1)) * float(res.get("gpus_per_worker", 0))
        trainer = (data.get("config") or {}).get("trainer") or {}
        sched = data.get("scheduler") or {}
        unit = str(sched.get("time_attr") or "epochs")
        spec = SCHEDULERS.get(str(sched.get("type") or "asha"))
        if unit in WITHIN_EPOCH and spec is not None and spec.rungs and sched.get("max_t"):
            # inside epochs a trial lasts max_t steps/samples (an epoch may be far longer)
            return cls(budget, gpus, int(sched["max_t"]), time_key(unit))
        return cls(budget, gpus, int(trainer.get("max_epochs", 1)))


class _UsesLedger(RunDirBound):
    run_dir: Path
    _limits: TimeLimits | None = None

    @property
    def limits(self) -> TimeLimits:
        if self._limits is None:
            self._limits = TimeLimits.of_run(self.run_dir)
        return self._limits

    @property
    def run_ledger(self) -> RunLedger:
        return ledger_for(self.run_dir)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_limits"] = None  # read again from space.yaml after a restore
        return state


class BudgetGate(_UsesLedger, Searcher):
    """Ends the search (FINISHED) when a new trial would take the run over its budget."""

    def __init__(self, searcher: Searcher, run_dir: Path) -> None:
        super().__init__(metric=searcher.metric, mode=searcher.mode)
        self.searcher = searcher
        self.run_dir = Path(run_dir)

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def suggest(self, trial_id: str) -> dict | None:
        limits = self.limits
        if limits.budget.any:
            run = self.run_ledger
            run.ledger.tick(time.time())
            why = run.ledger.refusal(limits.budget, limits.gpus_per_trial, limits.max_epochs)
            if why is not None:
                if run.ledger.stopped is None:
                    run.ledger.stopped = why
                    run.save(time.time(), force=True)
                return Searcher.FINISHED  # type: ignore[return-value]  # Tune's own sentinel
        return self.searcher.suggest(trial_id)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        self.searcher.on_trial_complete(trial_id, result=result, error=error)

    def get_state(self) -> dict:
        return {}

    def set_state(self, state: dict) -> None:
        """Nothing to restore: the gate's state is the run's ledger file (budget.json),
        read again by `limits` / `run_ledger`."""

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)


class BudgetStopper(_UsesLedger):
    """Tune `stop` criterion: once a limit is reached, a running trial ends at its next
    ASHA rung (without rungs it runs to its end: every result it gives is kept). A trial
    is at a rung at its first report at or past it (as ASHA judges it): in a run that
    reports inside epochs the reports need not fall on the rungs."""

    def __init__(
        self, run_dir: Path, rungs: Sequence[int], key: str = "epoch", every: int = 1
    ) -> None:
        self.run_dir = Path(run_dir)
        self.rungs = set(rungs)
        self.key, self.every = key, every  # the result key of progress, reported every
        self._last: dict[str, float] = {}

    def __call__(self, trial_id: str, result: Mapping[Any, Any]) -> bool:
        key = getattr(self, "key", "epoch")  # a stopper pickled before these fields
        last = getattr(self, "_last", {})
        value = result.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        before = last.get(trial_id)
        if before is None or before >= value:  # first report, or a restored trial's again
            before = value - getattr(self, "every", 1)
        last[trial_id] = value
        limits = self.limits
        if not limits.budget.any or not any(before < r <= value for r in self.rungs):
            return False
        ledger = self.run_ledger.ledger
        return ledger.exhausted(limits.budget, limits.gpus_per_trial) is not None


class AnyStopper:
    """Stop a trial when any of `stoppers` says so (Tune takes one `stop`)."""

    def __init__(self, *stoppers: Callable[[str, Mapping[Any, Any]], bool]) -> None:
        self.stoppers = stoppers

    def __call__(self, trial_id: str, result: Mapping[Any, Any]) -> bool:
        return any(stop(trial_id, result) for stop in self.stoppers)


class LedgerCallback(_UsesLedger, Callback):
    """Adds the tuner's and the trials' running time to the run's ledger (every run keeps
    one, so a budget added on --resume knows what was used)."""

    _reconciled = False  # class default: also for a callback unpickled on resume

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        self.run_ledger.ledger.pause()  # a new part: nothing runs yet
        self.run_ledger.ledger.tick(time.time())
        self._reconciled = False

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        if not self._reconciled:
            # the trials RunDirCallback drops from trials.csv on resume (unfinished, and
            # unknown to Tune's restored state) go from the ledger too; without this the
            # ledger named a trial the run does not have (seen in the budget e2e test)
            self._reconciled = True
            known = {t.trial_id for t in trials}
            ledger = self.run_ledger.ledger
            for trial_id in [t for t, u in ledger.trials.items() if t not in known and not u.done]:
                ledger.discard(trial_id)
        now = time.time()
        self.run_ledger.ledger.tick(now)
        self.run_ledger.save(now)

    def on_trial_start(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self.run_ledger.ledger.trial_started(trial.trial_id, time.time())

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any
    ) -> None:
        # progress in the unit the projection counts in (TimeLimits.progress_key)
        done = result.get(self.limits.progress_key)
        done = float(done) if isinstance(done, (int, float)) else 0.0
        self.run_ledger.ledger.trial_result(trial.trial_id, done, time.time())

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self.run_ledger.ledger.trial_ended(trial.trial_id, time.time())

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self.run_ledger.ledger.trial_ended(trial.trial_id, time.time())

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        now = time.time()
        self.run_ledger.ledger.tick(now)
        self.run_ledger.save(now, force=True)
        self.run_ledger.ledger.pause()
