"""SIGTERM handled as Ctrl-C. SLURM, `kill` and container stops send SIGTERM, and every
long-running raytrain command already stops cleanly on SIGINT: Tune saves its state for
`--resume`, the dashboard stops its servers."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType


@contextlib.contextmanager
def sigterm_as_sigint() -> Iterator[None]:
    """While inside, a SIGTERM to this process becomes a SIGINT (so whatever handles Ctrl-C
    handles it: Python's KeyboardInterrupt, or Tune's graceful stop). Enter it after
    `ray.init`, which installs a SIGTERM handler of its own; the previous handler comes back
    on exit. Off the main thread, where handlers cannot be set, it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return

    def forward(signum: int, frame: FrameType | None) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        yield None
    finally:
        signal.signal(signal.SIGTERM, previous)
