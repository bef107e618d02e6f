"""RunWriter: keeps a run directory's trial table, per-trial files and TensorBoard events
current while a search runs. The tuner's driver-side callback calls it on trial events.

Everything is written as it happens (trials.csv is replaced atomically on every event), so
`raytrain status` and TensorBoard are live, and an interrupted run leaves a consistent
directory. Re-creating the writer over an existing run directory (`tune --resume`) loads
what is there and carries on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raytrain.results import _files
from raytrain.results._metrics import error_summary, numeric_metrics
from raytrain.results._records import TrialRecord, better, rung_reached
from raytrain.results._table import atomic_write_text, read_table, render_table
from raytrain.results.states import ERROR, FINISHED_STATES, PENDING, RUNNING

if TYPE_CHECKING:
    from raytrain.results._tensorboard import TrialEvents


class _TrialState:
    """What the writer keeps in memory for one trial besides its table row."""

    def __init__(self, trial_dir: Path, tensorboard: bool) -> None:
        self.dir = trial_dir
        self.history: list[dict[str, float]] | None = None  # metrics.csv rows, loaded lazily
        self.columns: list[str] = []
        self.checkpoints: dict[int, str] = _files.read_checkpoints(trial_dir)
        self.events: TrialEvents | None = None
        if tensorboard:  # imported here: tensorboard's protos take a while to load
            from raytrain.results._tensorboard import TrialEvents

            self.events = TrialEvents(trial_dir)
        self.session_open = False
        self.fresh: tuple[int, str] | None = None  # checkpoint announced since the last result

    def load_history(self) -> list[dict[str, float]]:
        if self.history is None:
            self.history, self.columns = _files.read_metrics(self.dir)
        return self.history


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
        tensorboard: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
        self.run_dir = Path(run_dir)
        self.metric = metric
        self.mode = mode
        self.rungs = sorted(int(r) for r in rungs)
        self.tensorboard = tensorboard
        self._clock = clock  # injectable so tests and demos can fake a long run
        self.trials_dir = self.run_dir / _files.TRIALS_DIR
        self.trials_dir.mkdir(parents=True, exist_ok=True)
        existing, existing_params = read_table(self.run_dir / _files.TRIALS_CSV)
        self.param_paths = list(dict.fromkeys([*param_paths, *existing_params]))
        self._records: dict[str, TrialRecord] = {}
        self._state: dict[str, _TrialState] = {}
        for record in existing:
            state = self._trial(record.trial_id, record)
            record.params = _files.read_params(state.dir) or record.params
            if record.checkpoint and not state.checkpoints:  # table written without the csv
                state.checkpoints[record.best_epoch or record.epochs] = record.checkpoint
        _files.write_meta(self.run_dir, metric, mode, self.param_paths, self.rungs)
        self._write_table()

    # ----------------------------------------------------------------- trial events
    def trial_added(self, trial_id: str, params: Mapping[str, Any]) -> None:
        """A trial was created (PENDING); its sampled parameters go to params.json."""
        state = self._trial(trial_id)
        record = self._records[trial_id]
        if not record.finished:
            record.state = PENDING
        if params or not record.params:
            record.params = _files.write_params(state.dir, params)
        for path in record.params:
            if path not in self.param_paths:
                self.param_paths.append(path)
                _files.write_meta(
                    self.run_dir, self.metric, self.mode, self.param_paths, self.rungs
                )
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
        restored from an earlier checkpoint: the later rows are dropped and replaced.
        """
        state = self._trial(trial_id)
        record = self._records[trial_id]
        history = state.load_history()
        values = numeric_metrics(metrics)
        last_epoch = int(history[-1]["epoch"]) if history else 0
        epoch = int(metrics.get("epoch", last_epoch + 1))
        row: dict[str, float] = {"epoch": epoch, "wall_time": self._now().timestamp(), **values}
        new_columns = [k for k in row if k not in state.columns]
        if epoch <= last_epoch or new_columns:
            history[:] = [r for r in history if r["epoch"] < epoch]
            # checkpoints of the replaced attempt go, except one announced just now for
            # this very result (trial_checkpoint(..., epoch=E) called before its result)
            keep = {e: p for e, p in state.checkpoints.items() if e < epoch or epoch > last_epoch}
            if state.fresh is not None and state.fresh[0] == epoch:
                keep[epoch] = state.fresh[1]
            if keep != state.checkpoints:
                state.checkpoints = keep
                _files.rewrite_checkpoints(state.dir, state.checkpoints)
            history.append(row)
            state.columns = [*state.columns, *new_columns]
            _files.rewrite_metrics(state.dir, state.columns, history)
        else:
            history.append(row)
            _files.append_metrics(state.dir, state.columns, row)
        state.fresh = None
        self._summarise(record, state)
        if not record.finished:
            record.state = RUNNING
            record.started_at = record.started_at or self._now()
        if state.events is not None:
            self._open_session(trial_id)
            scalars = dict(values)
            if record.best_value is not None:
                scalars[f"best_{self.metric}"] = record.best_value
            state.events.scalars(scalars, step=epoch)
            state.events.flush()
        self._touch(record)

    def trial_checkpoint(self, trial_id: str, path: str, epoch: int | None = None) -> None:
        """A checkpoint of epoch `epoch` (default: the latest reported one) is at `path`.

        Pass `epoch` when the checkpoint is announced before its result is recorded.
        """
        state = self._trial(trial_id)
        record = self._records[trial_id]
        epoch = record.epochs if epoch is None else int(epoch)
        state.checkpoints[epoch] = str(path)
        _files.append_checkpoint(state.dir, epoch, str(path))
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
        if error:
            record.error = error_summary(error)
            atomic_write_text(tstate.dir / _files.ERROR_TXT, error.rstrip() + "\n")
        elif state != ERROR:
            record.error = None
        if tstate.events is not None:
            self._open_session(trial_id)
            tstate.events.session_end(state)
            tstate.session_open = False
        self._touch(record)

    def trial_discarded(self, trial_id: str) -> None:
        """Forget a trial that will never run again: one the driver created just before it
        died, after the last saved Tune state, so a resumed run does not know it. Its row
        goes; its folder is moved aside to `trials/_discarded/` (not deleted)."""
        state = self._state.pop(trial_id, None)
        self._records.pop(trial_id, None)
        if state is not None:
            if state.events is not None:
                state.events.close()
            target = self.trials_dir / "_discarded" / state.dir.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if state.dir.exists() and not target.exists():
                state.dir.rename(target)
        self._write_table()

    def flush(self) -> None:
        """Push buffered TensorBoard events to disk and rewrite trials.csv."""
        for state in self._state.values():
            if state.events is not None:
                state.events.flush()
        self._write_table()

    def close(self) -> None:
        """Flush and close every open event file (call once at the end of the run)."""
        self.flush()
        for state in self._state.values():
            if state.events is not None:
                state.events.close()
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
            trial_dir = self.trials_dir / _files.safe_dirname(trial_id)
            trial_dir.mkdir(parents=True, exist_ok=True)
            self._state[trial_id] = _TrialState(trial_dir, self.tensorboard)
            self._records[trial_id] = record or TrialRecord(trial_id=trial_id)
            self._records[trial_id].trial_dir = trial_dir
        return self._state[trial_id]

    def _open_session(self, trial_id: str) -> None:
        state = self._state[trial_id]
        if state.events is not None and not state.session_open:
            state.events.session_start(self._records[trial_id].params)
            state.session_open = True

    def _summarise(self, record: TrialRecord, state: _TrialState) -> None:
        """Recompute epochs/value/best/rung/checkpoint from the trial's history."""
        history = state.history or []
        record.epochs = int(history[-1]["epoch"]) if history else 0
        last = history[-1].get(self.metric) if history else None
        record.value = last
        record.best_value, record.best_epoch = None, None
        for row in history:
            v = row.get(self.metric)
            if v is None or not math.isfinite(v):
                continue
            if record.best_value is None or better(v, record.best_value, self.mode):
                record.best_value, record.best_epoch = v, int(row["epoch"])
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

    def _write_table(self) -> None:
        text = render_table(self._records.values(), self.param_paths)
        atomic_write_text(self.run_dir / _files.TRIALS_CSV, text)
