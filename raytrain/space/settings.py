"""The run settings of a space file: search, scheduler, resources, failure.

Valid sampler and scheduler names come from `raytrain.space.catalogue`; the dataclasses
live in `raytrain.space.types`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from raytrain.config.problems import Problems
from raytrain.config.tree import suggest
from raytrain.config.types_check import Rule, above, at_least, check_fields, is_int
from raytrain.space.catalogue import SAMPLERS, SCHEDULERS
from raytrain.space.types import (
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
    rules = {
        "type": _one_of(SCHEDULERS, "scheduler"),
        "max_t": at_least(1),
        "grace_period": at_least(1),
        "reduction_factor": above(1),
    }
    fields = check_fields(SchedulerSettings, raw, probs, rules)
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
