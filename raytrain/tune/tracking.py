"""`TrackingCallback`: a search's trials into W&B / MLflow, from the results the driver
already receives (one run per trial whichever executor serves it; see
`raytrain.tracking`).

Pickled into Tune's experiment state like the other callbacks: the open trackers are
dropped and re-opened in `setup()` on `--resume`; each trial's best so far is kept, so a
resumed trial's summary still counts the epochs before the restart.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from raytrain.config.parse import train_config_to_dict
from raytrain.executor.protocol import REPLAYED
from raytrain.redaction import redact
from raytrain.results import load_run
from raytrain.results.states import ERROR
from raytrain.space import trial_train_config
from raytrain.space.types import Space
from raytrain.tracking import RunEnd, RunStart, Scope, Tracking
from raytrain.tune.callbacks import final_state, full_budget, model_metrics, planned_epochs
from raytrain.tune.relocation import RunDirBound

if TYPE_CHECKING:
    from ray.tune.experiment import Trial


def search_scope(space: Space, run_dir: Path, *, resume: bool = False) -> Scope:
    return Scope(
        kind="search",
        name=space.name,
        run_dir=Path(run_dir),
        metric=space.metric,
        mode=space.mode,
        group=Path(run_dir).resolve().name,
        resume=resume,
    )


def open_search_tracking(space: Space, run_dir: Path, *, resume: bool = False) -> Tracking | None:
    """The search's trackers, opened now (None when the space logs to none). `resume`:
    carry on with the MLflow runs the search started (a new search in a re-used run
    directory path starts its own)."""
    scope = search_scope(space, run_dir, resume=resume)
    return Tracking.open(trial_train_config(space, {}).logging, scope)


class TrackingCallback(RunDirBound, Callback):
    def __init__(self, space: Space, run_dir: Path, tracking: Tracking | None = None) -> None:
        self.space = space
        self.run_dir = Path(run_dir)
        self.max_epochs = int(space.config["trainer"]["max_epochs"])
        self._tracking = tracking
        self._best: dict[str, tuple[float, int | None]] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_tracking"] = None
        # Tune pickles callbacks into tuner.pkl: secrets as written (raytrain.redaction);
        # the trackers' own settings never hold secrets (refused in files)
        state["space"] = dataclasses.replace(self.space, config=redact(self.space.config))
        return state

    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        if self._tracking is None:  # restored from Tune's state (`--resume`)
            self._tracking = open_search_tracking(self.space, self.run_dir, resume=True)

    def on_trial_start(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        if self._tracking is None:
            return
        params = dict(trial.config)
        # secrets as written (raytrain.redaction), like every file of the run
        config = redact(train_config_to_dict(trial_train_config(self.space, params)))
        self._tracking.start(RunStart(key=trial.trial_id, params=params, config=config))

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any
    ) -> None:
        if self._tracking is None or result.get(REPLAYED):  # a replay was logged already
            return
        metrics = model_metrics(result)
        self._tracking.epoch(trial.trial_id, metrics)
        value = metrics.get(self.space.metric)
        if value is None or not math.isfinite(value):
            return
        best = self._best.get(trial.trial_id)
        if best is None or (value < best[0] if self.space.mode == "min" else value > best[0]):
            # the best value's progress: epoch, or step / sample (scheduler.time_attr)
            epoch = metrics.get(self.space.scheduler.key)
            self._best[trial.trial_id] = (float(value), int(epoch) if epoch is not None else None)

    def _end(self, trial: Trial, state: str) -> None:
        if self._tracking is None:
            return
        value, epoch = self._best.get(trial.trial_id, (None, None))
        self._tracking.end(
            RunEnd(key=trial.trial_id, state=state, best_value=value, best_epoch=epoch)
        )

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        planned = planned_epochs(trial.config, self.max_epochs)
        self._end(trial, final_state(trial, planned, full_budget(self.space)))

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._end(trial, ERROR)

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        """After the run directory's callback flushed: its best trial's checkpoint is the
        one `best.yaml` names."""
        if self._tracking is None:
            return
        best = load_run(self.run_dir).best(1)
        checkpoint = best[0].checkpoint if best else None
        self._tracking.close(Path(checkpoint) if checkpoint else None)
        self._tracking = None
