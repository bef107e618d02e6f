"""The confirmation searcher and scheduler wrappers (raytrain.tune.confirm), driven by hand
the way Tune drives them, with no Ray cluster: the sampler's trials first, then the re-runs
once all of them ended, never a duplicate after a save/restore, and Optuna and ASHA never
see a re-run."""

from __future__ import annotations

import pickle
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

pytest.importorskip("ray.tune")

from ray.tune.schedulers import TrialScheduler
from ray.tune.search import Searcher

from raytrain.layout import SearchRunLayout
from raytrain.results import RunWriter
from raytrain.space.confirm import CONFIRM_KEY
from raytrain.tune.budget import BudgetedSearchGenerator
from raytrain.tune.confirm import ConfirmExempt, ConfirmSearcher, confirm_trials


class Sampler(Searcher):
    """Stand-in for the Optuna searcher: records what it is told."""

    def __init__(self) -> None:
        super().__init__(metric="val_acc", mode="max")
        self.n = 0
        self.told: list[str] = []
        self.results: list[str] = []

    def suggest(self, trial_id: str) -> dict | None:
        self.n += 1
        return {"optimizer.lr": 0.001 * self.n}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.results.append(trial_id)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        self.told.append(trial_id)

    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_bytes(pickle.dumps(self.n))

    def restore(self, checkpoint_path: str) -> None:
        self.n = pickle.loads(Path(checkpoint_path).read_bytes())


def run_dir(tmp_path: Path, confirm: dict[str, Any] | None, num_samples: int = 3) -> Path:
    root = tmp_path / "run"
    space: dict[str, Any] = {
        "name": "c",
        "metric": "val_acc",
        "mode": "max",
        "config": {"seed": 5, "trainer": {"max_epochs": 1}},
        "search": {"num_samples": num_samples},
    }
    if confirm is not None:
        space["confirm"] = confirm
    root.mkdir()
    SearchRunLayout(root).space.write_text(yaml.safe_dump(space))
    return root


class Driver:
    """Plays Tune: the run writer records each trial, the searcher hears of it."""

    def __init__(self, root: Path, searcher: ConfirmSearcher) -> None:
        self.root, self.searcher = root, searcher
        self.writer = RunWriter(root, metric="val_acc", mode="max", param_paths=["optimizer.lr"])
        self.configs: dict[str, dict] = {}
        self.count = 0

    def suggest(self) -> tuple[str, Any]:
        self.count += 1
        tid = f"t{self.count}"
        config = self.searcher.suggest(tid)
        if isinstance(config, dict):
            self.configs[tid] = config
            self.writer.trial_added(tid, config)
        return tid, config

    def finish(self, tid: str, value: float) -> None:
        self.writer.trial_result(tid, {"epoch": 1, "val_acc": value})
        self.searcher.on_trial_result(tid, {"val_acc": value})
        self.writer.trial_finished(tid, "TERMINATED")
        self.searcher.on_trial_complete(tid, {"val_acc": value})


def test_reruns_follow_the_sampled_trials_and_stay_away_from_the_sampler(tmp_path):
    root = run_dir(tmp_path, {"top_k": 2, "seeds": 2, "pick": "mean"})
    sampler = Sampler()
    drive = Driver(root, ConfirmSearcher(sampler, root))
    sampled = [drive.suggest()[0] for _ in range(3)]
    assert sampler.n == 3
    drive.finish(sampled[0], 0.9)
    drive.finish(sampled[1], 0.5)
    assert drive.suggest()[1] is None  # t3 still runs: the finalists are not known yet
    drive.finish(sampled[2], 0.7)
    reruns = [drive.suggest() for _ in range(4)]
    tags = [c[CONFIRM_KEY] for _, c in reruns]
    assert tags == [
        {"of": "t1", "seed": 6},
        {"of": "t1", "seed": 7},
        {"of": "t3", "seed": 6},
        {"of": "t3", "seed": 7},
    ]
    assert reruns[2][1]["optimizer.lr"] == drive.configs["t3"]["optimizer.lr"]
    assert drive.suggest()[1] == Searcher.FINISHED
    assert sampler.n == 3  # the sampler was asked for nothing more
    for tid, _ in reruns:
        drive.finish(tid, 0.8)
    assert sampler.told == sampled and sampler.results == sampled  # Optuna: sampled only


def test_a_restored_searcher_suggests_no_rerun_twice(tmp_path):
    root = run_dir(tmp_path, {"top_k": 1, "seeds": 3})
    searcher = ConfirmSearcher(Sampler(), root)
    drive = Driver(root, searcher)
    for value in (0.6, 0.9, 0.7):
        tid, _ = drive.suggest()
        drive.finish(tid, value)
    handed_out, _ = drive.suggest()  # one re-run handed out before the driver "died"
    state = searcher.get_state()
    restored = pickle.loads(pickle.dumps(searcher))  # Tune keeps it in tuner.pkl ...
    restored.set_state(state)  # ... and its state beside it
    drive.searcher = restored
    rest = [drive.suggest()[1] for _ in range(3)]
    assert searcher.get_state()["confirm"][handed_out] == ["t2", 6]
    assert [c[CONFIRM_KEY]["seed"] for c in rest[:2]] == [7, 8]
    assert rest[2] == Searcher.FINISHED
    # `raytrain confirm --top-k 2 --seeds 3` later: only the second finalist's three re-runs
    data = yaml.safe_load(SearchRunLayout(root).space.read_text())
    data["confirm"]["top_k"] = 2
    SearchRunLayout(root).space.write_text(yaml.safe_dump(data))
    more = [drive.suggest()[1] for _ in range(4)]
    assert [c[CONFIRM_KEY] for c in more[:3]] == [{"of": "t3", "seed": s} for s in (6, 7, 8)]
    assert more[3] == Searcher.FINISHED


