"""The built-in autoencoder and its bottlenecks: shapes, VQ gradients, loss terms, a real fit."""

from __future__ import annotations

import inspect

import lightning.pytorch as pl
import pytest
import torch

from raytrain.config.registry import MODELS
from raytrain.models.autoencoder import Autoencoder
from raytrain.models.bottlenecks import BOTTLENECKS, VectorQuantizer


def test_registry_entry_matches_constructor() -> None:
    entry = MODELS["autoencoder"]
    params = inspect.signature(Autoencoder).parameters
    # `loss` is passed by the runner from the config's `loss:` mapping, not a model kwarg.
    assert set(params) == set(entry.params) | set(entry.data_injected) | {"loss"}
    for name, default in entry.params.items():
        assert params[name].default == default, name
    assert entry.load() is Autoencoder


@pytest.mark.parametrize("latent", sorted(BOTTLENECKS))
def test_shapes_for_every_latent(latent: str) -> None:
    model = Autoencoder(
        input_dim=10,
        encoder_hidden=6,
        decoder_hidden=5,
        depth=2,
        latent_dim=3,
        latent=latent,
        codebook_size=4,
    )
    x = torch.randn(7, 10)
    code = model.encode(x)
    assert code.z.shape == (7, 3)
    assert model(x).shape == (7, 10)
    assert code.loss.shape == ()
    if latent == "vq":
        assert set(code.metrics) == {"codebook_usage", "perplexity", "quantization_error"}


def test_depth_zero_is_a_linear_autoencoder() -> None:
    model = Autoencoder(input_dim=4, depth=0, latent_dim=2, latent="none")
    assert [type(m).__name__ for m in model.encoder] == ["Linear"]


def test_unknown_latent_is_rejected() -> None:
    with pytest.raises(ValueError, match="valid: none, linear, vq"):
        Autoencoder(input_dim=4, latent="gumbel")


def test_vq_quantizes_to_nearest_code_and_straight_through_reaches_the_encoder() -> None:
    vq = VectorQuantizer(latent_dim=2, codebook_size=3, commitment_weight=0.25)
    vq.eval()  # no data-dependent init: keep the codebook we set
    with torch.no_grad():
        vq.codebook.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [-2.0, 0.0]]))
    z = torch.tensor([[0.9, 1.2], [-1.5, 0.1]], requires_grad=True)
    out = vq(z)
    torch.testing.assert_close(out.z, torch.tensor([[1.0, 1.0], [-2.0, 0.0]]))
    # Straight-through: d(sum z_q)/dz is the identity although quantisation is piecewise flat.
    out.z.sum().backward()
    torch.testing.assert_close(z.grad, torch.ones_like(z))


def test_vq_loss_moves_codebook_and_commits_the_encoder() -> None:
    vq = VectorQuantizer(latent_dim=2, codebook_size=2, commitment_weight=0.5)
    vq.eval()
    with torch.no_grad():
        vq.codebook.weight.copy_(torch.tensor([[0.0, 0.0], [3.0, 3.0]]))
    z = torch.tensor([[1.0, 0.0]], requires_grad=True)
    out = vq(z)
    # codebook term ||sg[z] - e||^2 = 1, commitment 0.5 * ||z - sg[e]||^2 = 0.5
    assert out.loss.item() == pytest.approx(1.5)
    out.loss.backward()
    assert vq.codebook.weight.grad is not None
    torch.testing.assert_close(vq.codebook.weight.grad, torch.tensor([[-2.0, 0.0], [0.0, 0.0]]))
    torch.testing.assert_close(z.grad, torch.tensor([[1.0, 0.0]]))  # 0.5 * 2 * (z - e)


def test_vq_usage_and_perplexity() -> None:
    vq = VectorQuantizer(latent_dim=1, codebook_size=4, commitment_weight=0.25)
    vq.eval()
    with torch.no_grad():
        vq.codebook.weight.copy_(torch.tensor([[0.0], [1.0], [2.0], [3.0]]))
    out = vq(torch.tensor([[0.1], [0.9], [0.2], [1.1]]))  # codes 0 and 1, twice each
    assert out.metrics["codebook_usage"].item() == pytest.approx(0.5)
    assert out.metrics["perplexity"].item() == pytest.approx(2.0)


