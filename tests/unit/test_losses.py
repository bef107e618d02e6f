"""Named, weighted loss terms: validation (torch-free), resolution, and the loss functions."""

from __future__ import annotations

import math

import pytest
import torch

from raytrain.config.loss_terms import (
    MODEL_LOSS_TERMS,
    RECON_TYPES,
    ResolvedTerm,
    loss_problems,
    resolve_loss_terms,
    validate_loss_terms,
)
from raytrain.config.registry import MODELS
from raytrain.models.losses import (
    RECON_LOSSES,
    bce,
    free_bits_kl,
    gaussian_kl_per_dim,
    l1,
    mse,
    weighted_sum,
)


def test_every_model_with_loss_terms_is_a_registered_model() -> None:
    assert set(MODEL_LOSS_TERMS) <= set(MODELS.names())


def test_recon_implementations_match_declared_types() -> None:
    assert set(RECON_LOSSES) == set(RECON_TYPES)


@pytest.mark.parametrize(
    "loss",
    [
        None,
        {},
        {"recon": {"type": "l1", "weight": 2.0}, "kl": {"weight": 0.5}},
        {"kl": {"weight": 0}},  # recon keeps its default weight 1: still trainable
        {"recon": {"type": "bce"}},
    ],
)
def test_valid_vae_loss_mappings(loss: object) -> None:
    assert validate_loss_terms("vae", loss) == []


def test_unknown_term_lists_valid_ones() -> None:
    problems = validate_loss_terms("vae", {"recon": {"weight": 1}, "kld": {"weight": 1}})
    assert len(problems) == 1
    assert problems[0].startswith("loss.kld:")
    assert "did you mean 'kl'?" in problems[0]
    assert "valid terms: kl, recon" in problems[0]


def test_term_of_another_model_is_rejected() -> None:
    (problem,) = loss_problems("autoencoder", {"kl": {"weight": 1.0}})
    assert problem[0] == ("kl",)
    assert "valid terms: recon, vq" in problem[1]


def test_bad_weight_type_and_options_are_reported_with_paths() -> None:
    problems = dict(
        loss_problems(
            "vae",
            {"recon": {"type": "huber", "weight": -1, "reduction": "sum"}, "kl": 0.5},
        )
    )
    assert set(problems) == {
        ("recon", "weight"),
        ("recon", "type"),
        ("recon", "reduction"),
        ("kl",),
    }
    assert "valid: mse, bce, l1" in problems[("recon", "type")]
    assert ">= 0" in problems[("recon", "weight")]


def test_all_weights_zero_is_a_problem() -> None:
    problems = validate_loss_terms("vae", {"recon": {"weight": 0}, "kl": {"weight": 0.0}})
    assert problems == ["loss: every loss term has weight 0: there is nothing to train"]


def test_model_without_loss_terms_rejects_a_loss_mapping() -> None:
    (problem,) = validate_loss_terms("mlp", {"ce": {"weight": 1}})
    assert "has no configurable loss terms" in problem
    assert validate_loss_terms("mlp", {}) == []


def test_user_target_models_only_get_shape_checks() -> None:
    assert validate_loss_terms(None, {"anything": {"weight": 0.3, "type": "mine"}}) == []
    assert validate_loss_terms(None, {"anything": {"weight": "high"}}) != []


def test_resolve_fills_defaults_and_rejects_bad_input() -> None:
    terms = resolve_loss_terms("vae", {"kl": {"weight": 0.25}})
    assert terms == {
        "recon": ResolvedTerm(1.0, {"type": "mse"}),
        "kl": ResolvedTerm(0.25, {}),
    }
    with pytest.raises(ValueError, match="no loss term 'vq'"):
        resolve_loss_terms("vae", {"vq": {"weight": 1}})


def test_recon_losses_sum_features_and_average_the_batch() -> None:
    pred = torch.zeros(2, 3)
    target = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, -1.0]])
    assert mse(pred, target).item() == pytest.approx((5.0 + 1.0) / 2)
    assert l1(pred, target).item() == pytest.approx((3.0 + 1.0) / 2)
    probs = torch.tensor([[0.0, 1.0]])
    logits = torch.zeros(1, 2)
    assert bce(logits, probs).item() == pytest.approx(2 * math.log(2))


def test_bce_rejects_targets_outside_unit_interval() -> None:
    with pytest.raises(ValueError, match="targets in \\[0, 1\\]"):
        bce(torch.zeros(1, 2), torch.tensor([[0.5, 1.5]]))


def test_gaussian_kl_matches_torch_distributions() -> None:
    torch.manual_seed(0)
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    expected = torch.distributions.kl_divergence(q, p).mean(0)
    torch.testing.assert_close(gaussian_kl_per_dim(mu, logvar), expected)


def test_free_bits_clamps_the_total_kl_and_stops_its_gradient() -> None:
    low = torch.tensor(0.3, requires_grad=True)
    clamped = free_bits_kl(low, 0.5)
    assert clamped.item() == pytest.approx(0.5)
    clamped.backward()
    assert low.grad is not None and low.grad.item() == 0.0
    high = torch.tensor(2.0, requires_grad=True)
    free_bits_kl(high, 0.5).backward()
    assert high.grad is not None and high.grad.item() == 1.0
    assert free_bits_kl(low, 0.0) is low


def test_weighted_sum_weights_terms_and_zero_disables() -> None:
    a = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(3.0, requires_grad=True)
    terms = {"recon": ResolvedTerm(0.5, {}), "kl": ResolvedTerm(0.0, {})}
    total = weighted_sum({"recon": a, "kl": b}, terms)
    assert total.item() == pytest.approx(1.0)
    total.backward()
    assert a.grad is not None and a.grad.item() == 0.5
    assert b.grad is None  # a disabled term is not even part of the graph
    with pytest.raises(ValueError, match="nothing to train"):
        weighted_sum({"kl": b}, terms)
