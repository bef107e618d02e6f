"""Experiment tracking: W&B and MLflow mirrors of what a run directory records.

`logging.wandb` / `logging.mlflow` of a train config (a space's `config:`) turn them on;
the driver feeds them (see `_base` for why there and not in the workers).
"""

from raytrain.tracking._base import RunEnd, RunStart, Scope, Tracker, flatten
from raytrain.tracking._hub import Tracking, configured_trackers, require_packages

__all__ = [
    "RunEnd",
    "RunStart",
    "Scope",
    "Tracker",
    "Tracking",
    "configured_trackers",
    "flatten",
    "require_packages",
]
