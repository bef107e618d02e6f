"""The built-in `mlp` classifier: a small fully connected network for tabular/flat inputs."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from raytrain.models.base import RaytrainModule

# activation name -> layer factory; the one list of accepted `activation` values.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
}


class MLPClassifier(RaytrainModule):
    """`depth` hidden layers of width `hidden`; logs train_loss, val_loss and val_acc per epoch,
    and `num_params` (its parameter count: the size objective of an accuracy-vs-size search).

    `input_dim` / `num_classes` are injected from the data module by raytrain. All arguments
    are saved as hyperparameters so `MLPClassifier.load_from_checkpoint(path)` needs no
    arguments.
    """

    def __init__(
        self,
        input_dim: int,
        num_classes: int,
        hidden: int = 128,
        depth: int = 2,
        dropout: float = 0.1,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; valid: {', '.join(sorted(ACTIVATIONS))}"
            )
        self.save_hyperparameters()
        layers: list[nn.Module] = []
        width = input_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)
        self.num_params = sum(p.numel() for p in self.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val_loss", F.cross_entropy(logits, y), on_epoch=True, sync_dist=True)
        acc = (logits.argmax(dim=-1) == y).float().mean()
        self.log("val_acc", acc, on_epoch=True, sync_dist=True)

    def on_validation_epoch_end(self) -> None:
        self.log("num_params", float(self.num_params))
