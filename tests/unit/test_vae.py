"""The built-in VAE: the annealing schedule, free bits, loss terms and a real one-epoch fit."""

from __future__ import annotations

import inspect

import lightning.pytorch as pl
import pytest
import torch

from raytrain.config.registry import MODELS
from raytrain.models.vae import VAE, kl_beta


def test_registry_entry_matches_constructor() -> None:
    entry = MODELS["vae"]
    params = inspect.signature(VAE).parameters
    assert set(params) == set(entry.params) | set(entry.data_injected) | {"loss"}
    for name, default in entry.params.items():
        assert params[name].default == default, name
    assert entry.load() is VAE


@pytest.mark.parametrize(
    ("epoch", "expected"),
    [(0, 0.0), (1, 0.2), (2.5, 0.5), (5, 1.0), (9.5, 1.0)],
)
def test_linear_annealing(epoch: float, expected: float) -> None:
    assert kl_beta(epoch, beta=1.0, anneal_epochs=5) == pytest.approx(expected)


def test_no_annealing_is_constant_beta() -> None:
    assert [kl_beta(e, beta=0.3, anneal_epochs=0) for e in (0, 1, 10)] == [0.3, 0.3, 0.3]


@pytest.mark.parametrize(
    ("epoch", "expected"),
    # cycle of 4 epochs: ramp over 2, hold for 2, restart
    [(0, 0.0), (1, 0.25), (2, 0.5), (3.5, 0.5), (4, 0.0), (5, 0.25), (7.9, 0.5), (8, 0.0)],
)
def test_cyclical_annealing(epoch: float, expected: float) -> None:
    assert kl_beta(epoch, beta=0.5, anneal_epochs=2, cycle_epochs=4) == pytest.approx(expected)


def test_cyclical_ramp_is_capped_at_the_cycle_length() -> None:
    # anneal longer than a cycle: each cycle ramps over the whole cycle
    assert kl_beta(1.5, beta=1.0, anneal_epochs=10, cycle_epochs=3) == pytest.approx(0.5)
    assert kl_beta(3.0, beta=1.0, anneal_epochs=10, cycle_epochs=3) == pytest.approx(0.0)


def test_negative_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="free_bits must be >= 0"):
        VAE(input_dim=4, free_bits=-1.0)


def test_shapes() -> None:
    model = VAE(input_dim=10, encoder_hidden=6, decoder_hidden=5, depth=2, latent_dim=3)
    mu, logvar = model.encode(torch.randn(7, 10))
    assert mu.shape == logvar.shape == (7, 3)
    assert model(torch.randn(7, 10)).shape == (7, 10)


