"""The live view is a pure function of a snapshot."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rich.console import Console

from raytrain.results import TrialRecord
from raytrain.results.format import fmt_duration
from raytrain.tune.live import LiveState, render, summary_line

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def tv(i, status, value=None, epoch=0, seconds=0.0):
    """A record the way the run writer keeps it, `seconds` after the trial started."""
    return TrialRecord(
        f"t{i}",
        state=status,
        params={"optimizer.lr": 0.01 * (i + 1)},
        epochs=epoch,
        value=value,
        best_value=value,
        best_epoch=epoch if value is not None else None,
        started_at=NOW - timedelta(seconds=seconds) if seconds else None,
        updated_at=NOW,
    )


def state(trials, budget=6, mode="max"):
    return LiveState(
        name="demo",
        metric="val_acc",
        mode=mode,
        budget=budget,
        concurrency=2,
        trials=trials,
        param_paths=["optimizer.lr"],
        now=NOW,
    )


def test_summary_counts_and_best():
    s = state(
        [
            tv(0, "TERMINATED", 0.9, 5, 10),
            tv(1, "STOPPED", 0.5, 1, 2),
            tv(2, "RUNNING", 0.7, 2, 4),
            tv(3, "ERROR"),
            tv(4, "PENDING"),
        ]
    )
    line = summary_line(s, 65)
    assert "3/6 done" in line and "running 1" in line and "failed 1" in line
    assert "stopped early 1" in line and "pending 2" in line  # 1 pending + 1 not created
    assert "best val_acc=0.9 (t0)" in line and "elapsed 1:05" in line


def test_best_respects_mode_and_ignores_nan():
    s = state([tv(0, "TERMINATED", 0.2), tv(1, "TERMINATED", 0.1), tv(2, "ERROR")], mode="min")
    assert s.best().trial_id == "t1"
    assert state([tv(0, "ERROR")]).best() is None


def test_eta_uses_mean_trial_time_and_concurrency():
    s = state([tv(0, "TERMINATED", 0.9, 5, 10), tv(1, "TERMINATED", 0.8, 5, 10)], budget=6)
    assert s.eta_seconds() == 20.0  # 4 trials left x 10 s / 2 at once
    assert state([]).eta_seconds() is None


def test_render_has_table_rows():
    s = state([tv(0, "RUNNING", 0.5, 1, 3)])
    console = Console(record=True, width=120)
    console.print(render(s, 3))
    out = console.export_text()
    assert "t0" in out and "running" in out and "optimizer.lr=0.01" in out


def test_trials_without_a_report_show_no_nan():
    console = Console(record=True, width=120)
    console.print(render(state([tv(0, "PENDING"), tv(1, "RUNNING", epoch=0, seconds=2)]), 3))
    out = console.export_text()
    assert "nan" not in out and "pending" in out


def test_live_table_fits_80_columns():
    s = state([tv(i, "TERMINATED", 0.5 + i / 100, 20, 30) for i in range(5)])
    console = Console(record=True, width=80, color_system=None)
    console.print(render(s, 3))
    out = console.export_text()
    assert "…" not in out and "0.54" in out and "0.01" in out


def test_fmt_duration():
    assert fmt_duration(3725) == "1:02:05" and fmt_duration(None) == "?"
