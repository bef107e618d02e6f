"""The Tune trial: one sampled point -> a train config -> a Ray Train TorchTrainer fit.

The trial function itself holds no CPU (`TRIAL_BUNDLE`); its TorchTrainer asks for the real
worker resources. Each trial's Train run is named by the Tune trial id under
`<run>/trials/`, i.e. it shares the trial's folder with our records, and a trial that Tune
restarts (retry after a failure, or `--resume` after the driver died) finds its own latest
checkpoint through Ray Train's storage and continues from it instead of starting over.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ray.train
from ray import tune
from ray.train._internal.session import get_session
from ray.tune.integration.ray_train import TuneReportCallback

from raytrain.layout import SearchRunLayout
from raytrain.space import Space, trial_train_config
from raytrain.tune.resources import TRIAL_BUNDLE


def make_trainable(space: Space, run_dir: Path) -> Callable[..., Any]:
    trials_dir = str(SearchRunLayout(Path(run_dir).resolve()).trials_dir)

    def raytrain_trial(params: dict[str, Any]) -> None:
        # Imported in the trial actor only: the Tune driver never trains, so it does not
        # load torch and Lightning.
        from raytrain.trial import build_torch_trainer

        cfg = trial_train_config(space, params)
        trial_id = tune.get_context().get_trial_id()
        run_config = ray.train.RunConfig(
            name=trial_id,
            storage_path=trials_dir,
            callbacks=[TuneReportCallback()],  # type: ignore[list-item]
            # Retries are Tune's job (failure.max_failures), one level up.
            failure_config=ray.train.FailureConfig(max_failures=0),
        )
        build_torch_trainer(cfg, run_config=run_config, metrics_hint=space.watched_metrics).fit()
        wait_for_reports_to_reach_tune()

    return tune.with_resources(raytrain_trial, dict(TRIAL_BUNDLE))


def wait_for_reports_to_reach_tune(timeout: float = 60.0, settle: float = 0.3) -> None:
    """Work around a Ray 2.60 deadlock: `TuneReportCallback` hands Train's reports to the
    Tune trial through a one-slot queue that the trial actor's main thread drains into
    another one-slot queue. If this function returns while the last report is still in
    transit, Tune's own end-of-trial result fills the second queue first and the main
    thread blocks forever on `put` (seen here with fast epochs: the trial stays RUNNING,
    its last epoch never arrives). So return only once both queues have stayed empty.
    Reaches into `ray.train._internal.session` because no public API exposes this."""
    session = get_session()
    relay = getattr(session, "_inter_actor_queue", None)
    results = getattr(session, "result_queue", None)

    def idle() -> bool:
        return (relay is None or relay.empty()) and (results is None or results.empty())

    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if idle():
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle:
                return
        else:
            quiet_since = None
        time.sleep(0.05)


class NonFiniteStopper:
    """Tune `stop` criterion: end a trial as soon as one of its objectives is NaN or
    infinite (a diverged trial only burns compute; it can never win)."""

    def __init__(self, *metrics: str) -> None:
        self.metrics = metrics

    def __call__(self, trial_id: str, result: Mapping[Any, Any]) -> bool:
        return any(
            isinstance(v, float) and not math.isfinite(v)
            for v in (result.get(m) for m in self.metrics)
        )