class _Recorder:
    """Stands in for `LightningModule.log` when a step is called without a Trainer."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def __call__(self, name: str, value: object, **_: object) -> None:
        self.values[name] = float(torch.as_tensor(value).detach())


def _step(model: VAE, x: torch.Tensor, stage: str) -> dict[str, float]:
    rec = _Recorder()
    model.log = rec  # type: ignore[method-assign]
    batch = (x, torch.zeros(len(x), dtype=torch.long))
    if stage == "train":
        model.training_step(batch, 0)
    else:
        model.validation_step(batch, 0)
    return rec.values


def test_free_bits_floor_applies_to_total_kl_during_training() -> None:
    torch.manual_seed(0)
    model = VAE(
        input_dim=6,
        encoder_hidden=4,
        decoder_hidden=4,
        depth=1,
        latent_dim=3,
        beta=1.0,
        free_bits=50.0,
    )  # far above the KL of a fresh model
    logged = _step(model, torch.randn(16, 6), "train")
    assert logged["train_kl"] < 50.0
    # loss = recon + beta * max(KL, free_bits) with the floor on the *total* KL
    assert logged["train_loss"] == pytest.approx(logged["train_recon"] + 50.0, rel=1e-5)
    assert logged["train_kl_per_dim"] == pytest.approx(logged["train_kl"] / 3, rel=1e-5)


def test_beta_zero_at_the_start_of_annealing_removes_the_kl_term() -> None:
    torch.manual_seed(0)
    model = VAE(
        input_dim=6,
        encoder_hidden=4,
        decoder_hidden=4,
        depth=1,
        latent_dim=3,
        beta=1.0,
        kl_anneal_epochs=4,
    )
    logged = _step(model, torch.randn(16, 6), "train")
    assert logged["train_beta"] == 0.0
    assert logged["train_loss"] == pytest.approx(logged["train_recon"], rel=1e-6)


def test_validation_loss_is_schedule_free_and_uses_term_weights() -> None:
    torch.manual_seed(0)
    x = torch.randn(16, 6)
    model = VAE(
        input_dim=6,
        encoder_hidden=4,
        decoder_hidden=4,
        depth=1,
        latent_dim=3,
        beta=0.1,
        kl_anneal_epochs=10,
        free_bits=100.0,
        loss={"recon": {"weight": 2.0}, "kl": {"weight": 0.5}},
    )
    model.eval()
    logged = _step(model, x, "val")
    assert set(logged) == {"val_loss", "val_recon", "val_kl", "kl_per_dim", "val_active_units"}
    assert logged["val_loss"] == pytest.approx(
        2.0 * logged["val_recon"] + 0.5 * logged["val_kl"], rel=1e-5
    )
    assert logged["kl_per_dim"] == pytest.approx(logged["val_kl"] / 3, rel=1e-5)


def test_active_units_count_the_dimensions_whose_mean_varies_with_the_input() -> None:
    torch.manual_seed(0)
    model = VAE(input_dim=4, encoder_hidden=4, decoder_hidden=4, depth=1, latent_dim=3)
    model.eval()
    # posterior mean: dimension 0 follows the input, dimension 1 is a constant far from
    # the prior's (mu = 2: KL > 0 yet no information about x), dimension 2 is the prior
    with torch.no_grad():
        last = model.encoder[-1]
        last.weight.zero_()
        last.bias.zero_()
        last.weight[0] = 10.0
        last.bias[1] = 2.0
    logged = _step(model, torch.randn(8, 4), "val")
    assert logged["val_active_units"] == 1.0


def test_zero_kl_weight_disables_the_kl_term() -> None:
    torch.manual_seed(0)
    model = VAE(
        input_dim=6,
        encoder_hidden=4,
        decoder_hidden=4,
        depth=1,
        latent_dim=3,
        loss={"kl": {"weight": 0.0}},
    )
    logged = _step(model, torch.randn(16, 6), "train")
    assert logged["train_kl"] > 0
    assert logged["train_loss"] == pytest.approx(logged["train_recon"], rel=1e-6)


def test_one_epoch_fit_on_digits_logs_the_metrics() -> None:
    from raytrain.data.digits import DigitsDataModule

    pl.seed_everything(0, verbose=False)
    data = DigitsDataModule(batch_size=128)
    model = VAE(
        input_dim=data.input_dim,
        encoder_hidden=32,
        decoder_hidden=32,
        depth=1,
        latent_dim=4,
        beta=1.0,
        kl_anneal_epochs=2,
        free_bits=1.0,
    )
    trainer = pl.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_train_batches=6,
        limit_val_batches=2,
    )
    trainer.fit(model, data)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    assert {"val_recon", "val_kl", "val_loss", "kl_per_dim", "train_loss", "train_beta"} <= set(
        metrics
    )
    # within epoch 0 of a 2-epoch warm-up, beta ramped through [0, 0.5)
    assert 0.0 < metrics["train_beta"] < 0.5
    assert metrics["val_loss"] == pytest.approx(metrics["val_recon"] + metrics["val_kl"], rel=1e-4)


def test_bundled_space_searches_beta_annealing_and_free_bits() -> None:
    from pathlib import Path

    from raytrain.space import load_space

    space = load_space(Path(__file__).resolve().parents[2] / "search_spaces" / "vae.yaml")
    assert (space.metric, space.mode) == ("val_loss", "min")
    paths = {p.path for p in space.parameters}
    assert {"model.beta", "model.kl_anneal_epochs", "model.free_bits"} <= paths
    assert space.config["model"]["name"] == "vae"
    assert space.search.num_samples <= 12 and space.config["trainer"]["max_epochs"] <= 10