def test_vq_codebook_is_initialised_from_the_first_training_batch() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(latent_dim=3, codebook_size=4, commitment_weight=0.25)
    z = torch.randn(16, 3) * 5
    vq.train()
    vq(z)
    assert bool(vq.initialized)
    for code in vq.codebook.weight:
        assert (z - code).abs().sum(1).min().item() == pytest.approx(0.0)
    before = vq.codebook.weight.detach().clone()
    vq(torch.randn(16, 3))
    torch.testing.assert_close(vq.codebook.weight.detach(), before)  # only once


def _train_step_loss(model: Autoencoder, x: torch.Tensor) -> torch.Tensor:
    model.log = lambda *a, **k: None  # type: ignore[method-assign]  # no trainer attached
    return model.training_step((x, torch.zeros(len(x), dtype=torch.long)), 0)


def test_zero_vq_weight_leaves_the_codebook_untrained() -> None:
    torch.manual_seed(0)
    x = torch.randn(8, 6)
    on = Autoencoder(6, 4, 4, 1, 2, "vq", 4, 0.25, loss={"vq": {"weight": 1.0}})
    off = Autoencoder(6, 4, 4, 1, 2, "vq", 4, 0.25, loss={"vq": {"weight": 0}})
    _train_step_loss(on, x).backward()
    _train_step_loss(off, x).backward()
    assert on.bottleneck.codebook.weight.grad is not None
    assert off.bottleneck.codebook.weight.grad is None


def test_recon_weight_scales_the_loss() -> None:
    torch.manual_seed(0)
    x = torch.randn(8, 6)
    base = Autoencoder(6, 4, 4, 1, 2, "none")
    torch.manual_seed(0)
    doubled = Autoencoder(6, 4, 4, 1, 2, "none", loss={"recon": {"weight": 2.0, "type": "l1"}})
    doubled.load_state_dict(base.state_dict())
    l1_value = (doubled(x) - x).abs().sum(1).mean()
    assert _train_step_loss(doubled, x).item() == pytest.approx(2 * l1_value.item(), rel=1e-5)


@pytest.mark.parametrize("latent", ["none", "vq"])
def test_one_epoch_fit_on_digits_logs_the_metrics(latent: str) -> None:
    from raytrain.data.digits import DigitsDataModule

    pl.seed_everything(0, verbose=False)
    data = DigitsDataModule(batch_size=128)
    model = Autoencoder(
        input_dim=data.input_dim,
        encoder_hidden=32,
        decoder_hidden=32,
        depth=1,
        latent_dim=8,
        latent=latent,
        codebook_size=16,
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
    expected = {"train_loss", "train_recon", "val_loss", "val_recon"}
    if latent == "vq":
        expected |= {"val_vq", "val_codebook_usage", "val_perplexity", "train_vq"}
        assert 0 < metrics["val_codebook_usage"] <= 1
        assert metrics["val_loss"] == pytest.approx(
            metrics["val_recon"] + metrics["val_vq"], rel=1e-4
        )
    else:
        assert metrics["val_loss"] == pytest.approx(metrics["val_recon"])
    assert expected <= set(metrics)
    assert all(v == v and v >= 0 for v in metrics.values())  # finite, non-negative


def test_bundled_space_makes_vq_parameters_conditional() -> None:
    from pathlib import Path

    from raytrain.space import load_space

    space = load_space(Path(__file__).resolve().parents[2] / "search_spaces" / "autoencoder.yaml")
    assert (space.metric, space.mode) == ("val_loss", "min")
    by_path = {p.path: p for p in space.parameters}
    assert by_path["model.latent"].values == ("none", "linear", "vq")  # type: ignore[union-attr]
    for path in ("model.codebook_size", "model.commitment_weight"):
        assert by_path[path].when == {"model.latent": ("vq",)}
    assert space.config["model"]["name"] == "autoencoder"
    assert space.search.num_samples <= 12 and space.config["trainer"]["max_epochs"] <= 10
