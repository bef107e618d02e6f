"""Pareto arithmetic of a multi-objective search, in one place and free of Ray/Optuna/numpy.

A trial's result becomes a `Point`: its objective values turned into "lower is better"
(max objectives negated) and its total constraint violation (0 = feasible; Deb's
constrained domination, as Optuna's samplers use it). Feasible points are ordered by
non-dominated sorting (front 0 first) and, within a front, by crowding distance (points in
sparse regions first, NSGA-II); infeasible points come after every feasible one, the least
violating first. The multi-objective ASHA scheduler (`raytrain.tune.pareto_asha`) and the
results (Pareto rank in trials.csv, `export --pareto`, the front plot) all use these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from raytrain.space.types import Constraint, Objective


@dataclass(frozen=True)
class Point:
    values: tuple[float, ...]  # minimisation form, one per objective
    violation: float = 0.0  # sum of constraint violations; 0 = feasible, inf = unusable

    @property
    def feasible(self) -> bool:
        return self.violation == 0.0


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def point_of(
    metrics: Mapping[str, object],
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint] = (),
) -> Point:
    """The `Point` of one result; a missing or non-finite objective makes it unusable
    (violation inf: it outranks nothing)."""
    values: list[float] = []
    broken = False
    for o in objectives:
        v = _finite(metrics.get(o.name))
        broken = broken or v is None
        values.append(math.inf if v is None else (v if o.mode == "min" else -v))
    if broken:
        return Point(tuple(values), math.inf)
    violation = sum(c.violation(_finite(metrics.get(c.metric))) for c in constraints)
    return Point(tuple(values), violation)


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """`a` is no worse than `b` in every objective and better in one (minimisation)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def front_ranks(values: Sequence[Sequence[float]]) -> list[int]:
    """Non-dominated sorting: 0 for the points no other point dominates, 1 for those only
    front 0 dominates, and so on (O(n^2) per front: a search has hundreds of trials)."""
    rank = [-1] * len(values)
    left = set(range(len(values)))
    level = 0
    while left:
        front = {i for i in left if not any(dominates(values[j], values[i]) for j in left)}
        for i in front:
            rank[i] = level
        left -= front
        level += 1
    return rank


def crowding(values: Sequence[Sequence[float]]) -> list[float]:
    """NSGA-II crowding distance of the points of one front: the extremes of each
    objective get inf, the others the summed normalised gap between their neighbours."""
    n = len(values)
    dist = [0.0] * n
    if n == 0:
        return dist
    for m in range(len(values[0])):
        order = sorted(range(n), key=lambda i: values[i][m])
        low, high = values[order[0]][m], values[order[-1]][m]
        dist[order[0]] = dist[order[-1]] = math.inf
        if high == low:
            continue
        for prev, mid, nxt in zip(order, order[1:], order[2:], strict=False):
            dist[mid] += (values[nxt][m] - values[prev][m]) / (high - low)
    return dist


def standing(points: Sequence[Point]) -> list[tuple[float, ...]]:
    """A sort key per point, smaller = better: (0, front, -crowding) for feasible points,
    (1, violation) for infeasible ones. Equal keys are genuine ties."""
    feasible = [i for i, p in enumerate(points) if p.feasible]
    ranks = front_ranks([points[i].values for i in feasible])
    keys: list[tuple[float, ...]] = [(1.0, p.violation) for p in points]
    for level in set(ranks):
        members = [feasible[k] for k, r in enumerate(ranks) if r == level]
        for i, d in zip(members, crowding([points[i].values for i in members]), strict=True):
            keys[i] = (0.0, float(level), -d)
    return keys


def pareto_ranks(points: Sequence[Point]) -> list[int | None]:
    """1-based front number of each feasible point (1 = the Pareto front); None for
    infeasible ones."""
    keys = standing(points)
    return [int(k[1]) + 1 if k[0] == 0.0 else None for k in keys]


def continues(newcomer: Point, others: Sequence[Point], reduction_factor: float) -> bool:
    """Successive halving for several objectives: does `newcomer`, just recorded at a rung
    where `others` were recorded before, stay in the best 1/reduction_factor of them all?

    It continues unless ceil(n / rf) of the others (n = all points at the rung) strictly
    outrank it; ties favour the newcomer, as Ray's ASHA keeps a trial equal to its cutoff.
    So a point on the rung's front is only ever stopped when that many other front members
    stand ahead of it, never for a dominated point, and an infeasible point never outranks
    a feasible one."""
    keys = standing([newcomer, *others])
    keep = math.ceil((len(others) + 1) / reduction_factor)
    ahead = sum(1 for k in keys[1:] if k < keys[0])
    return ahead < keep


class ParetoRungs:
    """The rungs of an asynchronous multi-objective successive halving, as Ray's ASHA
    `_Bracket` keeps them: each milestone records the point of every trial that reached
    it, and a trial is judged once per milestone, when its first result at or past that
    milestone arrives, against what that milestone has recorded so far."""

    def __init__(self, milestones: Sequence[int], reduction_factor: float) -> None:
        self.reduction_factor = reduction_factor
        self.recorded: dict[int, dict[str, Point]] = {m: {} for m in sorted(milestones)}

    def on_result(self, trial_id: str, t: float, point: Point) -> bool:
        """True: the trial continues; False: stop it."""
        for milestone in sorted(self.recorded, reverse=True):
            at = self.recorded[milestone]
            if t < milestone or trial_id in at:
                continue
            others = list(at.values())
            at[trial_id] = point
            return continues(point, others, self.reduction_factor)
        return True
