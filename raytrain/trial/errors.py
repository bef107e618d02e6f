"""Errors raised inside Train workers that the user can act on.

They subclass `RunError`, so once `raytrain.trial.failures` has unwrapped them from Ray's
`TrainingFailedError` the CLI prints the message alone and exits 1 (no traceback).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from raytrain.errors import RunError


class TrialError(RunError):
    """A problem in the trial's configuration or user code found while it runs."""


class MetricNotLoggedError(TrialError):
    def __init__(self, missing: Iterable[str], logged: Iterable[str]) -> None:
        missing, logged = sorted(missing), sorted(logged)
        names = ", ".join(repr(m) for m in missing)
        shown = ", ".join(logged) if logged else "(none)"
        super().__init__(
            f"metric {names} is not logged by the model; after the first validation epoch "
            f"it logged: {shown}. Log it with self.log({missing[0]!r}, ...) or set "
            f"checkpoint.metric / the space's `metric`, `objectives` or `constraints` to "
            "logged names."
        )
        self.missing = missing
        self.logged = logged

    def __reduce__(self) -> tuple[Any, ...]:
        # Travels from the worker to the driver by pickle: rebuild from the fields.
        return (type(self), (self.missing, self.logged))
