"""The environment a launched job runs in, read in one place.

SLURM tells a job who it is through environment variables; everything in raytrain that
needs them (the in-job helpers) goes through `JobEnvironment.from_environ`, so the key
names live in one map and tests can pass a plain dict instead of patching `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# field of JobEnvironment -> SLURM's variable.
SLURM_KEYS: dict[str, str] = {
    "job_id": "SLURM_JOB_ID",
    "num_nodes": "SLURM_JOB_NUM_NODES",
    "restart_count": "SLURM_RESTART_COUNT",
    "node_name": "SLURMD_NODENAME",
    "node_list": "SLURM_JOB_NODELIST",
}


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


@dataclass(frozen=True)
class JobEnvironment:
    """Who this process is inside a batch job (defaults describe "not in a job")."""

    job_id: str | None = None
    num_nodes: int = 1
    restart_count: int = 0
    node_name: str | None = None
    node_list: str | None = None

    @property
    def in_job(self) -> bool:
        return self.job_id is not None

    @property
    def requeued(self) -> bool:
        """SLURM counts restarts of a requeued job; the first run has none."""
        return self.restart_count > 0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> JobEnvironment:
        env = os.environ if environ is None else environ
        get = {field: env.get(key) for field, key in SLURM_KEYS.items()}
        return cls(
            job_id=get["job_id"] or None,
            num_nodes=_int(get["num_nodes"], 1),
            restart_count=_int(get["restart_count"], 0),
            node_name=get["node_name"] or None,
            node_list=get["node_list"] or None,
        )
