"""Warm start (`tune --warm-from`): earlier trials -> points of a new space -> a study.

Earlier runs are fake run directories (fixtures.runs: the real RunWriter, no Ray); the
study is a real Optuna journal driven through the real searcher chain.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtures.runs import SPACE, make_run

from raytrain.cli import main
from raytrain.errors import InputError
from raytrain.results import STOPPED, TERMINATED, load_run
from raytrain.results.view import status_view
from raytrain.space import load_space, materialize
from raytrain.space.types import Space
from raytrain.tune.warm import (
    FIXED,
    MISSING,
    OUTSIDE,
    WARM_ATTR,
    load_warm_start,
    to_point,
    write_record,
)

pytest.importorskip("ray.tune.search.optuna")

import optuna

from raytrain.tune.searchers import create_study, journal_storage, make_searcher

LR_LOW = 1e-3  # the narrowed lower bound of optimizer.lr in the next space


def next_space_dict(fix_dropout: bool = True) -> dict[str, Any]:
    """The fake sweep narrowed: lr from LR_LOW, dropout fixed at the base config's 0.1
    (`fix_dropout`), depth tuned now (the old run fixed it at 2), momentum still only for
    sgd."""
    space = copy.deepcopy(SPACE)
    space["name"] = "next"
    params = space["parameters"]
    params["optimizer.lr"] = {"type": "float", "low": LR_LOW, "high": 1e-1, "log": True}
    if fix_dropout:
        del params["model.dropout"]
    params["model.depth"] = {"type": "int", "low": 1, "high": 3}
    space["search"] = {"sampler": "tpe", "num_samples": 8, "seed": 0, "n_startup_trials": 4}
    return space


def write_space(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "next.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def next_space(tmp_path: Path) -> Space:
    return load_space(write_space(tmp_path, next_space_dict()))


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    return make_run(tmp_path / "runs", tensorboard=False, name="old")


def expected_reason(params: dict[str, Any], fix_dropout: bool = True) -> str | None:
    """Why the narrowed space drops an old trial, decided here from the definitions."""
    if fix_dropout and params["model.dropout"] != 0.1:
        return FIXED
    if not LR_LOW <= params["optimizer.lr"] <= 1e-1:
        return OUTSIDE
    return None


# ------------------------------------------------------------------ one point
def test_a_point_takes_fitting_values_and_fills_what_the_old_run_fixed(next_space: Space) -> None:
    old_fixed = materialize(load_space_of_fixture(), {})
    new_fixed = materialize(next_space, {})
    params = {"optimizer.lr": 0.01, "model.hidden": 64, "model.dropout": 0.1}
    point, reason = to_point(
        next_space, {**params, "optimizer.name": "adamw"}, old_fixed, new_fixed
    )
    assert reason is None
    # depth was fixed at 2 in the old config; dropout is fixed in the new space, not a param
    assert point == {
        "optimizer.lr": 0.01,
        "model.hidden": 64,
        "optimizer.name": "adamw",
        "model.depth": old_fixed["model"]["depth"],
    }
    assert isinstance(point["model.depth"], int)


def test_conditional_parameters_follow_the_new_space(next_space: Space) -> None:
    old_fixed = materialize(load_space_of_fixture(), {})
    new_fixed = materialize(next_space, {})
    base = {"optimizer.lr": 0.01, "model.hidden": 64, "model.dropout": 0.1}
    sgd, why = to_point(
        next_space,
        {**base, "optimizer.name": "sgd", "optimizer.momentum": 0.5},
        old_fixed,
        new_fixed,
    )
    assert why is None and sgd is not None and sgd["optimizer.momentum"] == 0.5
    # an sgd trial without its momentum cannot be placed; the old config has none to lend
    lost, why = to_point(next_space, {**base, "optimizer.name": "sgd"}, old_fixed, new_fixed)
    assert (lost, why) == (None, MISSING)
    # adamw: momentum is inactive in the new space, so an old value of it is left out
    adamw, why = to_point(
        next_space,
        {**base, "optimizer.name": "adamw", "optimizer.momentum": 0.5},
        old_fixed,
        new_fixed,
    )
    assert why is None and adamw is not None and "optimizer.momentum" not in adamw


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"optimizer.lr": 1e-4}, OUTSIDE),  # below the new low
        ({"model.hidden": 1024}, OUTSIDE),  # above the new high
        ({"model.hidden": 64.5}, OUTSIDE),  # not an int
        ({"optimizer.name": "adam"}, OUTSIDE),  # not a category of the new space
        ({"model.dropout": 0.3}, FIXED),  # the new space fixes dropout at 0.1
    ],
)
def test_a_value_that_does_not_fit_drops_the_trial(
    next_space: Space, change: dict[str, Any], reason: str
) -> None:
    params = {
        "optimizer.lr": 0.01,
        "model.hidden": 64,
        "model.dropout": 0.1,
        "optimizer.name": "adamw",
    }
    old_fixed = materialize(load_space_of_fixture(), {})
    point, why = to_point(next_space, {**params, **change}, old_fixed, materialize(next_space, {}))
    assert (point, why) == (None, reason)


def load_space_of_fixture() -> Space:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "old.yaml"
        path.write_text(yaml.safe_dump(SPACE, sort_keys=False))
        return load_space(path)


# ------------------------------------------------------------------ a run
def test_an_earlier_run_gives_its_finished_trials_that_fit(
    next_space: Space, old_run: Path
) -> None:
    run = load_run(old_run)
    usable = [
        t
        for t in run.trials
        if t.state in (TERMINATED, STOPPED) and t.value is not None and math.isfinite(t.value)
    ]
    fitting = [t for t in usable if expected_reason(t.params) is None]
    assert 0 < len(fitting) < len(usable), "the fixture should exercise both outcomes"

    warm = load_warm_start(next_space, [old_run])
    assert sorted(p.trial_id for p in warm.points) == sorted(t.trial_id for t in fitting)
    (source,) = warm.sources
    assert source.finished == len(usable) and source.used == len(fitting)
    for reason in (OUTSIDE, FIXED):
        want = sum(expected_reason(t.params) == reason for t in usable)
        assert source.dropped[reason] == want
    by_id = {t.trial_id: t for t in fitting}
    for point in warm.points:
        record = by_id[point.trial_id]
        assert point.value == record.value  # the last epoch's value, as Optuna is told
        assert max(point.intermediate) == record.epochs
        assert point.params["model.depth"] == 2
    assert f"{len(fitting)} of {len(usable)} finished trials" in source.describe()


def test_a_run_of_another_metric_or_a_non_run_is_refused(
    tmp_path: Path, next_space: Space, old_run: Path
) -> None:
    data = next_space_dict()
    data["metric"] = "val_acc"
    data["mode"] = "max"
    other = load_space(write_space(tmp_path, data))
    with pytest.raises(InputError, match="optimised val_loss"):
        load_warm_start(other, [old_run])
    with pytest.raises(InputError, match="not a search run"):
        load_warm_start(next_space, [tmp_path])
    with pytest.raises(InputError, match="given twice"):
        load_warm_start(next_space, [old_run, old_run])


def test_changed_fixed_settings_are_noted(tmp_path: Path, old_run: Path) -> None:
    data = next_space_dict()
    data["config"]["trainer"]["max_epochs"] = 40
    warm = load_warm_start(load_space(write_space(tmp_path, data)), [old_run])
    assert any("trainer.max_epochs: 20 -> 40" in note for note in warm.notes)


# ------------------------------------------------------------------ the study
def test_the_new_study_starts_with_the_warm_trials_and_tpe_models_at_once(
    tmp_path: Path, old_run: Path
) -> None:
    next_space = load_space(write_space(tmp_path, next_space_dict(fix_dropout=False)))
    warm = load_warm_start(next_space, [old_run])
    fitting = [
        t for t in load_run(old_run).trials if t.trial_id in {p.trial_id for p in warm.points}
    ]
    assert all(expected_reason(t.params, fix_dropout=False) is None for t in fitting)
    assert len(warm.points) >= 4, "enough warm trials to cover n_startup_trials"
    run_dir = tmp_path / "runs" / "next"
    run_dir.mkdir(parents=True)
    searcher = make_searcher(next_space, run_dir, warm)
    # the barrier does not wait: the warm trials are the start-up
    assert searcher.startup_trials == 0

    study = optuna.load_study(study_name="next", storage=journal_storage(run_dir))
    trials = study.get_trials()
    assert len(trials) == len(warm.points)
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert {t.user_attrs[WARM_ATTR] for t in trials} == {str(old_run.resolve())}
    lr = trials[0].distributions["optimizer.lr"]
    assert (lr.low, lr.high, lr.log) == (LR_LOW, 1e-1, True)

    # TPE's first suggestion comes from its model (sample_relative answers), not random
    inner = searcher.searcher
    sampler = inner._ot_study.sampler
    answered: list[dict[str, Any]] = []
    original = sampler.sample_relative

    def spy(study: Any, trial: Any, space: Any) -> dict[str, Any]:
        out = original(study, trial, space)
        answered.append(out)
        return out

    sampler.sample_relative = spy
    config = searcher.suggest("first")
    assert config is not None and LR_LOW <= config["optimizer.lr"] <= 1e-1
    assert answered and answered[0], "TPE sampled at random: the warm trials were not counted"

    # a second start of the same run (no Tune state yet) adds nothing twice
    assert create_study(next_space, journal_storage(run_dir), warm) == len(warm.points)
    assert len(optuna.load_study(study_name="next", storage=journal_storage(run_dir)).trials) == (
        len(warm.points) + 1
    )


def test_without_warm_trials_the_barrier_waits_for_the_whole_start_up(
    tmp_path: Path, next_space: Space
) -> None:
    run_dir = tmp_path / "runs" / "next"
    run_dir.mkdir(parents=True)
    assert make_searcher(next_space, run_dir).startup_trials == 4


# ------------------------------------------------------------------ status, export, CLI
def test_status_and_the_record_list_the_sources(tmp_path: Path, old_run: Path) -> None:
    from rich.console import Console

    next_space = load_space(write_space(tmp_path, next_space_dict(fix_dropout=False)))
    warm = load_warm_start(next_space, [old_run])
    new_run = make_run(tmp_path / "runs", tensorboard=False, name="new", n_done=3)
    write_record(new_run, warm)
    run = load_run(new_run)
    assert run.warm_start == warm.record()
    console = Console(width=200, record=True)
    console.print(status_view(run))
    text = console.export_text()
    (source,) = warm.sources
    assert len(warm.points) > 1
    assert f"warm start: {len(warm.points)} earlier trials in the study" in text
    assert f"{source.used} of {source.finished} from {old_run.resolve()}" in text
    assert "warm start" not in _status_text(load_run(old_run))


def _status_text(run: Any) -> str:
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(status_view(run))
    return console.export_text()


def test_cli_refuses_warm_from_with_resume_and_a_bad_source_before_ray(
    tmp_path: Path, capsys: pytest.CaptureFixture, old_run: Path
) -> None:
    space = write_space(tmp_path, next_space_dict())
    runs = str(tmp_path / "new-runs")
    argv = ["tune", str(space), "--storage", runs, "--warm-from"]
    assert main([*argv, str(tmp_path / "nowhere")]) == 2
    assert "--warm-from" in capsys.readouterr().err
    data = next_space_dict()
    data["metric"], data["mode"] = "val_acc", "max"
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(data))
    assert main(["tune", str(other), "--storage", runs, "--warm-from", str(old_run)]) == 2
    assert "optimised val_loss" in capsys.readouterr().err


def test_cli_refuses_warm_from_on_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture, old_run: Path
) -> None:
    from raytrain.layout import SearchRunLayout
    from raytrain.space import dump_space

    space = load_space(write_space(tmp_path, next_space_dict()))
    run_dir = tmp_path / "new-runs" / "next"
    SearchRunLayout(run_dir).write_space(dump_space(space))
    assert main(["tune", str(run_dir), "--resume", "--warm-from", str(old_run)]) == 2
    assert "a resumed run keeps the warm trials" in capsys.readouterr().err
