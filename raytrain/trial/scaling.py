"""The Ray Train workers of one run or trial, from `resources` (DDP over `workers` processes;
gloo on CPU, NCCL on GPU). Light: the executor pool imports it without torch."""

from __future__ import annotations

import ray.train

from raytrain.config.schema import ResourcesConfig


def scaling_config(resources: ResourcesConfig) -> ray.train.ScalingConfig:
    per_worker = {"CPU": resources.cpus_per_worker}
    if resources.gpus_per_worker > 0:
        per_worker["GPU"] = resources.gpus_per_worker
    return ray.train.ScalingConfig(
        num_workers=resources.workers,
        use_gpu=resources.gpus_per_worker > 0,
        resources_per_worker=per_worker,
    )
