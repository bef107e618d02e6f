"""The run-directory layouts: where each file is, which directories are runs, and the
start-vs-resume rules of a search run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from raytrain.errors import InputError
from raytrain.layout import (
    SEARCH,
    TRAIN,
    SearchRunLayout,
    TrainRunLayout,
    is_run_dir,
    resume_conflicts,
    run_layout,
)
from raytrain.tune.budget import read_budget

SPACE = {
    "name": "x",
    "metric": "val_loss",
    "search": {"num_samples": 4, "sampler": "tpe"},
    "parameters": {"optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-1}},
}


def test_search_layout_answers(tmp_path: Path) -> None:
    run = SearchRunLayout.at(tmp_path, "s")
    assert run.root == (tmp_path / "s").resolve()
    names = [run.space, run.journal, run.trials_csv, run.best_yaml, run.trials_dir]
    assert [p.relative_to(run.root).as_posix() for p in names] == [
        "space.yaml",
        "optuna.journal",
        "trials.csv",
        "best.yaml",
        "trials",
    ]
    assert run.meta_json == run.trials_dir / "_meta.json"
    assert run.discarded_dir == run.trials_dir / "_discarded"
    job = run.slurm_job
    assert job.root == tmp_path.resolve() / "_slurm" / "s"
    assert (job.script.name, job.log("%j").name) == ("job.sbatch", "slurm-%j.out")
    assert run.plots_dir == run.root / "plots" == TrainRunLayout(run.root).plots_dir
    trial = run.trial("t/../1")  # made safe: never a path outside trials/
    assert trial.root.parent == run.trials_dir and trial.root.name == "t_.._1"
    assert [trial.params_json.name, trial.metrics_csv.name, trial.checkpoints_csv.name] == [
        "params.json",
        "metrics.csv",
        "checkpoints.csv",
    ]
    assert trial.error_txt.name == "error.txt" and trial.tensorboard_dir == trial.root


def test_train_layout_answers(tmp_path: Path) -> None:
    run = TrainRunLayout(tmp_path)
    assert [p.name for p in (run.config, run.metrics_csv, run.state_json, run.error_txt)] == [
        "config.yaml",
        "metrics.csv",
        "state.json",
        "error.txt",
    ]
    assert run.tensorboard_dir == tmp_path and run.ray_dir == tmp_path / "ray"
    assert [run.best_ckpt.name, run.last_ckpt.name] == ["best.ckpt", "last.ckpt"]
    assert run.best_ckpt_for("val/acc").name == "best-val_acc.ckpt"


@pytest.mark.parametrize(
    ("files", "kind"),
    [
        ((), None),
        (("space.yaml",), SEARCH),  # the driver died before trials.csv existed
        (("trials.csv",), SEARCH),
        (("trials/",), SEARCH),  # a copy of only the trial folders
        (("config.yaml",), None),  # any project folder may have a config.yaml
        (("config.yaml", "metrics.csv"), TRAIN),
        (("config.yaml", "state.json"), TRAIN),  # started, no epoch yet
        (("config.yaml", "ray/"), TRAIN),
        (("metrics.csv",), None),  # a trial folder is not a run
        (("space.yaml", "config.yaml", "metrics.csv"), SEARCH),
    ],
)
def test_run_kind(tmp_path: Path, files: tuple[str, ...], kind: str | None) -> None:
    for name in files:
        if name.endswith("/"):
            (tmp_path / name).mkdir()
        else:
            (tmp_path / name).write_text("x")
    layout = run_layout(tmp_path)
    assert (layout.kind if layout else None) == kind
    assert is_run_dir(tmp_path) == (kind is not None)


def test_missing_path_or_file_is_no_run(tmp_path: Path) -> None:
    (tmp_path / "space.yaml").write_text("x")
    assert not is_run_dir(tmp_path / "nope")
    assert not is_run_dir(tmp_path / "space.yaml")


def test_existing_run_is_never_overwritten(tmp_path: Path) -> None:
    SearchRunLayout(tmp_path / "run").write_space(SPACE)
    with pytest.raises(InputError, match="already exists"):
        SearchRunLayout(tmp_path / "run").check_new()
    SearchRunLayout(tmp_path / "fresh").check_new()  # absent: fine
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "config.yaml").write_text("x")
    with pytest.raises(InputError, match="exists already"):
        TrainRunLayout(tmp_path / "train").check_new()


def test_resume_requires_a_run(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no run to resume"):
        SearchRunLayout(tmp_path / "missing").check_resume(SPACE)


def test_resume_allows_only_budget_changes(tmp_path: Path) -> None:
    run = SearchRunLayout(tmp_path)
    run.write_space(SPACE)
    more = {**SPACE, "search": {"num_samples": 9, "sampler": "tpe"}}
    assert run.check_resume(more)["search"]["num_samples"] == 4
    other = {**SPACE, "search": {"num_samples": 4, "sampler": "random"}}
    with pytest.raises(InputError, match=r"search\.sampler"):
        run.check_resume(other)


def test_conflicts_list_added_and_removed_keys() -> None:
    a = {"parameters": {"x": {"low": 1}}}
    b = {"parameters": {"x": {"low": 2}, "y": 1}}
    assert resume_conflicts(a, b) == ["parameters.x.low", "parameters.y"]


def test_budget_is_read_from_space_file(tmp_path: Path) -> None:
    assert read_budget(tmp_path) is None
    SearchRunLayout(tmp_path).write_space(SPACE)
    assert read_budget(tmp_path) == 4
    assert yaml.safe_load((tmp_path / "space.yaml").read_text())["name"] == "x"
