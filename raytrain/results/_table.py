"""trials.csv: the one-row-per-trial table, encoded and decoded in one place.

Columns: the fixed `BASE_COLUMNS`; in a multi-objective run one `objective.<name>` column
per objective (its value at the trial's last epoch), `pareto_rank` (1 = on the Pareto
front, empty for infeasible trials) and `feasible` (every constraint met: True/False);
in a run with confirmation trials (`confirm:`) `confirms` and `seed` (which trial a
confirmation trial re-runs, with which seed) and, on each finalist's row, the mean, std and
count of its re-runs' values and its rank by single best value and by the statistic
(`CONFIRM_COLUMNS`; raytrain.results.confirm); then one `param.<dotted path>` column per
parameter (empty when a conditional parameter is absent from a trial). The file is always replaced
atomically (temp file + os.replace) so a reader polling it never sees half a file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raytrain.results._records import TrialRecord

if TYPE_CHECKING:
    from raytrain.results.confirm import Finalist

BASE_COLUMNS = (
    "trial_id",
    "state",
    "epochs",
    "rung",
    "value",
    "best_value",
    "best_epoch",
    "checkpoint",
    "error",
    "started_at",
    "updated_at",
)
PARAM_PREFIX = "param."
OBJECTIVE_PREFIX = "objective."
PARETO_COLUMNS = ("pareto_rank", "feasible")
CONFIRM_COLUMNS = (
    "confirms",
    "seed",
    "confirm_mean",
    "confirm_std",
    "confirm_n",
    "rank_single",
    "rank_confirmed",
)


def format_cell(value: Any) -> str:
    """CSV text of a value: floats keep full precision; None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)  # nan, inf, -inf
    return str(value)


def parse_scalar(cell: str) -> Any:
    """Best-effort typed value of a param cell (used when params.json is missing)."""
    if cell in ("True", "False"):
        return cell == "True"
    for cast in (int, float):
        with contextlib.suppress(ValueError):
            return cast(cell)
    return cell


def _opt_int(cell: str) -> int | None:
    return int(float(cell)) if cell else None


def _opt_float(cell: str) -> float | None:
    return float(cell) if cell else None


def _opt_time(cell: str) -> datetime | None:
    try:
        return datetime.fromisoformat(cell) if cell else None
    except ValueError:
        return None


def record_to_row(
    record: TrialRecord,
    param_paths: Sequence[str],
    objectives: Sequence[str] = (),
    confirm: Mapping[str, Finalist] | None = None,
) -> list[str]:
    base = [
        record.trial_id,
        record.state,
        str(record.epochs),
        record.rung,
        record.value,
        record.best_value,
        record.best_epoch,
        record.checkpoint,
        record.error,
        record.started_at,
        record.updated_at,
    ]
    pareto: list[Any] = []
    if objectives:
        pareto = [*(record.objectives.get(o) for o in objectives), record.pareto_rank]
        pareto.append(record.feasible)
    confirmed: list[Any] = []
    if confirm is not None:
        f = confirm.get(record.trial_id)
        confirmed = [record.confirms, record.seed]
        confirmed += [f.mean, f.std, f.n, f.rank_single, f.rank_confirmed] if f else [None] * 5
    params = [record.params.get(p) for p in param_paths]
    return [format_cell(v) for v in (*base, *pareto, *confirmed, *params)]


def row_to_record(row: dict[str, str]) -> TrialRecord:
    def get(key: str) -> str:
        return row.get(key) or ""

    params = {
        key[len(PARAM_PREFIX) :]: parse_scalar(cell)
        for key, cell in row.items()
        if key and key.startswith(PARAM_PREFIX) and cell not in (None, "")
    }
    objectives = {
        key[len(OBJECTIVE_PREFIX) :]: _opt_float(cell or "")
        for key, cell in row.items()
        if key and key.startswith(OBJECTIVE_PREFIX)
    }
    feasible = get("feasible")
    return TrialRecord(
        objectives=objectives,
        feasible=feasible == "True" if feasible else None,
        pareto_rank=_opt_int(get("pareto_rank")),
        confirms=get("confirms") or None,
        seed=_opt_int(get("seed")),
        trial_id=get("trial_id"),
        state=get("state") or "PENDING",
        params=params,
        epochs=_opt_int(get("epochs")) or 0,
        value=_opt_float(get("value")),
        best_value=_opt_float(get("best_value")),
        best_epoch=_opt_int(get("best_epoch")),
        rung=_opt_int(get("rung")),
        checkpoint=get("checkpoint") or None,
        error=get("error") or None,
        started_at=_opt_time(get("started_at")),
        updated_at=_opt_time(get("updated_at")),
    )


def render_table(
    records: Iterable[TrialRecord],
    param_paths: Sequence[str],
    objectives: Sequence[str] = (),
    confirm: Mapping[str, Finalist] | None = None,
) -> str:
    """The table; `objectives` (a multi-objective run's names) add the Pareto columns,
    `confirm` (finalists by trial id; empty or not None once a run has confirmation
    trials) the confirmation columns."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    pareto = [*(OBJECTIVE_PREFIX + o for o in objectives), *PARETO_COLUMNS] if objectives else []
    confirmed = list(CONFIRM_COLUMNS) if confirm is not None else []
    header = [*BASE_COLUMNS, *pareto, *confirmed, *(PARAM_PREFIX + p for p in param_paths)]
    writer.writerow(header)
    for record in records:
        writer.writerow(record_to_row(record, param_paths, objectives, confirm))
    return buf.getvalue()


def read_table(path: Path) -> tuple[list[TrialRecord], list[str]]:
    """Records and parameter paths (in column order) of a trials.csv."""
    if not path.is_file():
        return [], []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        params = [
            c[len(PARAM_PREFIX) :] for c in reader.fieldnames or [] if c.startswith(PARAM_PREFIX)
        ]
        records = [row_to_record(row) for row in reader if row.get("trial_id")]
    return records, params


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same folder and os.replace, so readers never see a
    partial file (os.replace is atomic on POSIX and Windows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the table is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
