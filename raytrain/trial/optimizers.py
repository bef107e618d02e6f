"""`configure_optimizers` built from the config, for modules that do not define their own.

Rule: a user's LightningModule that defines `configure_optimizers` keeps it; otherwise
(and for the built-ins, see `raytrain.models.base`) raytrain supplies one from
`config.optimizer` and `config.lr_scheduler`.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any

import lightning.pytorch as pl

from raytrain.config.registry import LR_SCHEDULERS, OPTIMIZERS
from raytrain.config.schema import LRSchedulerConfig, OptimizerConfig, TrainConfig
from raytrain.models.base import RaytrainModule
from raytrain.trial.lr_schedulers import ScheduleContext


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


def configure_optimizers(module: pl.LightningModule, opt: Optimization) -> Any:
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


def defines_own_optimizers(module: pl.LightningModule) -> bool:
    impl = type(module).configure_optimizers
    return impl not in (
        pl.LightningModule.configure_optimizers,
        RaytrainModule.configure_optimizers,
    )


def attach_optimization(module: pl.LightningModule, opt: Optimization) -> bool:
    """Give `module` a config-driven `configure_optimizers` unless it defines one itself.

    Returns whether raytrain supplied it (the module's own method wins).
    """
    if defines_own_optimizers(module):
        return False

    def _configure(self: pl.LightningModule) -> Any:
        return configure_optimizers(self, opt)

    # An instance attribute: the class (possibly the user's) is left untouched.
    object.__setattr__(module, "configure_optimizers", types.MethodType(_configure, module))
    return True
