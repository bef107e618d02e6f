"""A tiny search on a multi-node Ray cluster: trials must train on more than one node.

The cluster is Ray's fake multi-node provider (cluster/fake-multinode.yaml): a 1-CPU
head plus two 1-CPU worker "nodes" that are separate raylets on this machine, started
with `RAY_FAKE_CLUSTER=1 ray start --head --autoscaling-config=...`. Each node has its
own node id, so a LightningModule that records `ray.get_runtime_context().get_node_id()`
shows where each trial trained.
"""

from __future__ import annotations

import contextlib
import csv
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from e2e_helpers import processes_using

from raytrain.local_ray import free_port

# ~90 s on a quiet 2-core machine; the limits below allow a loaded one several times that.
pytestmark = [pytest.mark.e2e, pytest.mark.ray, pytest.mark.timeout(1500)]

REPO = Path(__file__).resolve().parents[2]
FAKE_CLUSTER = REPO / "cluster" / "fake-multinode.yaml"
WORKER_NODES = 2

PROBE_MODULE = '''\
"""An MLP that writes the Ray node id it trains on into `probe_dir`."""
import os
import time
import uuid
from pathlib import Path

from raytrain.models.mlp import MLPClassifier


class NodeProbeMLP(MLPClassifier):
    def __init__(self, probe_dir: str, input_dim: int = 64, num_classes: int = 10,
                 hidden: int = 16, depth: int = 1, dropout: float = 0.0) -> None:
        super().__init__(input_dim, num_classes, hidden, depth, dropout)
        self.probe_dir = probe_dir

    def on_fit_start(self) -> None:
        import ray

        node = ray.get_runtime_context().get_node_id()
        Path(self.probe_dir, f"{os.getpid()}-{uuid.uuid4().hex}.node").write_text(node)
        # Hold the first trial until a second one has started: a warm slot serves trial
        # after trial, and one-epoch trials could all be done before the second slot (on
        # another node) is up; the second trial cannot start on the busy first slot.
        deadline = time.monotonic() + 240
        while len(list(Path(self.probe_dir).glob("*.node"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
'''


SLOW_NODE_MODULE = '''\
"""An MLP whose epochs take `epoch_seconds` longer and that logs its node's raylet pid."""
import os
import time

from raytrain.models.mlp import MLPClassifier


class SlowNodeMLP(MLPClassifier):
    def __init__(self, input_dim: int = 64, num_classes: int = 10, hidden: int = 16,
                 depth: int = 1, dropout: float = 0.0, epoch_seconds: float = 0.0) -> None:
        super().__init__(input_dim, num_classes, hidden, depth, dropout)
        self.epoch_seconds = epoch_seconds

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        self.log("raylet_pid", float(os.getppid()))  # a Ray worker is its raylet's child
        time.sleep(self.epoch_seconds)
'''


@dataclass
class FakeCluster:
    address: str
    env: dict[str, str]
    temp_dir: str
    head_pid: int  # `ray start --head --block`: the parent of the head node's raylet


