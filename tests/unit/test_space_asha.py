"""ASHA rungs must be the milestones Ray's ASHAScheduler itself uses."""

from __future__ import annotations

import math

import pytest

from raytrain.space import asha_rungs
from raytrain.space.types import FloatParam, SchedulerSettings, Space


def space_with(scheduler: SchedulerSettings) -> Space:
    return Space(
        name="a",
        config={},
        metric="m",
        mode="min",
        parameters=(FloatParam("optimizer.lr", 0.1, 1.0),),
        scheduler=scheduler,
    )


@pytest.mark.parametrize(
    ("max_t", "grace", "rf", "expected"),
    [
        (20, 1, 3, [1, 3, 9]),
        (9, 1, 3, [1, 3, 9]),
        (8, 1, 2, [1, 2, 4, 8]),
        (10, 2, 2, [2, 4, 8]),
        (5, 5, 3, [5]),
        (10, 1, 2.5, [1, 3, 7]),  # milestones 1, 2.5, 6.25: judged at the next whole epoch
    ],
)
def test_known_rungs(max_t: int, grace: int, rf: float, expected: list[int]) -> None:
    sched = SchedulerSettings(type="asha", max_t=max_t, grace_period=grace, reduction_factor=rf)
    assert asha_rungs(space_with(sched)) == expected


def test_fifo_has_no_rungs() -> None:
    assert asha_rungs(space_with(SchedulerSettings(type="fifo"))) == []


def test_rungs_match_rays_own_bracket() -> None:
    bracket_cls = pytest.importorskip("ray.tune.schedulers.async_hyperband")._Bracket
    for max_t in range(1, 60):
        for grace in range(1, max_t + 1, 3):
            for rf in (2, 3, 4, 1.5, 2.5):
                ray_rungs = sorted(m for m, _ in bracket_cls(grace, max_t, rf, 0)._rungs)
                sched = SchedulerSettings("asha", max_t, grace, rf)
                assert asha_rungs(space_with(sched)) == [math.ceil(m) for m in ray_rungs]
