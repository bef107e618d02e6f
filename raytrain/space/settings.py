"""The run settings of a space file: search, scheduler, resources, failure, budget,
confirm.

Valid sampler and scheduler names come from `raytrain.space.catalogue`; the dataclasses
live in `raytrain.space.types`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from raytrain.config.problems import Problems
from raytrain.config.tree import suggest
from raytrain.config.types_check import Rule, above, at_least, check_fields, is_int
from raytrain.space.catalogue import SAMPLERS, SCHEDULERS
from raytrain.space.fidelity import WITHIN_EPOCH
from raytrain.space.types import (
    BudgetSettings,
    ConfirmSettings,
    FailureSettings,
    ResourceSettings,
    SchedulerSettings,
    SearchSettings,
)


def _one_of(names: Mapping[str, object], what: str) -> Rule:
    def rule(value: Any) -> str | None:
        if isinstance(value, str) and value in names:
            return None
        return f"unknown {what} {value!r}; {suggest(str(value), names, f'valid {what}s')}"

    return rule


def _concurrency(value: Any) -> str | None:
    if value == "auto" or (is_int(value) and value >= 1):
        return None
    return f"must be 'auto' or an integer >= 1, got {value!r}"


def parse_search(raw: Any, probs: Problems) -> SearchSettings:
    rules = {
        "sampler": _one_of(SAMPLERS, "sampler"),
        "num_samples": at_least(1),
        "n_startup_trials": at_least(0),
        "population_size": at_least(2),  # NSGA-II breeds pairs of parents
    }
    return SearchSettings(**check_fields(SearchSettings, raw, probs, rules))


def parse_scheduler(raw: Any, probs: Problems, default_max_t: int) -> SchedulerSettings:
    """`default_max_t`: config.trainer.max_epochs (the default of max_t in epochs)."""
    rules = {
        "type": _one_of(SCHEDULERS, "scheduler"),
        "max_t": at_least(1),
        "grace_period": at_least(1),
        "reduction_factor": above(1),
        "report_every": lambda v: None if v is None else at_least(1)(v),
    }
    fields = check_fields(SchedulerSettings, raw, probs, rules)
    given = raw if isinstance(raw, Mapping) else {}
    unit = fields.get("time_attr", "epochs")
    kind = fields.get("type", None if "type" in given else "asha")  # None: reported above
    rungs = kind is not None and SCHEDULERS[kind].rungs
    if unit in WITHIN_EPOCH:
        every = fields.get("report_every")
        if every is None:
            if given.get("report_every") is None:  # a wrong value is reported above
                probs.add(
                    ("report_every",),
                    f"required with time_attr: {unit} (report every how many {unit}, e.g. 500)",
                )
        else:
            fields.setdefault("grace_period", every)  # the first report is the first rung
        if rungs and "max_t" not in given:
            probs.add(
                ("max_t",),
                f"required with time_attr: {unit}: the most {unit} a trial trains before "
                f"ASHA stops it (raytrain cannot count an epoch's {unit} before the data "
                "loads)",
            )
        fields.setdefault("max_t", fields.get("grace_period", 1))
    else:
        if fields.get("report_every") is not None:
            probs.add(
                ("report_every",),
                "only with time_attr: steps or samples (epochs report every validated "
                "epoch: config.trainer.check_val_every_n_epoch)",
            )
        fields.setdefault("max_t", default_max_t)
    settings = SchedulerSettings(**fields)
    if settings.grace_period > settings.max_t:
        probs.add(
            ("grace_period",),
            f"grace_period ({settings.grace_period}) is greater than max_t ({settings.max_t})",
        )
    return settings


def parse_resources(raw: Any, probs: Problems, defaults: dict[str, Any]) -> ResourceSettings:
    rules = {
        "workers_per_trial": at_least(1),
        "cpus_per_worker": at_least(0),
        "gpus_per_worker": at_least(0),
        "max_concurrent_trials": _concurrency,
        "recycle_after": lambda v: None if v is None else at_least(1)(v),
    }
    fields = check_fields(
        ResourceSettings, raw, probs, rules, aliases={"workers": "workers_per_trial"}
    )
    return ResourceSettings(**{**defaults, **fields})


def parse_failure(raw: Any, probs: Problems) -> FailureSettings:
    return FailureSettings(
        **check_fields(FailureSettings, raw, probs, {"max_failures": at_least(-1)})
    )


_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)d)?\s*(?:(\d+(?:\.\d+)?)h)?\s*"
    r"(?:(\d+(?:\.\d+)?)m(?:in)?)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$"
)


def hours(value: Any) -> float | None:
    """A duration in hours: a number (hours) or text such as `8h`, `90m`, `1h30m`, `2d`,
    `45s`; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    if match is None or not any(match.groups()):
        return None
    d, h, m, s = (float(g) if g else 0.0 for g in match.groups())
    return d * 24 + h + m / 60 + s / 3600


def parse_budget(raw: Any, probs: Problems, gpus_per_trial: float) -> BudgetSettings:
    """`budget: {wall_clock: 8h, trial_hours: 200, gpu_hours: 64}` (any subset)."""
    if raw is None:
        return BudgetSettings()
    if not isinstance(raw, Mapping):
        probs.add((), f"expected a mapping of wall_clock, trial_hours, gpu_hours, got {raw!r}")
        return BudgetSettings()
    names = [f.name for f in dataclasses.fields(BudgetSettings)]
    out: dict[str, float] = {}
    for key, value in raw.items():
        if key not in names:
            probs.add((str(key),), f"unknown key; {suggest(str(key), names)}")
            continue
        if value is None:
            continue
        parsed = hours(value)
        if parsed is None:
            probs.add(
                (key,),
                f"expected hours (a number) or a duration like 8h, 90m, 1h30m, got {value!r}",
            )
        elif parsed <= 0:
            probs.add((key,), f"must be more than 0, got {value!r}")
        else:
            out[key] = parsed
    if "gpu_hours" in out and gpus_per_trial <= 0:
        probs.add(
            ("gpu_hours",),
            "the trials use no GPU (resources.gpus_per_worker is 0): use trial_hours",
        )
    return BudgetSettings(**out)


def parse_confirm(
    raw: Any, probs: Problems, *, multi_objective: bool, searched: Sequence[str]
) -> ConfirmSettings | None:
    """`confirm: {top_k: 3, seeds: 3, pick: mean|lcb}` (None when the key is absent)."""
    if raw is None:
        return None
    rules = {
        "top_k": at_least(1),
        # a std needs two values; the original run is not one of them (selection bias)
        "seeds": at_least(2),
    }  # `pick` is checked by its type (mean | lcb)
    settings = ConfirmSettings(**check_fields(ConfirmSettings, raw, probs, rules))
    if multi_objective:
        probs.add(
            (),
            "confirm re-ranks the finalists by one metric; a run with several `objectives` "
            "has a Pareto front instead (not supported together)",
        )
    if "seed" in searched:
        probs.add(
            (),
            "confirm re-runs the finalists with new values of `seed`, so `seed` cannot also "
            "be a searched parameter",
        )
    return settings
