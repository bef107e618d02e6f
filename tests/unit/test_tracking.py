"""W&B (offline) and MLflow (a real local server) fed by the search's tracking callback
and by `raytrain train`'s scope, with stand-in trials (no Ray cluster)."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("ray.tune")

from raytrain.config.schema import LoggingConfig, MlflowConfig, WandbConfig
from raytrain.space import load_space
from raytrain.tracking import RunEnd, RunStart, Scope, Tracker, Tracking, flatten
from raytrain.tune.callbacks import RunDirCallback
from raytrain.tune.tracking import TrackingCallback, open_search_tracking

FAKE_KEY = "0123456789abcdef0123456789abcdef0fakekey"


@dataclass
class FakeTrial:
    trial_id: str
    config: dict[str, Any] = field(default_factory=dict)
    status: str = "RUNNING"
    last_result: dict[str, Any] = field(default_factory=dict)
    error_file: str | None = None


def write_space(root: Path, logging: dict[str, Any]) -> Path:
    space = {
        "name": "tracked",
        "config": {"trainer": {"max_epochs": 2}, "logging": logging},
        "metric": "val_loss",
        "mode": "min",
        "parameters": {"optimizer.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}},
        "search": {"sampler": "random", "num_samples": 2},
    }
    path = root / "space.yaml"
    path.write_text(yaml.safe_dump(space))
    return path


# trial id -> (lr, val_loss per epoch, how it ends)
TRIALS = {
    "aa_00000": (0.01, [0.9, 0.4], "complete"),
    "aa_00001": (0.05, [0.7, 0.8], "complete"),
    "aa_00002": (0.02, [1.5], "error"),
}


def drive_search(run_dir: Path, space_file: Path, checkpoints: Path | None = None) -> None:
    """What Tune calls on the driver for TRIALS, callbacks in raytrain's order."""
    space = load_space(space_file)
    run_dir.mkdir(parents=True, exist_ok=True)
    rundir = RunDirCallback(
        run_dir, metric="val_loss", mode="min", param_paths=["optimizer.lr"], rungs=[], max_epochs=2
    )
    # Tune pickles its callbacks into the experiment state: the tracking one must survive it
    tracking = pickle.loads(pickle.dumps(TrackingCallback(space, run_dir)))
    tracking.setup(total_num_samples=len(TRIALS))
    callbacks = [rundir, tracking]
    trials = {tid: FakeTrial(tid, {"optimizer.lr": lr}) for tid, (lr, _, _) in TRIALS.items()}
    rundir.on_step_end(0, list(trials.values()))
    for tid, (_, losses, end) in TRIALS.items():
        trial = trials[tid]
        for cb in callbacks:
            cb.on_trial_start(0, [trial], trial)
        for epoch, loss in enumerate(losses, start=1):
            result = {"val_loss": loss, "epoch": epoch, "training_iteration": epoch}
            if checkpoints is not None:
                ckpt = checkpoints / tid / f"checkpoint_{epoch}"
                ckpt.mkdir(parents=True)
                (ckpt / "checkpoint.ckpt").write_bytes(b"weights")
                result["checkpoint_path"] = str(ckpt)
            trial.last_result = result
            for cb in callbacks:
                cb.on_trial_result(0, [trial], trial, result)
        trial.status = "ERROR" if end == "error" else "TERMINATED"
        for cb in callbacks:
            (cb.on_trial_error if end == "error" else cb.on_trial_complete)(0, [trial], trial)
    for cb in callbacks:
        cb.on_experiment_end(list(trials.values()))


def test_flatten_keeps_lists_as_values():
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": {}}) == {"a.b": 1, "a.c": [1, 2], "d": {}}


def test_a_train_runs_best_skips_non_finite_values():
    from raytrain.trial.driver import best_of

    rows = [{"epoch": 1, "val_loss": 0.5}, {"epoch": 2, "val_loss": float("nan")}, {"epoch": 3}]
    assert best_of(rows, "val_loss", "min") == (0.5, 1)
    assert best_of([*rows, {"epoch": 4, "val_loss": 0.9}], "val_loss", "max") == (0.9, 4)
    assert best_of(rows[1:], "val_loss", "min") is None


def test_a_missing_tracker_package_is_an_input_error_naming_the_extra(monkeypatch):
    import importlib.util

    from raytrain.errors import InputError
    from raytrain.tracking import require_packages

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    with pytest.raises(InputError) as err:
        require_packages(LoggingConfig(mlflow=MlflowConfig()))
    assert [p.path for p in err.value.problems] == ["logging.mlflow"]
    assert "pip install 'raytrain[mlflow]'" in str(err.value)
    require_packages(LoggingConfig())  # nothing turned on: nothing needed


