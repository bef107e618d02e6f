"""The terminal view of a running search: one compact table instead of Ray's log flood.

It shows the run writer's own `TrialRecord`s (what `raytrain status` reads back from
trials.csv), with the same trial table as `status`. `render` is a pure function of a
`LiveState` snapshot (tested without Ray). `LiveView` shows it with rich's Live display on
a terminal; when stdout is not a terminal (CI, SLURM log files) it prints one line per
finished trial and a short summary now and then.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from raytrain.results import ERROR, FINISHED_STATES, PENDING, RUNNING, STOPPED, TrialRecord
from raytrain.results._records import best_of, is_finite, sort_key
from raytrain.results.format import fmt_duration, fmt_params, fmt_value
from raytrain.results.states import state_label
from raytrain.results.view import pareto_key, records_table


@dataclass(frozen=True)
class LiveState:
    name: str
    metric: str
    mode: str
    budget: int
    concurrency: int
    trials: list[TrialRecord] = field(default_factory=list)
    param_paths: list[str] = field(default_factory=list)
    objectives: tuple[str, ...] = ()  # a multi-objective run (the first one is `metric`)
    time_budget: tuple[str, ...] = ()  # `budget:` used / left, one entry per limit set
    unit: str = "epochs"  # of the trials' `epochs` (scheduler.time_attr)
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def best(self) -> TrialRecord | None:
        best = best_of(self.trials, self.mode, 1)
        return best[0] if best else None

    def counts(self) -> Counter[str]:
        return Counter(t.state for t in self.trials)

    def done(self) -> int:
        return sum(1 for t in self.trials if t.state in FINISHED_STATES)

    def seconds(self, t: TrialRecord) -> float:
        """How long the trial has run (until it finished, or until now)."""
        if t.started_at is None:
            return 0.0
        end = (t.updated_at if t.finished else None) or self.now
        return max((end - t.started_at).total_seconds(), 0.0)

    def eta_seconds(self) -> float | None:
        done = [s for t in self.trials if t.finished and (s := self.seconds(t)) > 0]
        if not done:
            return None
        mean = sum(done) / len(done)
        running = [self.seconds(t) for t in self.trials if t.state == RUNNING]
        left_running = sum(max(mean - s, 0.0) for s in running)
        not_started = max(self.budget - len(self.trials), 0) + self.counts()[PENDING]
        return (left_running + not_started * mean) / max(self.concurrency, 1)


def summary_line(state: LiveState, elapsed: float) -> str:
    c = state.counts()
    best = state.best()
    best_txt = (
        f"best {state.metric}={fmt_value(best.best_value)} ({best.trial_id})" if best else "best: -"
    )
    if state.objectives:
        best_txt = f"Pareto front {sum(1 for t in state.trials if t.pareto_rank == 1)}"
    budget = f" | budget: {', '.join(state.time_budget)}" if state.time_budget else ""
    return (
        f"{state.name}: {state.done()}/{state.budget} done | running {c[RUNNING]} | "
        f"pending {c[PENDING] + max(state.budget - len(state.trials), 0)} | "
        f"stopped early {c[STOPPED]} | failed {c[ERROR]} | {best_txt} | "
        f"elapsed {fmt_duration(elapsed)} | ETA {fmt_duration(state.eta_seconds())}{budget}"
    )


def shown(state: LiveState, max_rows: int) -> list[TrialRecord]:
    """Running trials first, then the best ones, then the rest (pending last); a re-run
    (`confirm:`) ranks with the searched trials by its own value, its `re-run of` column
    says whose."""
    order = {RUNNING: 0, PENDING: 2}

    def key(t: TrialRecord) -> tuple[int, float, float, str]:
        if state.objectives:
            rank, value = pareto_key(t, state.objectives[0], state.mode)
            return (order.get(t.state, 1), rank, value, t.trial_id)
        rank = order.get(t.state, 1 if is_finite(t.best_value) else 2)
        return (rank, 0.0, sort_key(t.best_value, state.mode), t.trial_id)

    return sorted(state.trials, key=key)[:max_rows]


def render(state: LiveState, elapsed: float, *, max_rows: int = 12) -> Group:
    """Summary line, best config, and the `status` table of running + best trials."""
    best = None if state.objectives else state.best()
    head = Text(summary_line(state, elapsed), style="bold")
    best_txt = Text(
        f"best params: {fmt_params(best.params, limit=10)}" if best else "best params: -",
        style="green",
    )
    if state.objectives:
        best_txt = Text("objectives at each trial's last epoch; front 1 = non-dominated")
    table = records_table(
        shown(state, max_rows),
        title=None,
        param_paths=state.param_paths,
        best_id=best.trial_id if best else None,
        show_rung=any(t.rung is not None for t in state.trials),
        objectives=state.objectives,
        unit=state.unit,
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
        scores = f"{state.metric}={fmt_value(trial.value, missing='-')}"
        if state.objectives:
            scores = " ".join(
                f"{name}={fmt_value(trial.objectives.get(name), missing='-')}"
                for name in state.objectives
            )
            if trial.feasible is False:
                scores += " (infeasible)"
        rerun = f" (re-run of {trial.confirms}, seed {trial.seed})" if trial.confirms else ""
        print(
            f"[{state.done()}/{state.budget}] {trial.trial_id}{rerun} {state_label(trial.state)} "
            f"at {state.unit.rstrip('s')} {trial.epochs}: {scores}  {fmt_params(trial.params)}",
            flush=True,
        )

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
