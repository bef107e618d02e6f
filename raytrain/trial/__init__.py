"""Trials: a Lightning fit inside a Ray Train TorchTrainer (used by `tune` and `train`).

`build_torch_trainer` is the entry point; `prepare` / `fit` are the per-process and per-trial
halves of what each Train worker runs. Its modules import Ray at their top: import them only
inside the Ray session (the import rule in `raytrain/local_ray.py`).
"""

from raytrain.trial.checkpointing import CHECKPOINT_NAME, CheckpointPolicy, ray_checkpoint_config
from raytrain.trial.errors import MetricNotLoggedError, TrialError
from raytrain.trial.trainer import build_torch_trainer, scaling_config

__all__ = [
    "CHECKPOINT_NAME",
    "CheckpointPolicy",
    "MetricNotLoggedError",
    "TrialError",
    "build_torch_trainer",
    "ray_checkpoint_config",
    "scaling_config",
]
