"""What of a Tune result is a model metric, and how an error shows in the table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Keys Ray Tune adds to every result; they are bookkeeping, not metrics of the model.
TUNE_AUTO_KEYS = frozenset(
    {
        "done",
        "training_iteration",
        "iterations_since_restore",
        "time_this_iter_s",
        "time_total_s",
        "time_since_restore",
        "timestamp",
        "timesteps_total",
        "timesteps_since_restore",
        "episodes_total",
        "pid",
        "date",
        "hostname",
        "node_ip",
        "trial_id",
        "experiment_tag",
        "config",
        "should_checkpoint",
        "checkpoint_dir_name",
        "warmup_time",
    }
)
ERROR_SUMMARY_CHARS = 300


def numeric_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The model's float metrics of a result (drops Tune bookkeeping, strings, dicts)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if key in TUNE_AUTO_KEYS or key == "epoch" or isinstance(value, bool):
            continue
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def error_summary(error: str) -> str:
    """One line for the table: the last non-empty line of a traceback, shortened."""
    lines = [ln.strip() for ln in error.strip().splitlines() if ln.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= ERROR_SUMMARY_CHARS else line[: ERROR_SUMMARY_CHARS - 1] + "…"
