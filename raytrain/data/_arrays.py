"""Shared machinery of the built-in data modules: in-memory arrays, split, standardise.

Loading the arrays is separate from building loaders so that a process can load once and
serve many trials (`setup` is idempotent; the arrays of each built-in are cached per process).
"""

from __future__ import annotations

import abc

import lightning.pytorch as pl
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset


def stratified_split(
    x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeded stratified train/val split: the same seed gives the same split on every rank."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    x_tr, x_va, y_tr, y_va = train_test_split(
        x, y, test_size=val_fraction, random_state=seed, stratify=y
    )
    return x_tr, x_va, y_tr, y_va


def standardise(x_train: np.ndarray, x_val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale both sets with the *training* mean/std (constant features are left centred)."""
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (x_train - mean) / std, (x_val - mean) / std


class ArrayDataModule(pl.LightningDataModule, abc.ABC):
    """A classification data module over arrays returned by `load_arrays` (subclass hook)."""

    input_dim: int
    num_classes: int

    def __init__(
        self, batch_size: int, val_fraction: float, split_seed: int, num_workers: int
    ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.split_seed = split_seed
        self.num_workers = num_workers
        self.train_set: TensorDataset | None = None
        self.val_set: TensorDataset | None = None

    @abc.abstractmethod
    def load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Features and labels of the whole data set; each built-in data module says how."""

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return  # already loaded: reused across fits in the same process
        x, y = self.load_arrays()
        x_tr, x_va, y_tr, y_va = stratified_split(x, y, self.val_fraction, self.split_seed)
        x_tr, x_va = standardise(x_tr, x_va)
        self.train_set = _tensors(x_tr, y_tr)
        self.val_set = _tensors(x_va, y_va)

    def train_dataloader(self) -> DataLoader:
        assert self.train_set is not None, "setup() was not called"
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        assert self.val_set is not None, "setup() was not called"
        return self._loader(self.val_set, shuffle=False)

    def _loader(self, dataset: TensorDataset, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )


def _tensors(x: np.ndarray, y: np.ndarray) -> TensorDataset:
    return TensorDataset(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y).long())
