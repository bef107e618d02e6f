"""Warm start: the finished trials of earlier runs, as completed trials of a new study.

`raytrain tune next.yaml --warm-from runs/old` reads each earlier run directory
(`load_run`: trials.csv and the trials' metrics, so any copy of a run will do), keeps the
trials that ended normally (done or stopped early) with a finite last value, and turns each
into a point of the *new* space:

- a parameter the new space samples takes the old trial's value, or, when the old run did
  not tune it, the value the old run's config fixed;
- which new parameters a point needs follows the new space's `when` conditions
  (`active`); old values of parameters that are inactive there are left out;
- a trial is dropped when a needed parameter has no value ("missing"), a value does not fit
  the new parameter ("outside the new space": bounds, step, categories, type), or it tuned
  a parameter the new space fixes to another value ("fixed differently").

The points go into the new study as COMPLETE `FrozenTrial`s with the new space's
distributions (`study.add_trials`), before Ray's `OptunaSearch` loads the study from the
journal (its own warm start, `evaluated_rewards`, refuses a define-by-run space). The value
is the trial's metric at its last epoch, which is what `OptunaSearch` tells the study for
its own trials. TPE's and CMA-ES's `n_startup_trials` count completed trials of the study,
so warm trials shorten the random start-up. `warm_start.json` in the new run records the
sources and counts for `status` and the provenance of `best.yaml`.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raytrain.config.tree import get_path, split_path
from raytrain.errors import InputError, Problem
from raytrain.layout import SearchRunLayout, run_layout
from raytrain.results import STOPPED, TERMINATED, TrialRecord, load_run
from raytrain.space import active, materialize
from raytrain.space.conditions import can_take, same_value
from raytrain.space.optuna_space import distribution
from raytrain.space.types import FloatParam, IntParam, Param, Space

if TYPE_CHECKING:
    import optuna

MISSING, OUTSIDE, FIXED = "missing", "outside the new space", "fixed differently"
WARM_ATTR = "raytrain_warm_from"  # user attr of a warm trial in the study: its source
_ABSENT = object()


@dataclass(frozen=True)
class WarmPoint:
    """One earlier trial as a point of the new space."""

    source: str  # the earlier run directory
    trial_id: str
    params: dict[str, Any]  # exactly the new space's active parameters, typed for it
    value: float
    intermediate: dict[int, float] = field(default_factory=dict)  # epoch -> metric


@dataclass(frozen=True)
class WarmSource:
    run: str
    name: str
    finished: int  # trials that ended normally with a finite value
    used: int
    dropped: dict[str, int]  # reason -> count

    def describe(self) -> str:
        why = ", ".join(f"{n} {reason}" for reason, n in self.dropped.items() if n)
        dropped = self.finished - self.used
        return f"{self.used} of {self.finished} finished trials of {self.run}" + (
            f" ({dropped} dropped: {why})" if dropped else ""
        )


@dataclass(frozen=True)
class WarmStart:
    points: tuple[WarmPoint, ...] = ()
    sources: tuple[WarmSource, ...] = ()
    notes: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        """What `warm_start.json` holds (read back by `load_run` for status/export)."""
        return {
            "trials": len(self.points),
            "sources": [
                {
                    "run": s.run,
                    "name": s.name,
                    "finished": s.finished,
                    "used": s.used,
                    "dropped": {k: v for k, v in s.dropped.items() if v},
                }
                for s in self.sources
            ],
        }


def fits(param: Param, value: Any) -> bool:
    """Whether `value` is a value `param` can take (bounds, step, categories, type)."""
    if isinstance(param, FloatParam) and param.step is None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return math.isfinite(value) and param.low <= value <= param.high
    return can_take(param, value)


def typed(param: Param, value: Any) -> Any:
    """`value` as the new parameter holds it (call after `fits`)."""
    if isinstance(param, IntParam):
        return int(value)
    if isinstance(param, FloatParam):
        return float(value)
    return next(v for v in param.values if same_value(v, value))


def to_point(
    space: Space,
    params: dict[str, Any],
    old_fixed: dict[str, Any],
    new_fixed: dict[str, Any],
) -> tuple[dict[str, Any] | None, str | None]:
    """An old trial's `params` as a point of `space`, or (None, reason it is dropped).

    `old_fixed`/`new_fixed`: the base configs (constants merged) of the old and new run.
    """
    new_paths = {p.path for p in space.parameters}
    # tuned before, fixed now: only a trial that used the fixed value is a sample of the
    # new objective
    for path, value in params.items():
        if path not in new_paths:
            fixed = get_path(new_fixed, split_path(path), _ABSENT)
            if fixed is _ABSENT or not same_value(fixed, value):
                return None, FIXED
    known = dict(params)
    for path in new_paths - set(params):
        fixed = get_path(old_fixed, split_path(path), _ABSENT)
        if fixed is not _ABSENT:
            known[path] = fixed  # the old run did not tune it: the value its config had
    point: dict[str, Any] = {}
    for p in active(space.parameters, known):
        if p.path not in known:
            return None, MISSING
        if not fits(p, known[p.path]):
            return None, OUTSIDE
        point[p.path] = typed(p, known[p.path])
    return point, None


def _usable(record: TrialRecord) -> bool:
    return (
        record.state in (TERMINATED, STOPPED)
        and record.value is not None
        and math.isfinite(record.value)
    )


def _intermediate(record: TrialRecord, metric: str, key: str = "epoch") -> dict[int, float]:
    """The trial's metric per report, keyed by its progress (`key`: the earlier run's
    unit, raytrain.space.fidelity)."""
    out: dict[int, float] = {}
    for row in record.metrics():
        v = row.get(metric)
        if v is not None and math.isfinite(v) and key in row:
            out[int(row[key])] = float(v)
    return out


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def config_changes(
    old_fixed: dict[str, Any], new_fixed: dict[str, Any], skip: set[str]
) -> list[str]:
    """Fixed config keys that differ between the runs (parameters left out)."""
    a, b = _flat(old_fixed), _flat(new_fixed)
    keys = sorted(k for k in set(a) | set(b) if k not in skip and a.get(k) != b.get(k))
    return [f"{k}: {a.get(k, '(unset)')} -> {b.get(k, '(unset)')}" for k in keys]


def load_warm_start(space: Space, runs: list[Path]) -> WarmStart:
    """The warm points of `runs` for `space` (InputError, exit 2, for a bad source)."""
    from raytrain.space import load_space

    new_fixed = materialize(space, {})
    points: list[WarmPoint] = []
    sources: list[WarmSource] = []
    notes: list[str] = []
    seen: set[Path] = set()
    for given in runs:
        run_dir = Path(given).resolve()
        if run_dir in seen:
            raise InputError(Problem("--warm-from", f"{given} is given twice"))
        seen.add(run_dir)
        layout = run_layout(run_dir)
        if not isinstance(layout, SearchRunLayout) or not layout.space.is_file():
            raise InputError(
                Problem("--warm-from", f"{given} is not a search run directory (no space.yaml)")
            )
        run = load_run(run_dir)
        if space.multi_objective or run.multi_objective:
            raise InputError(
                Problem(
                    "--warm-from",
                    f"{given}: warm starts take single-objective runs into a "
                    "single-objective space (a Pareto study's trials carry one value each "
                    "objective, which this does not map yet)",
                )
            )
        if (run.metric, run.mode) != (space.metric, space.mode):
            raise InputError(
                Problem(
                    "--warm-from",
                    f"{given} optimised {run.metric} ({run.mode}), this space "
                    f"{space.metric} ({space.mode}): its values would mislead the sampler",
                )
            )
        old_space = load_space(layout.space)
        old_fixed = materialize(old_space, {})
        skip = {p.path for p in (*old_space.parameters, *space.parameters)}
        changes = config_changes(old_fixed, new_fixed, skip)
        if changes:
            more = f"; ... ({len(changes)} keys)" if len(changes) > 5 else ""
            shown = "; ".join(changes[:5]) + more
            notes.append(f"{given} was trained with other fixed settings: {shown}")
        usable = [r for r in run.searched if _usable(r)]
        dropped: Counter[str] = Counter()
        for record in usable:
            point, reason = to_point(space, record.params, old_fixed, new_fixed)
            if point is None:
                dropped[reason or OUTSIDE] += 1
                continue
            assert record.value is not None
            points.append(
                WarmPoint(
                    source=str(run_dir),
                    trial_id=record.trial_id,
                    params=point,
                    value=float(record.value),
                    intermediate=_intermediate(record, space.metric, run.time_key),
                )
            )
        sources.append(
            WarmSource(
                run=str(run_dir),
                name=run.name,
                finished=len(usable),
                used=len(usable) - sum(dropped.values()),
                dropped={r: dropped[r] for r in (OUTSIDE, MISSING, FIXED)},
            )
        )
    return WarmStart(points=tuple(points), sources=tuple(sources), notes=tuple(notes))


# ------------------------------------------------------------------ the study (Optuna)
def frozen_trials(space: Space, warm: WarmStart) -> list[optuna.trial.FrozenTrial]:
    """The warm points as completed trials with the new space's distributions."""
    import optuna

    by_path = {p.path: p for p in space.parameters}
    return [
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.COMPLETE,
            value=point.value,
            params=point.params,
            distributions={path: distribution(by_path[path]) for path in point.params},
            intermediate_values=point.intermediate or None,
            user_attrs={WARM_ATTR: point.source, "raytrain_trial_id": point.trial_id},
        )
        for point in warm.points
    ]


def add_warm_trials(study: optuna.study.Study, space: Space, warm: WarmStart | None) -> int:
    """Add the warm trials to `study` once (a study that has them already is left alone:
    a run restarted before Tune saved its state); returns how many the study holds."""
    present = [t for t in study.get_trials(deepcopy=False) if WARM_ATTR in t.user_attrs]
    if present or warm is None or not warm.points:
        return len(present)
    study.add_trials(frozen_trials(space, warm))
    return len(warm.points)


def write_record(run_dir: Path, warm: WarmStart) -> None:
    """`<run>/warm_start.json` (read back by `load_run`)."""
    path = SearchRunLayout(run_dir).warm_json
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(warm.record(), indent=2) + "\n")