def test_no_tracker_configured_opens_nothing(tmp_path):
    space = load_space(write_space(tmp_path, {"tensorboard": True}))
    assert open_search_tracking(space, tmp_path / "run") is None


class Flaky(Tracker):
    name = "Flaky"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def start(self, run: RunStart) -> None:
        raise ConnectionError("server went away")

    def epoch(self, key, metrics):  # pragma: no cover - dropped after start failed
        self.calls.append("epoch")

    def end(self, run: RunEnd) -> None:  # pragma: no cover
        self.calls.append("end")


class Recorder(Tracker):
    name = "Recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def start(self, run):
        self.calls.append(("start", run.key))

    def epoch(self, key, metrics):
        self.calls.append(("epoch", metrics["epoch"]))

    def end(self, run):
        self.calls.append(("end", run.state))

    def close(self, best_checkpoint):
        self.calls.append(("close", best_checkpoint))


def test_a_failing_tracker_is_dropped_with_one_warning_and_the_others_go_on():
    warnings: list[str] = []
    flaky, recorder = Flaky(), Recorder()
    tracking = Tracking([flaky, recorder], warn=warnings.append)
    tracking.start(RunStart("t", {}, {}))
    tracking.epoch("t", {"epoch": 1})
    tracking.end(RunEnd("t", "TERMINATED", 0.1, 1))
    tracking.close()
    tracking.close()  # idempotent
    assert flaky.calls == []
    assert len(warnings) == 1 and "Flaky logging stopped" in warnings[0]
    assert "server went away" in warnings[0]
    assert recorder.calls == [("start", "t"), ("epoch", 1), ("end", "TERMINATED"), ("close", None)]


