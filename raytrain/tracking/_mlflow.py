"""MLflow: a parent run per search (created by the driver), a nested child run per trial,
and a run per `raytrain train` tagged with the trial it reproduces.

Through `MlflowClient` (explicit run ids, no fluent global "active run"), so concurrent
trials are concurrent runs of one process. Runs carry `raytrain.*` tags, which is how a
resumed search finds its parent and child runs again instead of starting new ones.
Credentials (MLFLOW_TRACKING_USERNAME/PASSWORD/TOKEN) are read by MLflow from the
environment; the config refuses them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from raytrain.config.schema import MlflowConfig
from raytrain.results.states import ERROR, RUNNING
from raytrain.tracking._base import RunEnd, RunStart, Scope, Tracker, flatten

TRIAL_ID_TAG = "raytrain.trial_id"
STATE_TAG = "raytrain.state"
RUN_DIR_TAG = "raytrain.run_dir"
KIND_TAG = "raytrain.kind"
REPRODUCES_TAG = "raytrain.reproduces_trial"
REPRODUCES_RUN_TAG = "raytrain.reproduces_run_id"
PARENT_TAG = "mlflow.parentRunId"
_BATCH = 100  # MLflow's limit of params (and metrics) per log_batch
_VALUE_CHARS = 500  # params are short strings in MLflow; longer values are cut


def run_params(run: RunStart) -> dict[str, str]:
    """The resolved config by dotted path, overlaid with the sampled values."""
    values = {**flatten(run.config), **dict(run.params)}
    return {k[:250]: str(v)[:_VALUE_CHARS] for k, v in values.items()}


class MlflowTracker(Tracker):
    name = "MLflow"

    def __init__(self, cfg: MlflowConfig) -> None:
        self.cfg = cfg
        self.runs: dict[str, str] = {}  # key -> MLflow run id
        self.parent: str | None = None

    def open(self, scope: Scope) -> None:
        from mlflow.tracking import MlflowClient

        self.scope = scope
        self.client = MlflowClient(tracking_uri=self.cfg.tracking_uri)  # None: env/default
        name = self.cfg.experiment or scope.name
        found = self.client.get_experiment_by_name(name)
        self.experiment = found.experiment_id if found else self.client.create_experiment(name)
        self.run_dir = str(scope.run_dir.resolve())
        if scope.kind == "search":
            found_parent = self._find(f"tags.`{KIND_TAG}` = 'search'") if scope.resume else None
            self.parent = found_parent or self._create(scope.run_dir.name, {KIND_TAG: "search"})
            self.client.update_run(self.parent, status="RUNNING")

    def _find(self, condition: str) -> str | None:
        runs = self.client.search_runs(
            [self.experiment],
            filter_string=f"tags.`{RUN_DIR_TAG}` = '{_quoted(self.run_dir)}' and {condition}",
            max_results=1,
        )
        return runs[0].info.run_id if runs else None

    def _create(self, name: str, tags: Mapping[str, str]) -> str:
        run = self.client.create_run(
            self.experiment, run_name=name, tags={RUN_DIR_TAG: self.run_dir, **tags}
        )
        return str(run.info.run_id)

    def start(self, run: RunStart) -> None:
        if run.key in self.runs:
            return
        from mlflow.entities import Param

        existing = None
        if self.parent is not None:
            tags = {PARENT_TAG: self.parent, TRIAL_ID_TAG: run.key, KIND_TAG: "trial"}
            if self.scope.resume:
                existing = self._find(f"tags.`{TRIAL_ID_TAG}` = '{_quoted(run.key)}'")
        else:
            tags = {KIND_TAG: "train", **self._reproduces()}
        run_id = existing or self._create(run.key, tags)
        self.runs[run.key] = run_id
        self.client.set_tag(run_id, STATE_TAG, RUNNING)
        if existing:  # resumed: params are immutable and already there
            self.client.update_run(run_id, status="RUNNING")
            return
        params = [Param(k, v) for k, v in run_params(run).items()]
        for i in range(0, len(params), _BATCH):
            self.client.log_batch(run_id, params=params[i : i + _BATCH])

    def _reproduces(self) -> dict[str, str]:
        trial = self.scope.reproduces
        if not trial:
            return {}
        tags = {REPRODUCES_TAG: trial}
        runs = self.client.search_runs(
            [self.experiment],
            filter_string=f"tags.`{TRIAL_ID_TAG}` = '{_quoted(trial)}'",
            max_results=1,
        )
        if runs:
            tags[REPRODUCES_RUN_TAG] = runs[0].info.run_id
        return tags

    def epoch(self, key: str, metrics: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        run_id = self.runs.get(key)
        if run_id is None:
            return
        # one MLflow step per report: the optimizer step when the run reports inside
        # epochs (its `epoch` is fractional there), else the epoch
        step = int(metrics.get("steps", metrics.get("epoch", 0)))
        now = int(time.time() * 1000)
        # NaN/inf (a diverged trial) are left out: not every MLflow backend stores them
        batch = [Metric(k, float(v), now, step) for k, v in metrics.items() if math.isfinite(v)]
        self.client.log_batch(run_id, metrics=batch[:_BATCH])

    def end(self, run: RunEnd) -> None:
        run_id = self.runs.pop(run.key, None)
        if run_id is None:
            return
        self.client.set_tag(run_id, STATE_TAG, run.state)
        if run.best_value is not None:
            self.client.log_metric(run_id, f"best_{self.scope.metric}", float(run.best_value))
        if run.checkpoint is not None and self.cfg.log_checkpoint:
            _log_checkpoint(self.client, run_id, run.checkpoint)
        self.client.set_terminated(run_id, "FAILED" if run.state == ERROR else "FINISHED")

    def close(self, best_checkpoint: Path | None = None) -> None:
        for run_id in self.runs.values():  # interrupted: `--resume` picks them up again
            self.client.set_terminated(run_id, "KILLED")
        self.runs.clear()
        if self.parent is None:
            return
        if best_checkpoint is not None and self.cfg.log_checkpoint:
            _log_checkpoint(self.client, self.parent, best_checkpoint)
        self.client.set_terminated(self.parent, "FINISHED")


def _log_checkpoint(client: Any, run_id: str, path: Path) -> None:
    """A checkpoint file (best.ckpt) or a Ray checkpoint folder, under `checkpoint/`."""
    if path.is_dir():
        client.log_artifacts(run_id, str(path), artifact_path="checkpoint")
    elif path.is_file():
        client.log_artifact(run_id, str(path), artifact_path="checkpoint")


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
