"""The Pareto front of a multi-objective run: every pair of objectives, the front
highlighted, each point labelled with its trial."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import matplotlib.pyplot as plt

from raytrain.results._records import Run, TrialRecord
from raytrain.results.plots._style import BEST_COLOUR, save


def _xy(t: TrialRecord, a: str, b: str) -> tuple[float, float] | None:
    x, y = t.objectives.get(a), t.objectives.get(b)
    if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
        return None
    return x, y


def pareto_front(run: Run, path: Path) -> Path:
    """One panel per pair of objectives (values at each trial's last epoch): front trials
    in green and labelled, dominated feasible ones grey, infeasible ones red crosses."""
    pairs = list(itertools.combinations(run.objectives, 2))
    fig, axes = plt.subplots(1, len(pairs), figsize=(6.5 * len(pairs), 5.5), squeeze=False)
    for ax, (a, b) in zip(axes[0], pairs, strict=True):
        groups: dict[str, list[tuple[TrialRecord, tuple[float, float]]]] = {
            "front": [],
            "dominated": [],
            "infeasible": [],
        }
        for t in run.trials:
            xy = _xy(t, a.name, b.name)
            if xy is None:
                continue
            kind = (
                "front"
                if t.pareto_rank == 1
                else "infeasible"
                if t.feasible is False
                else "dominated"
            )
            groups[kind].append((t, xy))
        style = {
            "dominated": {"color": "0.6", "marker": "o", "s": 25, "label": "dominated"},
            "infeasible": {
                "color": "tab:red",
                "marker": "x",
                "s": 30,
                "label": "infeasible (constraints)",
            },
            "front": {
                "color": BEST_COLOUR,
                "marker": "o",
                "s": 55,
                "label": "Pareto front",
                "zorder": 3,
            },
        }
        for kind, members in groups.items():
            if members:
                xs, ys = zip(*(xy for _, xy in members), strict=True)
                ax.scatter(xs, ys, **style[kind])
        front = sorted(groups["front"], key=lambda m: m[1])
        if len(run.objectives) == 2 and len(front) > 1:
            xs, ys = zip(*(xy for _, xy in front), strict=True)
            ax.plot(xs, ys, color=BEST_COLOUR, alpha=0.5, linewidth=1)
        for t, (x, y) in front:
            ax.annotate(t.trial_id, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
        ax.set_xlabel(f"{a.name} ({'lower' if a.mode == 'min' else 'higher'} is better)")
        ax.set_ylabel(f"{b.name} ({'lower' if b.mode == 'min' else 'higher'} is better)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    n_front = sum(1 for t in run.trials if t.pareto_rank == 1)
    fig.suptitle(f"{run.name}: Pareto front ({n_front} of {len(run.trials)} trials), last epoch")
    return save(fig, path)
