"""Terminal rendering of a run: the trial table and summary line of `raytrain status`.

Pure functions from a `Run` to rich renderables, so the same view serves a one-shot
print, `--watch` (rich Live) and tests (rendered to text).
"""

from __future__ import annotations

from datetime import datetime, timezone

from rich.console import Group
from rich.text import Text

from raytrain.results._records import Run, TrialRecord, is_finite, sort_key
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


def ordered(run: Run) -> list[TrialRecord]:
    """Best first (per mode); trials without a finite value after them, running first."""

    def key(t: TrialRecord) -> tuple[int, float, int, str]:
        if is_finite(t.best_value):
            return (0, sort_key(t.best_value, run.mode), 0, t.trial_id)
        return (1, 0.0, _UNRANKED_ORDER.get(t.state, 9), t.trial_id)

    return sorted(run.trials, key=key)


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
) -> FittedTable:
    """The trial table of `status` and of the live view of `tune`: one row per record."""
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
        Column(
            "best",
            [
                Text(fmt_value(t.best_value), style=b and "bold green")
                for t, b in zip(rows, bold, strict=True)
            ],
            min_width=6,
        ),
        Column(
            "@ep",
            [fmt_value(t.best_epoch) for t in rows],
            drop=4,
            min_width=3,
            names="@ep (epoch of the best value)",
        ),
        Column("last", [fmt_value(t.value) for t in rows], drop=2),
        Column("epochs", [str(t.epochs) for t in rows], min_width=3, short_header="ep"),
    ]
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


def trial_table(run: Run, *, limit: int | None = None) -> FittedTable:
    best = run.best(1)
    arrow = "↓" if run.mode == "min" else "↑"
    rows = ordered(run)
    return records_table(
        rows[:limit] if limit else rows,
        title=f"{run.name}: {run.metric} {arrow}",
        param_paths=run.param_paths,
        best_id=best[0].trial_id if best else None,
        show_rung=bool(run.rungs) or any(t.rung is not None for t in run.trials),
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
    if best:
        b = best[0]
        text.append(f" | best {run.metric} ")
        text.append(fmt_value(b.best_value), style="bold green")
        text.append(f" ({b.trial_id}, epoch {b.best_epoch})")
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
    warm = warm_start_line(run)
    if warm is None:
        return Group(trial_table(run, limit=limit), summary_line(run))
    return Group(trial_table(run, limit=limit), summary_line(run), warm)
