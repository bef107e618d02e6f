"""Search spaces: YAML file -> validated `Space` -> Optuna define-by-run -> trial configs.

Importing this package stays light (no optuna, ray or torch): `raytrain validate` uses it.
"""

from raytrain.space.asha import asha_rungs
from raytrain.space.catalogue import SAMPLERS, SCHEDULERS
from raytrain.space.conditions import active, holds
from raytrain.space.dump import dump_space
from raytrain.space.loading import load_space, load_space_with_notes
from raytrain.space.materialize import materialize, trial_config, trial_train_config
from raytrain.space.optuna_space import define_by_run, grid_values
from raytrain.space.plan import render_plan
from raytrain.space.types import (
    CategoricalParam,
    FailureSettings,
    FloatParam,
    IntParam,
    Param,
    ResourceSettings,
    SchedulerSettings,
    SearchSettings,
    Space,
)

__all__ = [
    "SAMPLERS",
    "SCHEDULERS",
    "CategoricalParam",
    "FailureSettings",
    "FloatParam",
    "IntParam",
    "Param",
    "ResourceSettings",
    "SchedulerSettings",
    "SearchSettings",
    "Space",
    "active",
    "asha_rungs",
    "define_by_run",
    "dump_space",
    "grid_values",
    "holds",
    "load_space",
    "load_space_with_notes",
    "materialize",
    "render_plan",
    "trial_config",
    "trial_train_config",
]
