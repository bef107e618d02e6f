"""`configure_optimizers` built from the config's `optimizer` and `lr_scheduler`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from raytrain.config.registry import LR_SCHEDULERS, OPTIMIZERS
from raytrain.config.schema import LRSchedulerConfig, OptimizerConfig, TrainConfig
from raytrain.optim.lr_schedulers import ScheduleContext


@dataclass(frozen=True)
class Optimization:
    """Everything `configure_optimizers` needs, cut from the train config."""

    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    lr_scheduler: LRSchedulerConfig = field(default_factory=LRSchedulerConfig)
    context: ScheduleContext = field(default_factory=ScheduleContext)

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> Optimization:
        ctx = ScheduleContext(
            warmup_epochs=cfg.lr_scheduler.warmup_epochs,
            max_epochs=cfg.trainer.max_epochs,
            monitor=cfg.checkpoint.metric,
            mode=cfg.checkpoint.mode,
        )
        return cls(cfg.optimizer, cfg.lr_scheduler, ctx)


def configure_optimizers(module: torch.nn.Module, opt: Optimization) -> Any:
    """Optimizer over all of `module`'s parameters, plus the lr schedule when there is one."""
    for registry, name in (
        (OPTIMIZERS, opt.optimizer.name),
        (LR_SCHEDULERS, opt.lr_scheduler.name),
    ):
        if name not in registry:
            raise ValueError(f"unknown {registry.kind} {name!r}: {registry.suggest(name)}")
    optimizer = OPTIMIZERS[opt.optimizer.name].load()(module.parameters(), **opt.optimizer.kwargs)
    schedule = LR_SCHEDULERS[opt.lr_scheduler.name].load()(
        optimizer, opt.context, **opt.lr_scheduler.kwargs
    )
    if schedule is None:
        return optimizer
    return {"optimizer": optimizer, "lr_scheduler": schedule}
