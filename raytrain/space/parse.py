"""A loaded space document (plain data + line map) -> a validated `Space`.

Pure: no file access (see `raytrain.space.loading`). Every problem found anywhere in the
document is collected and raised together as one `InputError`.
"""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from raytrain.config.parse import check_train_config, train_config_to_dict
from raytrain.config.problems import Problems
from raytrain.config.schema import TrainConfig
from raytrain.config.tree import set_path, split_path, suggest
from raytrain.config.yaml_io import LineMap
from raytrain.errors import Problem
from raytrain.space.catalogue import SAMPLERS
from raytrain.space.crosscheck import check_against_config
from raytrain.space.param_section import parse_parameters
from raytrain.space.settings import (
    parse_budget,
    parse_confirm,
    parse_failure,
    parse_resources,
    parse_scheduler,
    parse_search,
)
from raytrain.space.types import Comparator, Constraint, FloatParam, Mode, Objective, Param, Space

TOP_KEYS = (
    "name",
    "base",
    "config",
    "metric",
    "mode",
    "objectives",
    "constraints",
    "parameters",
    "search",
    "scheduler",
    "resources",
    "failure",
    "budget",
    "confirm",
)
MODES = ("min", "max")
_NAMED = ("model", "data", "optimizer", "lr_scheduler")
_NAME = re.compile(r"^[A-Za-z0-9][\w.\-]*$")


def parse_space(
    data: Any,
    lines: LineMap,
    *,
    default_name: str,
    source: Path | None = None,
    problems: Sequence[Problem] = (),
) -> Space:
    """Validate a space document and build the `Space`; raise InputError on any problem.

    `problems` found earlier (YAML syntax, overrides, base file) are raised together with
    the schema's, so the user sees everything wrong at once.
    """
    probs = Problems(lines, items=list(problems))
    if not isinstance(data, Mapping):
        probs.add((), f"a space file must be a mapping of keys ({', '.join(TOP_KEYS)})")
        probs.raise_if_any()
    for key in data:
        if key not in TOP_KEYS:
            probs.add((key,), f"unknown key; {suggest(str(key), TOP_KEYS)}")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not _NAME.match(name):
        probs.add(
            ("name",), f"must be a name usable as a folder (letters, digits, . _ -), got {name!r}"
        )
    objectives = _objectives(data, probs)
    metric, mode = objectives[0].name, objectives[0].mode
    constraints = _constraints(data.get("constraints"), probs, multi=len(objectives) > 1)
    if "config" not in data and "base" not in data:
        probs.add(("config",), "missing key: the base train config (or `base: file.yaml`)")
    params, constants = parse_parameters(data.get("parameters"), probs.under("parameters"))
    config = _config(data.get("config"), metric, mode, params, constants, probs)

    search = parse_search(data.get("search"), probs.under("search"))
    max_epochs = config["trainer"]["max_epochs"]
    scheduler = parse_scheduler(data.get("scheduler"), probs.under("scheduler"), max_epochs)
    if scheduler.within_epoch and config["trainer"].get("check_val_every_n_epoch") != 1:
        probs.add(
            ("config", "trainer", "check_val_every_n_epoch"),
            f"not with scheduler.time_attr: {scheduler.time_attr} (trials validate every "
            "scheduler.report_every of them instead)",
        )
    for key, use in (
        ("report_every", "scheduler.time_attr and scheduler.report_every"),
        ("report_unit", "scheduler.time_attr and scheduler.report_every"),
        ("max_t", "scheduler.max_t"),
    ):
        where = f"trainer.{key}"
        given = config["trainer"].get(key) not in (None, "steps")
        if given or where in params:
            probs.add(
                ("config", "trainer", key) if given else ("parameters", where),
                f"set by the scheduler in a space: use {use}",
            )
    res = config["resources"]
    resources = parse_resources(
        data.get("resources"),
        probs.under("resources"),
        {
            "workers_per_trial": res["workers"],
            "cpus_per_worker": res["cpus_per_worker"],
            "gpus_per_worker": res["gpus_per_worker"],
        },
    )
    # the space's resources are what every trial (and the exported config) runs with
    config["resources"] = {
        "workers": resources.workers_per_trial,
        "cpus_per_worker": resources.cpus_per_worker,
        "gpus_per_worker": resources.gpus_per_worker,
    }
    failure = parse_failure(data.get("failure"), probs.under("failure"))
    gpus_per_trial = resources.workers_per_trial * resources.gpus_per_worker
    budget = parse_budget(data.get("budget"), probs.under("budget"), gpus_per_trial)
    confirm = parse_confirm(
        data.get("confirm"),
        probs.under("confirm"),
        multi_objective=len(objectives) > 1,
        searched=list(params),
    )
    if SAMPLERS[search.sampler].finite_only:
        _check_finite(search.sampler, params, probs.under("parameters"))
    if len(objectives) > 1 and not SAMPLERS[search.sampler].multi_objective:
        able = ", ".join(n for n, s in SAMPLERS.items() if s.multi_objective)
        probs.add(
            ("search", "sampler"),
            f"the {search.sampler} sampler optimises one objective; with several "
            f"`objectives` use one of: {able}",
        )
    probs.raise_if_any()
    return Space(
        name=str(name),
        config=config,
        metric=metric,
        mode=mode,
        parameters=tuple(params.values()),
        constants=constants,
        search=search,
        scheduler=scheduler,
        resources=resources,
        failure=failure,
        budget=budget,
        confirm=confirm,
        source=source,
        objectives=objectives,
        constraints=constraints,
    )


