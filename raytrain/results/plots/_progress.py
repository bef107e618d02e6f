"""How the search went: best-so-far curves and every trial's learning curve."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from raytrain.results._records import Run
from raytrain.results.plots._style import (
    BEST_COLOUR,
    STATE_STYLE,
    arrow,
    best_of,
    robust_ylim,
    save,
    use_log,
)
from raytrain.results.states import ERROR, PENDING, RUNNING, STOPPED


def _cummulativebest_of(values: Sequence[float], mode: str) -> list[float]:
    out: list[float] = []
    best = math.nan
    for v in values:
        if math.isfinite(v) and (math.isnan(best) or (v < best if mode == "min" else v > best)):
            best = v
        out.append(best)
    return out


def best_so_far(run: Run, path: Path) -> Path:
    """Best value against wall time (every reported epoch) and against trial number."""
    fig, (ax_t, ax_n) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    points: list[tuple[float, float]] = []
    for t in run.trials:
        for row in t.metrics():
            if "wall_time" in row and run.metric in row:
                points.append((row["wall_time"], row[run.metric]))
    points.sort()
    all_values = [v for _, v in points]
    if points:
        t0 = points[0][0]
        minutes = [(w - t0) / 60 for w, _ in points]
        ax_t.scatter(minutes, all_values, s=8, color="0.7", label="every reported epoch")
        ax_t.step(
            minutes,
            _cummulativebest_of(all_values, run.mode),
            where="post",
            color=BEST_COLOUR,
            lw=2,
            label="best so far",
        )
    ax_t.set_xlabel("wall time since the first result [min]")
    ax_t.set_ylabel(run.metric)
    ax_t.set_title("Best so far against wall time")

    ordered = sorted(run.trials, key=lambda t: (t.started_at is None, t.started_at, t.trial_id))
    ordered = [t for t in ordered if t.state != PENDING]
    numbers = list(range(1, len(ordered) + 1))
    values = [best_of(t) for t in ordered]
    for state, (colour, label) in STATE_STYLE.items():
        xs = [n for n, t in zip(numbers, ordered, strict=True) if t.state == state]
        ys = [v for v, t in zip(values, ordered, strict=True) if t.state == state]
        if xs:
            ax_n.scatter(xs, ys, s=28, color=colour, label=label, zorder=3)
    if ordered:
        ax_n.step(
            numbers,
            _cummulativebest_of(values, run.mode),
            where="post",
            color=BEST_COLOUR,
            lw=2,
            label="best so far",
        )
    ax_n.set_xlabel("trial number (in start order)")
    ax_n.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_n.set_title("Best so far against trials (dots: each trial's best)")
    if use_log(all_values + values):
        ax_t.set_yscale("log")
    robust_ylim(ax_t, all_values + values, use_log(all_values + values))
    for ax in (ax_t, ax_n):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(f"{run.name}: {run.metric} ({arrow(run)})")
    return save(fig, path)


def learning_curves(run: Run, path: Path) -> Path:
    """Metric per epoch for every trial; rungs marked; early-stopped trials end with ×."""
    fig, ax = plt.subplots(figsize=(10, 6))
    best = run.best(1)
    best_id = best[0].trial_id if best else None
    all_values: list[float] = []
    full = max([t.epochs for t in run.trials] + run.rungs + [0])
    unit = "epoch" if run.time_attr == "epochs" else run.time_attr
    for t in run.trials:
        rows = [r for r in t.metrics() if run.metric in r]
        if not rows:
            continue
        xs = [int(r[run.time_key]) for r in rows]
        ys = [r[run.metric] for r in rows]
        all_values += ys
        colour, _ = STATE_STYLE.get(t.state, ("0.5", t.state))
        is_best = t.trial_id == best_id
        ax.plot(
            xs,
            ys,
            color=BEST_COLOUR if is_best else colour,
            lw=2.5 if is_best else 1.0,
            alpha=1.0 if is_best else 0.6,
            ls="--" if t.state == RUNNING else "-",
            marker="o" if len(xs) == 1 else None,  # a one-epoch trial is a dot, not nothing
            markersize=3,
            zorder=4 if is_best else 2,
        )
        finite = [(x, y) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
        ended_early = t.state in (STOPPED, ERROR) or (t.finished and t.epochs < full)
        if ended_early and finite:
            ax.scatter(*finite[-1], marker="x", s=50, color=colour, zorder=3, lw=1.5)
    if use_log(all_values):
        ax.set_yscale("log")
    robust_ylim(ax, all_values, use_log(all_values))
    ymin, _ = ax.get_ylim()
    for k, rung in enumerate(run.rungs):
        ax.axvline(rung, color="0.4", ls=":", lw=1)
        ax.text(
            rung, ymin, f" rung {k + 1}\n ({unit} {rung})", va="bottom", fontsize=8, color="0.3"
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles = [
        Line2D([], [], color=c, label=label)
        for s, (c, label) in STATE_STYLE.items()
        if any(t.state == s for t in run.trials) and s != PENDING
    ]
    handles.append(
        Line2D([], [], color="0.3", marker="x", ls="", label="where a trial ended early")
    )
    if best_id:
        handles.append(Line2D([], [], color=BEST_COLOUR, lw=2.5, label=f"best trial ({best_id})"))
    if run.rungs:
        handles.append(Line2D([], [], color="0.4", ls=":", label="ASHA rung (trials compared)"))
    ax.legend(handles=handles, fontsize=8, loc="best")
    ax.set_xlabel(unit)
    ax.set_ylabel(run.metric)
    ax.grid(alpha=0.3)
    ax.set_title(f"{run.name}: learning curves of all trials ({run.metric}, {arrow(run)})")
    return save(fig, path)
