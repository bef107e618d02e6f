"""Train config files: safe load -> overrides -> `base:` -> `${...}` -> typed `TrainConfig`.

The same steps serve space files (`raytrain.space.loading`), so a config behaves the same
whether it is tuned inside a space or trained on its own with `raytrain train`. A
top-level `provenance:` block (written by `raytrain export`) is returned separately and
plays no part in training.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from raytrain.config.overrides import apply_overrides, parse_overrides
from raytrain.config.parse import check_train_config
from raytrain.config.problems import Problems
from raytrain.config.schema import TrainConfig
from raytrain.config.tree import KeyPath, deep_merge
from raytrain.config.yaml_io import Document, LineMap, load_yaml_file
from raytrain.redaction import SecretRefs, remember, secret_refs

BASE_KEY = "base"
PROVENANCE_KEY = "provenance"


def load_train_config(path: str | Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a train config file (e.g. an exported best.yaml) for `raytrain train`."""
    return load_train_config_with_provenance(path, overrides)[0]


def load_train_config_with_provenance(
    path: str | Path, overrides: Sequence[str] = ()
) -> tuple[TrainConfig, dict[str, Any] | None]:
    """The validated config plus its `provenance:` block (None when there is none)."""
    doc = read_document(path, overrides)
    probs = Problems(doc.lines, items=list(doc.problems))
    data = doc.data
    provenance = None
    if isinstance(data, Mapping):
        data = dict(data)
        provenance = data.pop(PROVENANCE_KEY, None)
        if provenance is not None and not isinstance(provenance, Mapping):
            probs.add((PROVENANCE_KEY,), "expected a mapping (written by raytrain export)")
            provenance = None
        data.pop(BASE_KEY, None)  # merged already (or reported)
    data, refs = resolve_with_secrets(data, probs)
    cfg = check_train_config(data, probs)
    probs.raise_if_any()
    cfg = dataclasses.replace(cfg, secrets=refs)
    return cfg, dict(provenance) if provenance is not None else None


def read_document(
    path: str | Path,
    overrides: Sequence[str] = (),
    *,
    flat_keyed: Sequence[KeyPath] = (),
    base_into: KeyPath = (),
) -> Document:
    """Load a file safely, apply command-line overrides, then merge its `base:` file.

    `base_into` is where the base train config goes: the top level for a train config,
    `("config",)` for a space file. Problems are collected in the returned document.
    """
    doc = load_yaml_file(path)
    if doc.data is None and not doc.problems:
        doc.problems.append(LineMap(str(path)).problem((), "the file is empty"))
    if not isinstance(doc.data, (dict, type(None))):
        doc.problems.append(doc.lines.problem((), "expected a mapping of keys at the top level"))
        doc.data = None
    parsed, bad = parse_overrides(overrides)
    doc.problems.extend(bad)
    if doc.data is not None or not doc.problems:
        doc.data = doc.data or {}
        doc.problems.extend(apply_overrides(doc.data, doc.lines, parsed, flat_keyed))
    if isinstance(doc.data, dict):
        _apply_base(doc, Path(path), base_into, frozenset({_key(path)}))
    return doc


def _apply_base(doc: Document, file: Path, into: KeyPath, seen: frozenset[str]) -> None:
    data = doc.data
    if BASE_KEY not in data:
        return
    base = data[BASE_KEY]
    if not isinstance(base, str) or not base:
        doc.problems.append(doc.lines.problem((BASE_KEY,), f"expected a file name, got {base!r}"))
        return
    base_path = (file.parent / base) if not Path(base).is_absolute() else Path(base)
    if _key(base_path) in seen:
        doc.problems.append(doc.lines.problem((BASE_KEY,), f"{base} is included in a cycle"))
        return
    if not base_path.is_file():
        doc.problems.append(doc.lines.problem((BASE_KEY,), f"file not found: {base_path}"))
        return
    base_doc = load_yaml_file(base_path)
    if isinstance(base_doc.data, dict):
        _apply_base(base_doc, base_path, (), seen | {_key(base_path)})
    doc.problems.extend(base_doc.problems)
    if base_doc.data is None:
        if not base_doc.problems:
            doc.problems.append(doc.lines.problem((BASE_KEY,), f"{base} is empty"))
        return
    if not isinstance(base_doc.data, dict):
        doc.problems.append(base_doc.lines.problem((), "expected a mapping (a train config)"))
        return
    base_data = {k: v for k, v in base_doc.data.items() if k not in (BASE_KEY, PROVENANCE_KEY)}
    own = data.get(into[0]) if into else {k: v for k, v in data.items() if k != BASE_KEY}
    if not isinstance(own, (Mapping, type(None))):
        return  # the section's own type problem is reported by the schema check
    merged = deep_merge(base_data, own or {})
    if into:
        data[into[0]] = merged
    else:
        data.clear()
        data.update(merged)
    lines = LineMap(doc.lines.default_file)
    lines.graft(into, base_doc.lines)
    lines.origins.update(doc.lines.origins)
    doc.lines.origins = lines.origins


