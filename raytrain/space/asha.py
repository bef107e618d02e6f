"""The epochs at which ASHA compares trials, computed exactly as Ray Tune does.

Ray's `_Bracket` (ray/tune/schedulers/async_hyperband.py) with one bracket (s=0) uses
`int(log(max_t / grace) / log(rf) + 1)` rungs at `grace * rf**k`; a trial is judged at the
first reported epoch >= a rung, so non-integer rungs are shown rounded up.
"""

from __future__ import annotations

import math

from raytrain.space.types import Space


def asha_rungs(space: Space) -> list[int]:
    """Epochs where ASHA may stop trials, ascending ([] when the scheduler is not ASHA)."""
    s = space.scheduler
    if s.type != "asha":
        return []
    # Ray uses np.log; math.log agrees on these inputs (tests compare with Ray's own
    # bracket) and keeps numpy out of `raytrain validate`.
    count = int(math.log(s.max_t / s.grace_period) / math.log(s.reduction_factor) + 1)
    return [math.ceil(s.grace_period * s.reduction_factor**k) for k in range(count)]
