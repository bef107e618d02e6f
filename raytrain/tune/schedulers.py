"""The Ray Tune scheduler factories named by `raytrain.space.catalogue.SCHEDULERS`.

Each is `factory(space) -> TrialScheduler`. The time unit is epochs (the `epoch` every
trial reports).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from raytrain.space.catalogue import SCHEDULERS
from raytrain.space.types import Space

if TYPE_CHECKING:
    from ray.tune.schedulers import TrialScheduler

TIME_ATTR = "epoch"


def asha_scheduler(space: Space) -> TrialScheduler:
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


def fifo_scheduler(space: Space) -> TrialScheduler:
    from ray.tune.schedulers import FIFOScheduler

    return FIFOScheduler()


def make_scheduler(space: Space) -> TrialScheduler:
    """The space's scheduler, built by its catalogue entry's factory."""
    return SCHEDULERS[space.scheduler.type].load()(space)
