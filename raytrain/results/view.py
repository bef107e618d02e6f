"""Terminal rendering of a run: the trial table and summary line of `raytrain status`.

Pure functions from a `Run` to rich renderables, so the same view serves a one-shot
print, `--watch` (rich Live) and tests (rendered to text).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from rich.console import Group
from rich.text import Text

from raytrain.results._records import Run, TrialRecord, is_finite, sort_key
from raytrain.results.confirm import chosen, render_finalists
from raytrain.results.format import fmt_param, fmt_value, short_names
from raytrain.results.states import (
    ERROR,
    PENDING,
    RUNNING,
    STATE_LABELS,
    STOPPED,
    TERMINATED,
    state_cell,
)
from raytrain.results.tables import Column, FittedTable

# Rows without a value are listed after the ranked ones in this order.
_UNRANKED_ORDER = {RUNNING: 0, PENDING: 1, TERMINATED: 2, STOPPED: 3, ERROR: 4}


def pareto_key(t: TrialRecord, first: str, mode: str) -> tuple[int, float]:
    """Multi-objective order: front by front (infeasible and unscored trials after them),
    then by the first objective."""
    rank = t.pareto_rank if t.pareto_rank is not None else (10**6 if t.feasible is False else 10**7)
    return (rank, sort_key(t.objectives.get(first), mode))


def ordered(run: Run) -> list[TrialRecord]:
    """Best first (per mode); trials without a finite value after them, running first.
    A multi-objective run: the Pareto front first, then the next fronts, infeasible
    trials after every feasible one. Confirmation trials follow the trial they re-run."""

    def key(t: TrialRecord) -> tuple[int, float, int, str]:
        if run.multi_objective:
            rank, value = pareto_key(t, run.objectives[0].name, run.objectives[0].mode)
            return (rank, value, _UNRANKED_ORDER.get(t.state, 9), t.trial_id)
        if is_finite(t.best_value):
            return (0, sort_key(t.best_value, run.mode), 0, t.trial_id)
        return (1, 0.0, _UNRANKED_ORDER.get(t.state, 9), t.trial_id)

    main = sorted(run.searched, key=key)
    reruns: dict[str, list[TrialRecord]] = {}
    for t in run.trials:
        if t.confirms is not None:
            reruns.setdefault(t.confirms, []).append(t)
    out: list[TrialRecord] = []
    for t in main:
        out.append(t)
        out += sorted(reruns.pop(t.trial_id, []), key=lambda r: (r.seed or 0, r.trial_id))
    return out + [r for group in reruns.values() for r in group]  # of no known trial


def param_columns(
    rows: list[TrialRecord], param_paths: list[str], *, drop_from: int
) -> list[Column]:
    """One column per parameter under its short header; the rightmost is left out first."""
    shorts = short_names(param_paths)
    n = len(param_paths)
    return [
        Column(
            shorts[p],
            [fmt_param(t.params.get(p)) for t in rows],
            drop=drop_from + n - i,
            names=p,
        )
        for i, p in enumerate(param_paths)
    ]


def params_caption(param_paths: list[str]) -> str | None:
    if all(short == path for path, short in short_names(param_paths).items()):
        return None
    return "parameters: " + ", ".join(param_paths)


def records_table(
    rows: list[TrialRecord],
    *,
    title: str | None,
    param_paths: list[str],
    best_id: str | None,
    show_rung: bool,
    objectives: Sequence[str] = (),
    unit: str = "epochs",
) -> FittedTable:
    """The trial table of `status` and of the live view of `tune`: one row per record.
    With `objectives` (a multi-objective run) it shows each objective at the last epoch,
    the Pareto front number and feasibility instead of best/last of one metric."""
    bold = ["bold" if t.trial_id == best_id else "" for t in rows]
    states = [Text(*state_cell(t.state)) for t in rows]
    columns = [
        Column(
            "trial",
            [Text(t.trial_id, style=b) for t, b in zip(rows, bold, strict=True)],
            justify="left",
            min_width=5,
        ),
        Column("state", states, justify="left", min_width=7),
        *param_columns(rows, param_paths, drop_from=10),
        *(_pareto_columns(rows, objectives) if objectives else _metric_columns(rows, bold, unit)),
        Column(unit, [str(t.epochs) for t in rows], min_width=3, short_header=unit[:2]),
    ]
    if any(t.confirms is not None for t in rows):
        columns.insert(2, _rerun_column(rows))
    if show_rung:
        columns.append(Column("rung", [fmt_value(t.rung) for t in rows], drop=3, min_width=3))
    if any(t.error for t in rows):
        errors = [Text(t.error or "", style="red") for t in rows]
        columns.append(Column("error", errors, justify="left", drop=1, fold=True, max_width=40))
    return FittedTable(
        columns,
        row_keys=[t.trial_id for t in rows],
        title=title,
        caption=params_caption(param_paths),
    )


def _rerun_column(rows: list[TrialRecord]) -> Column:
    """Which trial a confirmation trial re-runs, with which seed (`confirm:`)."""
    cells = [
        Text(f"↳ {t.confirms} seed {t.seed}", style="cyan") if t.confirms is not None else Text("")
        for t in rows
    ]
    return Column(
        "re-run of", cells, justify="left", drop=6, names="re-run of (confirmation trials)"
    )


def _pareto_columns(rows: list[TrialRecord], objectives: Sequence[str]) -> list[Column]:
    on_front = ["bold green" if t.pareto_rank == 1 else "" for t in rows]
    columns = [
        Column(
            name,
            [
                Text(fmt_value(t.objectives.get(name)), style=s)
                for t, s in zip(rows, on_front, strict=True)
            ],
            min_width=6,
        )
        for name in objectives
    ]
    columns.append(
        Column(
            "front",
            [fmt_value(t.pareto_rank) for t in rows],
            min_width=3,
            names="front (Pareto rank: 1 = non-dominated)",
        )
    )
    feasible = {True: Text("yes"), False: Text("no", style="red"), None: Text("-")}
    columns.append(
        Column("feasible", [feasible[t.feasible] for t in rows], drop=5, short_header="ok")
    )
    return columns


def _metric_columns(rows: list[TrialRecord], bold: list[str], unit: str) -> list[Column]:
    return [
        Column(
            "best",
            [
                Text(fmt_value(t.best_value), style=b and "bold green")
                for t, b in zip(rows, bold, strict=True)
            ],
            min_width=6,
        ),
        Column(
            "@" + unit[:2],
            [fmt_value(t.best_epoch) for t in rows],
            drop=4,
            min_width=3,
            names=f"@{unit[:2]} ({unit.rstrip('s')} of the best value)",
        ),
        Column("last", [fmt_value(t.value) for t in rows], drop=2),
    ]


def trial_table(run: Run, *, limit: int | None = None) -> FittedTable:
    rows = ordered(run)
    if run.multi_objective:
        goals = ", ".join(f"{o.name} {'↓' if o.mode == 'min' else '↑'}" for o in run.objectives)
        title = f"{run.name}: Pareto search, {goals}"
        if run.constraints:
            title += " | constraints: " + ", ".join(
                f"{c.metric} {c.op} {fmt_value(c.threshold)}" for c in run.constraints
            )
        best_id = None
    else:
        best = run.best(1)
        arrow = "↓" if run.mode == "min" else "↑"
        title = f"{run.name}: {run.metric} {arrow}"
        best_id = best[0].trial_id if best else None
    return records_table(
        rows[:limit] if limit else rows,
        title=title,
        param_paths=run.param_paths,
        best_id=best_id,
        show_rung=bool(run.rungs) or any(t.rung is not None for t in run.trials),
        objectives=[o.name for o in run.objectives] if run.multi_objective else (),
        unit=run.time_attr,
    )


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "no updates yet"
    seconds = max(0, int((now - when).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"updated {seconds // size} {unit} ago"
    return f"updated {seconds} s ago"


def summary_line(run: Run, now: datetime | None = None) -> Text:
    """`22 trials: 9 done · 2 running · ... | best val_loss 0.1075 (t016, epoch 20) | ...`"""
    now = now or datetime.now(timezone.utc)
    counts = run.counts()
    text = Text(f"{len(run.trials)} trials: ")
    parts = [(f"{counts[s]} {label}", style) for s, (label, style) in STATE_LABELS.items()]
    for i, (part, style) in enumerate(parts):
        text.append(part, style=style if not part.startswith("0 ") else "dim")
        if i < len(parts) - 1:
            text.append(" · ")
    best = run.best(1)
    if run.multi_objective:
        front = run.front()
        infeasible = sum(1 for t in run.trials if t.feasible is False)
        text.append(f" | Pareto front: {len(front)} trial(s)")
        if front:
            text.append(" (" + ", ".join(t.trial_id for t in front[:8]) + ")", style="bold green")
        if run.constraints:
            text.append(f" · {infeasible} infeasible")
    elif best:
        b = best[0]
        text.append(f" | best {run.metric} ")
        text.append(fmt_value(b.best_value), style="bold green")
        text.append(f" ({b.trial_id}, {run.time_attr.rstrip('s')} {b.best_epoch})")
        pick = chosen(run.trials, run.mode, run.confirm_pick)
        if pick is not None:
            text.append(f" | chosen by {run.confirm_pick} over new seeds: ")
            text.append(pick.trial.trial_id, style="bold green")
    else:
        text.append(f" | no finite {run.metric} yet")
    text.append(f" | {'finished' if run.finished else _ago(run.updated_at, now)}")
    return text


def warm_start_line(run: Run) -> Text | None:
    """`warm start: 14 earlier trials in the study (12 of 18 from runs/a, 2 of 6 from ...)`"""
    warm = run.warm_start
    if not warm:
        return None
    parts = [
        f"{s.get('used', 0)} of {s.get('finished', 0)} from {s.get('run', '?')}"
        for s in warm.get("sources") or []
    ]
    n = int(warm.get("trials", 0))
    text = Text("warm start: ", style="dim")
    text.append(f"{n} earlier trial{'' if n == 1 else 's'} in the study")
    if parts:
        text.append(f" ({', '.join(parts)})", style="dim")
    return text


def status_view(run: Run, *, limit: int | None = None) -> Group:
    parts: list[FittedTable | Text] = [trial_table(run, limit=limit), summary_line(run)]
    confirmed = render_finalists(run)
    if confirmed:
        parts.append(Text(confirmed))
    warm = warm_start_line(run)
    if warm is not None:
        parts.append(warm)
    return Group(*parts)
