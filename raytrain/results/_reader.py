"""load_run: a run directory on disk -> `Run` (works while the run goes on, after it
ends, and on a copy from a cluster: only relative paths inside the directory are used)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from raytrain.errors import InputError, Problem
from raytrain.results import _files
from raytrain.results._records import Run
from raytrain.results._table import read_table
from raytrain.space.asha import rung_epochs
from raytrain.space.catalogue import SCHEDULERS

SPACE_YAML = "space.yaml"


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and any(
        (path / name).exists() for name in (_files.TRIALS_CSV, SPACE_YAML, _files.TRIALS_DIR)
    )


def _load_space(run_dir: Path) -> dict[str, Any]:
    path = run_dir / SPACE_YAML
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError(Problem("", f"not valid YAML: {exc}", str(path), line)) from exc
    return data if isinstance(data, dict) else {}


def space_rungs(space: dict[str, Any]) -> list[int]:
    """ASHA rungs implied by a space's scheduler block (empty for FIFO or when unknown)."""
    sched = space.get("scheduler") or {}
    if not isinstance(sched, dict):
        return []
    spec = SCHEDULERS.get(str(sched.get("type", "asha")))
    if spec is None or not spec.rungs:
        return []
    max_t = sched.get("max_t") or ((space.get("config") or {}).get("trainer") or {}).get(
        "max_epochs"
    )
    if max_t is None:
        return []
    try:
        return rung_epochs(
            int(max_t), int(sched.get("grace_period", 1)), float(sched.get("reduction_factor", 3))
        )
    except (TypeError, ValueError):
        return []


def load_run(run_dir: Path) -> Run:
    """Read a run directory; InputError (exit 2) when it is not one."""
    run_dir = Path(run_dir)
    if not is_run_dir(run_dir):
        raise InputError(
            Problem(
                "",
                "not a raytrain run directory (expected trials.csv, space.yaml or trials/ in it)",
                str(run_dir),
            )
        )
    space = _load_space(run_dir)
    meta = _files.read_meta(run_dir)
    metric = meta.get("metric") or space.get("metric")
    mode = meta.get("mode") or space.get("mode") or "min"
    if not metric:
        raise InputError(
            Problem("metric", "the run names no metric (space.yaml has no `metric:`)", str(run_dir))
        )
    records, table_params = read_table(run_dir / _files.TRIALS_CSV)
    for record in records:
        record.trial_dir = run_dir / _files.TRIALS_DIR / _files.safe_dirname(record.trial_id)
        params = _files.read_params(record.trial_dir)
        if params is not None:
            record.params = params  # typed values; the table only has text
    space_params = space.get("parameters") or {}
    declared = [p for p, spec in space_params.items() if isinstance(spec, dict)]
    param_paths = list(dict.fromkeys([*(meta.get("param_paths") or []), *declared, *table_params]))
    rungs = [int(r) for r in meta.get("rungs") or []] or space_rungs(space)
    return Run(
        path=run_dir,
        name=str(space.get("name") or run_dir.name),
        metric=str(metric),
        mode=str(mode),
        space=space,
        trials=records,
        param_paths=param_paths,
        rungs=rungs,
    )