def test_a_tracking_server_that_cannot_be_reached_fails_before_training(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from raytrain.errors import RunError

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # else minutes of back-off

    scope = Scope("search", "s", tmp_path, "val_loss", "min", group="g")
    logging = LoggingConfig(mlflow=MlflowConfig(tracking_uri="http://127.0.0.1:9"))
    with pytest.raises(RunError, match="MLflow logging could not start"):
        Tracking.open(logging, scope)


def all_files_text(*roots: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for root in roots for p in root.rglob("*") if p.is_file()}


def test_wandb_offline_run_per_trial_with_its_metrics_and_no_key(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    from fixtures import wandb_offline

    wandb_dir = tmp_path / "wandb-dir"
    wandb_dir.mkdir()
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    space_file = write_space(
        tmp_path, {"wandb": {"mode": "offline", "tags": ["unit"], "entity": "lab"}}
    )
    run_dir = tmp_path / "runs" / "tracked"
    drive_search(run_dir, space_file)

    offline = list(wandb_dir.rglob("offline-run-*/run-*.wandb"))
    run_files = {wandb_offline.run_info(p).display_name: p for p in offline}
    assert len(offline) == len(TRIALS)
    assert set(run_files) == set(TRIALS)
    for tid, (lr, losses, end) in TRIALS.items():
        path = run_files[tid]
        info = wandb_offline.run_info(path)
        assert info.project == "tracked" and info.run_group == "tracked"
        assert list(info.tags) == ["unit"] and info.entity == "lab"
        rows = wandb_offline.history(path)
        assert [r["val_loss"] for r in rows] == losses
        assert [r["epoch"] for r in rows] == list(range(1, len(losses) + 1))
        summary = wandb_offline.summary(path)
        assert summary["val_loss"] == min(losses)  # the best value, not the last one
        assert summary["state"] == ("ERROR" if end == "error" else "TERMINATED")
        config = wandb_offline.config(path)
        assert config["params"] == {"optimizer.lr": lr}
        assert config["config"]["optimizer"]["lr"] == lr  # the resolved train config
        assert config["config"]["trainer"]["max_epochs"] == 2
    leaked = [
        p for p, data in all_files_text(wandb_dir, run_dir).items() if FAKE_KEY.encode() in data
    ]
    assert not leaked


def test_wandb_files_default_to_the_run_directory(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_DIR", raising=False)
    run_dir = tmp_path / "runs" / "tracked"
    drive_search(run_dir, write_space(tmp_path, {"wandb": {"mode": "offline", "group": "g1"}}))
    offline = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline) == len(TRIALS)


def test_mlflow_parent_run_with_a_child_per_trial(tmp_path, monkeypatch, mlflow_uri):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)  # the env, not the file, names it
    space_file = write_space(tmp_path, {"mlflow": {"experiment": "unit", "log_checkpoint": True}})
    run_dir = tmp_path / "runs" / "tracked"
    drive_search(run_dir, space_file, checkpoints=tmp_path / "ckpts")

    client = MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("unit")
    runs = client.search_runs([exp.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("raytrain.kind") == "search"]
    children = {r.data.tags["raytrain.trial_id"]: r for r in runs if r is not parent}
    assert set(children) == set(TRIALS)
    assert parent.info.status == "FINISHED" and parent.info.run_name == "tracked"
    for tid, (lr, losses, end) in TRIALS.items():
        child = children[tid]
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.run_name == tid
        assert float(child.data.params["optimizer.lr"]) == lr
        assert child.data.params["trainer.max_epochs"] == "2"
        history = client.get_metric_history(child.info.run_id, "val_loss")
        assert [(m.step, m.value) for m in history] == list(enumerate(losses, start=1))
        assert child.data.metrics["best_val_loss"] == min(losses)
        state = "ERROR" if end == "error" else "STOPPED" if len(losses) < 2 else "TERMINATED"
        assert child.data.tags["raytrain.state"] == state
        assert child.info.status == ("FAILED" if end == "error" else "FINISHED")
    # the best trial's best checkpoint (the one best.yaml names) on the parent run
    names = [a.path for a in client.list_artifacts(parent.info.run_id, "checkpoint")]
    assert names == ["checkpoint/checkpoint.ckpt"]

    # `raytrain train best.yaml`: its own run, linked to the trial it reproduces
    cfg = LoggingConfig(mlflow=MlflowConfig(experiment="unit", log_checkpoint=True))
    scope = Scope("train", "tracked", tmp_path / "final", "val_loss", "min", "tracked", "aa_00000")
    best = tmp_path / "best.ckpt"
    best.write_bytes(b"final weights")
    tracking = Tracking.open(cfg, scope)
    assert tracking is not None
    tracking.start(RunStart("final", {}, {"optimizer": {"lr": 0.01}}))
    tracking.epoch("final", {"epoch": 1, "val_loss": 0.5})
    tracking.end(RunEnd("final", "TERMINATED", 0.5, 1, checkpoint=best))
    tracking.close()
    (train,) = client.search_runs([exp.experiment_id], "tags.`raytrain.kind` = 'train'")
    assert train.data.tags["raytrain.reproduces_trial"] == "aa_00000"
    assert train.data.tags["raytrain.reproduces_run_id"] == children["aa_00000"].info.run_id
    assert "mlflow.parentRunId" not in train.data.tags
    assert [a.path for a in client.list_artifacts(train.info.run_id, "checkpoint")] == [
        "checkpoint/best.ckpt"
    ]


def test_resumed_search_reuses_its_mlflow_runs(tmp_path, monkeypatch, mlflow_uri):
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    space_file = write_space(tmp_path, {"mlflow": {"experiment": "resumed"}})
    run_dir = tmp_path / "runs" / "tracked"
    drive_search(run_dir, space_file)
    scope = Scope("search", "tracked", run_dir, "val_loss", "min", group="tracked", resume=True)
    again = Tracking.open(LoggingConfig(mlflow=MlflowConfig(experiment="resumed")), scope)
    assert again is not None
    again.start(RunStart("aa_00000", {"optimizer.lr": 0.01}, {}))
    again.epoch("aa_00000", {"epoch": 3, "val_loss": 0.3})
    again.end(RunEnd("aa_00000", "TERMINATED", 0.3, 3))
    again.close()
    client = MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("resumed")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1 + len(TRIALS)  # no second parent, no second child
    (child,) = [r for r in runs if r.data.tags.get("raytrain.trial_id") == "aa_00000"]
    steps = [m.step for m in client.get_metric_history(child.info.run_id, "val_loss")]
    assert steps == [1, 2, 3]
    # a new search in the same (re-created) run directory path gets a parent of its own
    new = Tracking.open(
        LoggingConfig(mlflow=MlflowConfig(experiment="resumed")),
        dataclasses.replace(scope, resume=False),
    )
    assert new is not None
    new.close()
    parents = client.search_runs([exp.experiment_id], "tags.`raytrain.kind` = 'search'")
    assert len(parents) == 2


def test_wandb_config_is_what_the_tracker_gets(tmp_path):
    pytest.importorskip("wandb")
    from raytrain.tracking._wandb import WandbTracker

    tracker = WandbTracker(WandbConfig(project="p", group=None, mode="offline"))
    tracker.open(Scope("search", "s", tmp_path / "r", "val_loss", "min", group="r"))
    kw = tracker._init_kwargs(RunStart("t1", {"a": 1}, {"b": {"c": 2}}))
    assert kw["project"] == "p" and kw["group"] == "r" and kw["name"] == "t1"
    assert kw["mode"] == "offline" and kw["job_type"] == "trial" and kw["resume"] == "allow"
    assert "api_key" not in kw and "key" not in kw
