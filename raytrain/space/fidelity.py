"""The time unit of a search (`scheduler.time_attr`): what trials report progress in.

`epochs` (the default) reports after every validated epoch. `steps` / `samples` report
every `scheduler.report_every` optimizer steps / training samples, inside epochs if need
be, for models whose epochs are too long to stop at: ASHA's rungs and `max_t`, the trial's
checkpoints and the run's records (`trials.csv` epochs/best_epoch columns, metrics.csv
rows, TensorBoard steps) are then in that unit. This module is the one place that names
the unit's result key; it imports nothing, so `validate` and the workers both use it.
"""

from __future__ import annotations

from typing import Literal

TimeAttr = Literal["epochs", "steps", "samples"]

# time_attr -> the key every report carries its progress under (an int)
_KEYS: dict[str, str] = {"epochs": "epoch", "steps": "steps", "samples": "samples"}
WITHIN_EPOCH: tuple[str, ...] = ("steps", "samples")  # units that report inside epochs
PROGRESS_KEYS: tuple[str, ...] = tuple(_KEYS.values())  # every report's progress columns


def time_key(time_attr: str) -> str:
    """The result key of `time_attr`'s progress (`epoch`, `steps` or `samples`)."""
    return _KEYS[time_attr]


def train_time_attr(report_every: int | None, report_unit: str | None) -> str:
    """The unit a train config reports in (`trainer.report_every` / `report_unit`)."""
    return "epochs" if report_every is None else (report_unit or "steps")


def train_key(report_every: int | None, report_unit: str | None) -> str:
    """The progress key of a train config's reports."""
    return time_key(train_time_attr(report_every, report_unit))
