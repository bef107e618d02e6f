"""Import a W&B sweep configuration unchanged: a pure dict -> canonical space dict step.

`convert_sweep` turns `method`, `metric`, `parameters` (nested ones become dotted paths),
`early_terminate` (hyperband -> ASHA) and `run_cap` into the canonical space form, which
then goes through the normal space parser (so invalid config paths are reported there).
The base train config comes from the caller (`--config FILE`) and/or a `raytrain:` block in
the sweep file::

    raytrain:
      base: config.yaml              # a train config file, relative to the sweep file
      config: {model: {name: vae}}   # inline train config (merged over base / --config)
      map: {learning_rate: optimizer.lr}   # W&B name (or dotted prefix) -> config path
      name: my-run                   # and num_samples, search, scheduler, resources,
      wandb_logging: true            # failure, metric, mode: these win over the sweep's

`raytrain.base` comes back as the space's `base:` (relative to the sweep file);
`raytrain.space.wandb_io.read_sweep` resolves it, so its result is self-contained.

Keys with no effect on a raytrain search (`program`, `command`, `description`,
`controller`, `project`/`entity` unless `wandb_logging`) are ignored with a note; every
other W&B feature without a counterpart is an InputError naming its key path.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raytrain.config.problems import Problems
from raytrain.config.tree import deep_merge, split_path, suggest
from raytrain.config.types_check import is_int
from raytrain.config.yaml_io import LineMap
from raytrain.space.wandb_params import Constant, Unsupported, convert_param, grid_size
from raytrain.space.wandb_paths import Unresolved, resolve_name, section_keys
from raytrain.space.wandb_settings import (
    METHODS,
    metric_and_mode,
    scheduler_settings,
    search_settings,
)

# Top-level keys that mean nothing to a raytrain search: ignored, with the reason as a note.
IGNORED = {
    "program": "raytrain trains the config's model itself; the training script is not run",
    "command": "raytrain trains the config's model itself; the command line is not run",
    "description": "kept only in the W&B file",
    "controller": "Ray Tune is the controller",
    "project": "trials are not logged to W&B unless `raytrain: {wandb_logging: true}`",
    "entity": "trials are not logged to W&B unless `raytrain: {wandb_logging: true}`",
}
HANDLED = ("method", "metric", "parameters", "early_terminate", "run_cap", "name", "raytrain")
W_AND_B_ONLY = ("method", "early_terminate", "run_cap", "program", "command", "raytrain")
CANONICAL_ONLY = ("config", "search", "scheduler", "base", "mode")
RAYTRAIN_KEYS = (
    "base",
    "config",
    "map",
    "name",
    "num_samples",
    "search",
    "scheduler",
    "resources",
    "failure",
    "metric",
    "mode",
    "wandb_logging",
)


@dataclass
class Conversion:
    """The canonical space, notes for the user, and canonical key path -> sweep-file line."""

    space: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    lines: LineMap = field(default_factory=LineMap)


def is_wandb_sweep(raw: Any) -> bool:
    """A W&B sweep has `method` (or other W&B-only keys) and none of the canonical ones."""
    if not isinstance(raw, Mapping) or any(k in raw for k in CANONICAL_ONLY):
        return False
    return any(k in raw for k in W_AND_B_ONLY) or isinstance(raw.get("metric"), Mapping)


def convert_sweep(
    raw: Mapping[str, Any],
    *,
    base_config: Mapping[str, Any] | None = None,
    source: str | None = None,
    lines: LineMap | None = None,
) -> dict[str, Any]:
    """The canonical space dict for a W&B sweep; raises InputError listing every problem."""
    return sweep_conversion(raw, base_config=base_config, source=source, lines=lines).space


def sweep_conversion(
    raw: Mapping[str, Any],
    *,
    base_config: Mapping[str, Any] | None = None,
    source: str | None = None,
    lines: LineMap | None = None,
) -> Conversion:
    """As `convert_sweep`, plus notes on what was ignored or renamed (for the user to read)."""
    probs = Problems(lines or LineMap(source))
    out = Conversion({}, lines=LineMap(source))
    if not isinstance(raw, Mapping):
        probs.add((), f"expected a W&B sweep mapping, got {raw!r}")
        probs.raise_if_any()
    rt = _raytrain_block(raw.get("raytrain"), probs.under("raytrain"))
    for key in raw:
        if key in IGNORED:
            out.notes.append(f"ignored `{key}`: {IGNORED[key]}")
        elif key not in HANDLED:
            probs.add(
                (key,),
                "not a W&B sweep key raytrain can use; "
                + suggest(str(key), [*HANDLED, *IGNORED], "known keys"),
            )
    config = _base_config(base_config, rt, raw, probs, out.notes)
    space = out.space
    name = (
        rt.get("name")
        or _sanitise(raw.get("name"), out.notes)
        or (Path(source).stem if source else None)
    )
    if name:
        space["name"] = name
    if "base" in rt:
        space["base"] = rt["base"]
    method = raw.get("method")
    if method not in METHODS:
        probs.add(("method",), f"expected one of {', '.join(METHODS)}, got {method!r}")
    metric, mode = metric_and_mode(raw.get("metric"), rt, probs)
    params, constants = _parameters(raw, rt, config, probs, out, grid=method == "grid")
    for key, wb_key in (
        ("metric", "metric"),
        ("search", "method"),
        ("scheduler", "early_terminate"),
    ):
        out.lines.set((key,), probs.lines.origin((wb_key,)))
    out.lines.graft(("config",), probs.lines.subtree(("raytrain", "config")))
    space["config"] = config
    space["metric"], space["mode"] = metric, mode
    space["parameters"] = {**params, **constants}
    space["search"] = search_settings(raw, rt, method, params, probs)
    space["scheduler"] = {
        **scheduler_settings(raw.get("early_terminate"), probs.under("early_terminate"), out.notes),
        **rt.get("scheduler", {}),
    }
    for key in ("resources", "failure"):
        if key in rt:
            space[key] = rt[key]
    if method == "bayes":
        out.notes.append("method bayes -> TPE (Optuna's Bayesian optimisation sampler)")
    probs.raise_if_any()
    return out


def _raytrain_block(block: Any, probs: Problems) -> dict[str, Any]:
    if block is None:
        return {}
    if not isinstance(block, Mapping):
        probs.add((), f"expected a mapping, got {block!r}")
        return {}
    out: dict[str, Any] = {}
    kinds: dict[str, type | tuple[type, ...]] = {
        "base": str,
        "config": Mapping,
        "map": Mapping,
        "name": str,
        "num_samples": int,
        "search": Mapping,
        "scheduler": Mapping,
        "resources": Mapping,
        "failure": Mapping,
        "metric": str,
        "mode": str,
        "wandb_logging": bool,
    }
    for key, value in block.items():
        if key not in kinds:
            probs.add((key,), "unknown key; " + suggest(str(key), RAYTRAIN_KEYS, "valid keys"))
        elif not isinstance(value, kinds[key]) or (key == "num_samples" and not is_int(value)):
            probs.add((key,), f"expected {_kind_name(kinds[key])}, got {value!r}")
        else:
            out[key] = value
    for src, dst in out.get("map", {}).items():
        if not isinstance(dst, str) or not dst:
            probs.add(("map", str(src)), f"expected a dotted config path, got {dst!r}")
    return out


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", bool: "true/false", Mapping: "a mapping"}
    return names.get(kind, str(kind)) if isinstance(kind, type) else str(kind)


def _base_config(
    base: Mapping[str, Any] | None,
    rt: Mapping[str, Any],
    raw: Mapping[str, Any],
    probs: Problems,
    notes: list[str],
) -> dict[str, Any]:
    config = deep_merge(base or {}, rt.get("config", {}))
    if base is None and "config" not in rt and "base" not in rt:
        notes.append(
            "no base train config (--config FILE or `raytrain: {config: ...}`): "
            "raytrain's defaults apply (model mlp on digits)"
        )
    if rt.get("wandb_logging"):
        if not isinstance(raw.get("project"), str):
            probs.add(("raytrain", "wandb_logging"), "needs the sweep's `project`")
        else:
            wandb = {"project": raw["project"]}
            if raw.get("entity") is not None:
                wandb["entity"] = raw["entity"]
            config = deep_merge(config, {"logging": {"wandb": wandb}})
    return config


def _sanitise(name: Any, notes: list[str]) -> str | None:
    """A W&B display name made safe as a run-directory name."""
    if not isinstance(name, str) or not name.strip():
        return None
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-.") or None
    if safe != name:
        notes.append(f"sweep name {name!r} -> run name {safe!r}")
    return safe


def _leaves(params: Any, probs: Problems, prefix: str = "") -> Iterator[tuple[str, Problems, Any]]:
    """(dotted W&B name, problems at its key path, spec) for every leaf parameter."""
    if not isinstance(params, Mapping) or not params:
        probs.add((), f"expected a non-empty mapping of parameters, got {params!r}")
        return
    for name, spec in params.items():
        here = probs.under(str(name))
        if isinstance(spec, Mapping) and "parameters" in spec:
            extra = [k for k in spec if k != "parameters"]
            if extra:
                here.add((extra[0],), "a nested parameter group holds only `parameters`")
            yield from _leaves(spec["parameters"], here.under("parameters"), f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", here, spec


def _parameters(
    raw: Mapping[str, Any],
    rt: Mapping[str, Any],
    config: dict[str, Any],
    probs: Problems,
    out: Conversion,
    grid: bool,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """(searched parameters, scalar constants); non-scalar constants go into `config`."""
    notes = out.notes
    mapping, sections = rt.get("map", {}), section_keys(config)
    params: dict[str, dict[str, Any]] = {}
    constants: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for wb_name, here, spec in _leaves(raw.get("parameters"), probs.under("parameters")):
        try:
            path, note = resolve_name(wb_name, mapping, sections)
            converted = convert_param(spec)
        except (Unresolved, Unsupported) as exc:
            here.add((), str(exc))
            continue
        if note:
            notes.append(note)
        if path in origin:
            here.add((), f"maps to {path!r}, which {origin[path]!r} already sets")
            continue
        origin[path] = wb_name
        out.lines.set(("parameters", path), here.lines.origin(here.prefix))
        if isinstance(converted, Constant):
            if isinstance(converted.value, (Mapping, list)):
                _set(config, path, copy.deepcopy(converted.value), here)
            else:
                constants[path] = converted.value
        elif grid and grid_size(converted) is None:
            here.add(
                (),
                "grid search needs discrete values: use `values`, int_uniform or "
                "q_uniform (or method random/bayes)",
            )
        else:
            params[path] = converted
    return params, constants


def _set(config: dict[str, Any], path: str, value: Any, probs: Problems) -> None:
    node = config
    keys = split_path(path)
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            probs.add((), f"cannot set {path!r}: {key!r} holds {child!r}")
            return
        node = child
    node[keys[-1]] = value
