"""Built-in data modules: seeded deterministic splits, stratification, standardisation."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from raytrain.config.registry import DATA
from raytrain.data import DigitsDataModule, SyntheticDataModule
from raytrain.data._arrays import standardise, stratified_split


def _val_targets(dm) -> torch.Tensor:  # type: ignore[no-untyped-def]
    dm.setup("fit")
    return dm.val_set.tensors[1]


def test_digits_split_is_deterministic_per_seed() -> None:
    a, b = DigitsDataModule(split_seed=3), DigitsDataModule(split_seed=3)
    a.setup("fit")
    b.setup("fit")
    assert torch.equal(a.val_set.tensors[0], b.val_set.tensors[0])  # type: ignore[union-attr]
    other = DigitsDataModule(split_seed=4)
    other.setup("fit")
    assert not torch.equal(a.val_set.tensors[0], other.val_set.tensors[0])  # type: ignore[union-attr]


def test_digits_shape_stratification_and_standardisation() -> None:
    dm = DigitsDataModule(val_fraction=0.25)
    dm.setup("fit")
    x_train = dm.train_set.tensors[0]  # type: ignore[union-attr]
    y_val = dm.val_set.tensors[1]  # type: ignore[union-attr]
    assert (dm.input_dim, dm.num_classes) == (64, 10)
    assert len(y_val) == pytest.approx(1797 * 0.25, abs=1)
    # every class keeps about its share in validation
    shares = torch.bincount(y_val, minlength=10).float() / len(y_val)
    assert torch.all((shares - 0.1).abs() < 0.02)
    # standardised with training statistics: train features centred, unit (or zero) std
    assert torch.allclose(x_train.mean(0), torch.zeros(64), atol=1e-4)
    stds = x_train.std(0, unbiased=False)
    assert torch.all(((stds - 1).abs() < 1e-3) | (stds < 1e-6))


def test_setup_is_idempotent_and_loaders_batch() -> None:
    dm = DigitsDataModule(batch_size=32)
    dm.setup("fit")
    first = dm.train_set
    dm.setup("fit")
    assert dm.train_set is first
    x, y = next(iter(dm.val_dataloader()))
    assert x.shape == (32, 64) and y.dtype == torch.long


def test_standardise_uses_train_statistics_only() -> None:
    train = np.array([[0.0, 1.0], [2.0, 1.0]])
    val = np.array([[4.0, 3.0]])
    tr, va = standardise(train, val)
    assert tr.tolist() == [[-1.0, 0.0], [1.0, 0.0]]
    assert va.tolist() == [[3.0, 2.0]]  # std of a constant column falls back to 1


def test_stratified_split_rejects_bad_fraction() -> None:
    with pytest.raises(ValueError, match="val_fraction"):
        stratified_split(np.zeros((4, 1)), np.array([0, 1, 0, 1]), 1.0, 0)


def test_synthetic_is_seeded_and_sized() -> None:
    a = SyntheticDataModule(num_samples=200, num_features=5, num_classes=3, split_seed=1)
    b = SyntheticDataModule(num_samples=200, num_features=5, num_classes=3, split_seed=1)
    assert torch.equal(_val_targets(a), _val_targets(b))
    assert (a.input_dim, a.num_classes) == (5, 3)
    assert len(a.train_set) + len(a.val_set) == 200  # type: ignore[arg-type]
    c = SyntheticDataModule(num_samples=200, num_features=5, num_classes=3, split_seed=2)
    c.setup("fit")
    assert not torch.equal(a.train_set.tensors[0], c.train_set.tensors[0])  # type: ignore[union-attr]


@pytest.mark.parametrize("name", DATA.names())
def test_registry_params_match_signature(name: str) -> None:
    entry = DATA[name]
    sig = inspect.signature(entry.load())
    assert {p.name: p.default for p in sig.parameters.values()} == dict(entry.params)
