"""What runs inside each Ray Train worker: `prepare` once per process, `fit` per trial.

The split keeps process start-up, imports and data loading (`prepare`, cached per data
config) apart from the per-trial work (`fit`: seed, build model + Lightning Trainer, fit),
so that warm workers can later serve many trials without a rewrite.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import ray.train
from lightning.pytorch.strategies import SingleDeviceStrategy
from ray.train.lightning import RayDDPStrategy, RayLightningEnvironment, prepare_trainer

from raytrain.config.parse import train_config_to_dict
from raytrain.config.schema import TrainConfig
from raytrain.redaction import redact, remember
from raytrain.trial.checkpointing import CHECKPOINT_NAME, CheckpointPolicy
from raytrain.trial.components import build_datamodule, build_model
from raytrain.trial.report import EpochReportCallback, ReportSink

# data config key -> data module with its data loaded; lives as long as the worker process.
_DATA_CACHE: dict[str, pl.LightningDataModule] = {}


@dataclass
class Prepared:
    """Per-process state a trial can reuse: the loaded data module."""

    datamodule: pl.LightningDataModule


def data_key(cfg: TrainConfig) -> str:
    return json.dumps(
        [cfg.data.name, cfg.data.target, cfg.data.kwargs], sort_keys=True, default=repr
    )


def prepare(cfg: TrainConfig, *, cache: bool = True) -> Prepared:
    """Imports and data loading for `cfg`'s data config, reused while the process lives."""
    key = data_key(cfg)
    datamodule = _DATA_CACHE.get(key) if cache else None
    if datamodule is None:
        datamodule = build_datamodule(cfg)
        if hasattr(datamodule, "load_arrays"):  # built-ins load eagerly; setup is idempotent
            datamodule.setup("fit")
        if cache:
            _DATA_CACHE[key] = datamodule
    return Prepared(datamodule)


def required_metrics(cfg: TrainConfig, metrics_hint: Sequence[str] = ()) -> list[str]:
    """Metrics the run cannot do without: checkpoint metric(s) and the caller's (tune metric).

    A checkpoint metric the config left at its default is not one of them (see
    `raytrain.config.schema.default_metric_note`), unless early stopping watches it:
    patience on a metric that is never logged would silently never stop anything.
    """
    ckpt = cfg.checkpoint
    optional = ckpt.metric_is_default and cfg.trainer.early_stopping_patience is None
    named = [] if optional else [ckpt.metric]
    return list(dict.fromkeys([*named, *ckpt.extra_metrics, *metrics_hint]))


def trial_callbacks(
    cfg: TrainConfig, metrics_hint: Sequence[str] = (), sink: ReportSink | None = None
) -> list[pl.Callback]:
    """The report callback (into `sink`; default `ray.train.report`), plus early stopping on
    the checkpoint metric when configured."""
    callbacks: list[pl.Callback] = [
        EpochReportCallback(
            CheckpointPolicy.from_config(cfg.checkpoint),
            required_metrics(cfg, metrics_hint),
            sink,
            unit=cfg.trainer.report_unit if cfg.trainer.report_every is not None else None,
            max_t=cfg.trainer.max_t,
        ),
        RedactCheckpointSecrets(),
    ]
    if cfg.trainer.early_stopping_patience is not None:
        callbacks.append(
            pl.callbacks.EarlyStopping(
                monitor=cfg.checkpoint.metric,
                mode=cfg.checkpoint.mode,
                patience=cfg.trainer.early_stopping_patience,
                strict=False,  # a missing metric is reported by EpochReportCallback instead
                check_on_train_epoch_end=False,  # patience counts validation runs
            )
        )
    return callbacks


class RedactCheckpointSecrets(pl.Callback):
    """The `hyper_parameters` a module's `save_hyperparameters()` stores in every
    checkpoint, with secrets as written (`raytrain.redaction`): the module itself got the
    real values, a checkpoint file never holds them."""

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        for key in ("hyper_parameters", "datamodule_hyper_parameters"):
            if key in checkpoint:
                checkpoint[key] = redact(checkpoint[key])


def batch_size_of(datamodule: pl.LightningDataModule) -> int:
    """The per-rank batch size a `samples` run converts its report interval with."""
    size = getattr(datamodule, "batch_size", None)
    if size is None:
        size = getattr(datamodule, "hparams", {}).get("batch_size")
    if not isinstance(size, int) or size < 1:
        raise ValueError(
            f"time_attr: samples needs the data module's batch size: "
            f"{type(datamodule).__name__} has no integer `batch_size` attribute or hparam "
            "(use time_attr: steps, or give the data module a `batch_size`)"
        )
    return size


