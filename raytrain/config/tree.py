"""Small pure helpers on nested mappings: dotted paths, merging, 'did you mean'."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

KeyPath = tuple[str, ...]


def suggest(name: str, valid: Iterable[str], what: str = "valid keys") -> str:
    """'did you mean X? valid keys: a, b' — the hint every unknown-name message carries."""
    names = sorted(set(valid))
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    listing = ", ".join(names) if names else "(none)"
    return f"{hint}{what}: {listing}"


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def split_path(dotted: str) -> KeyPath:
    return tuple(dotted.split("."))


def get_path(data: Mapping[str, Any], path: Sequence[str], default: Any = None) -> Any:
    node: Any = data
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


def has_path(data: Mapping[str, Any], path: Sequence[str]) -> bool:
    sentinel = object()
    return get_path(data, path, sentinel) is not sentinel


def set_path(data: dict[str, Any], path: Sequence[str], value: Any) -> None:
    """Set `value` at `path`, creating mappings on the way (raises if a leaf is in the way)."""
    node = data
    for key in path[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise TypeError(f"{'.'.join(path)}: {key!r} holds {child!r}, not a mapping")
        node = child
    node[path[-1]] = value
