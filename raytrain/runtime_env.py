"""The job-level Ray runtime_env of a raytrain run: user code on every worker, fast reports.

`_target_` classes must import on Ray workers exactly as in the user's directory. Locally the
workers get the launch directory on their PYTHONPATH (nothing is copied). On an
existing cluster (`--address`) the top-level modules/packages the config names, found under
that directory, travel as runtime_env `py_modules` together with raytrain itself; this avoids
shipping the whole directory (`working_dir`, which would also upload virtualenvs and runs).

Ray Train V2 collects each worker's `ray.train.report` when its controller polls, every 2 s by
default, and a worker blocks on its next report until then: an epoch shorter than the poll
interval waits for it. raytrain polls every `REPORT_POLL_S` instead (measured in
bench/trial_overhead.py); a value already in the environment wins.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import raytrain
from raytrain.config.schema import ComponentConfig, TrainConfig


def put_cwd_on_path(cwd: Path) -> None:
    """The console script's sys.path starts at its own folder; user code lives in cwd."""
    if str(cwd) not in sys.path:
        sys.path.insert(0, str(cwd))


def _top_modules(components: Iterable[ComponentConfig]) -> list[str]:
    return list(dict.fromkeys(c.target.split(".")[0].split(":")[0] for c in components if c.target))


def local_sources(components: Iterable[ComponentConfig], cwd: Path) -> list[Path]:
    """Files/package folders under `cwd` that define the components' top-level modules."""
    found: list[Path] = []
    for top in _top_modules(components):
        spec = importlib.util.find_spec(top)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin).resolve()
        source = origin.parent if spec.submodule_search_locations else origin
        if source.is_relative_to(cwd.resolve()):
            found.append(source)
    return found


POLL_ENV = "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S"
REPORT_POLL_S = "0.2"


# Set by the SLURM job script (raytrain/launch/templates/slurm.sbatch): the cluster's Ray was
# started from this process's environment (the same Python on a shared filesystem, cwd on
# PYTHONPATH, POLL_ENV set), so its workers need no runtime_env.
INHERIT_ENV = "RAYTRAIN_WORKERS_INHERIT_ENV"


def user_code_runtime_env(cfg: TrainConfig, cwd: Path, *, remote: bool) -> dict[str, Any]:
    """The runtime_env for `ray.init`: the config's code importable everywhere, quick reports."""
    if remote and os.environ.get(INHERIT_ENV) == "1":
        return {}
    env_vars = {POLL_ENV: os.environ.get(POLL_ENV, REPORT_POLL_S)}
    if not remote:
        inherited = os.environ.get("PYTHONPATH")
        path = os.pathsep.join([str(cwd), inherited] if inherited else [str(cwd)])
        return {"env_vars": {**env_vars, "PYTHONPATH": path}}

    modules = [str(p) for p in local_sources([cfg.model, cfg.data], cwd)]
    return {"env_vars": env_vars, "py_modules": [*modules, str(Path(raytrain.__file__).parent)]}
