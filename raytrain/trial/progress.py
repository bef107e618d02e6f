"""Stream each reported epoch from the Ray Train controller to the driver process.

Ray Train calls `UserCallback.after_report` in its controller actor, which may live on another
node; a Ray queue carries rank 0's metrics (and the persisted checkpoint path) back to the
driver, which prints progress and writes the run directory while `fit()` blocks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ray.train.v2.api.callback import UserCallback
from ray.util.queue import Empty, Queue


@dataclass(frozen=True)
class EpochReport:
    metrics: dict[str, Any]
    checkpoint_path: str | None


class _QueueCallback(UserCallback):
    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def after_report(
        self, run_context: Any, metrics: list[dict[str, Any]], checkpoint: Any
    ) -> None:
        path = checkpoint.path if checkpoint is not None else None
        self.queue.put(EpochReport(dict(metrics[0]), path))


class ProgressRelay:
    """`callback` goes into the RunConfig; `start(handler)` consumes reports in a thread."""

    def __init__(self) -> None:
        self._queue = Queue(actor_options={"num_cpus": 0})
        self.callback = _QueueCallback(self._queue)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, handler: Callable[[EpochReport], None]) -> None:
        self._thread = threading.Thread(target=self._pump, args=(handler,), daemon=True)
        self._thread.start()

    def _pump(self, handler: Callable[[EpochReport], None]) -> None:
        while True:
            try:
                report = self._queue.get(timeout=0.2)
            except Empty:
                if self._stop.is_set():
                    return
                continue
            handler(report)

    def stop(self) -> None:
        """Handle what is still queued, then end the thread and the queue actor."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._queue.shutdown()
