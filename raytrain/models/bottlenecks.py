"""Latent bottlenecks of the built-in autoencoder: identity, linear projection, VQ.

Each maps an encoding `z` [B, D] to the code the decoder sees, plus its own loss (zero for
the deterministic ones) and diagnostics to log. `BOTTLENECKS` is the one table of
`model.latent` values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class BottleneckOutput:
    z: torch.Tensor  # what the decoder consumes
    loss: torch.Tensor  # the bottleneck's own loss term (0 for none/linear)
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)


class Identity(nn.Module):
    """`latent: none` — the encoder's output goes straight to the decoder."""

    def forward(self, z: torch.Tensor) -> BottleneckOutput:
        return BottleneckOutput(z, z.new_zeros(()))


class LinearProjection(nn.Module):
    """`latent: linear` — a learned linear map of the latent code (latent_dim -> latent_dim)."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(latent_dim, latent_dim)

    def forward(self, z: torch.Tensor) -> BottleneckOutput:
        return BottleneckOutput(self.proj(z), z.new_zeros(()))


class VectorQuantizer(nn.Module):
    """`latent: vq` — nearest-codebook-vector quantisation (van den Oord et al., 2017).

    loss = ||sg[z] - e||² (moves the codebook) + commitment_weight * ||z - sg[e]||² (keeps
    the encoder close to its codes). The decoder sees z + sg[e - z]: the quantised value
    forward, the identity backward (straight-through), so the encoder still gets the
    reconstruction gradient. Logs the fraction of codes used in the batch and the
    perplexity of code assignments (exp of their entropy; codebook_size = all used evenly).
    """

    def __init__(self, latent_dim: int, codebook_size: int, commitment_weight: float) -> None:
        super().__init__()
        if codebook_size < 1:
            raise ValueError(f"codebook_size must be >= 1, got {codebook_size}")
        if commitment_weight < 0:
            raise ValueError(f"commitment_weight must be >= 0, got {commitment_weight}")
        self.codebook = nn.Embedding(codebook_size, latent_dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / codebook_size, 1.0 / codebook_size)
        self.commitment_weight = commitment_weight
        # Data-dependent init: the first training batch seeds the codebook with encodings.
        # With a tiny random init most codes are never the nearest and never train.
        self.initialized: torch.Tensor
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def init_from(self, z: torch.Tensor) -> None:
        """Set the codebook to randomly chosen encodings of `z` (with replacement if few)."""
        size = self.codebook.num_embeddings
        if len(z) < size:
            pick = torch.randint(len(z), (size,), device=z.device)
        else:
            pick = torch.randperm(len(z), device=z.device)[:size]
        self.codebook.weight.copy_(z[pick])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # Every DDP rank reaches its first step together; all must share rank 0's codes.
            torch.distributed.broadcast(self.codebook.weight, src=0)
        self.initialized.fill_(True)

    def quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(nearest code vectors [B, D], their indices [B])."""
        distances = torch.cdist(z, self.codebook.weight)
        indices = distances.argmin(dim=1)
        return self.codebook(indices), indices

    def forward(self, z: torch.Tensor) -> BottleneckOutput:
        if self.training and not bool(self.initialized):
            self.init_from(z.detach())
        codes, indices = self.quantize(z)
        codebook_loss = (z.detach() - codes).pow(2).sum(1).mean()
        commitment_loss = (z - codes.detach()).pow(2).sum(1).mean()
        z_q = z + (codes - z).detach()
        counts = torch.bincount(indices, minlength=self.codebook.num_embeddings).float()
        probs = counts / counts.sum()
        entropy = -(probs[probs > 0] * probs[probs > 0].log()).sum()
        metrics = {
            "codebook_usage": (counts > 0).float().mean(),
            "perplexity": entropy.exp(),
            "quantization_error": commitment_loss.detach(),
        }
        loss = codebook_loss + self.commitment_weight * commitment_loss
        return BottleneckOutput(z_q, loss, metrics)


# model.latent -> factory(latent_dim, codebook_size, commitment_weight)
BOTTLENECKS: dict[str, Callable[[int, int, float], nn.Module]] = {
    "none": lambda dim, size, weight: Identity(),
    "linear": lambda dim, size, weight: LinearProjection(dim),
    "vq": VectorQuantizer,
}
