"""raytrain: YAML search spaces in, tuned Lightning configs out, on Ray Tune + Ray Train.

The package follows the path of a tuning run:

``space`` (parse + validate a space file) -> ``config`` (typed train config, registries)
-> ``trial`` (Lightning inside a Ray Train TorchTrainer) -> ``tune`` (searcher + scheduler
on Ray) -> ``results`` (run directory: trials table, export, analysis) -> ``cli`` (commands).
``launch`` holds the cluster launchers (SLURM, ``ray up`` helpers).

Importing ``raytrain`` must stay cheap: no ray, torch, lightning or optuna at import time.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
