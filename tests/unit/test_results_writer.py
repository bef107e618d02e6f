"""RunWriter + load_run: the trials table, per-trial files, resume, NaN handling."""

from __future__ import annotations

import csv
import math
import shutil
import threading
from pathlib import Path

import pytest

from raytrain.errors import InputError
from raytrain.results import BASE_COLUMNS, RunWriter, load_run
from raytrain.space.asha import rung_epochs

PATHS = ["optimizer.lr", "optimizer.name", "optimizer.momentum", "model.hidden"]


def writer(run_dir: Path, **kw: object) -> RunWriter:
    opts: dict = {"metric": "val_loss", "mode": "min", "param_paths": PATHS, "rungs": [1, 3, 9]}
    opts.update(kw)
    return RunWriter(run_dir, tensorboard=False, **opts)


def test_table_columns_and_typed_params(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.trial_added("a", {"optimizer.lr": 0.001, "optimizer.name": "adamw", "model.hidden": 64})
    w.trial_added("b", {"optimizer.lr": 0.1, "optimizer.name": "sgd", "optimizer.momentum": 0.9})
    with (tmp_path / "trials.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == [*BASE_COLUMNS, *(f"param.{p}" for p in PATHS)]
    assert rows[1][rows[0].index("param.optimizer.momentum")] == ""  # conditional, absent
    assert rows[1][rows[0].index("state")] == "PENDING"
    run = load_run(tmp_path)
    a, b = run.trials
    assert a.params == {"optimizer.lr": 0.001, "optimizer.name": "adamw", "model.hidden": 64}
    assert isinstance(a.params["model.hidden"], int) and isinstance(b.params["optimizer.lr"], float)
    assert run.metric == "val_loss" and run.mode == "min" and run.rungs == [1, 3, 9]


def test_results_update_best_rung_and_metrics_csv(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.trial_added("a", {"optimizer.lr": 0.01})
    w.trial_started("a")
    for epoch, v in enumerate([0.9, 0.5, 0.6, 0.4, 0.45], start=1):
        w.trial_result("a", {"epoch": epoch, "val_loss": v, "val_acc": 1 - v, "time_total_s": 9.0})
    (t,) = load_run(tmp_path).trials
    assert (t.state, t.epochs, t.value, t.best_value, t.best_epoch, t.rung) == (
        "RUNNING",
        5,
        0.45,
        0.4,
        4,
        3,
    )
    rows = t.metrics()
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[1]["val_loss"] == 0.5 and rows[1]["val_acc"] == 0.5
    assert "time_total_s" not in rows[0] and rows[0]["wall_time"] > 0  # Tune bookkeeping dropped


@pytest.mark.parametrize(
    ("mode", "values", "best", "epoch"),
    [
        ("min", [math.nan, math.inf, 0.5, -math.inf, math.nan], 0.5, 3),
        ("max", [math.nan, 0.2, math.inf, 0.7, math.nan], 0.7, 4),
    ],
)
def test_nan_and_inf_never_best(
    tmp_path: Path, mode: str, values: list[float], best: float, epoch: int
) -> None:
    w = writer(tmp_path, mode=mode)
    w.trial_added("a", {})
    w.trial_added("all_nan", {})
    for i, v in enumerate(values, start=1):
        w.trial_result("a", {"epoch": i, "val_loss": v})
        w.trial_result("all_nan", {"epoch": i, "val_loss": math.nan})
    run = load_run(tmp_path)
    a, nan_trial = run.trials
    assert (a.best_value, a.best_epoch) == (best, epoch)
    assert math.isnan(a.value or 0.0) and nan_trial.best_value is None
    assert [t.trial_id for t in run.best(k=5)] == ["a"]  # no finite value -> not ranked


def test_best_orders_by_mode(tmp_path: Path) -> None:
    for mode, expected in (("min", ["b", "c", "a"]), ("max", ["a", "c", "b"])):
        run_dir = tmp_path / mode
        w = writer(run_dir, mode=mode)
        for tid, v in (("a", 0.9), ("b", 0.1), ("c", 0.5)):
            w.trial_added(tid, {})
            w.trial_result(tid, {"epoch": 1, "val_loss": v})
        assert [t.trial_id for t in load_run(run_dir).best(k=3)] == expected
        assert [t.trial_id for t in load_run(run_dir).best()] == expected[:1]


def test_finished_states_errors_and_checkpoints(tmp_path: Path) -> None:
    w = writer(tmp_path)
    for tid in ("done", "stopped", "failed"):
        w.trial_added(tid, {"optimizer.lr": 0.1})
        w.trial_started(tid)
    for epoch, v in enumerate([0.5, 0.3, 0.4], start=1):
        w.trial_result("done", {"epoch": epoch, "val_loss": v})
        w.trial_checkpoint("done", f"/ckpt/done/{epoch}")
    w.trial_result("stopped", {"epoch": 1, "val_loss": 0.9})
    w.trial_finished("done", "TERMINATED")
    w.trial_finished("stopped", "STOPPED")
    w.trial_finished("failed", "ERROR", "Traceback:\n  File x\nValueError: bad shape\n")
    with pytest.raises(ValueError, match="finished state"):
        w.trial_finished("done", "RUNNING")
    done, stopped, failed = load_run(tmp_path).trials
    assert done.state == "TERMINATED" and done.checkpoint == "/ckpt/done/2"  # best epoch's
    assert stopped.state == "STOPPED" and stopped.rung == 1 and stopped.checkpoint is None
    assert failed.state == "ERROR" and failed.error == "ValueError: bad shape"
    assert "File x" in (tmp_path / "trials" / "failed" / "error.txt").read_text()


def test_checkpoint_falls_back_to_latest(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.trial_added("a", {})
    w.trial_result("a", {"epoch": 1, "val_loss": 0.1})
    w.trial_result("a", {"epoch": 2, "val_loss": 0.5})
    w.trial_checkpoint("a", "/ckpt/2")  # best epoch (1) has none
    assert load_run(tmp_path).trials[0].checkpoint == "/ckpt/2"


def test_checkpoint_announced_before_its_result(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.trial_added("a", {})
    for epoch, v in enumerate([0.5, 0.2, 0.4], start=1):
        w.trial_checkpoint("a", f"/ckpt/{epoch}", epoch=epoch)
        w.trial_result("a", {"epoch": epoch, "val_loss": v})
    assert load_run(tmp_path).trials[0].checkpoint == "/ckpt/2"
    # restored from epoch 1: epoch 2 runs again and its new checkpoint is announced first
    w.trial_checkpoint("a", "/ckpt/2-again", epoch=2)
    w.trial_result("a", {"epoch": 2, "val_loss": 0.1})
    (t,) = load_run(tmp_path).trials
    assert (t.best_epoch, t.checkpoint, t.epochs) == (2, "/ckpt/2-again", 2)


def test_resume_reopens_and_continues(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.trial_added("fin", {"optimizer.lr": 0.1, "optimizer.name": "sgd"})
    w.trial_result("fin", {"epoch": 1, "val_loss": 0.2})
    w.trial_checkpoint("fin", "/ckpt/fin/1")
    w.trial_finished("fin", "TERMINATED")
    w.trial_added("run", {"optimizer.lr": 0.01})
    for epoch in (1, 2, 3):
        w.trial_result("run", {"epoch": epoch, "val_loss": 1.0 / epoch})
    w.trial_checkpoint("run", "/ckpt/run/3")
    w.close()
    del w

    w2 = writer(tmp_path)  # `tune --resume`: a new writer over the same directory
    assert [r.trial_id for r in w2.records] == ["fin", "run"]
    w2.trial_added("fin", {"optimizer.lr": 0.1, "optimizer.name": "sgd"})  # re-announced
    w2.trial_started("run")
    # restored from the epoch-2 checkpoint: epoch 3 is reported again, then 4
    w2.trial_result("run", {"epoch": 3, "val_loss": 0.5})
    w2.trial_result("run", {"epoch": 4, "val_loss": 0.2})
    w2.trial_added("new", {"optimizer.lr": 0.5})
    run = load_run(tmp_path)
    fin, running, new = run.trials
    assert (fin.state, fin.best_value, fin.checkpoint) == ("TERMINATED", 0.2, "/ckpt/fin/1")
    assert fin.params == {"optimizer.lr": 0.1, "optimizer.name": "sgd"}
    assert [r["val_loss"] for r in running.metrics()] == [1.0, 0.5, 0.5, 0.2]
    assert (running.epochs, running.best_value, running.best_epoch) == (4, 0.2, 4)
    assert running.checkpoint is None  # the epoch-3 checkpoint belonged to the replaced run
    assert new.state == "PENDING"


def test_reader_works_on_a_copied_run(tmp_path: Path) -> None:
    w = writer(tmp_path / "src")
    w.trial_added("a", {"optimizer.lr": 0.1})
    w.trial_result("a", {"epoch": 1, "val_loss": 0.3})
    shutil.copytree(tmp_path / "src", tmp_path / "copy")
    shutil.rmtree(tmp_path / "src")
    (t,) = load_run(tmp_path / "copy").trials
    assert t.params == {"optimizer.lr": 0.1} and t.metrics()[0]["val_loss"] == 0.3


def test_not_a_run_dir(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a raytrain run directory"):
        load_run(tmp_path)
    with pytest.raises(InputError):
        load_run(tmp_path / "missing")


def test_table_is_replaced_atomically(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.trial_added("a", {"optimizer.lr": 0.1})
    errors: list[str] = []
    stop = threading.Event()

    def read_loop() -> None:
        while not stop.is_set():
            text = (tmp_path / "trials.csv").read_text()
            if not text.startswith("trial_id,") or not text.endswith("\n"):
                errors.append(text)

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        for epoch in range(1, 200):
            w.trial_result("a", {"epoch": epoch, "val_loss": 1.0 / epoch})
    finally:
        stop.set()
        reader.join()
    assert not errors
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_asha_rungs_match_ray_formula() -> None:
    assert rung_epochs(20, 1, 3) == [1, 3, 9]
    assert rung_epochs(100, 1, 4) == [1, 4, 16, 64]
    assert rung_epochs(10, 2, 2) == [2, 4, 8]
    assert rung_epochs(1, 1, 3) == [1]
