"""The tiny base class of raytrain's built-in LightningModules.

Built-ins do not hard-code an optimizer: raytrain supplies `configure_optimizers` from the
run's `optimizer` / `lr_scheduler` config (see `raytrain.trial.optimizers`; built by
`raytrain.optim`). Used on its own (outside raytrain, e.g. fine-tuning a loaded checkpoint)
a built-in falls back to the documented default optimizer so it still trains.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl

from raytrain.optim import Optimization, configure_optimizers


class RaytrainModule(pl.LightningModule):
    """A LightningModule whose optimizer and lr scheduler come from the train config."""

    def configure_optimizers(self) -> Any:
        return configure_optimizers(self, Optimization())
