"""`build_torch_trainer`: one run of a train config as a Ray Train run.

Used by `raytrain train` and, inside each `fresh` Ray Tune trial, by the tuner. The trainer is
sized by `cfg.resources` (DDP over `workers` processes, gloo on CPU, NCCL on GPU; one worker
trains on its device without a process group: `trial.scaling.data_parallel_trainer`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import ray.train

from raytrain.config.schema import TrainConfig
from raytrain.trial.checkpointing import ray_checkpoint_config
from raytrain.trial.scaling import Trainer, data_parallel_trainer


def run_loop(loop_config: dict[str, Any]) -> None:
    """The train function. Ray pickles it by reference, so the process that builds the
    trainer (the `raytrain train` driver, a `fresh` Tune trial) and Train's controller import
    this module; Lightning (~3-4 CPU-s per process here, `python -X importtime`) is imported
    in the workers only, here."""
    from raytrain.trial.loop import train_loop_per_worker

    train_loop_per_worker(loop_config)


def build_torch_trainer(
    cfg: TrainConfig,
    *,
    run_config: ray.train.RunConfig,
    metrics_hint: Iterable[str] | None = None,
    resume_from_checkpoint: ray.train.Checkpoint | None = None,
) -> Trainer:
    """A Ray Train trainer (a TorchTrainer for several workers) that fits `cfg` and reports
    every validated epoch.

    `run_config` gives name / storage / callbacks / failure policy; its checkpoint_config is
    replaced by the one `cfg.checkpoint` implies. `metrics_hint` names metrics that must be
    logged besides the checkpoint metric(s) (e.g. the tune metric): a run that does not log
    them fails after its first validation epoch with a message listing what was logged.
    A Train run restarted under the same name/storage resumes from its own latest checkpoint
    (Ray Train V2 fault tolerance); otherwise `resume_from_checkpoint` (e.g. a restored Tune
    trial's checkpoint) is where the fit continues from.
    """
    run_config = dataclasses.replace(
        run_config, checkpoint_config=ray_checkpoint_config(cfg.checkpoint)
    )
    return data_parallel_trainer(
        run_loop,
        resources=cfg.resources,
        # V2 deprecates TorchTrainer(resume_from_checkpoint=...): the loop loads it itself.
        train_loop_config={
            "config": cfg,
            "metrics_hint": list(metrics_hint or ()),
            "resume_from": resume_from_checkpoint,
        },
        run_config=run_config,
    )
