"""File layout of a trial folder, and small readers/writers for each file in it.

trials/_meta.json              metric, mode, parameter paths and ASHA rungs of the run
trials/<trial_id>/params.json  sampled values {dotted path: value}
trials/<trial_id>/metrics.csv  epoch, wall_time (unix s), then every reported metric
trials/<trial_id>/checkpoints.csv  epoch, path of every checkpoint the trial saved
trials/<trial_id>/error.txt    full error of a failed trial
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from raytrain.results._records import read_metrics_csv
from raytrain.results._table import atomic_write_text, format_cell

TRIALS_CSV = "trials.csv"
TRIALS_DIR = "trials"
META_JSON = "_meta.json"
PARAMS_JSON = "params.json"
METRICS_CSV = "metrics.csv"
CHECKPOINTS_CSV = "checkpoints.csv"
ERROR_TXT = "error.txt"


def safe_dirname(trial_id: str) -> str:
    """Trial ids from Tune are already safe; anything else is made so (no path tricks)."""
    name = re.sub(r"[^A-Za-z0-9_.=-]", "_", trial_id).lstrip(".")
    return name or "_"


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


def write_params(trial_dir: Path, params: Mapping[str, Any]) -> dict[str, Any]:
    clean = {str(k): jsonable(v) for k, v in params.items()}
    atomic_write_text(trial_dir / PARAMS_JSON, json.dumps(clean, indent=2, sort_keys=True) + "\n")
    return clean


def read_params(trial_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((trial_dir / PARAMS_JSON).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_meta(
    run_dir: Path, metric: str, mode: str, param_paths: Sequence[str], rungs: Sequence[int]
) -> None:
    meta = {"metric": metric, "mode": mode, "param_paths": list(param_paths), "rungs": list(rungs)}
    atomic_write_text(run_dir / TRIALS_DIR / META_JSON, json.dumps(meta, indent=2) + "\n")


def read_meta(run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((run_dir / TRIALS_DIR / META_JSON).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_metrics(trial_dir: Path) -> tuple[list[dict[str, float]], list[str]]:
    """Rows and header of a trial's metrics.csv (empty when there is none yet)."""
    path = trial_dir / METRICS_CSV
    if not path.is_file():
        return [], []
    with path.open(newline="") as f:
        header = next(csv.reader(f), [])
    return read_metrics_csv(path), header


def _cells(columns: Sequence[str], row: Mapping[str, float]) -> list[str]:
    def cell(key: str) -> str:
        v = row.get(key)
        if key == "epoch" and v is not None:
            return str(int(v))
        return format_cell(v)

    return [cell(c) for c in columns]


def _csv_text(*rows: Sequence[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def rewrite_metrics(
    trial_dir: Path, columns: Sequence[str], rows: Sequence[Mapping[str, float]]
) -> None:
    text = _csv_text(list(columns), *(_cells(columns, r) for r in rows))
    atomic_write_text(trial_dir / METRICS_CSV, text)


def append_metrics(trial_dir: Path, columns: Sequence[str], row: Mapping[str, float]) -> None:
    with (trial_dir / METRICS_CSV).open("a", newline="") as f:
        f.write(_csv_text(_cells(columns, row)))


def read_checkpoints(trial_dir: Path) -> dict[int, str]:
    path = trial_dir / CHECKPOINTS_CSV
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


def rewrite_checkpoints(trial_dir: Path, checkpoints: Mapping[int, str]) -> None:
    rows = [[str(e), p] for e, p in sorted(checkpoints.items())]
    atomic_write_text(trial_dir / CHECKPOINTS_CSV, _csv_text(["epoch", "path"], *rows))


def append_checkpoint(trial_dir: Path, epoch: int, path: str) -> None:
    file = trial_dir / CHECKPOINTS_CSV
    new = not file.is_file()
    with file.open("a", newline="") as f:
        f.write(_csv_text(*([["epoch", "path"]] if new else []), [str(epoch), path]))
