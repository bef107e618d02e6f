"""The searcher chain driven through suggest/result/complete, no cluster (Syne Tune style)."""

from __future__ import annotations

import pickle

import pytest

pytest.importorskip("ray.tune.search.optuna")

from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from raytrain.tune.budget import StartupBarrier
from raytrain.tune.searchers import default_startup_trials, journal_storage


def space_fn(trial):
    kind = trial.suggest_categorical("optimizer.name", ["adamw", "sgd"])
    if kind == "sgd":
        trial.suggest_float("optimizer.momentum", 0.0, 0.99)
    trial.suggest_float("optimizer.lr", 1e-4, 1e-1, log=True)


def make(tmp_path, startup=3):
    import optuna

    sampler = optuna.samplers.TPESampler(seed=0, n_startup_trials=startup)
    inner = OptunaSearch(
        space=space_fn,
        metric="val_loss",
        mode="min",
        sampler=sampler,
        study_name="t",
        storage=journal_storage(tmp_path),
    )
    return StartupBarrier(inner, startup_trials=startup)


def test_startup_barrier_holds_until_startup_trials_finish(tmp_path):
    s = make(tmp_path)
    configs = [s.suggest(f"t{i}") for i in range(3)]
    assert all(isinstance(c, dict) for c in configs)
    assert s.suggest("t3") is None  # 3 random points out, none finished: wait
    for i in range(2):
        s.on_trial_complete(f"t{i}", {"val_loss": 1.0 + i, "training_iteration": 1})
    assert s.suggest("t3") is None
    s.on_trial_complete("t2", {"val_loss": 0.5, "training_iteration": 1})
    nxt = s.suggest("t3")
    assert isinstance(nxt, dict) and "optimizer.lr" in nxt
    # conditional parameter present exactly when its parent takes the value
    for c in [*configs, nxt]:
        assert ("optimizer.momentum" in c) == (c["optimizer.name"] == "sgd")


def test_no_barrier_for_zero_startup(tmp_path):
    s = make(tmp_path, startup=0)
    assert all(isinstance(s.suggest(f"t{i}"), dict) for i in range(5))


def test_state_and_study_survive_a_save_restore(tmp_path):
    s = make(tmp_path)
    for i in range(3):
        s.suggest(f"t{i}")
        s.on_trial_complete(f"t{i}", {"val_loss": float(i), "training_iteration": 1})
    state = pickle.loads(pickle.dumps(s.get_state()))
    s.save(str(tmp_path / "searcher.pkl"))

    (tmp_path / "other").mkdir()
    fresh = make(tmp_path / "other")
    fresh.set_state(state)
    fresh.restore(str(tmp_path / "searcher.pkl"))
    assert isinstance(fresh.suggest("t9"), dict)  # history kept: no waiting, no new start-up
    completed = fresh.searcher._ot_study.get_trials(deepcopy=False)
    assert sum(t.state.name == "COMPLETE" for t in completed) == 3


def test_journal_file_is_written(tmp_path):
    s = make(tmp_path)
    s.suggest("a")
    s.on_trial_complete("a", {"val_loss": 0.3, "training_iteration": 1})
    assert (tmp_path / "optuna.journal").stat().st_size > 0


@pytest.mark.parametrize(("n", "expected"), [(1, 2), (8, 2), (16, 4), (100, 10)])
def test_default_startup_trials(n, expected):
    assert default_startup_trials(n) == expected


def test_finished_is_passed_through(tmp_path):
    class Done(Searcher):
        def suggest(self, trial_id):
            return Searcher.FINISHED

    s = StartupBarrier(Done(metric="m", mode="min"), startup_trials=0)
    assert s.suggest("x") == Searcher.FINISHED


def nsga2_space(tmp_path, population: int):
    from raytrain.space import load_space

    path = tmp_path / "space.yaml"
    path.write_text(
        "name: ga\nmetric: val_acc\nmode: max\nconfig: {trainer: {max_epochs: 2}}\n"
        "parameters:\n"
        "  optimizer.lr: {type: float, low: 0.0001, high: 0.1, log: true}\n"
        "  model.hidden: {type: int, low: 8, high: 64}\n"
        f"search: {{sampler: nsga2, num_samples: 12, seed: 0, population_size: {population}}}\n"
    )
    return load_space(path)


def test_nsga2_breeds_generations_through_the_searcher_chain(tmp_path):
    import optuna

    from raytrain.tune.searchers import make_sampler, make_searcher

    space = nsga2_space(tmp_path, population=4)
    s = make_searcher(space, tmp_path)
    assert s.startup_trials == 0  # not model-based: no barrier, the GA paces itself
    for i in range(12):
        config = s.suggest(f"t{i}")
        assert isinstance(config, dict) and 8 <= config["model.hidden"] <= 64
        s.on_trial_complete(f"t{i}", {"val_acc": config["optimizer.lr"], "epoch": 2})
    study = optuna.load_study(study_name="ga", storage=journal_storage(tmp_path))
    sampler = make_sampler(space)
    assert isinstance(sampler, optuna.samplers.NSGAIISampler)
    generations = [sampler.get_trial_generation(study, t) for t in study.get_trials()]
    assert generations == [0] * 4 + [1] * 4 + [2] * 4  # 4 per generation, then bred
    assert study.best_trial.value == max(t.value for t in study.get_trials())


def test_study_objective_is_named_after_the_metric_once(tmp_path):
    import optuna

    from raytrain.tune.searchers import make_searcher

    space = nsga2_space(tmp_path, population=2)
    s = make_searcher(space, tmp_path)
    s.suggest("a")
    s.on_trial_complete("a", {"val_acc": 0.5, "epoch": 2})
    state = s.get_state()
    s.save(str(tmp_path / "searcher.pkl"))  # what Tune keeps for a resume
    study = optuna.load_study(study_name="ga", storage=journal_storage(tmp_path))
    assert study.metric_names == ["val_acc"]  # optuna-dashboard shows it, not "Objective 0"
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert len(study.get_trials()) == 1  # creating the study first added no trial

    # resume: Tune restores the searcher from its state; the journal keeps the name
    (tmp_path / "unused").mkdir()
    restored = make(tmp_path / "unused")
    restored.set_state(state)
    restored.restore(str(tmp_path / "searcher.pkl"))
    restored.suggest("b")
    restored.on_trial_complete("b", {"val_acc": 0.7, "epoch": 2})
    study = optuna.load_study(study_name="ga", storage=journal_storage(tmp_path))
    assert study.metric_names == ["val_acc"] and len(study.get_trials()) == 2
