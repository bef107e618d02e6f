"""Confirmation trials (`confirm:` of a space) inside the one Tune experiment of a run.

`ConfirmSearcher` sits in the searcher chain between Ray's `ConcurrencyLimiter` (so the
re-runs respect `max_concurrent_trials` too) and the Optuna searcher. It hands out the
sampler's `search.num_samples` suggestions, waits until those trials have all ended, then
suggests the confirmation trials (`raytrain.results.confirm.plan`: the top_k trials, each
with the same new seeds), then FINISHED. The re-runs are extra trials of the same run, so
they show in the live view, trials.csv and `status` like any trial, and `--resume`
continues them: which ones it suggested is part of the searcher state Tune saves with its
trial list, and a pair (finalist, seed) is never suggested twice.

Optuna never hears of a confirmation trial: its results and completion are not passed on,
so the study (TPE's model, optuna-dashboard, `--warm-from` of this run) holds exactly the
sampled trials, and a re-run of a known point cannot count as new evidence.

`ConfirmExempt` keeps them away from the trial scheduler too: ASHA would stop an unlucky
seed at a rung, and a statistic over truncated runs would favour the finalists that were
lucky early; every re-run trains its full `max_epochs`.

The settings are read from the run's `space.yaml` when the tuner starts, so
`raytrain confirm RUN_DIR` (a `--resume` with `confirm.*` overrides) adds or changes them
on a finished run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from raytrain.layout import SearchRunLayout
from raytrain.results import _files, load_run
from raytrain.results.confirm import plan
from raytrain.space.confirm import CONFIRM_KEY, ConfirmTag
from raytrain.tune.budget import read_budget, space_data
from raytrain.tune.relocation import RunDirBound

if TYPE_CHECKING:
    from ray.tune.experiment import Trial


@dataclass(frozen=True)
class ConfirmLimits:
    """What the confirmation needs from the run's stored space."""

    top_k: int
    seeds: int
    pick: str
    base_seed: int | None

    @property
    def trials(self) -> int:
        return self.top_k * self.seeds

    @classmethod
    def of_run(cls, run_dir: Path) -> ConfirmLimits | None:
        data = space_data(run_dir)
        raw = data.get("confirm")
        if not isinstance(raw, dict):
            return None
        seed = (data.get("config") or {}).get("seed")
        return cls(
            top_k=int(raw.get("top_k", 3)),
            seeds=int(raw.get("seeds", 3)),
            pick=str(raw.get("pick", "mean")),
            base_seed=int(seed) if seed is not None else None,
        )


def confirm_trials(run_dir: Path) -> int:
    """Confirmation trials Tune must leave room for (0 without `confirm:`): what the run's
    space asks for, plus the re-runs the run already holds. Those may confirm finalists that
    an extended search (a raised num_samples) has since pushed out of the top_k, and Tune
    counts them against its total; an upper bound is enough, since `ConfirmSearcher` ends
    the search (FINISHED) once the plan has nothing left to run."""
    limits = ConfirmLimits.of_run(run_dir)
    if limits is None:
        return 0
    made = 0
    if SearchRunLayout(run_dir).trials_csv.is_file():
        made = sum(1 for t in load_run(run_dir).trials if t.confirms is not None)
    return limits.trials + made


def is_confirmation(trial: Trial) -> bool:
    return isinstance((trial.config or {}).get(CONFIRM_KEY), dict)


