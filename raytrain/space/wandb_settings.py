"""The run-level settings of a W&B sweep: metric/goal, method/run_cap, early_terminate.

Part of `raytrain.space.wandb`; each function reads one W&B section and returns the
canonical value, reporting what has no raytrain counterpart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from raytrain.config.problems import Problems
from raytrain.config.tree import suggest
from raytrain.config.types_check import is_int, is_number
from raytrain.space.wandb_params import grid_size

METHODS = {"random": "random", "grid": "grid", "bayes": "tpe"}
GOALS = {"minimize": "min", "maximize": "max"}


def metric_and_mode(metric: Any, rt: Mapping[str, Any], probs: Problems) -> tuple[Any, Any]:
    """`metric: {name, goal}` -> (metric, mode). W&B's default goal is minimize."""
    name, mode = rt.get("metric"), rt.get("mode")
    if metric is None:
        if name is None:
            probs.add(
                ("metric",),
                "raytrain ranks trials by a metric: add `metric: {name: val_loss, goal: minimize}`",
            )
        return name, mode or "min"
    if not isinstance(metric, Mapping):
        probs.add(("metric",), f"expected {{name: ..., goal: minimize|maximize}}, got {metric!r}")
        return name, mode
    for key in metric:
        if key == "target":
            probs.add(
                ("metric", "target"),
                "stopping the whole search at a target value has no "
                "raytrain counterpart; remove `target` (or set search.num_samples)",
            )
        elif key not in ("name", "goal"):
            probs.add(("metric", key), "unknown key; valid keys: name, goal")
    if not isinstance(metric.get("name"), str) or not metric["name"]:
        probs.add(("metric", "name"), "expected the name of a logged metric")
    goal = metric.get("goal", "minimize")
    if goal not in GOALS:
        probs.add(("metric", "goal"), f"expected minimize or maximize, got {goal!r}")
    return name or metric.get("name"), mode or GOALS.get(goal, "min")


def search_settings(
    raw: Mapping[str, Any],
    rt: Mapping[str, Any],
    method: Any,
    params: Mapping[str, Mapping[str, Any]],
    probs: Problems,
) -> dict[str, Any]:
    """method -> sampler; `run_cap` (or, for a grid, its size) -> num_samples."""
    search: dict[str, Any] = {"sampler": METHODS.get(method, "tpe")}
    run_cap = raw.get("run_cap")
    if run_cap is not None:
        if not is_int(run_cap) or run_cap < 1:
            probs.add(("run_cap",), f"expected an integer >= 1, got {run_cap!r}")
        else:
            search["num_samples"] = run_cap
    elif method == "grid" and params:
        sizes = [grid_size(p) or 1 for p in params.values()]
        search["num_samples"] = math.prod(sizes)
    if "num_samples" in rt:
        search["num_samples"] = rt["num_samples"]
    return {**search, **rt.get("search", {})}


def scheduler_settings(et: Any, probs: Problems, notes: list[str]) -> dict[str, Any]:
    """`early_terminate: {type: hyperband, ...}` -> ASHA; none -> FIFO (all trials finish)."""
    if et is None:
        return {"type": "fifo"}
    if not isinstance(et, Mapping):
        probs.add((), f"expected a mapping such as {{type: hyperband, min_iter: 1}}, got {et!r}")
        return {"type": "fifo"}
    valid = ("type", "min_iter", "max_iter", "s", "eta", "strict")
    for key in et:
        if key not in valid:
            probs.add((key,), "unknown key; " + suggest(str(key), valid, "valid keys"))
    if et.get("type") != "hyperband":
        probs.add(
            ("type",), f"only hyperband early termination exists in W&B, got {et.get('type')!r}"
        )
    if et.get("strict"):
        probs.add(("strict",), "strict hyperband pruning has no ASHA counterpart; remove it")
    eta = et.get("eta", 3)
    if not is_number(eta) or eta <= 1:
        probs.add(("eta",), f"expected a number > 1, got {eta!r}")
        eta = 3
    ints = {k: et[k] for k in ("min_iter", "max_iter", "s") if k in et}
    for key, value in ints.items():
        if not is_int(value) or value < 1:
            probs.add((key,), f"expected an integer >= 1, got {value!r}")
            return {"type": "asha"}
    out: dict[str, Any] = {"type": "asha", "reduction_factor": eta}
    if "max_iter" in ints:
        out["max_t"] = ints["max_iter"]
    if "min_iter" in ints:
        out["grace_period"] = ints["min_iter"]
        if "s" in ints:
            notes.append(
                "early_terminate.s: ASHA adds rungs up to scheduler.max_t "
                "(trainer.max_epochs by default) instead of a fixed bracket count"
            )
    elif "max_iter" in ints:
        if "s" not in ints:
            probs.add(("s",), "hyperband with max_iter needs `s` (the number of brackets)")
        else:
            out["grace_period"] = max(1, round(ints["max_iter"] / eta ** ints["s"]))
    else:
        probs.add((), "hyperband needs `min_iter` (or `max_iter` with `s`)")
    notes.append(
        "early_terminate hyperband -> ASHA; one W&B iteration = one epoch "
        "(raytrain reports once per epoch)"
    )
    return out
