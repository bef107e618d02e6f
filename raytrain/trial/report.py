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
from lightning.pytorch.utilities.data import extract_batch_size

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
    """Reports at the end of every epoch that ran validation (and at the last epoch), or,
    with `unit` steps / samples, after every validation Lightning runs every
    `trainer.report_every` of them (`val_check_interval`, see `raytrain.trial.loop`);
    then `max_t` ends the fit at the first report at or past that many units.

    It subclasses Lightning's `Checkpoint` so Lightning runs it after the module's own
    hooks and after EarlyStopping: it sees every logged metric and knows whether this is
    the final report.
    """

    def __init__(
        self,
        policy: CheckpointPolicy,
        required_metrics: Iterable[str],
        sink: ReportSink | None = None,
        unit: str | None = None,
        max_t: int | None = None,
    ) -> None:
        self.policy = policy
        self.sink: ReportSink = sink or TrainReportSink()
        self.required_metrics = tuple(dict.fromkeys(required_metrics))
        self.unit = unit  # None: epochs; "steps" / "samples": within epochs
        self.max_t = max_t if unit is not None else None
        # training samples seen by all ranks (kept in checkpoints); None: not countable
        self.samples: int | None = 0
        self._reported_step = -1  # global step of the last within-epoch report
        self._reports = 0  # within-epoch reports so far (the checkpoint policy counts them)
        self._validated_epoch = -1
        self._checked = False

    # ------------------------------------------------------------- within epochs
    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self.unit is None:
            return
        if self.samples is not None:
            try:
                self.samples += extract_batch_size(batch) * trainer.world_size
            except Exception as exc:  # a batch without tensors: Lightning cannot size it
                if self.unit == "samples":
                    raise ValueError(
                        f"time_attr: samples cannot count the samples of this batch ({exc}); "
                        "use time_attr: steps"
                    ) from exc
                self.samples = None  # steps need no sample count: reports leave it out
        loop = trainer.fit_loop
        last_epoch = (
            trainer.max_epochs is not None and trainer.current_epoch + 1 >= trainer.max_epochs
        )
        if last_epoch and loop.epoch_loop.batch_progress.is_last_batch:
            # Lightning validates at a step where `should_stop` is set: the last report
            # then carries this step's metrics, not those of the last interval's end
            trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "reports": self._reports}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        samples = state_dict.get("samples", 0)
        self.samples = None if samples is None else int(samples)
        self._reports = int(state_dict.get("reports", 0))

    def _progress(self, trainer: pl.Trainer) -> dict[str, Any]:
        """steps, samples and the (fractional) epoch of a within-epoch report."""
        batches = trainer.num_training_batches
        done = trainer.fit_loop.epoch_loop.batch_progress.current.completed
        epoch = trainer.current_epoch + (min(done / batches, 1.0) if batches else 0.0)
        progress = {"epoch": round(epoch, 4), "steps": trainer.global_step}
        return progress if self.samples is None else {**progress, "samples": self.samples}

    # ------------------------------------------------------------- reports
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self._validated_epoch = trainer.current_epoch
        if self.unit is None:
            return
        self._within_epoch_report(trainer, trainer.should_stop)

    def _within_epoch_report(self, trainer: pl.Trainer, is_last: bool) -> None:
        self._reports += 1
        self._reported_step = trainer.global_step
        progress = self._progress(trainer)
        if self.max_t is not None and progress.get(str(self.unit), 0) >= self.max_t:
            # where the search's scheduler ended a trial at max_t: this report is the last,
            # and Lightning trains no further step once `should_stop` is set here
            trainer.should_stop = is_last = True
        wants = self.policy.wants(self._reports, is_last)
        self._report(trainer, progress, wants, is_last)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        is_last = trainer.should_stop or (
            trainer.max_epochs is not None and epoch >= trainer.max_epochs
        )
        if self.unit is not None:
            # reported at each validation; a fit that never validates (no val loader)
            # still reports its end, as per epoch
            if is_last and self._reported_step != trainer.global_step:
                self._within_epoch_report(trainer, True)
            return
        if self._validated_epoch != trainer.current_epoch and not is_last:
            return
        # epoch: an int, ASHA's time unit
        self._report(trainer, {"epoch": epoch}, self.policy.wants(epoch, is_last), is_last)

    def _report(
        self, trainer: pl.Trainer, progress: dict[str, Any], checkpoint: bool, is_last: bool
    ) -> None:
        logged = scalar_metrics(trainer.callback_metrics)
        if not self._checked:
            missing = [m for m in self.required_metrics if m not in logged]
            if missing:
                raise MetricNotLoggedError(missing, logged)
            self._checked = True
        self.sink.report(trainer, {**logged, **progress}, checkpoint, is_last)