def test_a_grid_smaller_than_num_samples_is_confirmed_after_its_last_point(tmp_path):
    root = run_dir(tmp_path, {"top_k": 1, "seeds": 2}, num_samples=5)
    sampler = Sampler()
    drive = Driver(root, ConfirmSearcher(sampler, root, cap=2))
    for value in (0.6, 0.9):
        tid, _ = drive.suggest()
        drive.finish(tid, value)
    assert drive.suggest()[1][CONFIRM_KEY] == {"of": "t2", "seed": 6}
    assert sampler.n == 2


def test_without_confirm_the_search_ends_after_its_samples(tmp_path):
    root = run_dir(tmp_path, None, num_samples=1)
    drive = Driver(root, ConfirmSearcher(Sampler(), root))
    tid, _ = drive.suggest()
    drive.finish(tid, 0.5)
    assert drive.suggest()[1] == Searcher.FINISHED
    assert confirm_trials(root) == 0


def test_confirm_added_later_extends_the_generator_total(tmp_path):
    """`raytrain confirm` on a finished run: the restored total counts the re-runs."""
    root = run_dir(tmp_path, {"top_k": 2, "seeds": 3}, num_samples=4)
    assert confirm_trials(root) == 6
    gen = BudgetedSearchGenerator(ConfirmSearcher(Sampler(), root), root, extra=confirm_trials)
    gen._counter, gen._total_samples, gen._finished = 4, 4, True  # a finished search
    saved = tmp_path / "state"
    saved.mkdir()
    gen.save_to_dir(str(saved), "s")
    again = BudgetedSearchGenerator(ConfirmSearcher(Sampler(), root), root, extra=confirm_trials)
    again.restore_from_dir(str(saved))
    assert again.total_samples == 10 and not again.is_finished()


class Asha(TrialScheduler):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def on_trial_add(self, tune_controller, trial):
        self.seen.append(trial.trial_id)

    def on_trial_result(self, tune_controller, trial, result):
        self.seen.append(trial.trial_id)
        return TrialScheduler.STOP

    def on_trial_complete(self, tune_controller, trial, result):
        self.seen.append(trial.trial_id)


def test_asha_never_sees_a_rerun_and_cannot_stop_it():
    asha = Asha()
    exempt = ConfirmExempt(asha)
    sampled = SimpleNamespace(trial_id="t1", config={"optimizer.lr": 0.1})
    rerun = SimpleNamespace(trial_id="t9", config={CONFIRM_KEY: {"of": "t1", "seed": 1}})
    for trial in (sampled, rerun):
        exempt.on_trial_add(None, trial)
    assert exempt.on_trial_result(None, sampled, {}) == TrialScheduler.STOP
    assert exempt.on_trial_result(None, rerun, {}) == TrialScheduler.CONTINUE
    exempt.on_trial_complete(None, rerun, {})
    exempt.on_trial_complete(None, sampled, {})
    assert asha.seen == ["t1", "t1", "t1"]
    pickle.dumps(exempt)  # Tune pickles the scheduler with the tuner


def test_an_extended_search_leaves_room_for_the_reruns_of_its_new_finalists(tmp_path):
    """Re-runs made for a finalist that a raised num_samples pushes out still count in
    Tune's total: the room left is top_k x seeds plus the re-runs already made."""
    root = run_dir(tmp_path, {"top_k": 1, "seeds": 2}, num_samples=2)
    drive = Driver(root, ConfirmSearcher(Sampler(), root))
    for value in (0.5, 0.6):
        tid, _ = drive.suggest()
        drive.finish(tid, value)
    for _ in range(2):
        tid, config = drive.suggest()
        assert config[CONFIRM_KEY]["of"] == "t2"
        drive.finish(tid, 0.6)
    drive.writer.flush()
    assert confirm_trials(root) == 2 + 2
    # extended to 3 samples, a new best: its 2 re-runs fit in 3 + confirm_trials
    space = yaml.safe_load(SearchRunLayout(root).space.read_text())
    space["search"]["num_samples"] = 3
    SearchRunLayout(root).space.write_text(yaml.safe_dump(space))
    searcher = ConfirmSearcher(Sampler(), root)
    searcher.set_state(drive.searcher.get_state())
    drive.searcher = searcher
    tid, _ = drive.suggest()
    drive.finish(tid, 0.9)
    made = [drive.suggest()[1] for _ in range(2)]
    assert [c[CONFIRM_KEY]["of"] for c in made] == [tid, tid]
    assert drive.count <= 3 + confirm_trials(root)
    assert drive.suggest()[1] == Searcher.FINISHED
