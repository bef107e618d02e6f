"""`raytrain analyze RUN --next-space next.yaml`: the run's space, narrowed by its results.

Three rules, each change commented in the written file (nothing else changes):

- **ranges**: a numeric parameter's range shrinks to what the top trials used, with a
  margin of a tenth of the old range on each side (log-aware, snapped to `step`, never
  beyond the old bounds). A bound the top trials reach is kept, with a note that widening
  may pay off (see `analyze`'s advice);
- **frozen**: a parameter of ~zero importance (PED-ANOVA below `LOW_IMPORTANCE`, with at
  least `MIN_TRIALS_FOR_IMPORTANCE_ADVICE` trials) becomes a constant at the best trial's
  value, unless it is conditional or other parameters' `when` name it;
- **dropped categories**: a category tried at least 3 times that never reached the top
  quarter is removed; a `when` that named it loses it, and a parameter whose condition can
  then never hold is removed (it could never be sampled).

The top trials are the best quarter (at least 3) of those with a finite value, as in the
advice rules. Pure: a `Run` + its parameters + importance -> text; the CLI writes it and
loads it back with the space parser, so the file is known to be valid.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import yaml

from raytrain.errors import InputError, Problem
from raytrain.results._records import Run, TrialRecord, is_finite
from raytrain.results.advice import EDGE, LOW_IMPORTANCE, MIN_TRIALS_FOR_IMPORTANCE_ADVICE
from raytrain.results.format import fmt_param
from raytrain.results.importance import Importance
from raytrain.results.specs import position
from raytrain.space.conditions import same_value
from raytrain.space.types import CategoricalParam, FloatParam, IntParam, Param

MIN_SCORED = 10  # fewer finished trials say too little to narrow anything
MARGIN = 0.1  # of the old range, on each side of what the top trials used
MIN_TRIES = 3  # a category needs this many trials before it is judged


@dataclass
class NextSpace:
    text: str  # the YAML file, with its comments
    changes: list[str] = field(default_factory=list)  # one line per change


def top_trials(run: Run) -> list[TrialRecord]:
    scored = [t for t in run.searched if is_finite(t.best_value)]
    return run.best(max(3, len(scored) // 4))


# ------------------------------------------------------------------ ranges
def _scale(p: FloatParam | IntParam, v: float) -> float:
    return math.log(v) if p.log else v


def _unscale(p: FloatParam | IntParam, x: float) -> float:
    return math.exp(x) if p.log else x


def _round_out(v: float, down: bool) -> float:
    """3 significant digits, rounded outward (so the range still holds the top values)."""
    if v == 0 or not math.isfinite(v):
        return v
    digits = 2 - math.floor(math.log10(abs(v)))
    factor = 10.0**digits
    return (math.floor(v * factor) if down else math.ceil(v * factor)) / factor


def narrowed_range(p: FloatParam | IntParam, values: list[float]) -> tuple[Any, Any]:
    """[low, high] around `values` (the top trials' values of `p`), within p's range."""
    lo_x, hi_x = _scale(p, float(p.low)), _scale(p, float(p.high))
    margin = MARGIN * (hi_x - lo_x)
    low = _unscale(p, max(lo_x, _scale(p, min(values)) - margin))
    high = _unscale(p, min(hi_x, _scale(p, max(values)) + margin))
    step = p.step
    if step is not None:  # snap outward onto the parameter's grid
        k_low = math.floor((low - p.low) / step + 1e-9)
        k_high = math.ceil((high - p.low) / step - 1e-9)
        low, high = p.low + k_low * step, p.low + k_high * step
    if isinstance(p, IntParam):
        return max(p.low, math.floor(low + 1e-9)), min(p.high, math.ceil(high - 1e-9))
    if step is None:
        low, high = _round_out(low, down=True), _round_out(high, down=False)
    else:
        low, high = round(low, 12), round(high, 12)
    return max(float(p.low), low), min(float(p.high), high)


# ------------------------------------------------------------------ the rules
@dataclass
class _Plan:
    specs: dict[str, Any]  # path -> the spec to write (dict, or a constant value)
    comments: dict[str, str] = field(default_factory=dict)
    removed: dict[str, str] = field(default_factory=dict)  # path -> why
    changes: list[str] = field(default_factory=list)

    def note(self, path: str, comment: str) -> None:
        old = self.comments.get(path)
        self.comments[path] = f"{old}; {comment}" if old else comment
        self.changes.append(f"{path}: {comment}")


def _freeze(plan: _Plan, params: dict[str, Param], imp: Importance, best: TrialRecord) -> None:
    if imp.trials_used < MIN_TRIALS_FOR_IMPORTANCE_ADVICE or not imp.values:
        return
    named = {dep for p in params.values() for dep in p.when}
    for path, share in imp.values.items():
        p = params.get(path)
        if p is None or share >= LOW_IMPORTANCE or p.when or path in named:
            continue
        if path not in best.params:
            continue
        value = best.params[path]
        plan.specs[path] = {"type": "constant", "value": value}
        plan.note(
            path,
            f"frozen at {fmt_param(value)} (the best trial's value): importance {share:.3f} "
            f"< {LOW_IMPORTANCE}",
        )


def _narrow(plan: _Plan, params: dict[str, Param], top: list[TrialRecord]) -> None:
    for path, p in params.items():
        if not isinstance(p, (FloatParam, IntParam)) or path in plan.comments:
            continue
        values = [float(v) for t in top if isinstance(v := t.params.get(path), (int, float))]
        if len(values) < 2:
            continue  # a conditional parameter few top trials used: nothing to go on
        low, high = narrowed_range(p, values)
        if (low, high) == (p.low, p.high) or low > high:
            continue
        spec = plan.specs[path]
        spec["low"], spec["high"] = low, high
        comment = (
            f"narrowed from [{fmt_param(p.low)}, {fmt_param(p.high)}]: the top {len(top)} "
            f"trials used [{fmt_param(min(values))}, {fmt_param(max(values))}]"
        )
        reached = [
            end
            for end, pos in (("low", position(p, min(values))), ("high", position(p, max(values))))
            if pos is not None and (pos <= EDGE if end == "low" else pos >= 1 - EDGE)
        ]
        if reached:
            comment += f"; they reach the {' and '.join(reached)} end: widening may pay off"
        plan.note(path, comment)


def _drop_categories(
    plan: _Plan, params: dict[str, Param], run: Run, top: list[TrialRecord]
) -> None:
    scored = [t for t in run.searched if is_finite(t.best_value)]
    top_ids = {t.trial_id for t in top}
    for path, p in params.items():
        if not isinstance(p, CategoricalParam) or path in plan.comments:
            continue
        dropped = []
        for value in p.values:
            tried = [t for t in scored if path in t.params and same_value(t.params[path], value)]
            if len(tried) >= MIN_TRIES and not any(t.trial_id in top_ids for t in tried):
                dropped.append((value, len(tried)))
        if not dropped or len(dropped) == len(p.values):
            continue
        gone = [v for v, _ in dropped]
        kept = [v for v in p.values if not any(same_value(v, g) for g in gone)]
        plan.specs[path]["values"] = kept
        why = ", ".join(f"{fmt_param(v)} ({n} trials)" for v, n in dropped)
        plan.note(path, f"dropped {why}: never in the top {len(top)}")
        for other in params.values():
            if path in other.when:
                _prune_condition(plan, params, other.path, path, gone)


def _prune_condition(
    plan: _Plan, params: dict[str, Param], path: str, dep: str, gone: list[Any]
) -> None:
    """`path`'s `when` on `dep` loses the dropped values; with none left it is removed."""
    spec = plan.specs.get(path)
    if path in plan.removed or not isinstance(spec, dict):
        return
    when = spec.get("when") or {}
    listed = when.get(dep)
    values = listed if isinstance(listed, list) else [listed]
    left = [v for v in values if not any(same_value(v, g) for g in gone)]
    if not left:
        shown = ", ".join(fmt_param(v) for v in gone)
        _remove(plan, params, path, f"it existed only when {dep} = {shown}, now dropped")
    elif len(left) != len(values):
        when[dep] = left
        plan.note(path, f"its condition on {dep} lost the dropped values")


def _remove(plan: _Plan, params: dict[str, Param], path: str, why: str) -> None:
    """Remove `path`, and every parameter whose `when` names it (it can no longer hold)."""
    if path in plan.removed:
        return
    plan.removed[path] = why
    plan.changes.append(f"{path}: removed: {why}")
    for other in params.values():
        if path in other.when:
            _remove(plan, params, other.path, f"it depended on {path}, which was removed")


# ------------------------------------------------------------------ the file
def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9, sort_keys=False).strip()
    return text.removesuffix("\n...").strip()


