"""SIGTERM handled as Ctrl-C. SLURM, `kill` and container stops send SIGTERM, and every
long-running raytrain command already stops cleanly on Ctrl-C: Tune saves its state for
`--resume`, `train` and the dashboard stop their children.

A command started in the background by a script (`cmd &` in a non-interactive shell,
nohup, an sbatch script) inherits SIGINT as *ignored*, so Python installs no Ctrl-C
handler and re-sending SIGINT would do nothing. So a SIGTERM does not go through SIGINT:
it calls whatever handles SIGINT now (Tune's graceful stop while a search runs, Python's
KeyboardInterrupt otherwise) or, where SIGINT is ignored or default, raises
KeyboardInterrupt itself.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


def _as_ctrl_c(signum: int, frame: FrameType | None) -> None:
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # SIG_IGN (a background job of a script) or SIG_DFL
        raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_sigint() -> Iterator[None]:
    """While inside, a SIGTERM to this process acts as Ctrl-C (see the module doc). Enter
    it again after `ray.init`, which installs a SIGTERM handler of its own; the previous
    handler comes back on exit. Off the main thread, where handlers cannot be set, it does
    nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    previous = signal.signal(signal.SIGTERM, _as_ctrl_c)
    try:
        yield None
    finally:
        signal.signal(signal.SIGTERM, previous)
