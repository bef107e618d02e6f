"""One warm slot: a Ray Train run (`fit()`) whose ranks serve trials until told to stop.

Runs in a thread of the pool actor (`raytrain.executor.pool`). Ray Train keeps doing what it
does for a single run: it places the workers (across nodes), sets up the torch process group
of a several-worker slot (gloo on CPU, NCCL on GPU; `trial.scaling.data_parallel_trainer`),
CUDA_VISIBLE_DEVICES, and tears the whole group down when any rank fails; raytrain's train
function (`raytrain.trial.serve.serve_trials`) just does not return after one trial.
"""

from __future__ import annotations

import uuid
from typing import Any

import ray.train

from raytrain.errors import RunError
from raytrain.space.materialize import trial_resources
from raytrain.space.types import Space
from raytrain.trial.failures import explain_failure
from raytrain.trial.scaling import data_parallel_trainer

# A collective that waits longer than this fails the slot instead of hanging the search (a
# rank stuck in all-reduce after its peer died); Ray Train's own default is 30 min.
COLLECTIVE_TIMEOUT_S = 600


def serve(loop_config: dict[str, Any]) -> None:
    """The slot's train function. Ray pickles it by reference, so Train's controller imports
    this module to unpickle it; Lightning is imported in the workers only, here."""
    from raytrain.trial.serve import serve_trials

    serve_trials(loop_config)


def fit_slot(*, pool: Any, index: int, incarnation: int, space: Space, storage_dir: str) -> None:
    """Blocks while the slot serves trials; raises RunError with the worker's message when
    its worker group fails."""
    trainer = data_parallel_trainer(
        serve,
        resources=trial_resources(space),
        train_loop_config={
            "pool": pool,
            "slot": index,
            "incarnation": incarnation,
            "space": space,
        },
        collective_timeout_s=COLLECTIVE_TIMEOUT_S,
        run_config=ray.train.RunConfig(
            # unique: Train V2 would otherwise try to resume an earlier run of this name
            name=f"slot{index}-{incarnation}-{uuid.uuid4().hex[:8]}",
            storage_path=storage_dir,
            # a failed rank ends the slot; the trial's retries are Tune's (failure.max_failures)
            failure_config=ray.train.FailureConfig(max_failures=0),
        ),
    )
    try:
        trainer.fit()
    except RunError:
        raise
    except Exception as exc:  # TrainingFailedError and Ray's actor errors
        raise RunError(str(explain_failure(exc))) from None
