"""Built-in LightningModules. Register new ones in `raytrain/config/builtins.py`."""

from raytrain.models.base import RaytrainModule
from raytrain.models.mlp import MLPClassifier

__all__ = ["MLPClassifier", "RaytrainModule"]
