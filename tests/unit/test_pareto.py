"""Pareto ranking and multi-objective ASHA on hand-made fronts (no Ray cluster)."""

from __future__ import annotations

import math
import pickle
from types import SimpleNamespace
from typing import Any

import pytest

from raytrain.pareto import (
    ParetoRungs,
    Point,
    continues,
    crowding,
    dominates,
    front_ranks,
    pareto_ranks,
    point_of,
    standing,
)
from raytrain.space.types import Constraint, Objective

OBJ = (Objective("recon", "min"), Objective("kl", "min"))


def P(*values: float, violation: float = 0.0) -> Point:
    return Point(tuple(float(v) for v in values), violation)


def test_dominance_is_strict_in_one_objective() -> None:
    assert dominates((1, 1), (1, 2)) and dominates((0, 0), (1, 1))
    assert not dominates((1, 1), (1, 1))  # equal points do not dominate each other
    assert not dominates((0, 2), (2, 0)) and not dominates((2, 0), (0, 2))


def test_front_ranks_peel_fronts() -> None:
    values = [(1, 4), (2, 2), (4, 1), (3, 3), (5, 5), (2, 2)]
    # front 0: the three trade-offs and the duplicate of (2, 2); (3, 3) behind (2, 2)
    assert front_ranks(values) == [0, 0, 0, 1, 2, 0]


def test_crowding_extremes_are_infinite_and_inner_points_measured() -> None:
    d = crowding([(0, 4), (1, 2), (4, 0), (3, 1)])
    assert d[0] == d[2] == math.inf
    # (1, 2): neighbours (0, 4) and (3, 1) -> 3/4 + 3/4; (3, 1): (1, 2) and (4, 0) -> 3/4 + 2/4
    assert d[1] == pytest.approx(1.5) and d[3] == pytest.approx(1.25)


def test_point_of_negates_max_objectives_and_sums_violations() -> None:
    objectives = (Objective("acc", "max"), Objective("size", "min"))
    constraints = (Constraint("units", ">=", 4), Constraint("time", "<=", 30))
    p = point_of({"acc": 0.9, "size": 10, "units": 3, "time": 32}, objectives, constraints)
    assert p.values == (-0.9, 10.0) and p.violation == pytest.approx(1 + 2)
    ok = point_of({"acc": 0.9, "size": 10, "units": 4, "time": 30}, objectives, constraints)
    assert ok.feasible
    # a missing or NaN objective, or a missing constraint metric: unusable / infeasible
    assert point_of({"acc": math.nan, "size": 1}, objectives).violation == math.inf
    assert point_of({"acc": 0.5, "size": 1}, objectives, constraints).violation == math.inf


def test_infeasible_points_rank_after_every_feasible_one() -> None:
    points = [P(9, 9), P(0, 0, violation=0.5), P(1, 5), P(0, 0, violation=0.1)]
    keys = standing(points)
    order = sorted(range(len(points)), key=lambda i: keys[i])
    assert order == [2, 0, 3, 1]  # feasible by front, then the least violating
    assert pareto_ranks(points) == [2, None, 1, None]


def test_constraint_values_follow_optunas_sign_convention() -> None:
    ge, le = Constraint("units", ">=", 4), Constraint("t", "<=", 30)
    assert ge.optuna_value(6) == -2 and ge.optuna_value(3) == 1 and ge.violation(6) == 0
    assert le.optuna_value(25) == -5 and le.optuna_value(31) == 1
    assert ge.optuna_value(None) == math.inf and ge.optuna_value(math.nan) == math.inf
    assert ge.key == "units>=4" and Constraint("t", "<=", 0.5).key == "t<=0.5"


# ------------------------------------------------------------------ one rung decision
def test_a_newcomer_dominated_by_enough_others_stops() -> None:
    others = [P(1, 1), P(2, 0.5), P(0.5, 2)]
    # n = 4, rf = 2: keep 2; three others dominate-or-outrank (3, 3)
    assert not continues(P(3, 3), others, 2)


