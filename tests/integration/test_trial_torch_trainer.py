"""The trial runner through a real Ray Train TorchTrainer (tiny model, 1-3 epochs)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import lightning.pytorch  # noqa: F401  (imported first: it sets process-wide env vars)
import pytest

from raytrain.config.schema import (
    CheckpointConfig,
    ComponentConfig,
    LRSchedulerConfig,
    TrainConfig,
    TrainerConfig,
)

pytestmark = pytest.mark.ray


def _cfg(max_epochs: int, every_n: int) -> TrainConfig:
    return TrainConfig(
        model=ComponentConfig(name="mlp", kwargs={"hidden": 32}),
        data=ComponentConfig(name="digits"),
        lr_scheduler=LRSchedulerConfig(name="cosine", warmup_epochs=1),
        trainer=TrainerConfig(max_epochs=max_epochs),
        checkpoint=CheckpointConfig(metric="val_acc", mode="max", every_n_epochs=every_n),
    )


def _fit(cfg: TrainConfig, storage: Path, name: str, **kw):  # type: ignore[no-untyped-def]
    import ray.train

    from raytrain.trial import build_torch_trainer
    from raytrain.trial.progress import ProgressRelay

    relay = ProgressRelay()
    reports = []
    relay.start(reports.append)
    run_config = ray.train.RunConfig(
        name=name, storage_path=str(storage), callbacks=[relay.callback]
    )
    try:
        result = build_torch_trainer(cfg, run_config=run_config, **kw).fit()
    finally:
        relay.stop()
    return result, reports


def test_fit_reports_every_epoch_checkpoints_at_end_and_resumes(
    ray_session: None, tmp_path: Path
) -> None:
    from raytrain.models import MLPClassifier
    from raytrain.trial import CHECKPOINT_NAME

    result, reports = _fit(_cfg(max_epochs=2, every_n=0), tmp_path, "first")
    assert [r.metrics["epoch"] for r in reports] == [1, 2]
    assert {"train_loss", "val_loss", "val_acc"} <= set(reports[0].metrics)
    assert all(isinstance(v, (int, float)) for v in reports[0].metrics.values())
    # every_n_epochs=0: only the end of the run carries a checkpoint
    assert [r.checkpoint_path is not None for r in reports] == [False, True]
    assert result.metrics["epoch"] == 2 and result.checkpoint is not None

    ckpt_file = Path(result.checkpoint.path) / CHECKPOINT_NAME
    model = MLPClassifier.load_from_checkpoint(ckpt_file, map_location="cpu")
    assert model.hparams.input_dim == 64 and model.hparams.hidden == 32

    # A restored trial continues from its checkpoint: only epoch 3 runs.
    resumed, reports = _fit(
        _cfg(max_epochs=3, every_n=1), tmp_path, "resumed", resume_from_checkpoint=result.checkpoint
    )
    assert [r.metrics["epoch"] for r in reports] == [3]
    assert resumed.metrics["epoch"] == 3


def test_metric_not_logged_fails_with_the_logged_names(ray_session: None, tmp_path: Path) -> None:
    """What `raytrain train` prints (exit 1) when the checkpoint metric is never logged."""
    from ray.train.v2.api.exceptions import TrainingFailedError

    from raytrain.trial.failures import explain_failure

    cfg = dataclasses.replace(
        _cfg(max_epochs=2, every_n=0),
        checkpoint=CheckpointConfig(metric="val_f1", mode="max"),
        trainer=TrainerConfig(max_epochs=2, limit_train_batches=2),
    )
    with pytest.raises(TrainingFailedError) as info:
        _fit(cfg, tmp_path, "missing")
    message = str(explain_failure(info.value))
    assert message.startswith("metric 'val_f1' is not logged by the model")
    assert "it logged: num_params, train_loss, val_acc, val_loss." in message
    assert "Traceback" not in message
