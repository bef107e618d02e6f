"""A full disk under a search's run directory: one clear error, not the traceback of
whichever write met it first.

When the disk fills, the first write to fail can be any of them: a row of `trials.csv` or
`metrics.csv` (the driver's callbacks), the Optuna journal, Tune's experiment state, or a
trial's checkpoint (written by a Train worker: Tune would count that as a failure of the
trial and retry it, then mark it ERROR, and so fail every trial in turn). Two hooks stop the
search instead: `DiskFullCallback` at a trial failure whose text is a full disk (before
Tune's retry or the ERROR row), and `disk_full` finds ENOSPC in whatever `Tuner.fit()`
raised. `disk_full_error` says what to do. What was written before stays usable:
`trials.csv` is replaced atomically, a checkpoint counts only once Tune has recorded it,
and a half-written last journal line is cut off on `--resume` (`raytrain.resume_state`).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from raytrain.errors import RunError
from raytrain.tune.relocation import RunDirBound

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

# strerror(ENOSPC): how a full disk reads in a trial's error text (its traceback as text)
NO_SPACE = os.strerror(errno.ENOSPC)


def disk_full(exc: BaseException) -> OSError | None:
    """The ENOSPC `OSError` behind `exc` (its causes, contexts, and the `cause` of Ray's
    task errors), or None."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            return e
        todo += [e.__cause__, e.__context__, getattr(e, "cause", None)]
    return None


def says_disk_full(text: str) -> bool:
    return NO_SPACE in text


def disk_full_error(run_dir: Path, path: str | None = None) -> RunError:
    where = f" (writing {path})" if path else ""
    return RunError(
        f"no space left on device under {run_dir}{where}. The search stopped; trials.csv, "
        "the trials' records and their last saved checkpoints are kept. Free space on that "
        f"disk (df -h {run_dir}), then continue with: raytrain tune {run_dir} --resume"
    )


class DiskFullCallback(RunDirBound, Callback):
    """Stop the search at a trial failure that is a full disk (first in the callback list,
    so the trial is neither retried against the full disk nor recorded as ERROR)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    def _check(self, trial: Trial) -> None:
        path = getattr(trial, "error_file", None) or ""
        try:  # Tune writes it in its staging dir (ray's temp dir), not on the full disk
            text = Path(path).read_text() if path else ""
        except OSError:
            return
        if says_disk_full(text):
            raise disk_full_error(self.run_dir)

    def on_trial_recover(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._check(trial)

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._check(trial)