def test_a_front_member_is_never_stopped_in_favour_of_a_dominated_point() -> None:
    # the newcomer is non-dominated; every other point at the rung is dominated by it
    others = [P(2, 2), P(3, 3), P(4, 4), P(5, 5), P(6, 6), P(2.5, 9)]
    assert continues(P(1, 1), others, 100)  # even when only 1 of 7 may go on
    # on a front of several it can only lose to other front members: with 2 of 8 kept,
    # the two extremes of the front stand ahead of it; with 4 kept, the dominated never do
    front = [P(0, 3), P(3, 0)]
    dominated = [P(5, 5)] * 5
    assert not continues(P(1, 1), [*front, *dominated], 4)
    assert continues(P(1, 1), [*front, *dominated], 2)


def test_ties_favour_the_newcomer_like_rays_asha() -> None:
    # two boundary points of a two-point front: equal standing, the newcomer goes on
    assert continues(P(0, 1), [P(1, 0)], 3)
    assert continues(P(2, 2), [P(2, 2)], 2)


def test_crowding_decides_within_a_front() -> None:
    others = [P(0, 10), P(10, 0), P(5, 5)]
    # (4.9, 5.1) is next to (5, 5): lower crowding than the three others -> stops
    assert not continues(P(4.9, 5.1), others, 2)
    # same front, 3 of 5 kept: the point in the empty middle goes on, the one crowding
    # (1, 9) stops
    others = [P(0, 10), P(10, 0), P(1, 9), P(9, 1)]
    assert continues(P(5, 5), others, 2)
    assert not continues(P(1.2, 8.8), others, 2)


def test_an_infeasible_newcomer_never_outranks_a_feasible_point() -> None:
    others = [P(9, 9)]  # feasible but poor
    assert not continues(P(0, 0, violation=0.1), others, 2)
    # and a feasible one beats any infeasible, however good its objectives
    assert continues(P(9, 9), [P(0, 0, violation=0.1)], 2)
    # among infeasible points, the smaller violation goes on
    assert continues(P(5, 5, violation=0.1), [P(0, 0, violation=0.2)], 2)


# ------------------------------------------------------------------ rungs, asynchronously
def test_rungs_judge_each_trial_once_per_milestone_against_what_was_recorded() -> None:
    rungs = ParetoRungs([1, 3], reduction_factor=2)
    assert rungs.on_result("a", 1, P(1, 1))  # first at the rung: nothing to compare with
    assert rungs.on_result("a", 2, P(0.9, 0.9))  # between milestones: no decision
    assert not rungs.on_result("b", 1, P(2, 2))  # dominated by a, 1 of 2 kept
    assert rungs.on_result("c", 1, P(0, 3))  # on the front with a: keeps going
    assert set(rungs.recorded[1]) == {"a", "b", "c"}
    assert rungs.on_result("a", 3, P(0.5, 0.5))
    assert rungs.recorded[3] == {"a": P(0.5, 0.5)}
    # a late trial that skipped past milestone 1 is judged at 3 only
    assert not rungs.on_result("d", 4, P(0.6, 0.6))
    assert "d" not in rungs.recorded[1]
    # recorded points are never replaced (asynchronous: earlier decisions stand)
    assert rungs.on_result("a", 3, P(9, 9))
    assert rungs.recorded[3]["a"] == P(0.5, 0.5)


def test_async_front_members_all_continue_while_dominated_ones_stop() -> None:
    """Arrivals in a fixed order: trials on the current front of the rung all go on,
    trials dominated by enough earlier ones stop."""
    rungs = ParetoRungs([2], reduction_factor=2)
    arrivals = [
        ("t0", P(5, 5), True),
        ("t1", P(1, 9), True),  # trade-off with t0
        ("t2", P(6, 6), False),  # dominated by t0, behind t1: 2 ahead, 2 of 3 kept
        ("t3", P(9, 1), True),  # a new extreme of the front
        ("t4", P(7, 8), False),
        ("t5", P(4, 4), True),  # dominates t0 and t2: only the extremes t1, t3 ahead
        ("t6", P(5, 5.5), False),  # behind the front and t0: 4 ahead, 4 of 7 kept
    ]
    for trial, point, expected in arrivals:
        assert rungs.on_result(trial, 2, point) is expected, trial


