"""Read a W&B sweep file (and its base train config) into a self-contained conversion.

The file-reading half of `raytrain.space.wandb`: safe YAML with line numbers, the
`--config FILE` base, and `raytrain: {base: file}` resolved relative to the sweep file, so
the resulting space needs no further file access and its problems name sweep-file lines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from raytrain.config.loading import BASE_KEY, PROVENANCE_KEY, read_document, resolve_with_secrets
from raytrain.config.overrides import apply_overrides, parse_overrides
from raytrain.config.problems import Problems
from raytrain.config.tree import deep_merge
from raytrain.config.yaml_io import LineMap, load_yaml_file
from raytrain.errors import InputError
from raytrain.space.parse import parse_space
from raytrain.space.wandb import Conversion, sweep_conversion

if TYPE_CHECKING:
    from raytrain.space.types import Space


def load_sweep_space(
    path: str | Path, overrides: Sequence[str] = (), config_file: str | Path | None = None
) -> tuple[Space, list[str]]:
    """A W&B sweep file as a validated `Space` (plus the conversion notes to show the user).

    The counterpart of `raytrain.space.load_space` for sweep files: `overrides` apply to
    the converted canonical space (`search.num_samples=4`, `config.trainer.max_epochs=2`).
    """
    conv = read_sweep(path, config_file)
    parsed, problems = parse_overrides(overrides)
    problems += apply_overrides(conv.space, conv.lines, parsed, flat_keyed=[("parameters",)])
    probs = Problems(conv.lines, items=problems)
    conv.space["config"], refs = resolve_with_secrets(conv.space["config"], probs.under("config"))
    space = parse_space(
        conv.space, conv.lines, default_name=Path(path).stem, source=Path(path),
        problems=probs.items,
    )  # fmt: skip
    return dataclasses.replace(space, secrets=refs), conv.notes


def read_sweep(path: str | Path, config_file: str | Path | None = None) -> Conversion:
    """Load, check and convert a sweep file; raise InputError listing every problem."""
    doc = load_yaml_file(path)
    if doc.data is None and not doc.problems:
        doc.problems.append(LineMap(str(path)).problem((), "the file is empty"))
    if doc.problems:
        raise InputError(doc.problems)
    base, base_lines = None, LineMap()
    if config_file is not None:
        base, base_lines = _train_config(config_file)
    conv = sweep_conversion(doc.data, base_config=base, source=str(path), lines=doc.lines)
    if BASE_KEY in conv.space:
        name = conv.space.pop(BASE_KEY)
        file = Path(name) if Path(name).is_absolute() else Path(path).parent / name
        extra, extra_lines = _train_config(file)
        conv.space["config"] = deep_merge(extra, conv.space["config"])
        conv.notes.append(f"raytrain.base: train config read from {file}")
    else:
        extra_lines = LineMap()
    # Where each config key came from, later sources winning as in the merge.
    lines = LineMap(str(path))
    lines.graft(("config",), extra_lines)
    lines.graft(("config",), base_lines)
    lines.origins.update(conv.lines.origins)
    conv.lines = lines
    return conv


def _train_config(file: str | Path) -> tuple[dict, LineMap]:
    """A train config file as plain data (its own `base:` chain merged), with its lines."""
    doc = read_document(file)
    probs = Problems(doc.lines, items=list(doc.problems))
    if not isinstance(doc.data, dict):
        probs.raise_if_any()
        raise InputError(doc.lines.problem((), "expected a train config mapping"))
    probs.raise_if_any()
    data = {k: v for k, v in doc.data.items() if k not in (BASE_KEY, PROVENANCE_KEY)}
    return data, doc.lines
