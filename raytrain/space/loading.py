"""Read a space file: safe YAML -> overrides -> `base:` -> `${...}` in config -> `Space`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from raytrain.config.loading import read_document, resolve_with_secrets
from raytrain.config.problems import Problems
from raytrain.config.yaml_io import load_yaml_file
from raytrain.errors import InputError, Problem
from raytrain.space.parse import parse_space
from raytrain.space.types import Space
from raytrain.space.wandb import is_wandb_sweep
from raytrain.space.wandb_io import load_sweep_space


def load_space_with_notes(
    path: str | Path, overrides: Sequence[str] = (), config_file: str | Path | None = None
) -> tuple[Space, list[str]]:
    """Load a canonical space file or a W&B sweep file (detected by its keys; its base
    train config from `config_file` or its `raytrain:` block). Returns the space and the
    conversion notes to show the user (none for a canonical file)."""
    raw = load_yaml_file(path).data
    if isinstance(raw, dict) and is_wandb_sweep(raw):
        return load_sweep_space(path, overrides, config_file)
    if config_file is not None:
        raise InputError(
            Problem(
                "--config",
                "only W&B sweep files take --config; a raytrain space "
                "names its base train config with `base:`",
                file=str(path),
            )
        )
    return load_space(path, overrides), []


def load_space(path: str | Path, overrides: Sequence[str] = ()) -> Space:
    """Load and validate a space file; raise `InputError` listing every problem found.

    `overrides` are `KEY=VALUE` strings in OmegaConf dot-list form against the space file
    (`search.num_samples=8`, `config.trainer.max_epochs=5`, `parameters.optimizer.lr.high=0.1`).
    A W&B sweep file goes through `load_space_with_notes` instead.
    """
    path = Path(path)
    doc = read_document(path, overrides, flat_keyed=[("parameters",)], base_into=("config",))
    probs = Problems(doc.lines, items=list(doc.problems))
    if doc.data is None:
        probs.raise_if_any()
    data = dict(doc.data)
    refs: tuple[tuple[str, str], ...] = ()
    if "config" in data:
        data["config"], refs = resolve_with_secrets(data["config"], probs.under("config"))
    space = parse_space(data, doc.lines, default_name=path.stem, source=path, problems=probs.items)
    return dataclasses.replace(space, secrets=refs)
