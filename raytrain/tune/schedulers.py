"""Trial schedulers by name. ASHA's time unit is epochs (the `epoch` every trial reports)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from raytrain.space.types import Space

if TYPE_CHECKING:
    from ray.tune.schedulers import TrialScheduler

TIME_ATTR = "epoch"


def _asha(space: Space) -> TrialScheduler:
    from ray.tune.schedulers import ASHAScheduler

    s = space.scheduler
    return ASHAScheduler(
        time_attr=TIME_ATTR,
        metric=space.metric,
        mode=space.mode,
        max_t=s.max_t,
        grace_period=s.grace_period,
        reduction_factor=s.reduction_factor,
    )


def _fifo(space: Space) -> TrialScheduler:
    from ray.tune.schedulers import FIFOScheduler

    return FIFOScheduler()


SCHEDULERS: dict[str, Callable[[Space], TrialScheduler]] = {"asha": _asha, "fifo": _fifo}


def make_scheduler(space: Space) -> TrialScheduler:
    return SCHEDULERS[space.scheduler.type](space)