def _key(path: str | Path) -> str:
    try:
        return str(Path(path).resolve())
    except OSError:
        return str(path)


def resolve_with_secrets(data: Any, probs: Problems) -> tuple[Any, SecretRefs]:
    """`resolve_interpolations`, plus where the config interpolates secret environment
    variables (registered in this process, so that nothing written shows their values;
    see `raytrain.redaction`)."""
    refs = secret_refs(data)
    resolved = resolve_interpolations(data, probs)
    remember(resolved, refs)
    return resolved, refs


def resolve_interpolations(data: Any, probs: Problems) -> Any:
    """Resolve `${...}` (OmegaConf) in `data`; each broken reference is a problem.

    A value whose interpolation fails is dropped (after being reported) so that it does
    not also show up as a confusing type error.
    """
    if not _has_interpolation(data):
        return data
    # Imported here, for files that use `${...}` only: omegaconf adds ~0.1 s to `validate`.
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    data = _drop_unparsable(data, probs)
    try:
        conf = OmegaConf.create(data)
    except Exception as exc:  # keys or values OmegaConf cannot hold
        probs.add((), f"interpolation failed: {_first_line(exc)}")
        return data
    try:
        return OmegaConf.to_container(conf, resolve=True)
    except OmegaConfBaseException:
        return _resolve_each(conf, data, probs)


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "msg", None) or exc).splitlines()[0]


def _drop_unparsable(data: Any, probs: Problems) -> Any:
    """Report (and drop) values whose `${...}` is not even valid interpolation syntax."""
    # Imported here: see resolve_interpolations.
    from omegaconf import OmegaConf

    out = data
    for path in _interpolated_leaves(data, ()):
        value = _parent(data, path)[_index(_parent(data, path), path[-1])]
        try:
            OmegaConf.create({"value": value})
        except Exception as exc:
            probs.add(path, f"interpolation failed: {_first_line(exc)}")
            out = copy.deepcopy(data) if out is data else out
            _delete(out, path)
    return out


def _resolve_each(conf: Any, data: Any, probs: Problems) -> Any:
    """Resolve value by value, reporting (and dropping) every one that fails."""
    # Imported here: see resolve_interpolations.
    from omegaconf import Container, OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    out = copy.deepcopy(data)
    for path in _interpolated_leaves(data, ()):
        try:
            value = OmegaConf.select(conf, ".".join(path), throw_on_resolution_failure=True)
        except OmegaConfBaseException as exc:
            probs.add(path, f"interpolation failed: {_first_line(exc)}")
            _delete(out, path)
            continue
        if isinstance(value, Container):
            value = OmegaConf.to_container(value, resolve=True)
        _replace(out, path, value)
    return out


def _interpolated_leaves(data: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    if isinstance(data, Mapping):
        return [p for k, v in data.items() for p in _interpolated_leaves(v, (*path, str(k)))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _interpolated_leaves(v, (*path, str(i)))]
    return [path] if isinstance(data, str) and "${" in data else []


def _parent(data: Any, path: tuple[str, ...]) -> Any:
    for key in path[:-1]:
        data = data[int(key)] if isinstance(data, list) else data[key]
    return data


def _index(parent: Any, key: str) -> Any:
    return int(key) if isinstance(parent, list) else key


def _replace(data: Any, path: tuple[str, ...], value: Any) -> None:
    parent = _parent(data, path)
    parent[_index(parent, path[-1])] = value


def _delete(data: Any, path: tuple[str, ...]) -> None:
    parent = _parent(data, path)
    if isinstance(parent, list):
        parent[int(path[-1])] = None
    else:
        del parent[path[-1]]


def _has_interpolation(data: Any) -> bool:
    if isinstance(data, str):
        return "${" in data
    if isinstance(data, Mapping):
        return any(_has_interpolation(v) for v in data.values())
    if isinstance(data, list):
        return any(_has_interpolation(v) for v in data)
    return False
