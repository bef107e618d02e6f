"""Multi-objective ASHA: asynchronous successive halving that ranks trials by Pareto
dominance instead of one metric (Schmucker et al. 2021, "Multi-objective Asynchronous
Successive Halving", with NSGA-II's crowding distance as the tie-break within a front).

Ray's own schedulers compare one metric, so this is a `TrialScheduler` of our own on the
public scheduler API (`FIFOScheduler` runs trials in the order they come; we only decide
continue/stop). The rungs are those of `raytrain.space.asha` (the plan shows them); the
ranking is `raytrain.pareto`'s, also used by the results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from raytrain.pareto import ParetoRungs, point_of
from raytrain.space.asha import rung_epochs
from raytrain.space.types import Constraint, Objective

if TYPE_CHECKING:
    from ray.tune.experiment import Trial


class ParetoASHA(FIFOScheduler):
    """At each rung a trial continues if it is among the best 1/reduction_factor of the
    trials recorded there (feasible before infeasible, then Pareto front, then crowding
    distance); it stops at `max_t`. Its `metric` stays None: Tune would look for a single
    metric named by it in every result."""

    def __init__(
        self,
        objectives: tuple[Objective, ...],
        constraints: tuple[Constraint, ...] = (),
        *,
        time_attr: str,
        max_t: int,
        grace_period: int = 1,
        reduction_factor: float = 3.0,
    ) -> None:
        super().__init__()
        self.objectives = objectives
        self.constraints = constraints
        self.time_attr = time_attr
        self.max_t = max_t
        self.rungs = ParetoRungs(
            rung_epochs(max_t, grace_period, reduction_factor), reduction_factor
        )
        self.num_stopped = 0

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        t = result.get(self.time_attr)
        if t is None:
            return TrialScheduler.CONTINUE
        if t >= self.max_t:
            action = TrialScheduler.STOP
        else:
            point = point_of(result, self.objectives, self.constraints)
            keep = self.rungs.on_result(trial.trial_id, t, point)
            action = TrialScheduler.CONTINUE if keep else TrialScheduler.STOP
        if action == TrialScheduler.STOP:
            self.num_stopped += 1
        return action

    def on_trial_complete(self, tune_controller: Any, trial: Trial, result: dict) -> None:
        # as Ray's ASHA: a trial's final result is recorded at the rung it reached
        t = (result or {}).get(self.time_attr)
        if t is not None:
            self.rungs.on_result(
                trial.trial_id, t, point_of(result, self.objectives, self.constraints)
            )

    def debug_string(self) -> str:
        counts = ", ".join(f"{m}: {len(r)}" for m, r in self.rungs.recorded.items())
        return f"Using multi-objective ASHA: num_stopped={self.num_stopped}; rungs {counts}"
