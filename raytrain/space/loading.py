"""Read a space file: safe YAML -> overrides -> `base:` -> `${...}` in config -> `Space`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from raytrain.config.loading import read_document, resolve_interpolations
from raytrain.config.problems import Problems
from raytrain.space.parse import parse_space
from raytrain.space.types import Space


def load_space(path: str | Path, overrides: Sequence[str] = ()) -> Space:
    """Load and validate a space file; raise `InputError` listing every problem found.

    `overrides` are `KEY=VALUE` strings in OmegaConf dot-list form against the space file
    (`search.num_samples=8`, `config.trainer.max_epochs=5`, `parameters.optimizer.lr.high=0.1`).
    """
    path = Path(path)
    doc = read_document(path, overrides, flat_keyed=[("parameters",)], base_into=("config",))
    probs = Problems(doc.lines, items=list(doc.problems))
    if doc.data is None:
        probs.raise_if_any()
    data = dict(doc.data)
    if "config" in data:
        data["config"] = resolve_interpolations(data["config"], probs.under("config"))
    return parse_space(data, doc.lines, default_name=path.stem, source=path, problems=probs.items)
