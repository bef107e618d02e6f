"""Typed view of a run directory: one `TrialRecord` per trial, one `Run` for the lot.

These are what `raytrain status`, `analyze` and `export` consume, so every value is
already typed (parameters keep their int/float/str/bool types; metrics are floats) and
nothing here depends on where the run directory lives now.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from raytrain.layout import SEARCH, TRAIN, EpochFiles, RunLayout, SearchRunLayout, TrainRunLayout
from raytrain.pareto import pareto_ranks, point_of
from raytrain.results.states import FINISHED_STATES, PENDING, TRIAL_STATES
from raytrain.space.fidelity import PROGRESS_KEYS, time_key
from raytrain.space.types import Constraint, Objective


def is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def better(a: float, b: float, mode: str) -> bool:
    """True when `a` is strictly better than `b` under `mode` (min | max)."""
    return a < b if mode == "min" else a > b


def sort_key(value: float | None, mode: str) -> float:
    """Key that orders values best first; missing and non-finite values last."""
    if not is_finite(value):
        return math.inf
    assert value is not None
    return value if mode == "min" else -value


@dataclass
class TrialRecord:
    """One row of trials.csv plus the trial's folder (for per-epoch metrics)."""

    trial_id: str
    state: str = PENDING
    params: dict[str, Any] = field(default_factory=dict)
    epochs: int = 0
    value: float | None = None  # metric at the last reported epoch
    best_value: float | None = None  # best finite metric value (per mode)
    best_epoch: int | None = None
    rung: int | None = None  # highest ASHA rung milestone (in epochs) reached
    checkpoint: str | None = None
    error: str | None = None
    started_at: datetime | None = None
    updated_at: datetime | None = None
    trial_dir: Path | None = None
    # a multi-objective run: each objective at the last reported epoch, whether that
    # epoch met every constraint, and the Pareto front number among feasible trials
    objectives: dict[str, float | None] = field(default_factory=dict)
    feasible: bool | None = None
    pareto_rank: int | None = None
    # a confirmation trial (`confirm:` of the space): the trial whose parameters it
    # re-runs, and its seed (raytrain.space.confirm)
    confirms: str | None = None
    seed: int | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    def metrics(self) -> list[dict[str, float]]:
        """Per-epoch rows of metrics.csv (`epoch` is an int; empty cells are left out)."""
        if self.trial_dir is None:
            return []
        return read_metrics_csv(EpochFiles(self.trial_dir).metrics_csv)


def summarise_history(
    record: TrialRecord,
    rows: Sequence[dict[str, float]],
    metric: str,
    mode: str,
    key: str = "epoch",
) -> None:
    """Set a record's epochs, last value and best value/epoch from its metrics.csv rows
    (`key`: the run's progress column; "epochs" are then steps or samples)."""
    record.epochs = int(rows[-1][key]) if rows else 0
    record.value = rows[-1].get(metric) if rows else None
    record.best_value, record.best_epoch = None, None
    for row in rows:
        v = row.get(metric)
        if v is None or not math.isfinite(v):
            continue
        if record.best_value is None or better(v, record.best_value, mode):
            record.best_value, record.best_epoch = v, int(row[key])


def summarise_objectives(
    record: TrialRecord,
    rows: Sequence[dict[str, float]],
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint],
) -> None:
    """A multi-objective record's objective values and feasibility at its last epoch
    (the values Optuna was told and the scheduler last saw)."""
    last = rows[-1] if rows else {}
    record.objectives = {o.name: last.get(o.name) for o in objectives}
    if not rows:
        record.feasible = None
        return
    record.feasible = all(c.violation(last.get(c.metric)) == 0 for c in constraints)


def rank_records(records: Sequence[TrialRecord], objectives: Sequence[Objective]) -> None:
    """Set each record's `pareto_rank` (1 = front) among the feasible records whose every
    objective is finite; the others get None."""
    points = [point_of(t.objectives, objectives) for t in records]
    usable = [i for i, t in enumerate(records) if t.feasible and points[i].feasible]
    ranks = pareto_ranks([points[i] for i in usable])
    for t in records:
        t.pareto_rank = None
    for i, rank in zip(usable, ranks, strict=True):
        records[i].pareto_rank = rank


def _progress(cell: str) -> float:
    try:
        return int(cell)
    except ValueError:
        return float(cell)