# ------------------------------------------------------------------ the Tune scheduler
ray_schedulers = pytest.importorskip("ray.tune.schedulers")


def scheduler(**kw: Any) -> Any:
    from raytrain.tune.pareto_asha import ParetoASHA

    return ParetoASHA(
        OBJ,
        (Constraint("units", ">=", 2),),
        time_attr="epoch",
        max_t=kw.get("max_t", 9),
        grace_period=1,
        reduction_factor=3,
    )


def trial(tid: str) -> Any:
    return SimpleNamespace(trial_id=tid)


def test_scheduler_stops_dominated_and_infeasible_trials_at_a_rung() -> None:
    s = scheduler()
    CONTINUE, STOP = ray_schedulers.TrialScheduler.CONTINUE, ray_schedulers.TrialScheduler.STOP
    ok = {"units": 4}
    assert s.on_trial_result(None, trial("a"), {"epoch": 1, "recon": 1, "kl": 1, **ok}) == CONTINUE
    assert s.on_trial_result(None, trial("b"), {"epoch": 1, "recon": 2, "kl": 2, **ok}) == STOP
    # better objectives, but collapsed latent code (units < 2): infeasible, stops
    bad = {"epoch": 1, "recon": 0.1, "kl": 0.1, "units": 1}
    assert s.on_trial_result(None, trial("c"), bad) == STOP
    assert s.on_trial_result(None, trial("a"), {"epoch": 2, "recon": 1, "kl": 1, **ok}) == CONTINUE
    assert s.on_trial_result(None, trial("a"), {"epoch": 9, "recon": 1, "kl": 1, **ok}) == STOP
    assert s.metric is None  # Tune must not look for one metric in the results
    assert "num_stopped=3" in s.debug_string()
    pickle.loads(pickle.dumps(s))  # Tune saves the scheduler with the experiment


def test_scheduler_records_the_final_result_like_ashas_on_trial_complete() -> None:
    s = scheduler()
    s.on_trial_complete(None, trial("a"), {"epoch": 3, "recon": 1, "kl": 1, "units": 4})
    assert set(s.rungs.recorded[3]) == {"a"}
    s.on_trial_complete(None, trial("x"), {})  # an errored trial without a result


def test_non_finite_stopper_watches_every_objective() -> None:
    from raytrain.tune.trainable import NonFiniteStopper

    stop = NonFiniteStopper("recon", "kl")
    assert not stop("t", {"recon": 1.0, "kl": 2.0})
    assert stop("t", {"recon": 1.0, "kl": math.nan}) and stop("t", {"recon": math.inf, "kl": 1.0})


def test_a_restored_scheduler_replays_the_rungs_from_the_run_directory(tmp_path: Any) -> None:
    """`tune --resume`: Tune unpickles the scheduler as it was at the start; the rungs are
    rebuilt from the run's records, so new trials are judged against the old ones."""
    from fixtures.runs import PARETO_TRIALS, make_pareto_run

    from raytrain.tune.pareto_asha import ParetoASHA

    run_dir = make_pareto_run(tmp_path)
    s = ParetoASHA(
        (Objective("val_recon", "min"), Objective("val_kl", "min")),
        (Constraint("val_active_units", ">=", 2),),
        time_attr="epoch",
        max_t=4,
        grace_period=2,
        reduction_factor=2,
        run_dir=run_dir,
    )
    assert all(not r for r in s.rungs.recorded.values())  # a new run starts empty
    restored = pickle.loads(pickle.dumps(s))
    assert set(restored.rungs.recorded[2]) == set(PARETO_TRIALS)
    reached_4 = {t for t, spec in PARETO_TRIALS.items() if spec[3] == "TERMINATED"}
    assert set(restored.rungs.recorded[4]) == reached_4
    # p1's epoch-2 values (recon 0.4 + 0.2, kl 4 + 1): what it was judged on at rung 2
    assert restored.rungs.recorded[2]["p1"].values == pytest.approx((0.6, 5.0))
    worse = {"epoch": 2, "val_recon": 2.0, "val_kl": 20.0, "val_active_units": 5}
    stop = ray_schedulers.TrialScheduler.STOP
    assert restored.on_trial_result(None, trial("new"), worse) == stop
