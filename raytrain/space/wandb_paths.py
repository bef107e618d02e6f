"""W&B parameter names -> dotted raytrain config paths.

W&B sweeps name parameters however the training script reads them (`learning_rate`,
`batch_size`, `dropout`); raytrain parameters are paths into the train config
(`optimizer.lr`). A name is resolved, in this order, by:

1. the sweep's `raytrain: {map: {name: path}}` (a key may also be a dotted prefix:
   `{unet: model}` sends `unet.channels` to `model.channels`);
2. a dotted name (from nested `parameters` or written so) is taken as a path as is;
3. a top-level config key (`seed`);
4. a few universal aliases (`ALIASES`);
5. the one section (model, data, optimizer, trainer) whose keyword arguments include the
   name, judged from the registry and the base config.
Anything else, or a name several sections accept, is an error asking for a `map` entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from raytrain.config.registry import DATA, MODELS, OPTIMIZERS, Registry
from raytrain.config.schema import TrainConfig, TrainerConfig

ALIASES: dict[str, str] = {
    "learning_rate": "optimizer.lr",
    "optimizer": "optimizer.name",
    "epochs": "trainer.max_epochs",
    "max_epochs": "trainer.max_epochs",
    "lr_scheduler": "lr_scheduler.name",
}
TOP_LEVEL_SCALARS = ("seed",)


class Unresolved(Exception):
    """The name is not a config path; the message says how to map it."""


def _component_keys(section: Any, registry: Registry, default: str) -> set[str]:
    """Keyword arguments a model/data/optimizer section accepts, as far as we can know."""
    section = section if isinstance(section, Mapping) else {}
    keys = {k for k in section if k not in ("name", "_target_")}
    name = section.get("name", None if "_target_" in section else default)
    if isinstance(name, str) and name in registry:
        keys |= set(registry[name].params)
    return keys


def section_keys(config: Mapping[str, Any]) -> dict[str, set[str]]:
    """section -> the keys a flat W&B name may refer to (for auto-qualification)."""
    defaults = TrainConfig()
    return {
        "model": _component_keys(config.get("model"), MODELS, defaults.model.name or ""),
        "data": _component_keys(config.get("data"), DATA, defaults.data.name or ""),
        "optimizer": _component_keys(config.get("optimizer"), OPTIMIZERS, defaults.optimizer.name),
        "trainer": {f.name for f in dataclasses.fields(TrainerConfig)},
    }


def _mapped(name: str, mapping: Mapping[str, str]) -> str | None:
    """The longest `map` key equal to `name` or a dotted prefix of it, applied."""
    best = None
    for key in mapping:
        if (name == key or name.startswith(key + ".")) and (best is None or len(key) > len(best)):
            best = key
    if best is None:
        return None
    return mapping[best] + name[len(best) :]


def resolve_name(
    name: str, mapping: Mapping[str, str], sections: Mapping[str, set[str]]
) -> tuple[str, str | None]:
    """(config path, note or None when the name was used as written)."""
    mapped = _mapped(name, mapping)
    if mapped is not None:
        return mapped, None
    if "." in name or name in TOP_LEVEL_SCALARS:
        return name, None
    if name in ALIASES:
        return ALIASES[name], f"W&B parameter {name!r} -> {ALIASES[name]}"
    owners = sorted(s for s, keys in sections.items() if name in keys)
    hint = f"map it to a config path: `raytrain: {{map: {{{name}: model.{name}}}}}`"
    if len(owners) == 1:
        path = f"{owners[0]}.{name}"
        return path, f"W&B parameter {name!r} -> {path}"
    if owners:
        raise Unresolved(
            f"{name!r} could be any of {', '.join(f'{o}.{name}' for o in owners)}; "
            f"{hint.replace(f'model.{name}', f'{owners[0]}.{name}')}"
        )
    raise Unresolved(
        f"{name!r} is not a raytrain config path and no section of the base config takes it; {hint}"
    )
