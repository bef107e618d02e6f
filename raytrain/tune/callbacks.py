"""Driver-side Tune callbacks: keep the run directory current and show it live.

They run in the driver process (on the head node), so `trials.csv`, per-trial metrics and
TensorBoard events land in one place even when trials run on other nodes. Both callbacks
are pickled into Tune's experiment state; anything holding files or a terminal is built
in `setup()` and dropped from the pickle.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from raytrain.executor.protocol import REPLAYED
from raytrain.results import RunWriter
from raytrain.space.catalogue import SCHEDULERS
from raytrain.space.fidelity import time_key
from raytrain.space.types import Constraint, Objective, Space
from raytrain.tune.budget import TimeLimits
from raytrain.tune.confirm import ConfirmLimits
from raytrain.tune.ledger import ledger_for
from raytrain.tune.live import LiveState, LiveView
from raytrain.tune.relocation import RunDirBound

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

CHECKPOINT_PATH_KEY = "checkpoint_path"  # set by ray.tune.integration.ray_train
# Keys of Tune's own bookkeeping that are not metrics of the model.
_TUNE_KEYS = {
    "done",
    "training_iteration",
    "trial_id",
    "date",
    "timestamp",
    "time_this_iter_s",
    "time_total_s",
    "pid",
    "hostname",
    "node_ip",
    "time_since_restore",
    "iterations_since_restore",
    "config",
    "experiment_tag",
    "should_checkpoint",
    CHECKPOINT_PATH_KEY,
}


def model_metrics(result: dict[str, Any]) -> dict[str, Any]:
    """The metrics a trial reported (plus `epoch`), without Tune's bookkeeping."""
    return {
        k: v
        for k, v in result.items()
        if k not in _TUNE_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def final_state(trial: Trial, planned_epochs: int, max_t: tuple[str, int] | None = None) -> str:
    """TERMINATED when the trial trained all its planned epochs (or reached `max_t` =
    (result key, value)), STOPPED when it ended before (ASHA, a non-finite metric, or its
    own early stopping), ERROR if it failed. Tune marks scheduler-stopped trials `done` as
    well, so `done` cannot tell them apart."""
    if trial.status == "ERROR":
        return "ERROR"
    last = trial.last_result or {}
    if max_t is not None and (last.get(max_t[0]) or 0) >= max_t[1]:
        return "TERMINATED"
    return "TERMINATED" if int(last.get("epoch") or 0) >= planned_epochs else "STOPPED"


def full_budget(space: Space) -> tuple[str, int] | None:
    """(result key, max_t) of a run that reports inside epochs under a rung scheduler: a
    trial there that reached max_t ran its whole budget although short of max_epochs."""
    s = space.scheduler
    if not s.within_epoch or not SCHEDULERS[s.type].rungs:
        return None
    return s.key, s.max_t


def planned_epochs(params: dict[str, Any], default: int) -> int:
    """The trial's max_epochs: a searched `trainer.max_epochs`, else the space's."""
    value = params.get("trainer.max_epochs", default)
    return int(value) if isinstance(value, (int, float)) else default


class RunDirCallback(RunDirBound, Callback):
    def __init__(
        self,
        run_dir: Path,
        *,
        metric: str,
        mode: str,
        param_paths: Sequence[str],
        rungs: Sequence[int],
        max_epochs: int,
        tensorboard: bool = True,
        objectives: Sequence[Objective] = (),
        constraints: Sequence[Constraint] = (),
        time_attr: str = "epochs",
        max_t: tuple[str, int] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.time_attr, self.max_t = time_attr, max_t
        self.objectives, self.constraints = tuple(objectives), tuple(constraints)
        self.max_epochs = max_epochs
        self.tensorboard = tensorboard
        self.metric, self.mode = metric, mode
        self.param_paths = list(param_paths)
        self.rungs = list(rungs)
        self._writer: RunWriter | None = None
        self._seen: set[str] = set()
        self._reconciled = False

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_writer"] = None
        state["_seen"] = set()
        state["_reconciled"] = False
        return state

    @property
    def writer(self) -> RunWriter:
        if self._writer is None:
            confirm = ConfirmLimits.of_run(self.run_dir)  # read again: `raytrain confirm`
            self._writer = RunWriter(
                self.run_dir,
                confirm_pick=confirm.pick if confirm else "mean",
                metric=self.metric,
                mode=self.mode,
                param_paths=self.param_paths,
                rungs=self.rungs,
                tensorboard=getattr(self, "tensorboard", True),
                # a callback pickled before these fields existed (`--resume` of an older run)
                objectives=getattr(self, "objectives", ()),
                constraints=getattr(self, "constraints", ()),
                time_key=self.progress_key,
            )
        return self._writer

    @property
    def progress_key(self) -> str:
        """The result key of a trial's progress (a callback pickled before `time_attr`
        existed: epochs)."""
        return time_key(getattr(self, "time_attr", "epochs"))

    def _add(self, trial: Trial) -> None:
        if trial.trial_id not in self._seen:
            self._seen.add(trial.trial_id)
            self.writer.trial_added(trial.trial_id, dict(trial.config))

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        if not self._reconciled:
            self._reconciled = True
            self._discard_unknown({t.trial_id for t in trials})
        new = [t for t in trials if t.trial_id not in self._seen]
        for trial in new:
            self._add(trial)
        if new:
            self.writer.flush()

    def _discard_unknown(self, known: set[str]) -> None:
        """On resume: rows for trials that Tune's restored state does not know (created
        after its last save, before the driver died) would never finish; drop them so
        the run still ends with exactly num_samples trials."""
        for record in self.writer.records:
            if record.trial_id not in known and not record.finished:
                self.writer.trial_discarded(record.trial_id)

    def on_trial_start(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._add(trial)
        self.writer.trial_started(trial.trial_id)

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any
    ) -> None:
        self._add(trial)
        if result.get(REPLAYED):  # recorded when it was first reported, checkpoint and all
            return
        metrics = model_metrics(result)
        self.writer.trial_result(trial.trial_id, metrics)
        checkpoint = result.get(CHECKPOINT_PATH_KEY)
        if checkpoint:
            epoch = metrics.get(self.progress_key)
            self.writer.trial_checkpoint(
                trial.trial_id, str(checkpoint), epoch=int(epoch) if epoch is not None else None
            )

    def on_checkpoint(
        self, iteration: int, trials: list[Trial], trial: Trial, checkpoint: Any, **info: Any
    ) -> None:
        """A Tune checkpoint (warm trials save through Tune), of the epoch just reported."""
        self._add(trial)
        epoch = (trial.last_result or {}).get(self.progress_key)
        self.writer.trial_checkpoint(
            trial.trial_id, str(checkpoint.path), epoch=int(epoch) if epoch is not None else None
        )

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._add(trial)
        planned = planned_epochs(trial.config, self.max_epochs)
        state = final_state(trial, planned, getattr(self, "max_t", None))
        self.writer.trial_finished(trial.trial_id, state)

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._add(trial)
        self.writer.trial_finished(trial.trial_id, "ERROR", error=_error_text(trial))

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        if self._writer is not None:
            self._writer.flush()


def _error_text(trial: Trial) -> str:
    """The trial's full error text (the writer keeps it in error.txt, its last line in
    trials.csv)."""
    path = getattr(trial, "error_file", None) or ""
    try:
        text = Path(path).read_text().strip() if path else ""
    except OSError:
        text = ""
    return text or "failed (no error text was recorded)"


class LiveViewCallback(RunDirCallback):
    """Keeps the run directory (it is a `RunDirCallback`) and shows what its writer keeps
    in `LiveView`, so the live table and `raytrain status` show the same records."""

    def __init__(
        self,
        run_dir: Path,
        *,
        name: str,
        metric: str,
        mode: str,
        param_paths: Sequence[str],
        rungs: Sequence[int],
        max_epochs: int,
        budget: int,
        concurrency: int,
        live: bool | None,
        tensorboard: bool = True,
        objectives: Sequence[Objective] = (),
        constraints: Sequence[Constraint] = (),
        time_attr: str = "epochs",
        max_t: tuple[str, int] | None = None,
    ) -> None:
        super().__init__(
            run_dir,
            metric=metric,
            mode=mode,
            param_paths=param_paths,
            rungs=rungs,
            max_epochs=max_epochs,
            tensorboard=tensorboard,
            objectives=objectives,
            constraints=constraints,
            time_attr=time_attr,
            max_t=max_t,
        )
        self.name = name
        self.budget, self.concurrency, self.live = budget, concurrency, live
        self._view: LiveView | None = None
        self._last = 0.0
        self._limits: TimeLimits | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_view"] = None
        state["_limits"] = None  # read again from space.yaml (a resume may change them)
        return state

    def _time_budget(self) -> tuple[str, ...]:
        if self._limits is None:
            self._limits = TimeLimits.of_run(self.run_dir)
        if not self._limits.budget.any:
            return ()
        ledger = ledger_for(self.run_dir).ledger
        return tuple(ledger.usage(self._limits.budget, self._limits.gpus_per_trial))

    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        # On resume this callback is the one pickled when the search started, with that
        # budget; Tune passes the searcher's total, which `BudgetedSearchGenerator` has
        # re-read from space.yaml (a larger search.num_samples extends the search).
        if total_num_samples:
            self.budget = total_num_samples
        self._view = LiveView(live=self.live)
        self._view.start(time.time())

    def _snapshot(self) -> LiveState:
        return LiveState(
            name=self.name,
            metric=self.metric,
            mode=self.mode,
            budget=self.budget,
            concurrency=self.concurrency,
            trials=self.writer.records,
            param_paths=list(self.writer.param_paths),
            objectives=tuple(o.name for o in self.writer.objectives),
            time_budget=self._time_budget(),
            unit=getattr(self, "time_attr", "epochs"),
        )

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        super().on_step_end(iteration, trials, **info)
        now = time.time()
        if self._view is not None and now - self._last >= 0.5:
            self._last = now
            self._view.update(self._snapshot(), now)

    def _ended(self, trial: Trial) -> None:
        if self._view is not None:
            self._view.event(self._snapshot(), trial.trial_id, time.time())

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        super().on_trial_complete(iteration, trials, trial, **info)
        self._ended(trial)

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        super().on_trial_error(iteration, trials, trial, **info)
        self._ended(trial)

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        super().on_experiment_end(trials, **info)
        if self._view is not None:
            self._view.update(self._snapshot(), time.time())
            self._view.stop()
