"""Small readers/writers for each file of a run directory (names: `raytrain.layout`).

_meta.json       metric, mode, parameter paths and ASHA rungs of a search run (and its
                 objectives and constraints when it has several objectives)
params.json      a trial's sampled values {dotted path: value}
metrics.csv      epoch, wall_time (unix s), then every reported metric
checkpoints.csv  epoch, path of every checkpoint a trial saved
state.json       state and start/update times of a train run
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from raytrain.layout import EpochFiles, SearchRunLayout, TrainRunLayout, TrialLayout
from raytrain.results._records import read_metrics_csv
from raytrain.results._table import atomic_write_text, format_cell
from raytrain.space.types import Comparator, Constraint, Objective


def jsonable(value: Any) -> Any:
    """Plain JSON value of a parameter (numpy scalars and the like become Python ones)."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, str | int | float | bool | type(None)):
        return value
    if isinstance(value, list | tuple):  # a categorical choice may be a list (layer sizes)
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_params(trial: TrialLayout, params: Mapping[str, Any]) -> dict[str, Any]:
    clean = {str(k): jsonable(v) for k, v in params.items()}
    atomic_write_text(trial.params_json, json.dumps(clean, indent=2, sort_keys=True) + "\n")
    return clean


def read_params(trial: TrialLayout) -> dict[str, Any] | None:
    return _read_json(trial.params_json)


def write_meta(
    run: SearchRunLayout,
    metric: str,
    mode: str,
    param_paths: Sequence[str],
    rungs: Sequence[int],
    objectives: Sequence[Objective] = (),
    constraints: Sequence[Constraint] = (),
) -> None:
    meta: dict[str, Any] = {
        "metric": metric,
        "mode": mode,
        "param_paths": list(param_paths),
        "rungs": list(rungs),
    }
    if len(objectives) > 1:
        meta["objectives"] = {o.name: o.mode for o in objectives}
        meta["constraints"] = [[c.metric, c.op, c.threshold] for c in constraints]
    atomic_write_text(run.meta_json, json.dumps(meta, indent=2) + "\n")


def read_meta(run: SearchRunLayout) -> dict[str, Any]:
    return _read_json(run.meta_json) or {}


def goals_of(meta: Mapping[str, Any]) -> tuple[tuple[Objective, ...], tuple[Constraint, ...]]:
    """The objectives and constraints a multi-objective run's _meta.json (or space.yaml)
    names; ((), ()) for a single-metric run."""
    raw = meta.get("objectives")
    if not isinstance(raw, Mapping) or len(raw) < 2:
        return (), ()
    objectives = tuple(Objective(str(k), "max" if v == "max" else "min") for k, v in raw.items())
    constraints = []
    for item in meta.get("constraints") or []:
        if isinstance(item, list | tuple) and len(item) == 3 and item[1] in (">=", "<="):
            constraints.append(Constraint(str(item[0]), item[1], float(item[2])))
        elif isinstance(item, Mapping):  # space.yaml's form {metric: m, ">=": x}
            op: Comparator = ">=" if ">=" in item else "<="
            if op in item and "metric" in item:
                constraints.append(Constraint(str(item["metric"]), op, float(item[op])))
    return objectives, tuple(constraints)


def read_warm_start(run: SearchRunLayout) -> dict[str, Any] | None:
    """`warm_start.json` of a run started with `--warm-from` (raytrain.tune.warm)."""
    return _read_json(run.warm_json)


def write_state(
    run: TrainRunLayout, state: str, started_at: str, updated_at: str, error: str | None = None
) -> None:
    """A train run's state (times as ISO 8601 text, `error` the one-line summary of a
    failure), replaced atomically on each change."""
    data = {"state": state, "started_at": started_at, "updated_at": updated_at, "error": error}
    atomic_write_text(run.state_json, json.dumps(data, indent=2) + "\n")


def read_state(run: TrainRunLayout) -> dict[str, Any]:
    return _read_json(run.state_json) or {}


def write_error(files: EpochFiles, error: str) -> None:
    atomic_write_text(files.error_txt, error.rstrip() + "\n")


def read_metrics(files: EpochFiles) -> tuple[list[dict[str, float]], list[str]]:
    """Rows and header of a metrics.csv (empty when there is none yet)."""
    path = files.metrics_csv
    if not path.is_file():
        return [], []
    with path.open(newline="") as f:
        header = next(csv.reader(f), [])
    return read_metrics_csv(path), header


def _cells(columns: Sequence[str], row: Mapping[str, float]) -> list[str]:
    def cell(key: str) -> str:
        v = row.get(key)
        if key == "epoch" and v is not None and v == int(v):  # fractional inside epochs
            return str(int(v))
        return format_cell(v)

    return [cell(c) for c in columns]


def _csv_text(*rows: Sequence[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def rewrite_metrics(
    files: EpochFiles, columns: Sequence[str], rows: Sequence[Mapping[str, float]]
) -> None:
    text = _csv_text(list(columns), *(_cells(columns, r) for r in rows))
    atomic_write_text(files.metrics_csv, text)


def append_metrics(files: EpochFiles, columns: Sequence[str], row: Mapping[str, float]) -> None:
    with files.metrics_csv.open("a", newline="") as f:
        f.write(_csv_text(_cells(columns, row)))


def read_checkpoints(trial: TrialLayout) -> dict[int, str]:
    path = trial.checkpoints_csv
    if not path.is_file():
        return {}
    out: dict[int, str] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            try:
                out[int(row["epoch"])] = row["path"]
            except (KeyError, TypeError, ValueError):
                continue
    return out


def rewrite_checkpoints(trial: TrialLayout, checkpoints: Mapping[int, str]) -> None:
    rows = [[str(e), p] for e, p in sorted(checkpoints.items())]
    atomic_write_text(trial.checkpoints_csv, _csv_text(["epoch", "path"], *rows))


def append_checkpoint(trial: TrialLayout, epoch: int, path: str) -> None:
    file = trial.checkpoints_csv
    new = not file.is_file()
    with file.open("a", newline="") as f:
        f.write(_csv_text(*([["epoch", "path"]] if new else []), [str(epoch), path]))
