"""Build the config's data module and model: a built-in `name` or a user `_target_`.

Built-in models get the data module's attributes named in their registry entry's
`data_injected` (e.g. input_dim, num_classes); a non-empty `loss` section is passed as
`loss=` to any model whose constructor accepts it.
"""

from __future__ import annotations

import inspect
from typing import Any

import lightning.pytorch as pl

from raytrain.config.components import import_target as lookup
from raytrain.config.registry import DATA, MODELS, Entry, Registry
from raytrain.config.schema import ComponentConfig, TrainConfig
from raytrain.optim import Optimization
from raytrain.trial.errors import TrialError
from raytrain.trial.optimizers import attach_optimization


def import_target(target: str) -> Any:
    """`pkg.mod.Class` (or `pkg.mod:Class`) -> the object, with a message that says why not
    (the same lookup `validate` uses, errors turned into a TrialError for the worker)."""
    try:
        return lookup(target)
    except ImportError as exc:
        raise TrialError(
            f"cannot import _target_ {target!r}: {exc}. Run raytrain from the directory "
            "that contains the package (it is put on the workers' path)."
        ) from exc


def resolve(component: ComponentConfig, registry: Registry) -> tuple[Any, Entry | None]:
    """The class to instantiate and, for a built-in, its registry entry."""
    if component.target:
        return import_target(component.target), None
    name = component.name or ""
    if name not in registry:
        raise TrialError(f"unknown {registry.kind} {name!r}: {registry.suggest(name)}")
    entry = registry[name]
    return entry.load(), entry


def build_datamodule(cfg: TrainConfig) -> pl.LightningDataModule:
    cls, _ = resolve(cfg.data, DATA)
    return _instantiate(cls, dict(cfg.data.kwargs), "data")


def build_model(cfg: TrainConfig, datamodule: pl.LightningDataModule) -> pl.LightningModule:
    """The model with data-injected kwargs, `loss=` if accepted, and config-driven optimizers."""
    cls, entry = resolve(cfg.model, MODELS)
    kwargs = dict(cfg.model.kwargs)
    for key in entry.data_injected if entry else ():
        kwargs[key] = _data_attribute(datamodule, key, entry.name if entry else "")
    if cfg.loss and "loss" in inspect.signature(cls).parameters:
        kwargs["loss"] = cfg.loss
    model = _instantiate(cls, kwargs, "model")
    if not isinstance(model, pl.LightningModule):
        raise TrialError(f"model {type(model).__qualname__} is not a lightning LightningModule")
    attach_optimization(model, Optimization.from_config(cfg))
    return model


def _data_attribute(datamodule: pl.LightningDataModule, key: str, model: str) -> Any:
    if not hasattr(datamodule, key):
        # A user data module may only know its shape once the data is loaded.
        datamodule.prepare_data()
        datamodule.setup("fit")
    if not hasattr(datamodule, key):
        raise TrialError(
            f"model {model!r} needs `{key}` from the data module, but "
            f"{type(datamodule).__qualname__} has no attribute {key!r}; set it in the data "
            f"module (after setup) or give model.{key} explicitly with a _target_ model"
        )
    return getattr(datamodule, key)


def _instantiate(cls: Any, kwargs: dict[str, Any], section: str) -> Any:
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as exc:
        raise TrialError(f"{section}: {getattr(cls, '__qualname__', cls)}: {exc}") from None
    return cls(**kwargs)