def report_interval(cfg: TrainConfig, datamodule: pl.LightningDataModule) -> int | None:
    """Training batches (per rank) between two reports of a run that reports inside
    epochs (`trainer.report_every`); None: it reports per validated epoch."""
    t = cfg.trainer
    if t.report_every is None:
        return None
    if t.report_unit == "steps":  # optimizer steps: one per accumulate_grad_batches batches
        return t.report_every * t.accumulate_grad_batches
    per_batch = batch_size_of(datamodule) * cfg.resources.workers
    return max(1, math.ceil(t.report_every / per_batch))


def trainer_kwargs(cfg: TrainConfig, report_batches: int | None = None) -> dict[str, Any]:
    """Lightning Trainer arguments from `cfg.trainer` (everything but the Ray wiring);
    `report_batches`: validate every that many training batches, across epochs."""
    t = cfg.trainer
    within = {"val_check_interval": report_batches, "check_val_every_n_epoch": None}
    optional = {
        "gradient_clip_val": t.gradient_clip_val,
        "limit_train_batches": t.limit_train_batches,
        "limit_val_batches": t.limit_val_batches,
    }
    return {
        "max_epochs": t.max_epochs,
        "precision": t.precision,
        "accumulate_grad_batches": t.accumulate_grad_batches,
        "check_val_every_n_epoch": t.check_val_every_n_epoch,
        "deterministic": t.deterministic,
        "log_every_n_steps": t.log_every_n_steps,
        "accelerator": "gpu" if cfg.resources.gpus_per_worker > 0 else "cpu",
        "devices": "auto",
        "logger": False,  # the driver writes metrics.csv / TensorBoard from the reports
        # EpochReportCallback is a Lightning `Checkpoint`, so no default ModelCheckpoint is added.
        "enable_checkpointing": True,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "default_root_dir": tempfile.gettempdir(),
        **{k: v for k, v in optional.items() if v is not None},
        **(within if report_batches is not None else {}),
    }


def build_lightning_trainer(
    cfg: TrainConfig, callbacks: list[pl.Callback], report_batches: int | None = None
) -> pl.Trainer:
    """A Lightning Trainer wired into Ray Train (DDP strategy + environment), quiet.

    Must run inside a Ray Train worker (the environment asks Ray for ranks). A one-worker
    run trains on its one device without DDP, which has nobody to all-reduce with: in
    bench/tune_overhead.py --samples 20000 a one-worker epoch (250 steps) took 2.30 s under
    RayDDPStrategy against 1.54 s for the same fit in a plain process, and DDP's per-step
    gradient hooks are the one difference in the training loop.
    """
    if cfg.resources.workers == 1:
        device = "cuda:0" if cfg.resources.gpus_per_worker > 0 else "cpu"  # Ray sets the GPU
        return pl.Trainer(
            strategy=SingleDeviceStrategy(device=device),
            callbacks=callbacks,
            **{**trainer_kwargs(cfg, report_batches), "devices": 1},
        )
    trainer = pl.Trainer(
        strategy=RayDDPStrategy(),
        plugins=[RayLightningEnvironment()],
        callbacks=callbacks,
        **trainer_kwargs(cfg, report_batches),
    )
    return prepare_trainer(trainer)


def fit(
    cfg: TrainConfig,
    prepared: Prepared,
    *,
    metrics_hint: Sequence[str] = (),
    ckpt_path: str | None = None,
    sink: ReportSink | None = None,
) -> pl.LightningModule:
    """One trial's fit on this worker; `ckpt_path` resumes from a Lightning checkpoint."""
    # this worker's writers (checkpoints) learn the trial's secrets (raytrain.redaction)
    remember(train_config_to_dict(cfg), cfg.secrets)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    model = build_model(cfg, prepared.datamodule)
    trainer = build_lightning_trainer(
        cfg,
        trial_callbacks(cfg, metrics_hint, sink),
        report_interval(cfg, prepared.datamodule),
    )
    trainer.fit(model, datamodule=prepared.datamodule, ckpt_path=ckpt_path)
    return model


def quiet_worker_logs() -> None:
    """Keep worker logs to what matters: no device banners or dataloader-worker hints."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*is smaller than the logging interval.*")
    warnings.filterwarnings("ignore", message=".*`srun` command is available.*")


def train_loop_per_worker(loop_config: dict[str, Any]) -> None:
    """Ray Train entry point; `loop_config` = {"config", "metrics_hint", "resume_from"}.

    The run's own latest checkpoint (after a worker failure / restart) wins over
    `resume_from` (the checkpoint a restored trial or a fine-tune starts from).
    """
    quiet_worker_logs()
    cfg: TrainConfig = loop_config["config"]
    hint = loop_config.get("metrics_hint", ())
    prepared = prepare(cfg)
    checkpoint = ray.train.get_checkpoint() or loop_config.get("resume_from")
    if checkpoint is None:
        fit(cfg, prepared, metrics_hint=hint)
        return
    with checkpoint.as_directory() as directory:  # a restored trial continues from here
        fit(cfg, prepared, metrics_hint=hint, ckpt_path=os.path.join(directory, CHECKPOINT_NAME))
