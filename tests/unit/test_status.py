"""`raytrain status`: the trial table over running / finished / stopped / failed trials."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fixtures.runs import make_run
from rich.console import Console

from raytrain.cli import main
from raytrain.results import RunWriter, load_run
from raytrain.results.view import ordered, status_view


def render(run_dir: Path) -> str:
    console = Console(width=250, record=True, color_system=None)
    console.print(status_view(load_run(run_dir)))
    return console.export_text()


def test_table_shows_every_state_and_the_summary(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, tensorboard=False)
    run = load_run(run_dir)
    text = render(run_dir)
    counts = run.counts()
    assert (
        f"22 trials: {counts['TERMINATED']} done · 2 running · 2 pending · "
        f"{counts['STOPPED']} stopped early · 1 failed"
    ) in text
    best = run.best(1)[0]
    assert f"best val_loss {best.best_value:.4g} ({best.trial_id}, epoch {best.best_epoch})" in text
    for label in (
        "done",
        "running",
        "pending",
        "stopped early",
        "failed",
        "RuntimeError: CUDA oom",
    ):
        assert label in text
    header = next(line for line in text.splitlines() if "trial" in line and "state" in line)
    assert "rung" in header and "epochs" in header and "best" in header and "lr" in header


def test_rows_sorted_best_first_then_unranked(tmp_path: Path) -> None:
    run = load_run(make_run(tmp_path, tensorboard=False))
    rows = ordered(run)
    ranked = [t for t in rows if t.best_value is not None]
    assert [t.best_value for t in ranked] == sorted(t.best_value for t in ranked)  # type: ignore[misc]
    assert rows[: len(ranked)] == ranked
    assert [t.state for t in rows[len(ranked) :]] == ["PENDING", "PENDING"]
    text = render(run.path)
    assert text.index(ranked[0].trial_id) < text.index(ranked[-1].trial_id)


def test_max_mode_and_nan_only_trial(tmp_path: Path) -> None:
    w = RunWriter(tmp_path, metric="val_acc", mode="max", param_paths=["lr"], tensorboard=False)
    for tid, acc in (("low", 0.2), ("high", 0.9), ("nan", float("nan"))):
        w.trial_added(tid, {"lr": 0.1})
        w.trial_result(tid, {"epoch": 1, "val_acc": acc})
    assert [t.trial_id for t in ordered(load_run(tmp_path))] == ["high", "low", "nan"]
    assert "best val_acc 0.9 (high, epoch 1)" in render(tmp_path)


def test_cli_once_and_bad_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = make_run(tmp_path, tensorboard=False, n_done=4)
    assert main(["status", str(run_dir)]) == 0
    assert "trials:" in capsys.readouterr().out
    assert main(["status", str(tmp_path / "nope")]) == 2
    assert "not a raytrain run directory" in capsys.readouterr().err


def test_watch_stops_when_the_run_finishes(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, tensorboard=False, n_done=3, n_running=1, n_pending=0)
    w = RunWriter(run_dir, metric="val_loss", mode="min", param_paths=[], tensorboard=False)

    def finish_later() -> None:
        time.sleep(0.5)
        w.trial_result("t003", {"epoch": 4, "val_loss": 0.01})
        w.trial_finished("t003", "TERMINATED")
        (run_dir / "best.yaml").write_text("provenance: {}\n")

    thread = threading.Thread(target=finish_later)
    thread.start()
    started = time.monotonic()
    try:
        assert main(["status", str(run_dir), "--watch", "--interval", "0.1"]) == 0
    finally:
        thread.join()
    assert time.monotonic() - started < 30
    assert load_run(run_dir).finished


def test_80_columns_keep_every_value_whole(tmp_path: Path) -> None:
    """In an 80-column terminal (and in a pipe) columns go, values are never cut."""
    run = load_run(make_run(tmp_path, tensorboard=False))
    console = Console(width=80, record=True, color_system=None)
    console.print(status_view(run))
    text = console.export_text()
    assert "…" not in text
    assert all(len(line) <= 80 for line in text.splitlines())
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line[:3] == " t0"}
    assert len(rows) == len(run.trials)  # one line per trial: states never wrap
    best = run.best(1)[0]
    assert rows[best.trial_id][1] == "done" and f"{best.best_value:.4g}" in rows[best.trial_id]
    assert "not shown (too narrow): last" in text and "t001 error: RuntimeError: CUDA oom" in text
    header = next(line for line in text.splitlines() if "trial" in line and "state" in line)
    assert header.split()[2:7] == ["lr", "hidden", "dropout", "optimizer", "momentum"]
