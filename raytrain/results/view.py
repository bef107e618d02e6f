"""Terminal rendering of a run: the trial table and summary line of `raytrain status`.

Pure functions from a `Run` to rich renderables, so the same view serves a one-shot
print, `--watch` (rich Live) and tests (rendered to text).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from raytrain.results._records import (
    ERROR,
    PENDING,
    RUNNING,
    STOPPED,
    TERMINATED,
    Run,
    TrialRecord,
    is_finite,
    sort_key,
)

# state -> (label, rich style); also the order of the summary line.
STATE_LABELS: dict[str, tuple[str, str]] = {
    TERMINATED: ("done", "green"),
    RUNNING: ("running", "cyan"),
    PENDING: ("pending", "dim"),
    STOPPED: ("stopped early", "yellow"),
    ERROR: ("failed", "red"),
}
# Rows without a value are listed after the ranked ones in this order.
_UNRANKED_ORDER = {RUNNING: 0, PENDING: 1, TERMINATED: 2, STOPPED: 3, ERROR: 4}


def fmt_value(value: Any) -> str:
    """Compact text of a metric or parameter value (4 significant digits for floats)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def ordered(run: Run) -> list[TrialRecord]:
    """Best first (per mode); trials without a finite value after them, running first."""

    def key(t: TrialRecord) -> tuple[int, float, int, str]:
        if is_finite(t.best_value):
            return (0, sort_key(t.best_value, run.mode), 0, t.trial_id)
        return (1, 0.0, _UNRANKED_ORDER.get(t.state, 9), t.trial_id)

    return sorted(run.trials, key=key)


GENERIC_KEYS = frozenset({"name", "type", "kind", "value"})


def short_names(paths: list[str]) -> dict[str, str]:
    """Shortest unique dotted suffix of each path (`optimizer.lr` -> `lr`), keeping the
    parent for generic last keys (`optimizer.name` stays whole)."""
    out: dict[str, str] = {}
    for path in paths:
        parts = path.split(".")
        for n in range(1, len(parts) + 1):
            cand = ".".join(parts[-n:])
            if n == 1 and cand in GENERIC_KEYS and len(parts) > 1:
                continue
            if sum(1 for p in paths if p == cand or p.endswith("." + cand)) == 1:
                out[path] = cand
                break
        else:
            out[path] = path
    return out


def fmt_param(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.3g}"
    return fmt_value(value)


def trial_table(run: Run, *, limit: int | None = None) -> Table:
    best = run.best(1)
    best_id = best[0].trial_id if best else None
    arrow = "↓" if run.mode == "min" else "↑"
    table = Table(title=f"{run.name}: {run.metric} {arrow}", title_justify="left")
    # the identifying columns never shrink; parameters and errors give way on narrow terminals
    id_width = max([5, *(len(t.trial_id) for t in run.trials)])
    table.add_column("trial", no_wrap=True, min_width=id_width)
    table.add_column("state", no_wrap=True, min_width=7)
    for short in short_names(run.param_paths).values():
        table.add_column(short, justify="right", no_wrap=True)
    table.add_column("best", justify="right", no_wrap=True, min_width=6)
    table.add_column("@ep", justify="right", no_wrap=True, min_width=3)
    table.add_column("last", justify="right", no_wrap=True)
    table.add_column("epochs", justify="right", no_wrap=True, min_width=3)
    show_rung = bool(run.rungs) or any(t.rung is not None for t in run.trials)
    show_note = any(t.error for t in run.trials)
    if show_rung:
        table.add_column("rung", justify="right", no_wrap=True, min_width=3)
    if show_note:
        table.add_column("error", overflow="ellipsis", max_width=40)
    rows = ordered(run)
    for t in rows[:limit] if limit else rows:
        label, style = STATE_LABELS.get(t.state, (t.state.lower(), ""))
        cells: list[Any] = [
            Text(t.trial_id, style="bold" if t.trial_id == best_id else ""),
            Text(label.replace(" early", ""), style=style),
            *(fmt_param(t.params.get(p)) for p in run.param_paths),
            Text(fmt_value(t.best_value), style="bold green" if t.trial_id == best_id else ""),
            fmt_value(t.best_epoch),
            fmt_value(t.value),
            str(t.epochs),
        ]
        if show_rung:
            cells.append(fmt_value(t.rung))
        if show_note:
            cells.append(Text(t.error or "", style="red"))
        table.add_row(*cells)
    if any(short != path for path, short in short_names(run.param_paths).items()):
        table.caption = "parameters: " + ", ".join(run.param_paths)
        table.caption_justify = "left"
    return table


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


def status_view(run: Run, *, limit: int | None = None) -> Group:
    return Group(trial_table(run, limit=limit), summary_line(run))
