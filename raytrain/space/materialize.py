"""A sampled point -> the complete train config a trial runs (and `best.yaml` exports)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from raytrain.config.parse import parse_train_config
from raytrain.config.schema import ResourcesConfig, TrainConfig
from raytrain.config.tree import set_path, split_path
from raytrain.space.catalogue import SCHEDULERS
from raytrain.space.confirm import split_confirm
from raytrain.space.types import Space


def materialize(space: Space, params: Mapping[str, Any]) -> dict[str, Any]:
    """`space.config` with the constants and the sampled `{dotted path: value}` merged in.

    Raises ValueError for a key that is not a parameter of the space (a bug upstream,
    e.g. a point from another space), so a typo can never silently train the defaults.
    A confirmation trial's point (`raytrain.space.confirm`) also sets the config's seed.
    """
    params, tag = split_confirm(params)
    known = {p.path for p in space.parameters} | set(space.constants)
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"not parameters of space {space.name!r}: {', '.join(unknown)}")
    config = copy.deepcopy(space.config)
    for path, value in {**space.constants, **params}.items():
        set_path(config, split_path(path), copy.deepcopy(value))
    if tag is not None:
        config["seed"] = tag.seed
    return config


def trial_config(space: Space, params: Mapping[str, Any]) -> TrainConfig:
    """The typed train config of one trial (validated like any config)."""
    source = str(space.source) if space.source else None
    cfg = parse_train_config(materialize(space, params), file=source)
    return dataclasses.replace(cfg, secrets=space.secrets)


def trial_train_config(space: Space, params: Mapping[str, Any]) -> TrainConfig:
    """The complete train config of one trial: base config + sampled values + the
    space's per-trial resources and report cadence (so an exported config reproduces the
    same layout and reports at the same steps). Inside epochs under a rung scheduler, also
    its budget: `trainer.max_t` = `scheduler.max_t`, where the scheduler ends every trial
    that gets that far, so that a confirmation re-run and `raytrain train best.yaml` end
    there too instead of training on to max_epochs."""
    cfg = trial_config(space, params)
    s = space.scheduler
    trainer = cfg.trainer
    if s.time_attr != "epochs":  # steps / samples: report inside epochs
        trainer = dataclasses.replace(trainer, report_every=s.report_every, report_unit=s.time_attr)
        if SCHEDULERS[s.type].rungs:
            trainer = dataclasses.replace(trainer, max_t=s.max_t)
    return dataclasses.replace(cfg, resources=trial_resources(space), trainer=trainer)


def trial_resources(space: Space) -> ResourcesConfig:
    """The Train workers of every trial of `space` (one shape per search)."""
    r = space.resources
    return ResourcesConfig(
        workers=r.workers_per_trial,
        cpus_per_worker=r.cpus_per_worker,
        gpus_per_worker=r.gpus_per_worker,
    )