def _stop(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@pytest.fixture(scope="module")
def fake_cluster() -> Iterator[FakeCluster]:
    if not sys.platform.startswith("linux"):
        pytest.skip("the fake multi-node cluster test reads /proc (Linux only)")
    port = free_port()
    # A short private temp dir: Ray's socket paths must stay under 108 bytes, and the head
    # writes its address here instead of /tmp/ray, so no other `ray.init()` finds it.
    temp_dir = tempfile.mkdtemp(prefix="rt-fake-", dir="/tmp")
    config = yaml.safe_load(FAKE_CLUSTER.read_text())
    config["provider"]["gcs_address"] = f"127.0.0.1:{port}"
    config_path = Path(temp_dir) / "cluster.yaml"
    config_path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    head = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ray.scripts.scripts",
            "start",
            "--head",
            "--block",
            "--num-cpus=1",
            f"--port={port}",
            "--node-ip-address=127.0.0.1",
            f"--temp-dir={temp_dir}",
            f"--dashboard-port={free_port()}",
            "--dashboard-host=127.0.0.1",
            f"--ray-client-server-port={free_port()}",
            f"--autoscaling-config={config_path}",
            "--disable-usage-stats",
        ],
        # No 30 s drain on SIGTERM at teardown: the search is over by then.
        env={**env, "RAY_FAKE_CLUSTER": "1", "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        address = f"127.0.0.1:{port}"
        waited = subprocess.run(
            [
                sys.executable,
                "-m",
                "raytrain.launch.wait_nodes",
                "--address",
                address,
                "--nodes",
                str(1 + WORKER_NODES),
                "--timeout",
                "180",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert waited.returncode == 0, waited.stderr[-2000:]
        yield FakeCluster(address=address, env=env, temp_dir=temp_dir, head_pid=head.pid)
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
        _stop(list(processes_using(temp_dir)), signal.SIGTERM)
        deadline = time.monotonic() + 5  # ours to stop; Ray's fake nodes may ignore SIGTERM
        while list(processes_using(temp_dir)) and time.monotonic() < deadline:
            time.sleep(0.5)
        _stop(list(processes_using(temp_dir)), signal.SIGKILL)
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_trials_train_on_more_than_one_node(fake_cluster: FakeCluster, tmp_path: Path) -> None:
    probes = tmp_path / "probes"
    probes.mkdir()
    (tmp_path / "nodeprobe.py").write_text(PROBE_MODULE)
    space = {
        "name": "multinode",
        "config": {
            "seed": 0,
            "model": {"_target_": "nodeprobe.NodeProbeMLP", "probe_dir": str(probes), "hidden": 16},
            "data": {"name": "digits", "batch_size": 128},
            "optimizer": {"name": "adamw", "lr": 1e-3},
            "trainer": {"max_epochs": 1},
        },
        "metric": "val_loss",
        "mode": "min",
        "parameters": {"optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}},
        "search": {"sampler": "random", "num_samples": 4, "seed": 0},
        "scheduler": {"type": "fifo"},
        # Two trials at once, one 1-CPU Train worker each, on nodes of one CPU each: the
        # two concurrent workers can never share a node.
        "resources": {"workers_per_trial": 1, "cpus_per_worker": 1, "max_concurrent_trials": 2},
    }
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space))

    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "raytrain",
            "tune",
            "space.yaml",
            "--address",
            fake_cluster.address,
            "--storage",
            str(tmp_path / "runs"),
            "--no-live",
        ],
        cwd=tmp_path,
        env=fake_cluster.env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]

    run_dir = tmp_path / "runs" / "multinode"
    with open(run_dir / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len({row["trial_id"] for row in rows}) == 4
    assert (run_dir / "best.yaml").is_file()

    nodes = [p.read_text() for p in probes.glob("*.node")]
    assert len(nodes) == 4, f"expected one probe per trial, got {len(nodes)}"
    assert len(set(nodes)) > 1, f"every trial trained on the same node {nodes[0]}"
    print(f"4 trials on {len(set(nodes))} nodes in {elapsed:.0f} s")


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _worker_node_raylets(cluster: FakeCluster) -> set[int]:
    """The raylets of the fake worker nodes (started by the autoscaler, not by the head)."""
    raylets = {
        pid for pid, cmd in processes_using(cluster.temp_dir).items() if "raylet/raylet" in cmd
    }
    return {pid for pid in raylets if _parent(pid) != cluster.head_pid}


@pytest.mark.faults
def test_a_removed_worker_node_retries_its_trial_elsewhere(
    fake_cluster: FakeCluster, tmp_path: Path
) -> None:
    """SIGKILL the raylet of the worker node a trial trains on (the node is gone): the
    trial is retried from its checkpoint on another node, the search finishes.

    Two retries allowed: CI once saw the single retry fail too (its text was cut from the
    log; the failure is now printed whole), and until Ray marks the node dead (missed
    heartbeats, seconds) work can still be placed on it."""
    (tmp_path / "slownode.py").write_text(SLOW_NODE_MODULE)
    space = {
        "name": "nodeloss",
        "config": {
            "seed": 0,
            "model": {"_target_": "slownode.SlowNodeMLP", "hidden": 16, "epoch_seconds": 1.0},
            "data": {"name": "digits", "batch_size": 256},
            "optimizer": {"name": "adamw", "lr": 1e-3},
            "trainer": {"max_epochs": 3},
            "checkpoint": {"every_n_epochs": 1},
        },
        "metric": "val_loss",
        "mode": "min",
        "parameters": {"optimizer.lr": {"type": "categorical", "values": [1e-3, 1e-2]}},
        "search": {"sampler": "grid", "num_samples": 2, "seed": 0},
        "scheduler": {"type": "fifo"},
        "resources": {"workers_per_trial": 1, "cpus_per_worker": 1, "max_concurrent_trials": 2},
        "failure": {"max_failures": 2},
    }
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space))
    run_dir = tmp_path / "runs" / "nodeloss"
    log = tmp_path / "driver.log"
    command = [sys.executable, "-m", "raytrain", "tune", "space.yaml", "--address"]
    command += [fake_cluster.address, "--storage", str(tmp_path / "runs"), "--no-live"]
    with open(log, "wb") as out:
        driver = subprocess.Popen(
            command, cwd=tmp_path, env=fake_cluster.env, stdout=out, stderr=subprocess.STDOUT
        )
    victim, raylet = None, None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and driver.poll() is None and victim is None:
        rows = {}
        if (run_dir / "trials.csv").exists():
            with open(run_dir / "trials.csv", newline="") as f:
                rows = {r["trial_id"]: r for r in csv.DictReader(f)}
        workers = _worker_node_raylets(fake_cluster)
        for tid, r in rows.items():
            if r["state"] == "RUNNING" and r["checkpoint"] and r["epochs"] in ("1", "2"):
                pid = int(_column(run_dir, tid, "raylet_pid")[-1])
                if pid in workers:
                    victim, raylet = tid, pid
                    os.kill(pid, signal.SIGKILL)  # the node's workers go with their raylet
                    break
        time.sleep(0.2)
    assert victim is not None, "no trial on a worker node at epoch 1-2:\n" + log.read_text()[-3000:]
    assert driver.wait(timeout=900) == 0, log.read_text()[-4000:]
    with open(run_dir / "trials.csv", newline="") as f:
        rows = {r["trial_id"]: r for r in csv.DictReader(f)}
    errors = {  # the failures of each trial, for a CI log that says why
        tid: (run_dir / "trials" / tid / "error.txt").read_text()[-2500:]
        for tid in rows
        if (run_dir / "trials" / tid / "error.txt").is_file()
    }
    states = {r["state"] for r in rows.values()}
    if len(rows) != 2 or states != {"TERMINATED"}:  # pytest.fail: its text is never cut
        pytest.fail(
            f"trials: {rows}\n"
            + "".join(f"--- {tid} error.txt ---\n{text}\n" for tid, text in errors.items())
            + "--- driver log ---\n"
            + log.read_text()[-4000:]
        )
    for tid in rows:  # continued from its checkpoint, not from scratch
        assert [int(float(e)) for e in _column(run_dir, tid, "epoch")] == [1, 2, 3], tid
    pids = [int(p) for p in _column(run_dir, victim, "raylet_pid")]
    assert raylet in pids and pids[-1] != raylet, pids  # retried on another node
    assert (run_dir / "best.yaml").is_file()


def _column(run_dir: Path, trial_id: str, key: str) -> list[float]:
    with open(run_dir / "trials" / trial_id / "metrics.csv", newline="") as f:
        return [float(r[key]) for r in csv.DictReader(f)]
