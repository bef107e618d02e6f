"""Optimizers and lr schedules built from a train config (torch, no Lightning trainer, no Ray).

A leaf below both `raytrain.models` (a built-in's fallback `configure_optimizers`) and
`raytrain.trial` (which attaches the config's optimization to any module).
"""

from raytrain.optim.lr_schedulers import ScheduleContext
from raytrain.optim.optimizers import Optimization, configure_optimizers

__all__ = ["Optimization", "ScheduleContext", "configure_optimizers"]
