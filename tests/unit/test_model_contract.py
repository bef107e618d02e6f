"""Every built-in model, one suite: built from a config like a user's, it trains a step on
its built-in data on CPU and logs the metrics it declares (README's "logs" column).

A new `MODELS` entry fails `test_every_model_declares_its_metrics` until it is added to
`DECLARED` with the data it trains on.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import pytest
import torch

from raytrain.config.parse import parse_train_config
from raytrain.config.registry import MODELS
from raytrain.trial.components import build_model
from raytrain.trial.loop import prepare, trainer_kwargs

# case -> (model section, data name, metrics it logs every epoch)
DECLARED: dict[str, tuple[dict[str, Any], str, set[str]]] = {
    "mlp": (
        {"name": "mlp", "hidden": 16, "depth": 1},
        "digits",
        {"train_loss", "val_loss", "val_acc"},
    ),
    "autoencoder": (
        {"name": "autoencoder", "encoder_hidden": 16, "decoder_hidden": 16, "depth": 1},
        "digits",
        {"train_loss", "train_recon", "val_recon", "val_loss"},
    ),
    "autoencoder-vq": (
        {"name": "autoencoder", "latent": "vq", "codebook_size": 8, "depth": 1},
        "digits",
        {
            "train_loss",
            "train_recon",
            "val_recon",
            "val_loss",
            "train_vq",
            "val_vq",
            "train_codebook_usage",
            "val_codebook_usage",
            "train_perplexity",
            "val_perplexity",
        },
    ),
    "vae": (
        {"name": "vae", "encoder_hidden": 16, "decoder_hidden": 16, "depth": 1},
        "digits",
        {
            "val_recon",
            "val_kl",
            "val_loss",
            "kl_per_dim",
            "train_loss",
            "train_recon",
            "train_kl",
            "train_kl_per_dim",
            "train_beta",
        },
    ),
}


def test_every_model_declares_its_metrics() -> None:
    assert {model["name"] for model, _, _ in DECLARED.values()} == set(MODELS.names())


@pytest.mark.parametrize("case", sorted(DECLARED))
def test_model_trains_a_step_and_logs_its_declared_metrics(case: str) -> None:
    model_section, data, declared = DECLARED[case]
    cfg = parse_train_config(
        {
            "model": model_section,
            "data": {"name": data, "batch_size": 16},
            "trainer": {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 1},
        }
    )
    datamodule = prepare(cfg, cache=False).datamodule
    model = build_model(cfg, datamodule)
    before = [p.detach().clone() for p in model.parameters()]
    trainer = pl.Trainer(**trainer_kwargs(cfg))  # CPU, quiet, no logger: as in a trial
    trainer.fit(model, datamodule=datamodule)
    assert trainer.global_step == 2
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)), (
        "no update"
    )
    logged = set(trainer.callback_metrics)
    assert declared <= logged, f"{case} does not log {sorted(declared - logged)}"
    values = [float(trainer.callback_metrics[m]) for m in declared]
    assert all(torch.isfinite(torch.tensor(values)))
