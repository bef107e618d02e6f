"""The terminal view of a running search: one compact table instead of Ray's log flood.

`render` is a pure function of a `LiveState` snapshot (tested without Ray). `LiveView`
shows it with rich's Live display on a terminal; when stdout is not a terminal (CI, SLURM
log files) it prints one line per finished trial and a short summary now and then.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

FINISHED = ("TERMINATED", "STOPPED", "ERROR")


@dataclass(frozen=True)
class TrialView:
    trial_id: str
    status: str  # PENDING | RUNNING | PAUSED | TERMINATED | STOPPED | ERROR
    params: dict[str, Any]
    epoch: int
    value: float
    seconds: float


@dataclass(frozen=True)
class LiveState:
    name: str
    metric: str
    mode: str
    budget: int
    concurrency: int
    trials: list[TrialView] = field(default_factory=list)

    def best(self) -> TrialView | None:
        finite = [t for t in self.trials if math.isfinite(t.value)]
        if not finite:
            return None
        pick = min if self.mode == "min" else max
        return pick(finite, key=lambda t: t.value)

    def counts(self) -> Counter[str]:
        return Counter(t.status for t in self.trials)

    def eta_seconds(self) -> float | None:
        done = [t for t in self.trials if t.status in FINISHED and t.seconds > 0]
        if not done:
            return None
        mean = sum(t.seconds for t in done) / len(done)
        running = [t for t in self.trials if t.status == "RUNNING"]
        left_running = sum(max(mean - t.seconds, 0.0) for t in running)
        not_started = max(self.budget - len(self.trials), 0) + self.counts()["PENDING"]
        return (left_running + not_started * mean) / max(self.concurrency, 1)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fmt_value(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}"
    return str(value)


def fmt_params(params: dict[str, Any], limit: int = 6) -> str:
    items = [f"{k}={fmt_value(v)}" for k, v in sorted(params.items())]
    more = len(items) - limit
    return ", ".join(items[:limit]) + (f", +{more} more" if more > 0 else "")


def summary_line(state: LiveState, elapsed: float) -> str:
    c = state.counts()
    done = sum(c[s] for s in FINISHED)
    best = state.best()
    best_txt = (
        f"best {state.metric}={fmt_value(best.value)} ({best.trial_id})" if best else "best: -"
    )
    return (
        f"{state.name}: {done}/{state.budget} done | running {c['RUNNING']} | "
        f"pending {c['PENDING'] + max(state.budget - len(state.trials), 0)} | "
        f"stopped early {c['STOPPED']} | failed {c['ERROR']} | {best_txt} | "
        f"elapsed {fmt_duration(elapsed)} | ETA {fmt_duration(state.eta_seconds())}"
    )


def render(state: LiveState, elapsed: float, *, max_rows: int = 12) -> Group:
    """Summary line, best config, and a table of running + most recent trials."""
    best = state.best()
    head = Text(summary_line(state, elapsed), style="bold")
    best_txt = Text(
        f"best params: {fmt_params(best.params, limit=10)}" if best else "best params: -",
        style="green",
    )
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("trial", "state", "epoch", state.metric, "params"):
        table.add_column(col, overflow="fold" if col == "params" else "ellipsis")
    order = {"RUNNING": 0, "PENDING": 1}
    shown = sorted(state.trials, key=lambda t: (order.get(t.status, 2), -t.seconds))[:max_rows]
    for t in shown:
        style = {"ERROR": "red", "STOPPED": "dim", "RUNNING": "cyan"}.get(t.status, "")
        table.add_row(
            t.trial_id,
            t.status,
            str(t.epoch),
            fmt_value(t.value),
            fmt_params(t.params),
            style=style,
        )
    return Group(head, best_txt, table)


class LiveView:
    def __init__(self, *, live: bool | None = None, console: Console | None = None) -> None:
        self.console = console or Console(stderr=False)
        self.live_mode = sys.stdout.isatty() if live is None else live
        self._live: Live | None = None
        self._start = 0.0
        self._last_summary = 0.0

    def start(self, now: float) -> None:
        self._start = now
        self._last_summary = now
        if self.live_mode:
            self._live = Live(console=self.console, refresh_per_second=2, transient=False)
            self._live.start()

    def update(self, state: LiveState, now: float) -> None:
        if self._live is not None:
            self._live.update(render(state, now - self._start))
        elif now - self._last_summary >= 30:
            self._last_summary = now
            print(summary_line(state, now - self._start), flush=True)

    def event(self, state: LiveState, trial_id: str, now: float) -> None:
        """A trial finished: in line mode print it, with the running summary."""
        if self._live is not None:
            self._live.update(render(state, now - self._start))
            return
        trial = next((t for t in state.trials if t.trial_id == trial_id), None)
        if trial is None:
            return
        done = sum(state.counts()[s] for s in FINISHED)
        print(
            f"[{done}/{state.budget}] {trial.trial_id} {trial.status} at epoch {trial.epoch}: "
            f"{state.metric}={fmt_value(trial.value)}  {fmt_params(trial.params)}",
            flush=True,
        )

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
