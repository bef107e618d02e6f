"""Driver-side callbacks driven with stand-in trials (no Ray cluster)."""

from __future__ import annotations

import csv
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest

pytest.importorskip("ray.tune")

from raytrain.tune.callbacks import (
    LiveViewCallback,
    RunDirCallback,
    final_state,
    model_metrics,
    planned_epochs,
)


@dataclass
class FakeTrial:
    trial_id: str
    config: dict[str, Any] = field(default_factory=dict)
    status: str = "PENDING"
    last_result: dict[str, Any] = field(default_factory=dict)
    error_file: str | None = None


def rows(run_dir):
    with open(run_dir / "trials.csv") as f:
        return {r["trial_id"]: r for r in csv.DictReader(f)}


def make(tmp_path, tensorboard=True):
    return RunDirCallback(
        tmp_path,
        metric="val_loss",
        mode="min",
        param_paths=["optimizer.lr"],
        rungs=[1, 2, 4],
        max_epochs=4,
        tensorboard=tensorboard,
    )


def test_model_metrics_drop_tune_bookkeeping():
    out = model_metrics(
        {
            "val_loss": 0.5,
            "epoch": 2,
            "done": False,
            "time_total_s": 3.0,
            "checkpoint_path": "/x",
            "trial_id": "a",
            "flag": True,
        }
    )
    assert out == {"val_loss": 0.5, "epoch": 2}


def test_final_state_by_epochs_not_done_flag():
    # Tune sets done=True on scheduler-stopped trials too; only epochs tell them apart.
    stopped = FakeTrial("a", status="TERMINATED", last_result={"epoch": 1, "done": True})
    full = FakeTrial("b", status="TERMINATED", last_result={"epoch": 4, "done": True})
    failed = FakeTrial("c", status="ERROR", last_result={"epoch": 4})
    assert final_state(stopped, 4) == "STOPPED"
    assert final_state(full, 4) == "TERMINATED"
    assert final_state(failed, 4) == "ERROR"


def test_planned_epochs_prefers_a_searched_value():
    assert planned_epochs({"trainer.max_epochs": 7}, 4) == 7
    assert planned_epochs({}, 4) == 4


def test_trial_lifecycle_lands_in_trials_csv(tmp_path):
    cb = make(tmp_path)
    t = FakeTrial("t1", {"optimizer.lr": 0.01})
    cb.on_step_end(0, [t])
    assert rows(tmp_path)["t1"]["state"] == "PENDING"
    t.status = "RUNNING"
    cb.on_trial_start(0, [t], t)
    for epoch, loss in [(1, 0.9), (2, 0.5)]:
        result = {"val_loss": loss, "epoch": epoch, "checkpoint_path": f"/ck/{epoch}"}
        t.last_result = result
        cb.on_trial_result(0, [t], t, result)
    cb.on_trial_complete(0, [t], t)
    row = rows(tmp_path)["t1"]
    assert row["state"] == "STOPPED"  # 2 of 4 planned epochs
    assert row["best_value"].startswith("0.5") and row["best_epoch"] == "2"
    assert row["checkpoint"] == "/ck/2"  # filed under the epoch it was reported with
    assert (tmp_path / "trials" / "t1" / "metrics.csv").exists()


@pytest.mark.parametrize("tensorboard", [True, False])
def test_tensorboard_events_follow_logging_tensorboard(tmp_path, tensorboard):
    cb = pickle.loads(pickle.dumps(make(tmp_path, tensorboard=tensorboard)))  # as Tune keeps it
    t = FakeTrial("t1", {"optimizer.lr": 0.01}, status="RUNNING")
    cb.on_trial_start(0, [t], t)
    t.last_result = {"val_loss": 0.4, "epoch": 1}
    cb.on_trial_result(0, [t], t, t.last_result)
    cb.on_trial_complete(0, [t], t)
    cb.on_experiment_end([t])
    events = list((tmp_path / "trials" / "t1").glob("events.out.tfevents.*"))
    assert bool(events) is tensorboard
    assert (tmp_path / "trials" / "t1" / "metrics.csv").exists()


def test_resume_discards_trials_unknown_to_tune(tmp_path):
    cb = make(tmp_path)
    known, orphan, done = FakeTrial("k"), FakeTrial("o"), FakeTrial("d", status="TERMINATED")
    cb.on_step_end(0, [known, orphan, done])
    done.last_result = {"val_loss": 0.1, "epoch": 4}
    cb.on_trial_result(0, [done], done, done.last_result)
    cb.on_trial_complete(0, [done], done)
    # The driver dies; Tune's last saved state knows only "k" and "d".
    restored = pickle.loads(pickle.dumps(cb))
    restored.on_step_end(0, [known, done])
    assert set(rows(tmp_path)) == {"k", "d"}
    assert rows(tmp_path)["d"]["state"] == "TERMINATED"
    assert (tmp_path / "trials" / "_discarded" / "o").is_dir()


def test_error_text_is_kept_in_full(tmp_path):
    cb = make(tmp_path)
    err = tmp_path / "error.txt"
    err.write_text("Traceback...\nRuntimeError: boom at step 3")
    t = FakeTrial("e", status="ERROR", error_file=str(err))
    cb.on_trial_start(0, [t], t)
    cb.on_trial_error(0, [t], t)
    row = rows(tmp_path)["e"]
    assert row["state"] == "ERROR" and "boom" in row["error"]


def test_progress_counts_against_the_extended_budget(tmp_path, capsys):
    """`tune --resume search.num_samples=10` on a finished 8-trial search: Tune restores
    the callback pickled with budget 8 and passes the re-read total to setup()."""
    cb = LiveViewCallback(
        tmp_path,
        name="demo",
        metric="val_loss",
        mode="min",
        param_paths=["optimizer.lr"],
        rungs=[],
        max_epochs=1,
        budget=8,
        concurrency=1,
        live=False,
    )
    cb.setup(total_num_samples=8)
    trials = []
    for i in range(9):
        if i == 8:  # the driver restarts with the larger budget
            cb = pickle.loads(pickle.dumps(cb))
            cb.setup(total_num_samples=10)
        t = FakeTrial(f"t{i}", {"optimizer.lr": 0.01}, status="RUNNING")
        trials.append(t)
        cb.on_trial_start(0, trials, t)
        t.last_result = {"val_loss": 0.5, "epoch": 1}
        cb.on_trial_result(0, trials, t, t.last_result)
        t.status = "TERMINATED"
        cb.on_trial_complete(0, trials, t)
    lines = capsys.readouterr().out.splitlines()
    assert lines[7].startswith("[8/8] t7 done at epoch 1: val_loss=0.5")
    assert lines[8].startswith("[9/10] t8 done")
