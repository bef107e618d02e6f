"""Command-line `KEY=VALUE` overrides (OmegaConf dot-list syntax) applied to a loaded file.

Values are read with the same safe YAML rules as files (`8`, `1e-3`, `[a, b]`, `{x: 1}`,
`${...}` stays text for the interpolation step). Keys are dotted paths; because parameter
names themselves contain dots (`parameters.optimizer.lr.high`), each step of a key matches
the longest existing key first. Whether a key is *valid* is decided later by the schema
check, which sees each override's origin and so names it in its message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raytrain.config.tree import KeyPath
from raytrain.config.yaml_io import LineMap, Origin, iter_paths, parse_scalar
from raytrain.errors import Problem

_KEY = re.compile(r"^[A-Za-z_][\w\-]*(\.[\w\-]+)*$")


@dataclass(frozen=True)
class Override:
    text: str  # as typed, for messages
    key: str
    value: Any

    @property
    def where(self) -> str:
        return f"override {self.text!r}"


def parse_overrides(items: Sequence[str]) -> tuple[list[Override], list[Problem]]:
    parsed: list[Override] = []
    problems: list[Problem] = []
    for text in items:
        where = f"override {text!r}"
        key, eq, raw = text.partition("=")
        key = key.strip()
        if not eq:
            problems.append(Problem("", "expected KEY=VALUE (e.g. search.num_samples=8)", where))
            continue
        if not _KEY.match(key):
            problems.append(
                Problem(key, "bad key: use a dotted path like config.trainer.max_epochs", where)
            )
            continue
        value, bad = parse_scalar(raw, where)
        if bad:
            problems.extend(Problem(key, p.message, where) for p in bad)
            continue
        parsed.append(Override(text, key, value))
    return parsed, problems


def resolve_key(data: Any, dotted: str, flat_keyed: Sequence[KeyPath] = ()) -> KeyPath:
    """Split a dotted override key into the file's key path.

    At each level the longest run of segments that names an existing key wins, so
    `parameters.optimizer.lr.high` finds the key `optimizer.lr`. Under a mapping listed in
    `flat_keyed` (whose keys are dotted paths, like `parameters`) a new key takes the rest.
    """
    segments = dotted.split(".")
    path: list[str] = []
    node = data
    i = 0
    while i < len(segments):
        keys = node if isinstance(node, Mapping) else {}
        for j in range(len(segments), i, -1):
            candidate = ".".join(segments[i:j])
            if candidate in keys:
                break
        else:
            j = len(segments) if tuple(path) in flat_keyed else i + 1
            candidate = ".".join(segments[i:j])
        path.append(candidate)
        node = keys.get(candidate) if isinstance(keys, Mapping) else None
        i = j
    return tuple(path)


def apply_overrides(
    data: dict[str, Any],
    lines: LineMap,
    overrides: Sequence[Override],
    flat_keyed: Sequence[KeyPath] = (),
) -> list[Problem]:
    """Set each override in `data` (in place), recording the override as the origin."""
    problems: list[Problem] = []
    for ov in overrides:
        path = resolve_key(data, ov.key, flat_keyed)
        node = data
        blocked = None
        for depth, key in enumerate(path[:-1]):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                blocked = ".".join(path[: depth + 1])
                break
            node = child
        if blocked is not None:
            problems.append(
                Problem(ov.key, f"cannot set: {blocked} is a value, not a mapping", ov.where)
            )
            continue
        node[path[-1]] = ov.value
        origin = Origin(ov.where, None)
        lines.set(path, origin)
        for sub in iter_paths(ov.value, path):
            lines.set(sub, origin)
    return problems
