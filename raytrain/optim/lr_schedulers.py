"""Learning-rate schedules, each with an optional linear warm-up over `warmup_epochs`.

Registered in `raytrain/config/builtins.py` (LR_SCHEDULERS). Every schedule has the same
shape, `fn(optimizer, ctx, **params) -> Lightning lr_scheduler dict | None`, where `params`
are exactly the registry entry's keys. Schedules step once per epoch. The multipliers are
pure functions of the epoch (tested directly): during warm-up epoch `e` (0-based) trains at
`lr * (e + 1) / (warmup_epochs + 1)`; the main schedule then starts at the full lr.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau


@dataclass(frozen=True)
class ScheduleContext:
    """What a schedule needs from the rest of the config (not user-settable per schedule)."""

    warmup_epochs: int = 0
    max_epochs: int = 20
    monitor: str = "val_loss"  # default metric for `plateau`: the checkpoint metric
    mode: str = "min"


def warmup_factor(epoch: int, warmup_epochs: int) -> float:
    if epoch < warmup_epochs:
        return (epoch + 1) / (warmup_epochs + 1)
    return 1.0


def constant_factor(epoch: int, warmup_epochs: int) -> float:
    return warmup_factor(epoch, warmup_epochs)


def cosine_factor(epoch: int, warmup_epochs: int, max_epochs: int, floor: float) -> float:
    """Half-cosine from 1 to `floor` (eta_min / lr) over the epochs after warm-up."""
    if epoch < warmup_epochs:
        return warmup_factor(epoch, warmup_epochs)
    span = max(1, max_epochs - warmup_epochs)
    t = min(epoch - warmup_epochs, span)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t / span))


def step_factor(epoch: int, warmup_epochs: int, step_size: int, gamma: float) -> float:
    if epoch < warmup_epochs:
        return warmup_factor(epoch, warmup_epochs)
    return float(gamma ** ((epoch - warmup_epochs) // step_size))


def _per_epoch(scheduler: Any) -> dict[str, Any]:
    return {"scheduler": scheduler, "interval": "epoch", "frequency": 1}


def no_scheduler(optimizer: Optimizer, ctx: ScheduleContext) -> dict[str, Any] | None:
    """Constant lr (after the warm-up, if any)."""
    if ctx.warmup_epochs <= 0:
        return None
    fn = functools.partial(constant_factor, warmup_epochs=ctx.warmup_epochs)
    return _per_epoch(LambdaLR(optimizer, fn))


def cosine(optimizer: Optimizer, ctx: ScheduleContext, eta_min: float = 0.0) -> dict[str, Any]:
    fns: list[Callable[[int], float]] = [
        functools.partial(
            cosine_factor,
            warmup_epochs=ctx.warmup_epochs,
            max_epochs=ctx.max_epochs,
            floor=eta_min / group["lr"] if group["lr"] > 0 else 0.0,
        )
        for group in optimizer.param_groups
    ]
    return _per_epoch(LambdaLR(optimizer, fns))


def step(
    optimizer: Optimizer, ctx: ScheduleContext, step_size: int = 10, gamma: float = 0.1
) -> dict[str, Any]:
    if step_size < 1:
        raise ValueError(f"lr_scheduler.step_size must be >= 1, got {step_size}")
    fn = functools.partial(
        step_factor, warmup_epochs=ctx.warmup_epochs, step_size=step_size, gamma=gamma
    )
    return _per_epoch(LambdaLR(optimizer, fn))


class WarmupReduceLROnPlateau(ReduceLROnPlateau):
    """ReduceLROnPlateau that first ramps the lr up linearly and ignores the metric meanwhile."""

    def __init__(self, optimizer: Optimizer, warmup_epochs: int, **kwargs: Any) -> None:
        super().__init__(optimizer, **kwargs)
        self.warmup_epochs = warmup_epochs
        self.target_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self.epochs_done = 0
        self._set_warmup_lr()

    def _set_warmup_lr(self) -> None:
        factor = warmup_factor(self.epochs_done, self.warmup_epochs)
        for group, lr in zip(self.optimizer.param_groups, self.target_lrs, strict=True):
            group["lr"] = lr * factor

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        self.epochs_done += 1
        if self.epochs_done <= self.warmup_epochs:
            self._set_warmup_lr()
            return
        super().step(metrics)


def plateau(
    optimizer: Optimizer,
    ctx: ScheduleContext,
    factor: float = 0.1,
    patience: int = 5,
    min_lr: float = 0.0,
    monitor: str | None = None,
) -> dict[str, Any]:
    """Reduce the lr when `monitor` (default: the checkpoint metric) stops improving."""
    scheduler = WarmupReduceLROnPlateau(
        optimizer,
        ctx.warmup_epochs,
        mode=ctx.mode,
        factor=factor,
        patience=patience,
        min_lr=min_lr,
    )
    return {**_per_epoch(scheduler), "monitor": monitor or ctx.monitor}
