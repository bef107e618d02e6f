"""The Ray Tune scheduler factories named by `raytrain.space.catalogue.SCHEDULERS`.

Each is `factory(space) -> TrialScheduler`. The time unit is epochs (the `epoch` every
trial reports).
"""

from __future__ import annotations

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from raytrain.space.catalogue import SCHEDULERS
from raytrain.space.types import Space

TIME_ATTR = "epoch"


def asha_scheduler(space: Space) -> TrialScheduler:
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
    return FIFOScheduler()


def make_scheduler(space: Space) -> TrialScheduler:
    """The space's scheduler, built by its catalogue entry's factory."""
    return SCHEDULERS[space.scheduler.type].load()(space)
