"""Shared fixtures: one local Ray for the whole session, and hygiene checks; the order in
which pytest-xdist hands modules to its workers.

Unit tests never touch `ray_session`; integration and e2e tests that need Ray in this
process take it. Tests that run the CLI in a subprocess start their own Ray there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


# Longest first, so that the xdist workers (`-n 2 --dist loadfile --no-loadscope-reorder`,
# README "Development") end together: a worker takes the next module when it has two tests
# or fewer left, and never gives one back. The SLURM requeue test is the longest and mostly
# waits on SLURM, the fault-injection ones come next; unit modules (seconds each) fill the end.
_MODULE_COST_ORDER = ("slurm", "faults", "e2e", "ray")


def _cost_rank(item: pytest.Item) -> int:
    marks = {m.name for m in item.iter_markers()}
    return next((i for i, name in enumerate(_MODULE_COST_ORDER) if name in marks), 99)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order modules by their most expensive test's rank (`_MODULE_COST_ORDER`), keeping
    each module's tests together and in their order (the sort is stable). Deterministic:
    every xdist worker must collect the same order."""
    module_rank: dict[Path, int] = {}
    for item in items:
        module_rank[item.path] = min(module_rank.get(item.path, 99), _cost_rank(item))
    items.sort(key=lambda item: module_rank[item.path])


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """One local Ray (2 CPUs, dashboard on so Train V2 can free placement groups)."""
    import ray

    from raytrain.local_ray import LOCAL_TRAIN_DEFAULTS
    from raytrain.runtime_env import POLL_ENV, REPORT_POLL_S

    # As in raytrain's own runs: Train V2 extras off, reports polled every 0.2 s.
    defaults = {**LOCAL_TRAIN_DEFAULTS, POLL_ENV: REPORT_POLL_S}
    train_env = {k: os.environ.setdefault(k, v) for k, v in defaults.items()}
    if not ray.is_initialized():
        ray.init(
            address="local",  # a new instance even while other `ray start` heads run here
            num_cpus=2,
            include_dashboard=True,
            dashboard_host="127.0.0.1",
            log_to_driver=False,
            configure_logging=False,
            runtime_env={"env_vars": {"PYTHONPATH": str(REPO), **train_env}},
        )
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real MLflow tracking server (sqlite, 127.0.0.1) for the session's tests."""
    pytest.importorskip("mlflow")
    from fixtures.mlflow_server import mlflow_server

    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as uri:
        yield uri


@pytest.fixture(autouse=True)
def _no_env_leaks() -> Iterator[None]:
    """Fail a test that leaves environment variables changed (use monkeypatch instead)."""
    before = dict(os.environ)
    yield
    after = dict(os.environ)
    # Ray and Lightning set a few process-wide variables on first use; those are not leaks.
    ignore_prefixes = (
        "RAY_",
        "PL_",
        "LOCAL_RANK",
        "NODE_RANK",
        "WORLD_SIZE",
        "TUNE_",
        "OMP_",
        "CUDA_",
        "KMP_",
        "PYTHONHASHSEED",
        "MASTER_",
        "GLOO_",
        "TORCH",
        "RANK",
        "LIGHTNING_",
        "TF_",
        "GRPC_",
        "PYTEST_",
        "PYTORCH_",
        "WANDB_SERVICE",  # wandb.init points later runs of the process at its service
    )
    changed = {
        k
        for k in set(before) | set(after)
        if before.get(k) != after.get(k) and not k.startswith(ignore_prefixes)
    }
    assert not changed, f"test leaked environment variables: {sorted(changed)}"
