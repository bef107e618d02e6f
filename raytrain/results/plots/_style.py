"""Shared look of raytrain's plots: Agg backend, state colours, axis helpers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never open a window (also safe on headless nodes)

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from raytrain.results._records import Run, TrialRecord
from raytrain.results.states import ERROR, PENDING, RUNNING, STOPPED, TERMINATED

STATE_STYLE: dict[str, tuple[str, str]] = {  # state -> (colour, legend label)
    TERMINATED: ("tab:blue", "ran to the end"),
    STOPPED: ("tab:orange", "stopped early (ASHA)"),
    RUNNING: ("tab:cyan", "running"),
    ERROR: ("tab:red", "failed"),
    PENDING: ("tab:gray", "pending"),
}
BEST_COLOUR = "tab:green"
DPI = 110


def arrow(run: Run) -> str:
    return "lower is better" if run.mode == "min" else "higher is better"


def best_of(t: TrialRecord) -> float:
    """A trial's best value as a float (NaN when it has none, which plots as a gap)."""
    return float(t.best_value) if t.best_value is not None else math.nan


def use_log(values: Sequence[float]) -> bool:
    """Log y-axis when all values are positive and span more than ~1.5 decades."""
    finite = [v for v in values if math.isfinite(v)]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 30


def robust_ylim(ax: Axes, values: Sequence[float], log: bool) -> None:
    """Keep a few huge (diverging) values from squashing everything else."""
    finite = sorted(v for v in values if math.isfinite(v))
    if len(finite) < 5:
        return
    lo, q, hi = finite[0], finite[int(0.95 * (len(finite) - 1))], finite[-1]
    if hi - lo > 4 * (q - lo):  # a few far-out values: cut them off above the bulk
        hi = q + 0.5 * (q - lo)
    if log:
        ax.set_ylim(lo / 1.2, hi * 1.2)
    else:
        pad = 0.05 * (hi - lo or 1.0)
        ax.set_ylim(lo - pad, hi + pad)


def save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def start_key(t: TrialRecord) -> tuple[bool, Any, str]:
    return (t.started_at is None, t.started_at, t.trial_id)