class ConfirmSearcher(RunDirBound, Searcher):
    def __init__(self, searcher: Searcher, run_dir: Path, cap: int | None = None) -> None:
        """`cap`: the most trials the sampler has (a grid's size; None: no limit)."""
        super().__init__(metric=searcher.metric, mode=searcher.mode)
        self.searcher = searcher
        self.run_dir = Path(run_dir)
        self.cap = cap
        self._num_samples: int | None = None  # read from space.yaml (a resume may raise it)
        self._sampled: list[str] = []  # trial ids the sampler suggested
        self._ended: set[str] = set()  # ... of those, the ones that ended
        self._sampler_done = False  # the sampler said FINISHED (a grid used up)
        self._confirm: dict[str, list[Any]] = {}  # trial id -> [finalist id, seed]
        self._plan: list[list[Any]] | None = None  # [finalist id, seed], once computed
        # what the plan was made from: sampled trials, top_k, seeds (`raytrain confirm`
        # may ask for more of either on a confirmed run)
        self._plan_of: list[int] = []

    @property
    def num_samples(self) -> int:
        """The sampled trials: `search.num_samples` of the stored space (at most `cap`)."""
        if self._num_samples is None:
            n = read_budget(self.run_dir) or 0
            self._num_samples = n if self.cap is None else min(n, self.cap)
        return self._num_samples

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_num_samples": None}

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        return self.searcher.set_search_properties(metric, mode, config, **spec)

    def suggest(self, trial_id: str) -> dict | None:
        if len(self._sampled) < self.num_samples and not self._sampler_done:
            config = self.searcher.suggest(trial_id)
            if config == Searcher.FINISHED:
                self._sampler_done = True
            else:
                if config is not None:
                    self._sampled.append(trial_id)
                return config
        if any(t not in self._ended for t in self._sampled):
            return None  # the finalists are known once every sampled trial has ended
        pending = self._pending()
        if not pending:
            return Searcher.FINISHED  # type: ignore[return-value]  # Tune's own sentinel
        of, seed = pending[0]
        self._confirm[trial_id] = [of, seed]
        return {**self._params_of(of), CONFIRM_KEY: ConfirmTag(of, seed).as_config()}

    def _pending(self) -> list[tuple[str, int]]:
        limits = ConfirmLimits.of_run(self.run_dir)
        if limits is None:
            return []
        made_of = [len(self._sampled), limits.top_k, limits.seeds]
        if self._plan is None or self._plan_of != made_of:
            run = load_run(self.run_dir)
            sampled = set(self._sampled)
            records = [t for t in run.trials if t.trial_id in sampled]
            found = plan(records, run.mode, limits.top_k, limits.seeds, limits.base_seed)
            self._plan = [[of, seed] for of, seed in found]
            self._plan_of = made_of
        done = {(str(of), int(seed)) for of, seed in self._confirm.values()}
        return [(str(of), int(s)) for of, s in self._plan if (str(of), int(s)) not in done]

    def _params_of(self, trial_id: str) -> dict[str, Any]:
        params = _files.read_params(SearchRunLayout(self.run_dir).trial(trial_id))
        if params is None:
            raise RuntimeError(f"trial {trial_id} has no params.json to confirm")
        return params

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id not in self._confirm:
            self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        if trial_id in self._confirm:
            return  # Optuna never sees a confirmation trial (module doc)
        self._ended.add(trial_id)
        self.searcher.on_trial_complete(trial_id, result=result, error=error)

    def get_state(self) -> dict:
        return {
            "sampled": list(self._sampled),
            "ended": sorted(self._ended),
            "sampler_done": self._sampler_done,
            "confirm": dict(self._confirm),
            "plan": self._plan,
            "plan_of": self._plan_of,
        }

    def set_state(self, state: dict) -> None:
        self._sampled = list(state["sampled"])
        self._ended = set(state["ended"])
        self._sampler_done = bool(state["sampler_done"])
        self._confirm = dict(state["confirm"])
        self._plan = state["plan"]
        self._plan_of = list(state["plan_of"])

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)


class ConfirmExempt(TrialScheduler):
    """The space's trial scheduler for sampled trials; confirmation trials always
    continue and are never shown to it (module doc)."""

    def __init__(self, scheduler: TrialScheduler) -> None:
        super().__init__()
        self.scheduler = scheduler

    @property
    def metric(self) -> str | None:
        return self.scheduler.metric

    @property
    def supports_buffered_results(self) -> bool:
        return self.scheduler.supports_buffered_results

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return self.scheduler.set_search_properties(metric, mode, **spec)

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        if not is_confirmation(trial):
            self.scheduler.on_trial_add(tune_controller, trial)

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        if not is_confirmation(trial):
            self.scheduler.on_trial_error(tune_controller, trial)

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        if is_confirmation(trial):
            return TrialScheduler.CONTINUE
        return self.scheduler.on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller: Any, trial: Trial, result: dict) -> None:
        if not is_confirmation(trial):
            self.scheduler.on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        if not is_confirmation(trial):
            self.scheduler.on_trial_remove(tune_controller, trial)

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        return self.scheduler.choose_trial_to_run(tune_controller)

    def debug_string(self) -> str:
        return self.scheduler.debug_string()

    def save(self, checkpoint_path: str) -> None:
        self.scheduler.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.scheduler.restore(checkpoint_path)
