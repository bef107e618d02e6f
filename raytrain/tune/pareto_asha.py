"""Multi-objective ASHA: asynchronous successive halving that ranks trials by Pareto
dominance instead of one metric (Schmucker et al. 2021, "Multi-objective Asynchronous
Successive Halving", with NSGA-II's crowding distance as the tie-break within a front).

Ray's own schedulers compare one metric, so this is a `TrialScheduler` of our own on the
public scheduler API (`FIFOScheduler` runs trials in the order they come; we only decide
continue/stop). The rungs are those of `raytrain.space.asha` (the plan shows them); the
ranking is `raytrain.pareto`'s, also used by the results.

Tune does not save a scheduler's state: `Tuner.restore` (`tune --resume`) unpickles the
scheduler as it was when the search started, with empty rungs. So on unpickling this one
replays what the run directory recorded (each trial's result at the first epoch at or past
each milestone it reached), and a resumed search compares new trials with the old ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from raytrain.layout import SearchRunLayout
from raytrain.pareto import ParetoRungs, point_of
from raytrain.space.asha import rung_epochs
from raytrain.space.types import Constraint, Objective
from raytrain.tune.relocation import relocated

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
        run_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.objectives = objectives
        self.constraints = constraints
        self.time_attr = time_attr
        self.max_t = max_t
        self.rungs = ParetoRungs(
            rung_epochs(max_t, grace_period, reduction_factor), reduction_factor
        )
        self.num_stopped = 0

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        run_dir = getattr(self, "run_dir", None)
        if run_dir is not None:
            self.run_dir = relocated(run_dir)  # a moved run (raytrain.tune.relocation)
        self._replay()

    def _replay(self) -> None:
        """Record at each rung what the run directory holds (a no-op for a new run)."""
        run_dir = getattr(self, "run_dir", None)  # None in a scheduler pickled without it
        if run_dir is None or not SearchRunLayout(run_dir).trials_csv.is_file():
            return
        from raytrain.results import load_run  # driver side only, and only on restore

        for record in load_run(run_dir).trials:
            rows = record.metrics()
            for milestone, at in self.rungs.recorded.items():
                row = next((r for r in rows if r[self.time_attr] >= milestone), None)
                if row is not None and record.trial_id not in at:
                    at[record.trial_id] = point_of(row, self.objectives, self.constraints)

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
