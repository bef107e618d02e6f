"""The checkpoint policy: when a reported epoch carries a checkpoint, and what Ray keeps.

A run checkpoints every `every_n_epochs` and at its end, never "just because": each one is
a Lightning file copied into the run's storage (a few ms for the built-in models, more for
big ones; the "2 s per checkpoint" once measured here was Ray Train's report poll).
"""

from __future__ import annotations

from dataclasses import dataclass

import ray.train

from raytrain.config.schema import CheckpointConfig, checkpoint_keep
from raytrain.layout import CHECKPOINT_NAME

__all__ = ["CHECKPOINT_NAME", "CheckpointPolicy", "ray_checkpoint_config"]


@dataclass(frozen=True)
class CheckpointPolicy:
    every_n_epochs: int = 1
    save_last: bool = True

    @classmethod
    def from_config(cls, cfg: CheckpointConfig) -> CheckpointPolicy:
        return cls(every_n_epochs=cfg.every_n_epochs, save_last=cfg.save_last)

    def wants(self, epoch: int, is_last: bool) -> bool:
        """`epoch` is the number of completed epochs (1-based), or of reports so far in a
        run that reports inside epochs (`trainer.report_every`): its checkpoints follow
        the report cadence."""
        periodic = self.every_n_epochs > 0 and epoch % self.every_n_epochs == 0
        return periodic or (is_last and self.save_last)


def ray_checkpoint_config(cfg: CheckpointConfig) -> ray.train.CheckpointConfig:
    """What Ray Train keeps of a train run (`checkpoint_keep`)."""
    return ray.train.CheckpointConfig(**checkpoint_keep(cfg))
