"""The built-in `autoencoder`: MLP encoder -> latent bottleneck (none | linear | vq) -> decoder.

Metrics (epoch means): train_loss, train_recon, val_recon, val_loss; with `latent: vq` also
train_vq/val_vq (quantisation error), {train,val}_codebook_usage and {train,val}_perplexity.
`val_loss` = recon.weight * val_recon + vq.weight * val_vq: the commitment weight shapes
training only, so trials with different commitment weights stay comparable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from raytrain.config.loss_terms import resolve_loss_terms
from raytrain.models.base import RaytrainModule
from raytrain.models.bottlenecks import BOTTLENECKS, BottleneckOutput
from raytrain.models.losses import RECON_LOSSES, weighted_sum
from raytrain.models.mlp import ACTIVATIONS

Batch = tuple[torch.Tensor, torch.Tensor]


def mlp_stack(in_dim: int, hidden: int, depth: int, out_dim: int, activation: str) -> nn.Sequential:
    """`depth` hidden layers of width `hidden`, then a linear output layer (no activation)."""
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; valid: {', '.join(sorted(ACTIVATIONS))}"
        )
    if depth < 0 or hidden < 1 or out_dim < 1:
        raise ValueError(
            f"need depth >= 0, hidden >= 1, output size >= 1 (got {depth}, {hidden}, {out_dim})"
        )
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), ACTIVATIONS[activation]()]
        width = hidden
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


class Autoencoder(RaytrainModule):
    """Deterministic autoencoder; `input_dim` is injected from the data module by raytrain.

    `loss` (the train config's `loss:` mapping) weights the terms `recon` (type mse|bce|l1)
    and `vq`. `codebook_size` / `commitment_weight` matter only for `latent: vq`.
    """

    def __init__(
        self,
        input_dim: int,
        encoder_hidden: int = 128,
        decoder_hidden: int = 128,
        depth: int = 2,
        latent_dim: int = 16,
        latent: str = "linear",
        codebook_size: int = 64,
        commitment_weight: float = 0.25,
        activation: str = "relu",
        loss: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if latent not in BOTTLENECKS:
            raise ValueError(f"unknown latent {latent!r}; valid: {', '.join(BOTTLENECKS)}")
        self.save_hyperparameters()
        self.terms = resolve_loss_terms("autoencoder", loss)
        self.recon_loss = RECON_LOSSES[self.terms["recon"].options["type"]]
        self.encoder = mlp_stack(input_dim, encoder_hidden, depth, latent_dim, activation)
        self.bottleneck = BOTTLENECKS[latent](latent_dim, codebook_size, commitment_weight)
        self.decoder = mlp_stack(latent_dim, decoder_hidden, depth, input_dim, activation)
        self.latent = latent

    def encode(self, x: torch.Tensor) -> BottleneckOutput:
        return self.bottleneck(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction (logits when `recon.type` is bce)."""
        return self.decoder(self.encode(x).z)

    def _step(self, batch: Batch, stage: str) -> torch.Tensor:
        x, _ = batch
        code = self.encode(x)
        recon = self.recon_loss(self.decoder(code.z), x)
        values = {"recon": recon}
        logged = {"recon": recon}
        if self.latent == "vq":
            error = code.metrics["quantization_error"]
            # Training optimises codebook + commitment; validation scores the quantisation
            # error itself, which does not depend on commitment_weight (comparable trials).
            values["vq"] = code.loss if stage == "train" else error
            logged.update(vq=error, codebook_usage=code.metrics["codebook_usage"],
                          perplexity=code.metrics["perplexity"])  # fmt: skip
        loss = weighted_sum(values, self.terms)
        logged["loss"] = loss
        for name, value in logged.items():
            self.log(f"{stage}_{name}", value, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "val")
