"""Where the good values are: parallel coordinates, importance bars, slice plots."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from raytrain.results._records import Run, TrialRecord, is_finite
from raytrain.results.format import fmt_param, fmt_value
from raytrain.results.importance import Importance
from raytrain.results.plots._style import (
    BEST_COLOUR,
    best_of,
    robust_ylim,
    save,
    start_key,
    use_log,
)
from raytrain.results.specs import describe_condition, position
from raytrain.results.states import TERMINATED
from raytrain.space.types import CategoricalParam, IntParam, Param


def _axis_mapper(p: Param | None, values: list[Any]) -> tuple[Callable[[Any], float], list]:
    """Value -> [0, 1] for one parallel-coordinates axis, and its (position, label) ticks."""
    if isinstance(p, CategoricalParam) or p is None:
        cats = list(p.values) if p is not None else sorted({str(v) for v in values})
        n = max(1, len(cats) - 1)

        def cat(v: Any) -> float:
            return cats.index(v) / n if v in cats else math.nan

        return cat, [(i / n, str(c)) for i, c in enumerate(cats)]

    def num(v: Any) -> float:
        x = position(p, v)
        return math.nan if x is None else x

    ticks = [(q, _tick(p, q)) for q in (0.0, 0.5, 1.0)]
    return num, ticks


def _tick(p: Param, q: float) -> str:
    lo, hi = float(p.low), float(p.high)  # type: ignore[union-attr]
    if p.log and lo > 0:  # type: ignore[union-attr]
        v = math.exp(math.log(lo) + q * (math.log(hi) - math.log(lo)))
    else:
        v = lo + q * (hi - lo)
    return str(round(v)) if isinstance(p, IntParam) else fmt_param(v)


def parallel_coordinates(run: Run, params: Mapping[str, Param], path: Path) -> Path:
    """One line per trial through every parameter axis to the metric, coloured by it."""
    trials = [t for t in run.searched if is_finite(t.best_value)]
    axes = list(params)
    fig, ax = plt.subplots(figsize=(max(8, 2.0 * (len(axes) + 1)), 5.5))
    values = [best_of(t) for t in trials]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    log = use_log(values)
    tf = (lambda v: math.log(v)) if log else (lambda v: v)

    def metric_pos(v: float) -> float:
        span = tf(hi) - tf(lo)
        return (tf(v) - tf(lo)) / span if span else 0.5

    mappers = [_axis_mapper(params[a], [t.params.get(a) for t in trials]) for a in axes]
    cmap = plt.get_cmap("viridis_r" if run.mode == "min" else "viridis")
    norm = matplotlib.colors.LogNorm(lo, hi) if log else matplotlib.colors.Normalize(lo, hi)
    ranked = sorted(trials, key=lambda t: -metric_pos(best_of(t)))
    if run.mode == "max":
        ranked.reverse()
    top = {t.trial_id for t in run.best(3)}
    for t in ranked:  # worst first, so the best are drawn on top
        ys = [m(t.params.get(a)) for a, (m, _) in zip(axes, mappers, strict=True)]
        ys.append(metric_pos(best_of(t)))
        # an inactive conditional parameter has no value: the line skips that axis
        xs = [i for i, y in enumerate(ys) if math.isfinite(y)]
        jitter = [ys[i] + random.Random(f"{t.trial_id}{i}").uniform(-0.01, 0.01) for i in xs]
        colour = cmap(norm(best_of(t)))
        ax.plot(
            xs,
            jitter,
            color=colour,
            lw=2.4 if t.trial_id in top else 1.0,
            alpha=0.95 if t.trial_id in top else 0.55,
            zorder=3 if t.trial_id in top else 2,
        )
    for i, (_, ticks) in enumerate([*mappers, (None, _metric_ticks(lo, hi, log))]):
        ax.axvline(i, color="0.2", lw=1)
        for q, label in ticks:
            ax.text(
                i + 0.03,
                q,
                label,
                fontsize=8,
                va="center",
                ha="left",
                color="0.15",
                bbox={"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 1},
            )
    ax.set_xticks(range(len(axes) + 1))
    ax.set_xticklabels([*axes, f"best {run.metric}"], rotation=15, fontsize=9)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(axes) + 0.5)
    ax.set_ylim(-0.06, 1.06)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, pad=0.01, label=f"best {run.metric}")
    skips = "; a line skips a conditional parameter it did not use"
    ax.set_title(
        f"{run.name}: parallel coordinates of {len(trials)} trials "
        f"(thick: top 3{skips if any(p.when for p in params.values()) else ''})"
    )
    return save(fig, path)


def _metric_ticks(lo: float, hi: float, log: bool) -> list[tuple[float, str]]:
    mid = math.exp((math.log(lo) + math.log(hi)) / 2) if log else (lo + hi) / 2
    return [(0.0, fmt_value(lo)), (0.5, fmt_value(mid)), (1.0, fmt_value(hi))]


def importance_bars(run: Run, importance: Importance, path: Path) -> Path:
    items = sorted(importance.values.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.5 * max(1, len(items))))
    labels = [
        f"{p}\n(when {importance.scope[p]})" if p in importance.scope else p for p, _ in items
    ]
    bars = ax.barh(labels, [v for _, v in items], color="tab:blue")
    for bar, (_, v) in zip(bars, items, strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {v:.2f}", va="center")
    ax.set_xlim(0, max([v for _, v in items] + [0.1]) * 1.15)
    ax.set_xlabel("importance (share, PED-ANOVA)")
    ax.set_title(f"{run.name}: parameter importance for {run.metric}")
    ax.grid(axis="x", alpha=0.3)
    if importance.note:
        fig.text(0.01, -0.02, importance.note, fontsize=7, color="0.35", wrap=True, va="top")
    return save(fig, path)


def slice_plot(run: Run, name: str, p: Param, path: Path) -> Path:
    """Each trial's best value against one parameter; range ends dashed, best starred."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    trials = [t for t in run.searched if is_finite(t.best_value) and name in t.params]
    order = {t.trial_id: i for i, t in enumerate(sorted(run.trials, key=start_key))}
    cats = list(p.values) if isinstance(p, CategoricalParam) else None

    def x_of(t: TrialRecord) -> float:
        v = t.params[name]
        if cats is None:
            return float(v)
        jitter = random.Random(t.trial_id).uniform(-0.15, 0.15)
        return (cats.index(v) if v in cats else len(cats)) + jitter

    xs = [x_of(t) for t in trials]
    ys = [best_of(t) for t in trials]
    sc = ax.scatter(
        xs,
        ys,
        c=[order[t.trial_id] for t in trials],
        cmap="viridis",
        s=36,
        edgecolors=["k" if t.state == TERMINATED else "none" for t in trials],
        zorder=3,
    )
    if trials:
        bar = fig.colorbar(sc, ax=ax, label="trial number (start order)")
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    best = run.best(1)
    if best and name in best[0].params:
        bx = x_of(best[0])  # same jitter as its dot
        ax.scatter(
            [bx],
            [best_of(best[0])],
            marker="*",
            s=260,
            color=BEST_COLOUR,
            edgecolors="k",
            zorder=4,
            label=f"best ({best[0].trial_id})",
        )
    if cats is not None:
        ax.set_xticks(range(len(cats)))
        ax.set_xticklabels([str(c) for c in cats])
        ax.set_xlim(-0.6, len(cats) - 0.4)
    else:
        if p.log:  # type: ignore[union-attr]
            ax.set_xscale("log")
        for bound in (p.low, p.high):  # type: ignore[union-attr]
            ax.axvline(float(bound), color="0.4", ls="--", lw=1)
        ax.plot([], [], color="0.4", ls="--", lw=1, label="range in space.yaml")
    if use_log(ys):
        ax.set_yscale("log")
    robust_ylim(ax, ys, use_log(ys))
    cond = f" (only when {describe_condition(p)})" if p.when else ""
    ax.set_xlabel(name + (" (log scale)" if getattr(p, "log", False) else ""))
    ax.set_ylabel(f"best {run.metric}")
    ax.set_title(
        f"{run.name}: {run.metric} against {name}{cond}\n(black edge: ran to the end)", fontsize=10
    )
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return save(fig, path)