def read_metrics_csv(path: Path) -> list[dict[str, float]]:
    """Rows of a metrics.csv; tolerates a torn last line of a file being appended to."""
    if not path.is_file():
        return []
    rows: list[dict[str, float]] = []
    with path.open(newline="") as f:
        for raw in csv.DictReader(f):
            row: dict[str, float] = {}
            for key, cell in raw.items():
                if key is None or cell in (None, ""):
                    continue
                try:
                    # progress columns stay ints where whole (a fractional epoch inside epochs)
                    row[key] = _progress(cell) if key in PROGRESS_KEYS else float(cell)
                except ValueError:
                    continue
            if "epoch" in row:
                rows.append(row)
    return rows


def best_of(trials: Sequence[TrialRecord], mode: str, k: int = 1) -> list[TrialRecord]:
    """The k searched trials with the best finite `best_value`, best first (confirmation
    trials repeat a finalist; `raytrain.results.confirm` ranks those)."""
    scored = [t for t in trials if is_finite(t.best_value) and t.confirms is None]
    scored.sort(key=lambda t: (sort_key(t.best_value, mode), t.trial_id))
    return scored[:k]


@dataclass
class Run:
    """A run directory read from disk (live, finished, or copied from a cluster).

    A `train` run (kind TRAIN) reads as a search of one trial with no parameters."""

    path: Path
    name: str
    metric: str
    mode: str
    space: dict[str, Any]
    trials: list[TrialRecord]
    param_paths: list[str] = field(default_factory=list)
    rungs: list[int] = field(default_factory=list)
    kind: str = SEARCH
    # several objectives make a multi-objective run (then `metric` is the first of them)
    objectives: tuple[Objective, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    # the unit of `epochs`/`best_epoch`/rungs (scheduler.time_attr; raytrain.space.fidelity)
    time_attr: str = "epochs"

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def time_key(self) -> str:
        """The progress column of the trials' metrics.csv (`epoch`, `steps`, `samples`)."""
        return time_key(self.time_attr)

    def front(self) -> list[TrialRecord]:
        """The Pareto front: feasible trials no other feasible trial dominates, ordered
        by the first objective (best first)."""
        first = self.objectives[0] if self.objectives else None
        points = [t for t in self.trials if t.pareto_rank == 1]
        if first is None:
            return points
        return sorted(
            points, key=lambda t: (sort_key(t.objectives.get(first.name), first.mode), t.trial_id)
        )

    # `tune --warm-from`: {"trials": N, "sources": [{"run", "name", "finished", "used",
    # "dropped": {reason: count}}]}; None for a run started from nothing
    warm_start: dict[str, Any] | None = None

    def best(self, k: int = 1) -> list[TrialRecord]:
        """The k searched trials with the best finite `best_value`, best first."""
        return best_of(self.trials, self.mode, k)

    @property
    def searched(self) -> list[TrialRecord]:
        """The trials the sampler chose (not the confirmation re-runs)."""
        return [t for t in self.trials if t.confirms is None]

    @property
    def confirm_pick(self) -> str:
        """The statistic `confirm:` ranks finalists by (`mean` unless the space says)."""
        confirm = self.space.get("confirm")
        pick = confirm.get("pick") if isinstance(confirm, dict) else None
        return "lcb" if pick == "lcb" else "mean"

    def counts(self) -> dict[str, int]:
        """Number of trials per state (every state present, zero when none)."""
        out = dict.fromkeys(TRIAL_STATES, 0)
        for t in self.trials:
            out[t.state] = out.get(t.state, 0) + 1
        return out

    @property
    def finished(self) -> bool:
        """All known trials are finished and the tuner has written its end-of-run file
        (best.yaml, or pareto/ of a multi-objective run), or the space's sample budget is
        used up; a train run: its one trial is finished."""
        if any(not t.finished for t in self.trials):
            return False
        layout = self.layout
        if isinstance(layout, TrainRunLayout):
            return bool(self.trials)
        if layout.best_yaml.is_file() or layout.pareto_dir.is_dir():
            return True
        budget = (self.space.get("search") or {}).get("num_samples")
        return bool(self.trials) and isinstance(budget, int) and len(self.trials) >= budget

    @property
    def layout(self) -> RunLayout:
        return TrainRunLayout(self.path) if self.kind == TRAIN else SearchRunLayout(self.path)

    def files_of(self, trial_id: str) -> EpochFiles:
        """Where a trial's per-epoch files and error are (a train run: its own folder)."""
        layout = self.layout
        return layout if isinstance(layout, TrainRunLayout) else layout.trial(trial_id)

    @property
    def updated_at(self) -> datetime | None:
        stamps = [t.updated_at for t in self.trials if t.updated_at is not None]
        return max(stamps) if stamps else None


def rung_reached(epochs: int, rungs: Sequence[int]) -> int | None:
    """Highest rung milestone <= epochs (None when no rung was reached)."""
    reached = [r for r in rungs if epochs >= r]
    return max(reached) if reached else None
