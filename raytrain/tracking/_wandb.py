"""W&B: one run per trial (name = trial id, group = the search) and one per train run.

Runs are started from the driver with `reinit="create_new"`, so concurrent trials are
concurrent runs of one process. W&B's system monitor is off: it would measure the head
node, not the trial's workers. Files go to WANDB_DIR, else the run directory
(`<run>/wandb/offline-run-*` for `wandb sync` in offline mode). The API key is W&B's own
business: it reads WANDB_API_KEY (or ~/.netrc) itself; raytrain never sees or passes it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

from raytrain.config.schema import WandbConfig
from raytrain.results.states import ERROR
from raytrain.tracking._base import RunEnd, RunStart, Scope, Tracker


def run_id(scope: Scope, key: str) -> str:
    """A trial's W&B id: the same on `tune --resume` (the run continues), different for
    equal trial ids of two searches (W&B ids are unique per project)."""
    digest = hashlib.sha1(str(scope.run_dir.resolve()).encode()).hexdigest()[:8]
    return f"{key}-{digest}"


class WandbTracker(Tracker):
    name = "W&B"

    def __init__(self, cfg: WandbConfig) -> None:
        self.cfg = cfg
        self.runs: dict[str, Any] = {}

    def open(self, scope: Scope) -> None:
        import wandb

        self.wandb = wandb
        self.scope = scope
        self.dir = None if os.environ.get("WANDB_DIR") else str(scope.run_dir.resolve())

    def _init_kwargs(self, run: RunStart) -> dict[str, Any]:
        scope, cfg = self.scope, self.cfg
        search = scope.kind == "search"
        meta = {"kind": scope.kind, "run_dir": str(scope.run_dir.resolve())}
        if scope.reproduces:
            meta["reproduces"] = scope.reproduces
        return {
            "project": cfg.project or scope.name,
            "entity": cfg.entity,
            "group": cfg.group or scope.group,
            "tags": list(cfg.tags),
            "mode": cfg.mode,
            "dir": self.dir,
            "name": run.key,
            "job_type": "trial" if search else "train",
            "id": run_id(scope, run.key) if search else None,
            "resume": "allow" if search else None,
            "config": {"params": dict(run.params), "config": dict(run.config), "raytrain": meta},
            "reinit": "create_new",
            "settings": self.wandb.Settings(
                x_disable_stats=True, console="off", silent=True, x_save_requirements=False
            ),
        }

    def start(self, run: RunStart) -> None:
        if run.key in self.runs:  # a trial restarted in this driver: same W&B run
            return
        wb = self.wandb.init(**self._init_kwargs(run))
        wb.define_metric("epoch")
        wb.define_metric("*", step_metric="epoch")  # a restored trial re-reports epochs
        self.runs[run.key] = wb

    def epoch(self, key: str, metrics: Mapping[str, float]) -> None:
        if key in self.runs:
            self.runs[key].log(dict(metrics))

    def end(self, run: RunEnd) -> None:
        wb = self.runs.pop(run.key, None)
        if wb is None:
            return
        summary: dict[str, Any] = {"state": run.state, **run.extra}
        if run.best_value is not None:
            summary[self.scope.metric] = run.best_value  # the best, not the last, value
            summary["best_epoch"] = run.best_epoch
        wb.summary.update(summary)
        wb.finish(exit_code=1 if run.state == ERROR else 0)

    def close(self, best_checkpoint: Any = None) -> None:
        for key in list(self.runs):  # interrupted: their trials resume with `--resume`
            self.runs.pop(key).finish(exit_code=1)
        # `finish` can return before W&B's service has written a run's last records; its
        # teardown waits for them (the scope is over: no run of this process follows)
        self.wandb.teardown()
