"""`Tracking`: the configured trackers behind one background thread.

The driver's event loop (Tune's callbacks, `raytrain train`'s report relay) only queues
events; a thread hands them to each tracker in order, so a slow tracking server or
`wandb.init` (about a second) never holds up the search. A tracker that fails after it
opened is reported once and dropped: losing the mirror must not stop a long search whose
run directory still records everything.
"""

from __future__ import annotations

import importlib.util
import queue
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from raytrain.config.schema import LoggingConfig
from raytrain.errors import InputError, Problem, RunError
from raytrain.tracking._base import RunEnd, RunStart, Scope, Tracker
from raytrain.tracking._mlflow import MlflowTracker
from raytrain.tracking._wandb import WandbTracker

_STOP = object()


def require_packages(logging: LoggingConfig) -> None:
    """Raise `InputError` (exit 2) naming what to install when a turned-on tracker's package
    is missing; the CLI calls it before starting Ray (nothing is imported)."""
    wanted = [("wandb", logging.wandb), ("mlflow", logging.mlflow)]
    missing = [
        Problem(f"logging.{name}", f"needs the {name} package: pip install 'raytrain[{name}]'")
        for name, section in wanted
        if section is not None and importlib.util.find_spec(name) is None
    ]
    if missing:
        raise InputError(missing)


def configured_trackers(logging: LoggingConfig) -> list[Tracker]:
    """The trackers `logging` turns on (their packages are imported when they open)."""
    require_packages(logging)
    trackers: list[Tracker] = []
    if logging.wandb is not None:
        trackers.append(WandbTracker(logging.wandb))
    if logging.mlflow is not None:
        trackers.append(MlflowTracker(logging.mlflow))
    return trackers


class Tracking:
    """Fan-out of tracker events (see module doc). `open` raises `RunError` when a tracker
    cannot start (unreachable server, bad project) before anything is trained."""

    def __init__(self, trackers: list[Tracker], warn: Callable[[str], None] | None = None) -> None:
        self.trackers = list(trackers)
        self._warn = warn or (lambda text: print(text, file=sys.stderr, flush=True))
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closed = False

    @classmethod
    def open(cls, logging: LoggingConfig, scope: Scope) -> Tracking | None:
        """None when `logging` turns no tracker on."""
        trackers = configured_trackers(logging)
        if not trackers:
            return None
        tracking = cls(trackers)
        for tracker in trackers:
            try:
                tracker.open(scope)
            except Exception as exc:
                raise RunError(f"{tracker.name} logging could not start: {exc}") from exc
        tracking._thread = threading.Thread(
            target=tracking._serve, name="raytrain-tracking", daemon=True
        )
        tracking._thread.start()
        return tracking

    # events, in the order they happened
    def start(self, run: RunStart) -> None:
        self._queue.put(("start", run))

    def epoch(self, key: str, metrics: Mapping[str, float]) -> None:
        self._queue.put(("epoch", key, dict(metrics)))

    def end(self, run: RunEnd) -> None:
        self._queue.put(("end", run))

    def close(self, best_checkpoint: Path | None = None, timeout: float = 300) -> None:
        """Finish the scope and wait for every queued event to be handed over (once)."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(("close", best_checkpoint))
        self._queue.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)
        else:  # never started (tests): run the events here
            self._serve()

    def _serve(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            method, *args = item
            for tracker in list(self.trackers):
                try:
                    getattr(tracker, method)(*args)
                except Exception as exc:
                    self.trackers.remove(tracker)
                    self._warn(
                        f"raytrain: {tracker.name} logging stopped ({method}): "
                        f"{type(exc).__name__}: {exc}; the run directory still has everything"
                    )