def _config(
    raw: Any,
    metric: str,
    mode: Mode,
    params: Mapping[str, Param],
    constants: Mapping[str, Any],
    probs: Problems,
) -> dict[str, Any]:
    """The complete base train config (constants merged), checked with every parameter."""
    raw = _with_defaults(raw or {}, metric, mode) if isinstance(raw or {}, Mapping) else raw
    check_train_config(raw, probs.under("config"))
    if not isinstance(raw, Mapping):
        return train_config_to_dict(TrainConfig())
    check_against_config(raw, constants, params, probs.under("parameters"))
    merged = copy.deepcopy(dict(raw))
    for path, value in constants.items():
        with contextlib.suppress(TypeError):  # reported by check_against_config
            set_path(merged, split_path(path), copy.deepcopy(value))
    return train_config_to_dict(check_train_config(merged, Problems()))  # reported above


def _check_finite(sampler: str, params: Mapping[str, Param], probs: Problems) -> None:
    for p in params.values():
        if isinstance(p, FloatParam) and p.step is None:
            probs.add(
                (p.path,),
                f"the {sampler} sampler needs a finite set of values: give this float a "
                "`step`, or use type: categorical / int",
            )


def _objectives(data: Mapping[str, Any], probs: Problems) -> tuple[Objective, ...]:
    """`objectives: {name: min|max, ...}` (2 or more), or the single `metric:`/`mode:`."""
    if "objectives" not in data:
        metric, mode = _objective(data, probs)
        return (Objective(metric, mode),)
    for key in ("metric", "mode"):
        if key in data:
            probs.add(
                (key,),
                "use either `objectives:` (several metrics) or `metric:`/`mode:` (one), not both",
            )
    raw = data["objectives"]
    if not isinstance(raw, Mapping) or len(raw) < 2:
        probs.add(
            ("objectives",),
            "must map 2 or more metric names to min or max (e.g. {val_recon: min, "
            f"val_kl: min}}); for one metric use `metric:` and `mode:`; got {raw!r}",
        )
        return (Objective("", "min"),)
    out = []
    for name, mode in raw.items():
        if not isinstance(name, str) or not name:
            probs.add(("objectives", str(name)), "must be a metric name (a string)")
        if mode not in MODES:
            probs.add(
                ("objectives", str(name)),
                f"must be min or max, got {mode!r}; {suggest(str(mode), MODES, 'valid modes')}",
            )
        out.append(Objective(str(name), mode if mode in MODES else "min"))
    return tuple(out)


