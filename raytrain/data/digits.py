"""The built-in `digits` data: scikit-learn's bundled 8x8 digits (no download needed)."""

from __future__ import annotations

import functools

import numpy as np

from raytrain.data._arrays import ArrayDataModule


@functools.lru_cache(maxsize=1)
def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digit images as (x [N, 64] float32, y [N] int64), read once per process."""
    # Imported here: scikit-learn takes ~1 s or more to import, and `raytrain.data` loads this
    # module for every built-in data module, not only for `digits`.
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data.astype(np.float32), bunch.target.astype(np.int64)


class DigitsDataModule(ArrayDataModule):
    """Seeded stratified train/val split, standardised with the training statistics."""

    input_dim = 64
    num_classes = 10

    def __init__(
        self,
        batch_size: int = 64,
        val_fraction: float = 0.2,
        split_seed: int = 0,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size, val_fraction, split_seed, num_workers)
        self.save_hyperparameters()

    def load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return load_digits_arrays()
