"""`raytrain analyze`: top trials, parameter importance, advice and plots of a run, as one
`Analysis` value that renders as text (rich) or JSON (for scripts)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from raytrain.results._records import Run, TrialRecord
from raytrain.results.advice import Facts, advise
from raytrain.results.confirm import Finalist, finalists, fmt_stat, rank_change
from raytrain.results.format import fmt_value
from raytrain.results.importance import Importance, param_importance
from raytrain.results.specs import run_params
from raytrain.results.states import state_cell
from raytrain.results.tables import Column, FittedTable
from raytrain.results.view import param_columns, params_caption


@dataclass
class Analysis:
    run: Run
    top: list[TrialRecord]
    importance: Importance
    advice: list[str]
    plots: list[Path] = field(default_factory=list)
    # a multi-objective run: importance for each objective (by its last-epoch values)
    by_objective: dict[str, Importance] = field(default_factory=dict)
    # a run with confirmation trials: its finalists, best statistic first
    confirmed: list[Finalist] = field(default_factory=list)


def analyze(run: Run, *, top_k: int = 5, plots: bool = True) -> Analysis:
    params = run_params(run)
    importance = param_importance(run, params)
    advice = advise(Facts(run=run, params=params, importance=importance, top_k=top_k))
    written: list[Path] = []
    if plots:
        from raytrain.results.plots import write_all  # matplotlib only when plots are wanted

        written = write_all(run, params, importance, run.layout.plots_dir)
    top = run.front()[:top_k] if run.multi_objective else run.best(top_k)
    by_objective = (
        {o.name: param_importance(run, params, o) for o in run.objectives}
        if run.multi_objective
        else {}
    )
    confirmed = [] if run.multi_objective else finalists(run.trials, run.mode, run.confirm_pick)
    return Analysis(run, top, importance, advice, written, by_objective, confirmed)


def _num(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def trial_json(t: TrialRecord) -> dict[str, Any]:
    return {
        "trial_id": t.trial_id,
        "state": t.state,
        "best_value": _num(t.best_value),
        "best_epoch": t.best_epoch,
        "value": _num(t.value),
        "epochs": t.epochs,
        "rung": t.rung,
        "checkpoint": t.checkpoint,
        "params": t.params,
        **(
            {
                "objectives": {k: _num(v) for k, v in t.objectives.items()},
                "pareto_rank": t.pareto_rank,
                "feasible": t.feasible,
            }
            if t.objectives
            else {}
        ),
    }


def to_json(a: Analysis) -> dict[str, Any]:
    run = a.run
    return {
        "run": run.name,
        "run_dir": str(run.path),
        "metric": run.metric,
        "mode": run.mode,
        **({"objectives": {o.name: o.mode for o in run.objectives}} if run.multi_objective else {}),
        "counts": run.counts(),
        "finished": run.finished,
        "top": [trial_json(t) for t in a.top],
        "importance": dict(a.importance.values) or None,
        "importance_scope": a.importance.scope,
        "importance_note": a.importance.note,
        **(
            {
                "importance_by_objective": {
                    k: dict(v.values) or None for k, v in a.by_objective.items()
                }
            }
            if a.by_objective
            else {}
        ),
        **(
            {"confirmed": [finalist_json(f, run.confirm_pick) for f in a.confirmed]}
            if a.confirmed
            else {}
        ),
        "advice": a.advice,
        "plots": [str(p) for p in a.plots],
    }


def finalist_json(f: Finalist, pick: str) -> dict[str, Any]:
    return {
        "trial_id": f.trial.trial_id,
        "pick": pick,
        "statistic": _num(f.score),
        "mean": _num(f.mean),
        "std": _num(f.std),
        "n": f.n,
        "seeds": f.seeds,
        "values": f.values,
        "trials": [r.trial_id for r in f.runs],
        "pending": f.pending,
        "single_value": _num(f.trial.best_value),
        "rank_single": f.rank_single,
        "rank_confirmed": f.rank_confirmed,
    }


def fmt_share(share: float | None) -> str:
    return "-" if share is None else f"{share:.3f}"


def _finalists_table(a: Analysis) -> FittedTable:
    run, rows = a.run, a.confirmed
    columns = [
        Column("rank", [rank_change(f) for f in rows], names="rank (single run -> statistic)"),
        Column("trial", [f.trial.trial_id for f in rows], justify="left", min_width=5),
        Column(f"{run.metric} over new seeds", [fmt_stat(f) for f in rows], short_header="mean"),
        Column(run.confirm_pick, [fmt_value(f.score) for f in rows]),
        Column("single run", [fmt_value(f.trial.best_value) for f in rows], drop=2),
        Column("seeds", [" ".join(map(str, f.seeds)) for f in rows], drop=1, justify="left"),
    ]
    return FittedTable(
        columns,
        row_keys=[f.trial.trial_id for f in rows],
        title=f"confirmed finalists by {run.confirm_pick} (the original run is not counted)",
    )


def render_text(a: Analysis) -> RenderableType:
    run = a.run
    parts: list[RenderableType] = []
    rows = a.top
    unit = run.time_attr  # epochs, or steps / samples (raytrain.space.fidelity)
    if run.multi_objective:
        scores = [
            Column(o.name, [fmt_value(t.objectives.get(o.name)) for t in rows])
            for o in run.objectives
        ]
        title = f"{run.name}: Pareto front ({len(run.front())} trials; the first {len(rows)})"
        empty = "No feasible trial with finite objectives yet: the Pareto front is empty."
    else:
        scores = [
            Column(
                f"best {run.metric}", [fmt_value(t.best_value) for t in rows], short_header="best"
            ),
            Column(
                "@" + unit.rstrip("s"),
                [fmt_value(t.best_epoch) for t in rows],
                drop=2,
                short_header="@" + unit[:2],
            ),
        ]
        title = f"{run.name}: top {len(rows)} by best {run.metric} ({run.mode})"
        empty = f"No trial has a finite {run.metric} yet."
    columns = [
        Column("#", [str(i) for i in range(1, len(rows) + 1)], drop=1),
        Column("trial", [t.trial_id for t in rows], justify="left", min_width=5),
        Column("state", [Text(*state_cell(t.state)) for t in rows], justify="left"),
        *scores,
        Column(unit, [str(t.epochs) for t in rows], drop=3, short_header=unit[:2]),
        *param_columns(rows, run.param_paths, drop_from=10),
    ]
    top = FittedTable(
        columns,
        row_keys=[t.trial_id for t in rows],
        title=title,
        caption=params_caption(run.param_paths),
    )
    parts.append(top if a.top else Text(empty, style="yellow"))
    if a.confirmed:
        parts.append(_finalists_table(a))
    if a.importance.values:
        imp = Table(title="parameter importance", title_justify="left")
        imp.add_column("parameter")
        imp.add_column("importance", justify="right")
        imp.add_column("")
        imp.add_column("exists when")
        for path, share in a.importance.values.items():
            bar = Text("█" * round(share * 30), style="blue")
            imp.add_row(path, f"{share:.3f}", bar, a.importance.scope.get(path, ""))
        parts.append(imp)
    if a.importance.note:
        parts.append(Text(a.importance.note, style="dim"))
    if any(v.values for v in a.by_objective.values()):
        per = Table(
            title="parameter importance per objective (last-epoch values)", title_justify="left"
        )
        per.add_column("parameter")
        for name in a.by_objective:
            per.add_column(name, justify="right")
        paths = list(dict.fromkeys(p for v in a.by_objective.values() for p in v.values))
        for path in paths:
            per.add_row(path, *(fmt_share(v.values.get(path)) for v in a.by_objective.values()))
        parts.append(per)
    parts.append(Text("advice:", style="bold"))
    for line in a.advice or ["nothing stands out: the space and budget look reasonable."]:
        parts.append(Text(f"  - {line}"))
    if a.plots:
        parts.append(Text(f"plots ({len(a.plots)}) in {a.plots[0].parent}/:", style="bold"))
        parts.append(Text("  " + "  ".join(p.name for p in a.plots)))
    return Group(*parts)
