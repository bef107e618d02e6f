"""The built-in `synthetic` data: seeded Gaussian blobs, any size, for tests and benchmarks."""

from __future__ import annotations

import functools

import numpy as np

from raytrain.data._arrays import ArrayDataModule


@functools.lru_cache(maxsize=8)
def make_blobs_arrays(
    num_samples: int, num_features: int, num_classes: int, noise: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Class centres on a unit-scale grid plus Gaussian `noise`; same seed, same data."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, size=(num_classes, num_features))
    y = np.arange(num_samples) % num_classes
    rng.shuffle(y)
    x = centres[y] + rng.normal(0.0, noise, size=(num_samples, num_features))
    return x.astype(np.float32), y.astype(np.int64)


class SyntheticDataModule(ArrayDataModule):
    """Blobs generated from `split_seed` (data and split are both fixed by it)."""

    def __init__(
        self,
        num_samples: int = 2000,
        num_features: int = 20,
        num_classes: int = 4,
        noise: float = 0.5,
        batch_size: int = 64,
        val_fraction: float = 0.2,
        split_seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size, val_fraction, split_seed, num_workers)
        self.save_hyperparameters()
        self.num_samples = num_samples
        self.input_dim = num_features
        self.num_classes = num_classes
        self.noise = noise

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return make_blobs_arrays(
            self.num_samples, self.input_dim, self.num_classes, self.noise, self.split_seed
        )
