"""Trials: a Lightning fit inside Ray Train (used by `tune` and `train`).

`build_torch_trainer` is the entry point of a one-run TorchTrainer (`raytrain train`, the
`fresh` executor); `serve.serve_trials` is what a warm slot's ranks run; `prepare` / `fit`
(`loop`) are the per-process and per-trial halves both use. Its modules import Ray at their
top: import them only inside the Ray session (the import rule in `raytrain/local_ray.py`).

The names below are loaded on first use, so that importing one light module of this package
(`failures`, `errors`, `checkpointing`) does not load torch and Lightning: the executor pool
and Ray Train's controller import those, and each such import cost ~5 s of CPU here.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CHECKPOINT_NAME": "raytrain.trial.checkpointing",
    "CheckpointPolicy": "raytrain.trial.checkpointing",
    "ray_checkpoint_config": "raytrain.trial.checkpointing",
    "MetricNotLoggedError": "raytrain.trial.errors",
    "TrialError": "raytrain.trial.errors",
    "build_torch_trainer": "raytrain.trial.trainer",
    "scaling_config": "raytrain.trial.scaling",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'raytrain.trial' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
