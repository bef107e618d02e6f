"""Results of a search on disk: writing them while the run goes on, and reading them back.

`RunWriter` keeps `<run>/trials.csv` and `<run>/trials/<trial_id>/` (params, per-epoch
metrics, TensorBoard events with HParams) current; `load_run` reads a run directory into
typed `Run` / `TrialRecord` objects for status, analysis and export. `TrainRunWriter`
keeps a `raytrain train` run dir with the same per-epoch files, so `load_run` reads it as
a run of one trial. File names: `raytrain.layout`.
"""

from raytrain.results._epochs import TrainRunWriter
from raytrain.results._metrics import TUNE_AUTO_KEYS
from raytrain.results._reader import load_run, space_rungs
from raytrain.results._records import Run, TrialRecord
from raytrain.results._table import BASE_COLUMNS
from raytrain.results._writer import RunWriter
from raytrain.results.states import (
    ERROR,
    FINISHED_STATES,
    PENDING,
    RUNNING,
    STOPPED,
    TERMINATED,
    TRIAL_STATES,
)

__all__ = [
    "BASE_COLUMNS",
    "ERROR",
    "FINISHED_STATES",
    "PENDING",
    "RUNNING",
    "STOPPED",
    "TERMINATED",
    "TRIAL_STATES",
    "TUNE_AUTO_KEYS",
    "Run",
    "RunWriter",
    "TrainRunWriter",
    "TrialRecord",
    "load_run",
    "space_rungs",
]
