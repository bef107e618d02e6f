"""The Ray Tune scheduler factories named by `raytrain.space.catalogue.SCHEDULERS`.

Each is `factory(space, run_dir) -> TrialScheduler` (`run_dir`: where the run's records
are, None outside a run). The time unit is the space's `scheduler.time_attr`: epochs (the
`epoch` every trial reports), or steps / samples (raytrain.space.fidelity).
"""

from __future__ import annotations

from pathlib import Path

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from raytrain.space.catalogue import SCHEDULERS
from raytrain.space.types import Space
from raytrain.tune.pareto_asha import ParetoASHA


def asha_scheduler(space: Space, run_dir: Path | None = None) -> TrialScheduler:
    """Ray's ASHA for one metric; our Pareto ASHA for several objectives (same rungs)."""
    s = space.scheduler
    if space.multi_objective:
        return ParetoASHA(
            space.objectives,
            space.constraints,
            time_attr=s.key,
            max_t=s.max_t,
            grace_period=s.grace_period,
            reduction_factor=s.reduction_factor,
            run_dir=run_dir,
        )
    return ASHAScheduler(
        time_attr=s.key,
        metric=space.metric,
        mode=space.mode,
        max_t=s.max_t,
        grace_period=s.grace_period,
        reduction_factor=s.reduction_factor,
    )


def fifo_scheduler(space: Space, run_dir: Path | None = None) -> TrialScheduler:
    return FIFOScheduler()


def make_scheduler(space: Space, run_dir: Path | None = None) -> TrialScheduler:
    """The space's scheduler, built by its catalogue entry's factory."""
    return SCHEDULERS[space.scheduler.type].load()(space, run_dir)
