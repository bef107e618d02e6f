"""Which `configure_optimizers` a trial's module uses: its own, or one from the config.

Rule: a user's LightningModule that defines `configure_optimizers` keeps it; otherwise
(and for the built-ins, see `raytrain.models.base`) raytrain supplies one from
`config.optimizer` and `config.lr_scheduler` (built by `raytrain.optim`).
"""

from __future__ import annotations

import types
from typing import Any

import lightning.pytorch as pl

from raytrain.models.base import RaytrainModule
from raytrain.optim import Optimization, configure_optimizers


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
