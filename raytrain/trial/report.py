"""The Lightning callback that reports each validated epoch, and where reports go.

`EpochReportCallback` decides *when* (every validated epoch and the last one) and *what*
(everything the module logged, as floats, plus `epoch` = completed epochs); a `ReportSink`
decides where: `TrainReportSink` calls `ray.train.report` (a `raytrain train` run and the
`fresh` executor), `raytrain.trial.serve.PoolSink` answers the warm trial that leased the
slot and waits for its next command. Checkpoints are ordinary Lightning `.ckpt` files
(loadable with `Module.load_from_checkpoint`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import lightning.pytorch as pl
import ray.train
from lightning.pytorch.callbacks import Checkpoint

from raytrain.trial.checkpointing import CHECKPOINT_NAME, CheckpointPolicy
from raytrain.trial.errors import MetricNotLoggedError


def scalar_metrics(callback_metrics: Mapping[str, Any]) -> dict[str, float]:
    """Logged values as plain floats (non-scalar tensors are skipped)."""
    out: dict[str, float] = {}
    for key, value in callback_metrics.items():
        if hasattr(value, "numel"):
            if value.numel() != 1:
                continue
            value = value.item()
        if isinstance(value, (int, float)):
            out[key] = float(value)
    return out


class ReportSink(Protocol):
    def report(
        self, trainer: pl.Trainer, metrics: dict[str, Any], wants_checkpoint: bool, is_last: bool
    ) -> None:
        """Called on every rank; `wants_checkpoint`: the checkpoint policy asks for one."""


class TrainReportSink:
    """Every rank calls `ray.train.report` (Ray Train requires it); only rank 0 attaches the
    checkpoint."""

    def report(
        self, trainer: pl.Trainer, metrics: dict[str, Any], wants_checkpoint: bool, is_last: bool
    ) -> None:
        if not wants_checkpoint:
            ray.train.report(metrics)
            return
        with tempfile.TemporaryDirectory(prefix="raytrain-ckpt-") as tmp:
            # All ranks call save_checkpoint (it may gather state); Lightning writes on rank 0.
            trainer.save_checkpoint(os.path.join(tmp, CHECKPOINT_NAME))
            checkpoint = (
                ray.train.Checkpoint.from_directory(tmp) if trainer.is_global_zero else None
            )
            ray.train.report(metrics, checkpoint=checkpoint)


class EpochReportCallback(Checkpoint):
    """Reports at the end of every epoch that ran validation (and at the last epoch).

    It subclasses Lightning's `Checkpoint` so Lightning runs it after the module's own
    `on_train_epoch_end` and after EarlyStopping: it sees every logged metric and knows
    whether this is the final epoch.
    """

    def __init__(
        self,
        policy: CheckpointPolicy,
        required_metrics: Iterable[str],
        sink: ReportSink | None = None,
    ) -> None:
        self.policy = policy
        self.sink: ReportSink = sink or TrainReportSink()
        self.required_metrics = tuple(dict.fromkeys(required_metrics))
        self._validated_epoch = -1
        self._checked = False

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._validated_epoch = trainer.current_epoch

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        is_last = trainer.should_stop or (
            trainer.max_epochs is not None and epoch >= trainer.max_epochs
        )
        if self._validated_epoch != trainer.current_epoch and not is_last:
            return
        logged = scalar_metrics(trainer.callback_metrics)
        if not self._checked:
            missing = [m for m in self.required_metrics if m not in logged]
            if missing:
                raise MetricNotLoggedError(missing, logged)
            self._checked = True
        metrics: dict[str, Any] = {**logged, "epoch": epoch}  # an int: ASHA's time unit
        self.sink.report(trainer, metrics, self.policy.wants(epoch, is_last), is_last)
