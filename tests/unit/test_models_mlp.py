"""The built-in MLP: shapes, saved hyperparameters, registry agreement, optimizer fallback."""

from __future__ import annotations

import inspect

import pytest
import torch

from raytrain.config.registry import MODELS
from raytrain.models import MLPClassifier


def test_forward_shape_and_depth() -> None:
    model = MLPClassifier(input_dim=8, num_classes=3, hidden=16, depth=3, activation="gelu")
    assert model(torch.zeros(5, 8)).shape == (5, 3)
    linear = [m for m in model.net if isinstance(m, torch.nn.Linear)]
    assert len(linear) == 4


def test_hyperparameters_are_saved_for_reload() -> None:
    model = MLPClassifier(input_dim=8, num_classes=3, hidden=16)
    assert dict(model.hparams) == {
        "input_dim": 8,
        "num_classes": 3,
        "hidden": 16,
        "depth": 2,
        "dropout": 0.1,
        "activation": "relu",
    }


def test_unknown_activation_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="relu"):
        MLPClassifier(input_dim=8, num_classes=3, activation="swish")


def test_default_configure_optimizers_outside_raytrain() -> None:
    optimizer = MLPClassifier(input_dim=4, num_classes=2).configure_optimizers()
    assert isinstance(optimizer, torch.optim.AdamW)


def test_registry_entry_matches_signature() -> None:
    entry = MODELS["mlp"]
    params = inspect.signature(entry.load()).parameters
    declared = {k: v.default for k, v in params.items() if k not in entry.data_injected}
    assert declared == dict(entry.params)
    assert set(entry.data_injected) <= set(params)


def test_validation_logs_the_parameter_count() -> None:
    import lightning.pytorch as pl

    from raytrain.data.digits import DigitsDataModule

    data = DigitsDataModule(batch_size=128)
    model = MLPClassifier(input_dim=data.input_dim, num_classes=10, hidden=8, depth=1)
    trainer = pl.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_train_batches=1,
        limit_val_batches=1,
    )
    trainer.fit(model, datamodule=data)
    # 64 inputs -> 8 hidden -> 10 classes, weights and biases
    assert trainer.callback_metrics["num_params"].item() == 64 * 8 + 8 + 8 * 10 + 10
