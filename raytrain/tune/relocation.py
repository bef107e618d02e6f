"""A resumed run may live somewhere else than when it started: rebind what Tune unpickles.

`Tuner.restore` unpickles the run's callbacks, stopper, scheduler and searcher chain from
Tune's state (`tuner.pkl`, the searcher's state file), and each of them keeps the run
directory it was made for, as does the Optuna journal's file backend. A run directory that
was moved or copied (scratch to home, another head node, a copy to try an extension on)
and then resumed would otherwise keep reading and writing the *old* directory: measured
before this module, `raytrain tune moved/run --resume search.num_samples=5` ran no new
trial (the searcher read num_samples from the old space.yaml) and rewrote the old
directory's trials.csv and budget.json.

`resuming_in(run_dir)` holds the directory being resumed while the driver restores and
runs the search; objects that keep a run directory take it from `relocated()` when they are
unpickled (`RunDirBound`). Everything happens in the driver process: Tune restores its state
there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_current: Path | None = None


@contextmanager
def resuming_in(run_dir: Path) -> Iterator[None]:
    global _current
    previous, _current = _current, Path(run_dir)
    try:
        yield
    finally:
        _current = previous


def relocated(run_dir: Path | str) -> Path:
    """The run directory an unpickled object should use: the one being resumed, if any."""
    return _current if _current is not None else Path(run_dir)


def relocating() -> Path | None:
    """The run directory being resumed, or None outside a resume."""
    return _current


class RunDirBound:
    """Mixin for objects that Tune pickles with a `run_dir` attribute. `moved_from`: the
    directory it was pickled with, when that is not where the run is resumed (else None)."""

    run_dir: Path
    moved_from: Path | None = None

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "run_dir" in state:
            pickled = Path(state["run_dir"])
            now = relocated(pickled)
            state = {**state, "run_dir": now, "moved_from": pickled if now != pickled else None}
        self.__dict__.update(state)
