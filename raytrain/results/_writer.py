"""RunWriter: keeps a run directory's trial table, per-trial files and TensorBoard events
current while a search runs. The tuner's driver-side callback calls it on trial events.

Everything is written as it happens (trials.csv is replaced atomically on every event), so
`raytrain status` and TensorBoard are live, and an interrupted run leaves a consistent
directory. Re-creating the writer over an existing run directory (`tune --resume`) loads
what is there and carries on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from raytrain.layout import SearchRunLayout, TrialLayout
from raytrain.redaction import redact, redact_text
from raytrain.results import _files
from raytrain.results._epochs import EpochLog
from raytrain.results._metrics import error_summary, numeric_metrics
from raytrain.results._records import (
    TrialRecord,
    rank_records,
    rung_reached,
    summarise_history,
    summarise_objectives,
)
from raytrain.results._table import atomic_write_text, read_table, render_table
from raytrain.results.confirm import finalists
from raytrain.results.states import ERROR, FINISHED_STATES, PENDING, RUNNING
from raytrain.space.confirm import split_confirm
from raytrain.space.types import Constraint, Objective


class _TrialState:
    """What the writer keeps in memory for one trial besides its table row."""

    def __init__(self, trial: TrialLayout, tensorboard: bool, key: str) -> None:
        self.layout = trial
        self.log = EpochLog(trial, tensorboard, key)
        self.checkpoints: dict[int, str] = _files.read_checkpoints(trial)
        self.session_open = False
        self.fresh: tuple[int, str] | None = None  # checkpoint announced since the last result


class RunWriter:
    """Writer of `<run>/trials.csv` and `<run>/trials/<trial_id>/*` (see module doc)."""

    def __init__(
        self,
        run_dir: Path,
        *,
        metric: str,
        mode: str,
        param_paths: Sequence[str],
        rungs: Sequence[int] = (),
        objectives: Sequence[Objective] = (),
        constraints: Sequence[Constraint] = (),
        tensorboard: bool = True,
        confirm_pick: str = "mean",
        time_key: str = "epoch",
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`objectives` (2 or more) make it a multi-objective run's writer: trials.csv
        then has each objective, the Pareto rank and feasibility (`constraints`).
        `confirm_pick`: the statistic that ranks confirmed finalists (`confirm.pick`).
        `time_key`: the result key of the run's progress (`epoch`, or `steps`/`samples`
        in a run that reports inside epochs): rows, checkpoints and rungs are in it."""
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
        self.run_dir = Path(run_dir)
        self.layout = SearchRunLayout(self.run_dir)
        self.metric = metric
        self.mode = mode
        self.rungs = sorted(int(r) for r in rungs)
        self.objectives = tuple(objectives) if len(objectives) > 1 else ()
        self.constraints = tuple(constraints) if self.objectives else ()
        self.tensorboard = tensorboard
        self.confirm_pick = confirm_pick
        self.time_key = time_key
        self._clock = clock  # injectable so tests and demos can fake a long run
        self.layout.trials_dir.mkdir(parents=True, exist_ok=True)
        existing, existing_params = read_table(self.layout.trials_csv)
        self.param_paths = list(dict.fromkeys([*param_paths, *existing_params]))
        self._records: dict[str, TrialRecord] = {}
        self._state: dict[str, _TrialState] = {}
        for record in existing:
            state = self._trial(record.trial_id, record)
            record.params = _files.read_params(state.layout) or record.params
            if record.checkpoint and not state.checkpoints:  # table written without the csv
                state.checkpoints[record.best_epoch or record.epochs] = record.checkpoint
        self._write_meta()
        self._write_table()

    # ----------------------------------------------------------------- trial events
    def trial_added(self, trial_id: str, params: Mapping[str, Any]) -> None:
        """A trial was created (PENDING); its sampled parameters go to params.json (a
        confirmation trial's tag to its record: `raytrain.space.confirm`)."""
        state = self._trial(trial_id)
        record = self._records[trial_id]
        params, tag = split_confirm(params)
        if tag is not None:
            record.confirms, record.seed = tag.of, tag.seed
        params = redact(params)  # nothing written shows a secret (raytrain.redaction)
        if not record.finished:
            record.state = PENDING
        if params or not record.params:
            record.params = _files.write_params(state.layout, params)
        for path in record.params:
            if path not in self.param_paths:
                self.param_paths.append(path)
                self._write_meta()
        self._touch(record)

    def trial_started(self, trial_id: str) -> None:
        """The trial's workers are running (RUNNING); opens its HParams session."""
        self._trial(trial_id)
        record = self._records[trial_id]
        record.state = RUNNING
        record.error = None
        record.started_at = record.started_at or self._now()
        self._open_session(trial_id)
        self._touch(record)

    def trial_result(self, trial_id: str, metrics: Mapping[str, Any]) -> None:
        """One reported epoch: metrics.csv row, TensorBoard scalars, table row update.

        A result for an epoch at or before the last one recorded means the trial was
        restored from an earlier checkpoint: the later rows (`EpochLog.add`) and their
        checkpoints are dropped and replaced.
        """
        state = self._trial(trial_id)
        record = self._records[trial_id]
        last_epoch = state.log.last_epoch
        epoch = int(state.log.add(metrics, self._now().timestamp())[self.time_key])
        if epoch <= last_epoch:
            # checkpoints of the replaced attempt go, except one announced just now for
            # this very result (trial_checkpoint(..., epoch=E) called before its result)
            keep = {e: p for e, p in state.checkpoints.items() if e < epoch}
            if state.fresh is not None and state.fresh[0] == epoch:
                keep[epoch] = state.fresh[1]
            if keep != state.checkpoints:
                state.checkpoints = keep
                _files.rewrite_checkpoints(state.layout, state.checkpoints)
        state.fresh = None
        self._summarise(record, state)
        if not record.finished:
            record.state = RUNNING
            record.started_at = record.started_at or self._now()
        if state.log.events is not None:
            self._open_session(trial_id)
            scalars = numeric_metrics(metrics)
            if record.best_value is not None:
                scalars[f"best_{self.metric}"] = record.best_value
            state.log.scalars(scalars, step=epoch)
        self._touch(record)

    def trial_checkpoint(self, trial_id: str, path: str, epoch: int | None = None) -> None:
        """A checkpoint of epoch `epoch` (default: the latest reported one) is at `path`.

        Pass `epoch` when the checkpoint is announced before its result is recorded.
        """
        state = self._trial(trial_id)
        record = self._records[trial_id]
        epoch = record.epochs if epoch is None else int(epoch)
        state.checkpoints[epoch] = str(path)
        _files.append_checkpoint(state.layout, epoch, str(path))
        state.fresh = (epoch, str(path))
        record.checkpoint = self._pick_checkpoint(record, state)
        self._touch(record)

    def trial_finished(self, trial_id: str, state: str, error: str | None = None) -> None:
        """TERMINATED (ran to the end), STOPPED (stopped early) or ERROR; closes the
        trial's HParams session with the matching status."""
        if state not in FINISHED_STATES:
            raise ValueError(
                f"finished state must be one of {sorted(FINISHED_STATES)}, not {state!r}"
            )
        tstate = self._trial(trial_id)
        record = self._records[trial_id]
        record.state = state
        error = redact_text(error) if error else error
        if error:
            record.error = error_summary(error)
            _files.write_error(tstate.layout, error)
        elif state != ERROR:
            record.error = None
        if tstate.log.events is not None:
            self._open_session(trial_id)
            tstate.log.events.session_end(state)
            tstate.session_open = False
        self._touch(record)

    def trial_discarded(self, trial_id: str) -> None:
        """Forget a trial that will never run again: one the driver created just before it
        died, after the last saved Tune state, so a resumed run does not know it. Its row
        goes; its folder is moved aside to `trials/_discarded/` (not deleted)."""
        state = self._state.pop(trial_id, None)
        self._records.pop(trial_id, None)
        if state is not None:
            state.log.close()
            source = state.layout.root
            target = self.layout.discarded_dir / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.exists() and not target.exists():
                source.rename(target)
        self._write_table()

    def flush(self) -> None:
        """Push buffered TensorBoard events to disk and rewrite trials.csv."""
        for state in self._state.values():
            state.log.flush()
        self._write_table()

    def close(self) -> None:
        """Flush and close every open event file (call once at the end of the run)."""
        self.flush()
        for state in self._state.values():
            state.log.close()
            state.session_open = False

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- internals
    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), timezone.utc)

    @property
    def records(self) -> list[TrialRecord]:
        return list(self._records.values())

    def _trial(self, trial_id: str, record: TrialRecord | None = None) -> _TrialState:
        if trial_id not in self._state:
            trial = self.layout.trial(trial_id)
            trial.root.mkdir(parents=True, exist_ok=True)
            self._state[trial_id] = _TrialState(trial, self.tensorboard, self.time_key)
            self._records[trial_id] = record or TrialRecord(trial_id=trial_id)
            self._records[trial_id].trial_dir = trial.root
        return self._state[trial_id]

    def _open_session(self, trial_id: str) -> None:
        state = self._state[trial_id]
        if state.log.events is not None and not state.session_open:
            state.log.events.session_start(self._records[trial_id].params)
            state.session_open = True

    def _summarise(self, record: TrialRecord, state: _TrialState) -> None:
        """Recompute epochs/value/best/rung/checkpoint from the trial's history."""
        summarise_history(record, state.log.rows, self.metric, self.mode, self.time_key)
        if self.objectives:
            summarise_objectives(record, state.log.rows, self.objectives, self.constraints)
        record.rung = rung_reached(record.epochs, self.rungs)
        record.checkpoint = self._pick_checkpoint(record, state)

    @staticmethod
    def _pick_checkpoint(record: TrialRecord, state: _TrialState) -> str | None:
        """The best epoch's checkpoint when there is one, else the latest."""
        ckpts = state.checkpoints
        if record.best_epoch is not None and record.best_epoch in ckpts:
            return ckpts[record.best_epoch]
        return ckpts[max(ckpts)] if ckpts else None

    def _touch(self, record: TrialRecord) -> None:
        record.updated_at = self._now()
        self._write_table()

    def _write_meta(self) -> None:
        _files.write_meta(
            self.layout,
            self.metric,
            self.mode,
            self.param_paths,
            self.rungs,
            self.objectives,
            self.constraints,
        )

    def _write_table(self) -> None:
        names = [o.name for o in self.objectives]
        if self.objectives:
            rank_records(list(self._records.values()), self.objectives)
        records = list(self._records.values())
        confirm = None
        if any(r.confirms is not None for r in records):
            confirm = {
                f.trial.trial_id: f for f in finalists(records, self.mode, self.confirm_pick)
            }
        text = render_table(records, self.param_paths, names, confirm)
        atomic_write_text(self.layout.trials_csv, text)
