"""The Ray Train workers of one run or trial, from `resources` (DDP over `workers` processes;
gloo on CPU, NCCL on GPU), and the Ray Train trainer that runs them. Light: the executor pool
and Train's controller import it without torch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import ray.train

from raytrain.config.schema import ResourcesConfig


class Trainer(Protocol):
    """What raytrain uses of a Ray Train trainer (`DataParallelTrainer` or `TorchTrainer`)."""

    def fit(self) -> Any: ...


def scaling_config(resources: ResourcesConfig) -> ray.train.ScalingConfig:
    per_worker = {"CPU": resources.cpus_per_worker}
    if resources.gpus_per_worker > 0:
        per_worker["GPU"] = resources.gpus_per_worker
    return ray.train.ScalingConfig(
        num_workers=resources.workers,
        use_gpu=resources.gpus_per_worker > 0,
        resources_per_worker=per_worker,
    )


def start_train_coordinator() -> None:
    """Start the cluster's autoscaling coordinator now (Ray Data's detached actor, named, one
    per cluster), without waiting for it.

    Ray Train V2's controller creates it if missing and waits on it (up to 5 s) before it
    starts its workers (`ScalingPolicy.after_controller_start`): a new process that imports
    Ray Data, 1.2 CPU-s and ~1 s on the way to a search's first epoch here. Started by the
    driver, it comes up while the controller does. Private Ray API, so a Ray without it
    just leaves the controller to do it."""
    try:
        from ray.data._internal.cluster_autoscaler.default_autoscaling_coordinator import (
            get_or_create_autoscaling_coordinator,
        )
    except ImportError:  # pragma: no cover - another Ray version
        return
    get_or_create_autoscaling_coordinator()


def data_parallel_trainer(
    train_fn: Callable[[dict[str, Any]], None],
    *,
    resources: ResourcesConfig,
    train_loop_config: dict[str, Any],
    run_config: ray.train.RunConfig,
    collective_timeout_s: int | None = None,
) -> Trainer:
    """Ray Train's trainer for `resources`: a `TorchTrainer` (torch process group, DDP) for
    several workers; for one, the plain `DataParallelTrainer` (a Ray Train developer API) with
    no backend, because a one-worker fit trains on a single device (`trial.loop`) and never
    uses a process group. Then neither the process that builds the trainer nor Train's
    controller imports torch (`import ray.train.torch` costs 3.0 CPU-s here, `import
    ray.train` 1.7), and the worker sets up no gloo group: both sit on the path to a
    search's first epoch. Ray still sets CUDA_VISIBLE_DEVICES for a GPU worker.
    `collective_timeout_s`: the process group's timeout (None: Ray Train's, 30 min)."""
    if resources.workers == 1:
        from ray.train.v2.api.data_parallel_trainer import DataParallelTrainer

        return DataParallelTrainer(
            train_fn,
            train_loop_config=train_loop_config,
            scaling_config=scaling_config(resources),
            run_config=run_config,
        )
    from ray.train.torch import TorchConfig, TorchTrainer

    torch_config = (
        TorchConfig()
        if collective_timeout_s is None
        else TorchConfig(timeout_s=collective_timeout_s)
    )
    return TorchTrainer(
        train_fn,
        train_loop_config=train_loop_config,
        torch_config=torch_config,
        scaling_config=scaling_config(resources),
        run_config=run_config,
    )
