"""Keep a whole copy of Tune's experiment state beside the one Tune rewrites in place.

Tune saves its state (`experiment_state-*.json`, the searcher's and the callbacks' state) into a
staging folder in Ray's temp dir, then copies that folder into `<run>/trials/` in a background
thread, overwriting the files there in place (`ray/train/_internal/syncer.py`, pyarrow
`copy_files`). A driver killed during that copy, or a disk that fills while it writes, leaves
the run's copy cut short, and Tune cannot restore the run from it: seen once here, the
disk-full test beside another test left `experiment_state-*.json` truncated.

`StateBackup` copies the staging set after each save (Tune calls `on_step_end` right after
its `checkpoint()`, `ray/tune/execution/tune_controller.py` `step`) with
`raytrain.resume_state.backup_state`: always one whole save, the newest that fitted on the
disk. `raytrain.resume_state` puts it back on `--resume` when Tune's copy is damaged.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from raytrain.layout import SearchRunLayout
from raytrain.resume_state import EXPERIMENT_STATE_GLOB, backup_state
from raytrain.tune.relocation import RunDirBound

if TYPE_CHECKING:
    from ray.tune.experiment import Trial


class StateBackup(RunDirBound, Callback):
    """Back Tune's experiment state up after every save (see the module doc)."""

    _staging: Path | None = None  # Tune's staging folder, known from the first trial
    _saved: int | None = None  # mtime_ns of the staging state last backed up

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    def __getstate__(self) -> dict[str, Any]:
        return {"run_dir": self.run_dir}  # the staging folder is the next session's own

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        if self._staging is None:
            storage = getattr(trials[0], "storage", None) if trials else None
            if storage is None:
                return
            self._staging = Path(storage.experiment_driver_staging_path)
        # Tune writes every state file at each save, so the experiment state's time is the
        # save's: one glob and one stat per step (this runs on every tuner step)
        newest = max(self._staging.glob(EXPERIMENT_STATE_GLOB), default=None)
        try:
            stamp = newest.stat().st_mtime_ns if newest is not None else None
        except OSError:
            stamp = None
        if stamp is None:  # nothing saved yet
            return
        if stamp != self._saved:  # one try per save: on a full disk, the next save retries
            self._saved = stamp
            backup_state(self._staging, SearchRunLayout(self.run_dir).state_backup_dir)
