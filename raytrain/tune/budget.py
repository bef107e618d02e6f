"""Trial budget and start-up pacing around the Optuna searcher.

`StartupBarrier` makes the random start-up phase exactly `startup_trials` long when trials
run in parallel: without it, every trial started before the first `startup_trials` have
*finished* is also random (ray-project/ray#52535), and with several trials at once a search
can spend most of a small budget on random points. It holds new suggestions until the
start-up trials are done, then releases full parallelism.

`BudgetedSearchGenerator` reads the budget (`search.num_samples`) from the run directory's
`space.yaml` when Tune restores a run, so `raytrain tune --resume search.num_samples=N`
can extend a finished search: Tune itself would restore the budget it started with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from ray.tune.search import Searcher, SearchGenerator

from raytrain.layout import SearchRunLayout


class StartupBarrier(Searcher):
    def __init__(self, searcher: Searcher, startup_trials: int) -> None:
        super().__init__(metric=searcher.metric, mode=searcher.mode)
        self.searcher = searcher
        self.startup_trials = startup_trials
        self._suggested: set[str] = set()
        self._completed: set[str] = set()

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def suggest(self, trial_id: str) -> dict | None:
        if len(self._suggested) >= self.startup_trials > len(self._completed):
            return None  # wait: the model-based phase needs the start-up results first
        config = self.searcher.suggest(trial_id)
        if config is not None and config != Searcher.FINISHED:
            self._suggested.add(trial_id)
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        self._completed.add(trial_id)
        self.searcher.on_trial_complete(trial_id, result=result, error=error)

    def get_state(self) -> dict:
        return {
            "suggested": sorted(self._suggested),
            "completed": sorted(self._completed),
            "startup_trials": self.startup_trials,
        }

    def set_state(self, state: dict) -> None:
        self._suggested = set(state["suggested"])
        self._completed = set(state["completed"])
        self.startup_trials = state["startup_trials"]

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)


def read_budget(run_dir: Path) -> int | None:
    """`search.num_samples` from the run's resolved space file, if there is one."""
    path = SearchRunLayout(Path(run_dir)).space
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text()) or {}
    value = (data.get("search") or {}).get("num_samples")
    return int(value) if value is not None else None


class BudgetedSearchGenerator(SearchGenerator):
    """A SearchGenerator whose total is taken from `<run_dir>/space.yaml` again on restore
    (Tune restores from a staging copy of its state, so the run dir is kept here)."""

    def __init__(self, searcher: Searcher, run_dir: Path) -> None:
        super().__init__(searcher)
        self.run_dir = Path(run_dir)

    def restore_from_dir(self, dirpath: str) -> None:
        super().restore_from_dir(dirpath)
        budget = read_budget(self.run_dir)
        if budget is not None and budget != self._total_samples:
            self._total_samples = budget
            self._finished = self._counter >= budget
