"""The built-in `vae`: Gaussian VAE with KL annealing (linear or cyclical) and free bits.

Training minimises recon.weight * recon + kl.weight * beta(t) * max(KL, free_bits), where
beta(t) is `kl_beta` below (t = fractional epoch). Validation reports the schedule-free
quantities, so trials with different beta / annealing / free bits are comparable:
val_recon and val_kl (with z = posterior mean), val_loss = recon.weight * val_recon +
kl.weight * val_kl (the negative ELBO with default weights), and `kl_per_dim` (val_kl
divided by latent_dim; near 0 means posterior collapse) and `val_active_units`, the number
of latent dimensions whose posterior mean varies across the validation batch (variance
above `ACTIVE_UNIT_VAR`, Burda et al. 2016: a collapsed dimension encodes nothing about x;
a lower bound on it is the posterior-collapse constraint of
search_spaces/vae_rate_distortion.yaml). Training logs train_loss, train_recon,
train_kl, train_kl_per_dim and train_beta.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from raytrain.config.loss_terms import resolve_loss_terms
from raytrain.models.autoencoder import mlp_stack
from raytrain.models.base import RaytrainModule
from raytrain.models.losses import RECON_LOSSES, free_bits_kl, gaussian_kl_per_dim, weighted_sum

Batch = tuple[torch.Tensor, torch.Tensor]

# Variance over the data of a dimension's posterior mean above which it counts as active
# (Burda et al. 2016, "Importance Weighted Autoencoders", section 5.2).
ACTIVE_UNIT_VAR = 0.01


def kl_beta(epoch: float, beta: float, anneal_epochs: float, cycle_epochs: float = 0) -> float:
    """The KL weight at (fractional) epoch `epoch`, counted from 0.

    Linear warm-up from 0 to `beta` over `anneal_epochs` (0 = no warm-up). With
    `cycle_epochs > 0` the schedule restarts every `cycle_epochs` epochs (cyclical
    annealing, Fu et al. 2019): each cycle ramps over `anneal_epochs` (at most the cycle
    length) and then holds `beta`.
    """
    if cycle_epochs > 0:
        epoch = epoch % cycle_epochs
        anneal_epochs = min(anneal_epochs, cycle_epochs)
    if anneal_epochs <= 0:
        return float(beta)
    return float(beta) * min(1.0, max(0.0, epoch) / anneal_epochs)


class VAE(RaytrainModule):
    """MLP encoder -> (mu, logvar) -> reparameterised z -> MLP decoder.

    `input_dim` is injected from the data module by raytrain; `loss` (the train config's
    `loss:` mapping) weights the terms `recon` (type mse|bce|l1) and `kl`.
    """

    def __init__(
        self,
        input_dim: int,
        encoder_hidden: int = 128,
        decoder_hidden: int = 128,
        depth: int = 2,
        latent_dim: int = 8,
        beta: float = 1.0,
        kl_anneal_epochs: int = 0,
        cycle_epochs: int = 0,
        free_bits: float = 0.0,
        activation: str = "relu",
        loss: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        for name, value in (
            ("beta", beta),
            ("kl_anneal_epochs", kl_anneal_epochs),
            ("cycle_epochs", cycle_epochs),
            ("free_bits", free_bits),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self.save_hyperparameters()
        self.terms = resolve_loss_terms("vae", loss)
        self.recon_loss = RECON_LOSSES[self.terms["recon"].options["type"]]
        self.encoder = mlp_stack(input_dim, encoder_hidden, depth, 2 * latent_dim, activation)
        self.decoder = mlp_stack(latent_dim, decoder_hidden, depth, input_dim, activation)
        self.latent_dim = latent_dim
        self.beta, self.free_bits = beta, free_bits
        self.kl_anneal_epochs, self.cycle_epochs = kl_anneal_epochs, cycle_epochs

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=-1)
        return mu, logvar.clamp(-30.0, 20.0)  # keeps exp() finite early in training

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction from the posterior mean (logits when `recon.type` is bce)."""
        mu, _ = self.encode(x)
        return self.decoder(mu)

    def current_beta(self, batch_idx: int) -> float:
        """beta at this step: the epoch is fractional so the warm-up is smooth within epochs."""
        try:
            batches = self.trainer.num_training_batches
        except RuntimeError:  # not attached to a Trainer (a bare call, e.g. in tests)
            batches = 0
        finite = isinstance(batches, int) and batches > 0
        progress = batch_idx / batches if finite else 0.0
        epoch = self.current_epoch + progress
        return kl_beta(epoch, self.beta, self.kl_anneal_epochs, self.cycle_epochs)

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        x, _ = batch
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = self.recon_loss(self.decoder(z), x)
        kl = gaussian_kl_per_dim(mu, logvar).sum()
        beta = self.current_beta(batch_idx)
        kl_term = beta * free_bits_kl(kl, self.free_bits)
        loss = weighted_sum({"recon": recon, "kl": kl_term}, self.terms)
        for name, value in (
            ("loss", loss),
            ("recon", recon),
            ("kl", kl),
            ("kl_per_dim", kl / self.latent_dim),
        ):
            self.log(f"train_{name}", value, on_step=False, on_epoch=True, sync_dist=True)
        self.log("train_beta", beta, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        x, _ = batch
        mu, logvar = self.encode(x)
        recon = self.recon_loss(self.decoder(mu), x)
        per_dim = gaussian_kl_per_dim(mu, logvar)
        kl = per_dim.sum()
        loss = weighted_sum({"recon": recon, "kl": kl}, self.terms)
        active = (mu.var(0) > ACTIVE_UNIT_VAR).sum().to(kl.dtype)
        for name, value in (
            ("val_loss", loss),
            ("val_recon", recon),
            ("val_kl", kl),
            ("kl_per_dim", kl / self.latent_dim),
            ("val_active_units", active),
        ):
            self.log(name, value, on_step=False, on_epoch=True, sync_dist=True)
