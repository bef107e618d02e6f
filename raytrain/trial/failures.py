"""Turn a failed Ray Train run into one message a person can act on.

Ray wraps a worker's exception in `TrainingFailedError` with every rank's traceback; a
raytrain `RunError` raised in the worker (bad metric name, bad `_target_`) is shown as its
message alone, anything else as its type and message from the lowest failing rank.
"""

from __future__ import annotations

from raytrain.errors import RunError


def _root(exc: BaseException) -> BaseException:
    """The user-level cause: unwrap Ray's task-error wrappers."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        cause = getattr(exc, "cause", None)  # RayTaskError keeps the original here
        if isinstance(cause, BaseException):
            exc = cause
            continue
        if isinstance(exc.__cause__, BaseException) and not isinstance(exc, RunError):
            exc = exc.__cause__
            continue
        break
    return exc


def explain_failure(error: BaseException) -> RunError:
    failures = getattr(error, "worker_failures", None)
    if failures:
        rank = min(failures)
        root = _root(failures[rank])
    else:
        root = _root(getattr(error, "controller_failure", error))
        rank = None
    if isinstance(root, RunError):
        return RunError(str(root))
    where = f" on worker rank {rank}" if rank is not None else ""
    message = "\n".join(str(root).strip().splitlines()[:8])
    return RunError(
        f"training failed{where}: {type(root).__name__}: {message}\n"
        "(full traceback in the Ray worker logs: /tmp/ray/session_latest/logs/)"
    )
