"""`checkpoint.metric` left out: a module that does not log val_loss keeps the last checkpoint.

The metric a config names is required (the run stops with the list of logged metrics);
the default one is not, and `raytrain train` says once that it fell back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from raytrain.config.loading import load_train_config
from raytrain.config.parse import parse_train_config, train_config_to_dict
from raytrain.config.schema import CheckpointConfig, default_metric_note
from raytrain.errors import InputError
from raytrain.trial.checkpointing import CheckpointPolicy
from raytrain.trial.errors import MetricNotLoggedError
from raytrain.trial.loop import required_metrics
from raytrain.trial.report import EpochReportCallback


def test_a_file_without_metric_marks_it_default_and_writes_it_back_without() -> None:
    cfg = parse_train_config({"checkpoint": {"mode": "min"}})
    assert (cfg.checkpoint.metric, cfg.checkpoint.metric_is_default) == ("val_loss", True)
    written = train_config_to_dict(cfg)["checkpoint"]
    assert "metric" not in written and "metric_is_default" not in written
    assert parse_train_config(train_config_to_dict(cfg)).checkpoint.metric_is_default


def test_a_named_metric_is_not_default_even_when_it_is_val_loss() -> None:
    cfg = parse_train_config({"checkpoint": {"metric": "val_loss"}})
    assert not cfg.checkpoint.metric_is_default
    assert train_config_to_dict(cfg)["checkpoint"]["metric"] == "val_loss"
    assert not CheckpointConfig().metric_is_default, "code names the metric it means"


def test_the_flag_is_not_a_key_of_the_file() -> None:
    with pytest.raises(InputError, match=r"checkpoint\.metric_is_default"):
        parse_train_config({"checkpoint": {"metric_is_default": True}})


def test_a_space_always_names_the_metric(tmp_path: Path) -> None:
    from raytrain.space import load_space, materialize

    space = tmp_path / "s.yaml"
    space.write_text(
        "config: {trainer: {max_epochs: 2}}\nmetric: val_acc\nmode: max\n"
        "parameters:\n  optimizer.lr: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}\n"
    )
    cfg = parse_train_config(materialize(load_space(space), {"optimizer.lr": 0.01}))
    assert (cfg.checkpoint.metric, cfg.checkpoint.metric_is_default) == ("val_acc", False)


def test_the_default_metric_is_not_required_and_the_note_says_so() -> None:
    default = parse_train_config({})
    named = parse_train_config({"checkpoint": {"metric": "val_loss"}})
    assert required_metrics(default, ["val_acc"]) == ["val_acc"]
    assert required_metrics(named, ["val_acc"]) == ["val_loss", "val_acc"]
    assert default_metric_note(default.checkpoint, {"val_loss": 1.0}) is None
    assert default_metric_note(named.checkpoint, {"val_mse": 1.0}) is None
    note = default_metric_note(default.checkpoint, {"val_mse": 1.0})
    assert note is not None and "keeping the last checkpoint" in note and "'val_loss'" in note


def test_early_stopping_makes_the_default_metric_required() -> None:
    """Patience on the checkpoint metric needs it logged, default or not: otherwise early
    stopping would silently never fire."""
    cfg = parse_train_config({"trainer": {"early_stopping_patience": 2}})
    assert cfg.checkpoint.metric_is_default
    assert required_metrics(cfg, ["val_acc"]) == ["val_loss", "val_acc"]


class LogsOnlyMse(pl.LightningModule):
    """A user module that logs `val_mse`, not `val_loss`."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_mse", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _fit(tmp_path: Path, config: str, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import ray.train

    reports: list[dict[str, Any]] = []
    monkeypatch.setattr(
        ray.train, "report", lambda metrics, checkpoint=None: reports.append(metrics)
    )
    path = tmp_path / "train.yaml"
    path.write_text(config)
    cfg = load_train_config(path)
    callback = EpochReportCallback(
        CheckpointPolicy.from_config(cfg.checkpoint), required_metrics(cfg)
    )
    data = TensorDataset(torch.randn(8, 4), torch.randn(8, 1))
    trainer = pl.Trainer(
        max_epochs=2,
        callbacks=[callback],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(LogsOnlyMse(), DataLoader(data, batch_size=4), DataLoader(data, batch_size=4))
    return reports


def test_a_module_without_val_loss_trains_when_the_metric_is_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = _fit(tmp_path, "trainer: {max_epochs: 2}\n", monkeypatch)
    assert [r["epoch"] for r in reports] == [1, 2]
    assert "val_mse" in reports[0] and "val_loss" not in reports[0]


def test_a_named_metric_the_module_does_not_log_still_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(MetricNotLoggedError, match="val_mse"):
        _fit(tmp_path, "checkpoint: {metric: val_loss}\n", monkeypatch)