_COMPARATORS: tuple[Comparator, ...] = (">=", "<=")


def _constraints(raw: Any, probs: Problems, *, multi: bool) -> tuple[Constraint, ...]:
    """`constraints: [{metric: m, ">=": x} | {metric: m, "<=": x}, ...]`."""
    if raw is None:
        return ()
    if not multi:
        probs.add(
            ("constraints",),
            "constraints apply to a multi-objective search: name 2 or more `objectives:` "
            "instead of `metric:`/`mode:`",
        )
        return ()
    if not isinstance(raw, list):
        probs.add(
            ("constraints",),
            f'must be a list of {{metric: name, ">=" or "<=": number}}, got {raw!r}',
        )
        return ()
    out: list[Constraint] = []
    for i, item in enumerate(raw):
        at = ("constraints", str(i))
        if not isinstance(item, Mapping):
            probs.add(at, f'must be a mapping {{metric: name, ">=" or "<=": number}}, got {item!r}')
            continue
        for key in item:
            if key != "metric" and key not in _COMPARATORS:
                probs.add(
                    (*at, str(key)), f"unknown key; {suggest(str(key), ('metric', *_COMPARATORS))}"
                )
        metric = item.get("metric")
        if not isinstance(metric, str) or not metric:
            probs.add(
                (*at, "metric") if "metric" in item else at,
                f"needs `metric:`, the logged metric to bound, got {metric!r}",
            )
        ops = [k for k in _COMPARATORS if k in item]
        if len(ops) != 1:
            probs.add(
                at,
                'needs exactly one comparator with its threshold: ">=": number or "<=": number'
                + (" (got both)" if len(ops) > 1 else ""),
            )
            continue
        op = ops[0]
        threshold = item[op]
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or threshold != threshold
        ):
            probs.add((*at, op), f"the threshold must be a number, got {threshold!r}")
            continue
        if isinstance(metric, str) and metric:
            c = Constraint(metric, op, float(threshold))
            if c in out:
                probs.add(at, f"duplicate constraint {metric} {op} {threshold}")
            out.append(c)
    return tuple(dict.fromkeys(out))


def _objective(data: Mapping[str, Any], probs: Problems) -> tuple[str, Mode]:
    metric = data.get("metric")
    mode = data.get("mode")
    if "metric" not in data:
        probs.add(("metric",), "missing key: the metric to optimise (e.g. val_loss)")
    elif not isinstance(metric, str) or not metric:
        probs.add(("metric",), f"must be a metric name (a string), got {metric!r}")
    if "mode" not in data:
        probs.add(("mode",), "missing key: min or max")
    elif mode not in MODES:
        probs.add(
            ("mode",),
            f"must be min or max, got {mode!r}; {suggest(str(mode), MODES, 'valid modes')}",
        )
    return (metric if isinstance(metric, str) else "", mode if mode in MODES else "min")


def _with_defaults(config: Mapping[str, Any], metric: str, mode: str) -> dict[str, Any]:
    """Sections left out take their defaults, so `model.hidden` has a model to go into.

    The space's metric/mode decide "best" unless the config names its own.
    """
    out = dict(config)
    for section, default in train_config_to_dict(TrainConfig()).items():
        if section in _NAMED and section not in out:
            out[section] = default
    ckpt = out.get("checkpoint")
    if ckpt is None or isinstance(ckpt, Mapping):
        ckpt = dict(ckpt or {})
        if metric:
            ckpt.setdefault("metric", metric)
        ckpt.setdefault("mode", mode)
        out["checkpoint"] = ckpt
    return out
