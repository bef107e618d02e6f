"""The epochs at which ASHA compares trials, computed exactly as Ray Tune does.

Ray's `_Bracket` (ray/tune/schedulers/async_hyperband.py) with one bracket (s=0) uses
`int(log(max_t / grace) / log(rf) + 1)` rungs at `grace * rf**k`; a trial is judged at the
first reported epoch >= a rung, so non-integer rungs are shown rounded up. This is the one
copy of the formula: the plan, the tuner's records and `load_run` all call it.
"""

from __future__ import annotations

import math

from raytrain.space.catalogue import SCHEDULERS
from raytrain.space.types import Space


def rung_epochs(max_t: int, grace_period: int = 1, reduction_factor: float = 3.0) -> list[int]:
    """ASHA rung milestones in whole epochs, ascending ([] for settings Ray would reject)."""
    if max_t <= 0 or grace_period <= 0 or reduction_factor <= 1:
        return []
    # Ray uses np.log; math.log agrees on these inputs (tests compare with Ray's own
    # bracket) and keeps numpy out of `raytrain validate`.
    count = int(math.log(max_t / grace_period) / math.log(reduction_factor) + 1)
    # a set: with rf close to 1 two milestones can round up to the same epoch
    return sorted({math.ceil(grace_period * reduction_factor**k) for k in range(max(count, 0))})


def asha_rungs(space: Space) -> list[int]:
    """Epochs where the space's scheduler may stop trials ([] when it has no rungs)."""
    s = space.scheduler
    if not SCHEDULERS[s.type].rungs:
        return []
    return rung_epochs(s.max_t, s.grace_period, s.reduction_factor)
