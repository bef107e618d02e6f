"""Cluster launchers: start Ray where the user's machines are and run `raytrain tune` on it.

`SlurmLauncher` renders and submits one sbatch job per search; the `ray up` cluster files
live in the repository's `cluster/` folder (they need no code here).
"""

from raytrain.launch.base import Launcher
from raytrain.launch.environment import JobEnvironment
from raytrain.launch.slurm import RayPorts, SlurmJob, SlurmLauncher

__all__ = ["JobEnvironment", "Launcher", "RayPorts", "SlurmJob", "SlurmLauncher"]
