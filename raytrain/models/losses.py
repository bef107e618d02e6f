"""Loss functions of the built-in generative models, and the weighted sum of named terms.

Convention (the usual ELBO one): every term is summed over features / latent dimensions per
sample and averaged over the batch, so reconstruction and KL are on the same scale and
`beta = 1` means the plain negative ELBO. Which terms exist and their weights are declared
torch-free in `raytrain.config.loss_terms`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F

from raytrain.config.loss_terms import ResolvedTerm

ReconLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(pred, target, reduction="none").flatten(1).sum(1).mean()


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(pred, target, reduction="none").flatten(1).sum(1).mean()


def bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Bernoulli likelihood: the decoder outputs logits and targets must lie in [0, 1]."""
    if target.min() < 0 or target.max() > 1:
        raise ValueError(
            "loss.recon.type bce needs targets in [0, 1]; this data is not "
            "(the built-in data modules standardise their features): use mse or l1"
        )
    per_elem = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return per_elem.flatten(1).sum(1).mean()


# loss.recon.type -> function; keys equal raytrain.config.loss_terms.RECON_TYPES (tested).
RECON_LOSSES: dict[str, ReconLoss] = {"mse": mse, "bce": bce, "l1": l1}

# What the decoder output means for display/sampling: bce decoders emit logits.
OUTPUT_TRANSFORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "mse": lambda t: t,
    "l1": lambda t: t,
    "bce": torch.sigmoid,
}


def gaussian_kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per latent dimension, averaged over the batch: [D]."""
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(0)


def free_bits_kl(kl_total: torch.Tensor, free_bits: float) -> torch.Tensor:
    """max(KL, free_bits) on the *total* KL (all dimensions together, not per dimension).

    Below the floor the term is constant, so it stops pushing the posterior towards the
    prior; this prevents collapse without forcing every dimension to carry information.
    """
    if free_bits <= 0:
        return kl_total
    return torch.clamp(kl_total, min=free_bits)


def weighted_sum(
    values: Mapping[str, torch.Tensor], terms: Mapping[str, ResolvedTerm]
) -> torch.Tensor:
    """sum(weight * value) over terms; a zero-weight term is left out entirely (no graph)."""
    parts = [terms[name].weight * value for name, value in values.items() if terms[name].weight > 0]
    if not parts:
        raise ValueError("every loss term has weight 0: there is nothing to train")
    return torch.stack(parts).sum()
