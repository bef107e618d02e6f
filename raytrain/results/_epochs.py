"""EpochLog: the one writer of per-epoch files, for a search trial and a train run alike;
TrainRunWriter: a `raytrain train` run directory kept current with it.

Each reported epoch becomes a metrics.csv row (appended; the file is rewritten only when
a metric appears for the first time or an earlier epoch comes again) and, when asked,
TensorBoard scalars written with TensorBoard's own protos (no torch in the driver).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from raytrain.layout import EpochFiles, TrainRunLayout
from raytrain.redaction import redact_text
from raytrain.results import _files
from raytrain.results._metrics import error_summary, numeric_metrics
from raytrain.results.states import ERROR, FINISHED_STATES, RUNNING
from raytrain.space.fidelity import WITHIN_EPOCH

if TYPE_CHECKING:
    from raytrain.results._tensorboard import TrialEvents


class EpochLog:
    """metrics.csv and TensorBoard events of one training (called from one thread).

    `key` is the progress column rows are ordered by: `epoch`, or `steps` / `samples` in a
    run that reports inside epochs (raytrain.space.fidelity)."""

    def __init__(self, files: EpochFiles, tensorboard: bool, key: str = "epoch") -> None:
        self.files = files
        self.key = key
        self._rows: list[dict[str, float]] | None = None  # loaded lazily: resume reads it
        self.columns: list[str] = []
        self.events: TrialEvents | None = None
        if tensorboard:  # imported here: tensorboard's protos take a while to load
            from raytrain.results._tensorboard import TrialEvents

            self.events = TrialEvents(files.tensorboard_dir)

    @property
    def rows(self) -> list[dict[str, float]]:
        if self._rows is None:
            self._rows, self.columns = _files.read_metrics(self.files)
        return self._rows

    @property
    def last_epoch(self) -> int:
        """The progress (in `key`'s unit) of the last row; 0 before any."""
        return int(self.rows[-1][self.key]) if self.rows else 0

    def add(self, metrics: Mapping[str, Any], wall_time: float) -> dict[str, float]:
        """Record one reported epoch and return its row.

        An epoch at or before the last one recorded means the training was restored from
        an earlier checkpoint: the later rows are dropped and replaced.
        """
        rows = self.rows
        last_epoch = self.last_epoch
        epoch = int(metrics.get(self.key, last_epoch + 1))
        row: dict[str, float] = {
            self.key: epoch,
            "wall_time": wall_time,
            **numeric_metrics(metrics),
        }
        if self.key != "epoch":  # steps / samples: the epoch is kept, fractional
            row["epoch"] = float(metrics.get("epoch", 0))
            for key in WITHIN_EPOCH:  # counts (this log's key among them), written as such
                if key in row:
                    row[key] = int(row[key])
        new_columns = [k for k in row if k not in self.columns]
        if epoch <= last_epoch or new_columns:
            rows[:] = [r for r in rows if r[self.key] < epoch]
            rows.append(row)
            self.columns = [*self.columns, *new_columns]
            _files.rewrite_metrics(self.files, self.columns, rows)
        else:
            rows.append(row)
            _files.append_metrics(self.files, self.columns, row)
        return row

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        if self.events is not None:
            self.events.scalars(values, step=step)
            self.events.flush()

    def flush(self) -> None:
        if self.events is not None:
            self.events.flush()

    def close(self) -> None:
        if self.events is not None:
            self.events.close()


class TrainRunWriter:
    """metrics.csv, TensorBoard scalars and state.json of a train run, so `raytrain status`
    and `analyze` read it (as one trial) while it runs and after it ends."""

    def __init__(
        self,
        layout: TrainRunLayout,
        *,
        tensorboard: bool = True,
        key: str = "epoch",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.layout = layout
        layout.root.mkdir(parents=True, exist_ok=True)
        self.log = EpochLog(layout, tensorboard, key)
        self._clock = clock
        self._started = self._now()
        self._done = False
        self._state(RUNNING)

    def _now(self) -> str:
        return datetime.fromtimestamp(self._clock(), timezone.utc).isoformat()

    def _state(self, state: str, error: str | None = None) -> None:
        _files.write_state(self.layout, state, self._started, self._now(), error)

    def epoch(self, metrics: Mapping[str, Any]) -> dict[str, float]:
        """One reported epoch: a metrics.csv row and its TensorBoard scalars. Returns the
        epoch and its metrics as recorded (the epoch numbered if the report had none)."""
        row = self.log.add(metrics, self._clock())
        self.log.scalars(numeric_metrics(metrics), step=int(row[self.log.key]))
        self._state(RUNNING)
        return {"epoch": row["epoch"], **numeric_metrics(metrics)}

    def finished(self, state: str, error: str | None = None) -> None:
        """TERMINATED, or ERROR with the full error (kept in error.txt)."""
        if state not in FINISHED_STATES:
            raise ValueError(f"finished state must be one of {sorted(FINISHED_STATES)}")
        error = redact_text(error) if error else error  # raytrain.redaction
        if error:
            _files.write_error(self.layout, error)
        self._state(state, error_summary(error) if error else None)
        self._done = True
        self.log.close()

    def __enter__(self) -> TrainRunWriter:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        """A run left without `finished` failed or was interrupted: it is ERROR then, so
        `status --watch` on it ends."""
        if not self._done:
            if exc is None:
                self.finished(ERROR, "the run ended without reporting its end")
            else:
                self.finished(ERROR, "".join(traceback.format_exception(exc)))
        self.log.close()