def next_space(run: Run, params: dict[str, Param], importance: Importance) -> NextSpace:
    """The narrowed space of `run` (InputError when it has too few finished trials)."""
    if run.multi_objective:
        raise InputError(
            Problem(
                "--next-space",
                "narrowing needs one metric to rank trials by; a multi-objective run has "
                f"{len(run.objectives)} (no top quarter to narrow to without a choice)",
                file=str(run.path),
            )
        )
    scored = [t for t in run.searched if is_finite(t.best_value)]
    if len(scored) < MIN_SCORED:
        raise InputError(
            Problem(
                "--next-space",
                f"{len(scored)} trials with a finite {run.metric}: at least {MIN_SCORED} are "
                "needed to narrow the space",
                file=str(run.path),
            )
        )
    space = copy.deepcopy(run.space)
    raw = space.get("parameters") or {}
    plan = _Plan(specs={path: copy.deepcopy(spec) for path, spec in raw.items()})
    top = top_trials(run)
    _freeze(plan, params, importance, top[0])
    _narrow(plan, params, top)
    _drop_categories(plan, params, run, top)

    old_name = str(space.get("name") or run.path.name)
    source = run.path.resolve()
    lines = [
        f"# Narrowed from run {old_name} ({source}) by `raytrain analyze --next-space`:",
        f"# {len(scored)} trials with a finite {run.metric}, top {len(top)} by best "
        f"{run.metric} ({run.mode}).",
        "# Every change is commented. Start it with the old trials in its study:",
        f"#   raytrain tune THIS_FILE --warm-from {source}",
    ]
    if not plan.changes:
        lines.append("# (the results gave no reason to change any parameter)")
    body = {k: v for k, v in space.items() if k not in ("name", "parameters")}
    lines.append(f"name: {_flow(old_name + '-next')}  # was {old_name}: a new run directory")
    lines.append("parameters:")
    for path, spec in plan.specs.items():
        if path in plan.removed:
            lines.append(f"  # {path}: {_flow(spec)}  # removed: {plan.removed[path]}")
            continue
        comment = f"  # {plan.comments[path]}" if path in plan.comments else ""
        lines.append(f"  {path}: {_flow(spec)}{comment}")
    lines.append(yaml.safe_dump(body, sort_keys=False).rstrip())
    return NextSpace(text="\n".join(lines) + "\n", changes=plan.changes)
