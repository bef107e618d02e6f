"""The checkpoint policy: when a reported epoch carries a checkpoint, and what Ray keeps.

A run checkpoints every `every_n_epochs` and at its end, never "just because": each one is
a Lightning file copied into the run's storage (a few ms for the built-in models, more for
big ones; the "2 s per checkpoint" once measured here was Ray Train's report poll).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from raytrain.config.schema import CheckpointConfig

if TYPE_CHECKING:
    import ray.train

CHECKPOINT_NAME = "checkpoint.ckpt"  # the Lightning file inside each Ray checkpoint directory


@dataclass(frozen=True)
class CheckpointPolicy:
    every_n_epochs: int = 1
    save_last: bool = True

    @classmethod
    def from_config(cls, cfg: CheckpointConfig) -> CheckpointPolicy:
        return cls(every_n_epochs=cfg.every_n_epochs, save_last=cfg.save_last)

    def wants(self, epoch: int, is_last: bool) -> bool:
        """`epoch` is the number of completed epochs (1-based)."""
        periodic = self.every_n_epochs > 0 and epoch % self.every_n_epochs == 0
        return periodic or (is_last and self.save_last)


def default_metric_note(cfg: CheckpointConfig, logged: Iterable[str]) -> str | None:
    """What to say, once, when the default checkpoint metric is not among `logged`.

    A config that names no `checkpoint.metric` gets "val_loss"; a module of the user's own
    may not log it. Rather than fail the run, it then keeps the last checkpoint, as a
    Lightning `ModelCheckpoint` without `monitor` does: Ray ranks the checkpoints by a
    missing value, so all tie and the latest one stays, and no `best.ckpt` is picked.
    """
    if not cfg.metric_is_default or cfg.metric in logged:
        return None
    return (
        f"note: checkpoint.metric is not set and the module does not log {cfg.metric!r}: "
        "keeping the last checkpoint (Lightning's default); set checkpoint.metric to keep "
        "the best one"
    )


def ray_checkpoint_config(cfg: CheckpointConfig) -> ray.train.CheckpointConfig:
    """What Ray Train keeps on storage. Ray always keeps the latest checkpoint as well.

    Ray ranks by one metric only, so a run with `extra_metrics` keeps every checkpoint and
    the best per metric is picked afterwards
    (`raytrain.trial.checkpoint_export.export_checkpoints`).
    """
    import ray.train

    if cfg.extra_metrics:
        return ray.train.CheckpointConfig(num_to_keep=None)
    if cfg.save_best:
        return ray.train.CheckpointConfig(
            num_to_keep=cfg.num_to_keep,
            checkpoint_score_attribute=cfg.metric,
            checkpoint_score_order=cfg.mode,
        )
    return ray.train.CheckpointConfig(num_to_keep=cfg.num_to_keep)
