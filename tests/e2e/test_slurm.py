"""`raytrain slurm` under a real SLURM: a search requeued twice resumes and finishes.

Needs the repository's single-node SLURM (`cluster/slurm/local-slurm.sh up`, as root;
`.ci/run` starts it). Each job starts its own Ray head with a fresh token on free ports,
so these tests never touch another Ray on the machine.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from e2e_helpers import processes_using

from raytrain.local_ray import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slurm]

REPO = Path(__file__).resolve().parents[2]
LOCAL_SLURM = REPO / "cluster" / "slurm" / "local-slurm.sh"
FINISHED = {"TERMINATED", "STOPPED", "ERROR"}


@pytest.fixture(scope="module", autouse=True)
def slurm_ready() -> None:
    if shutil.which("sbatch") is None:
        pytest.skip("no SLURM here: run `sudo cluster/slurm/local-slurm.sh up` first")
    status = subprocess.run(
        [str(LOCAL_SLURM), "status"], capture_output=True, text=True, timeout=30
    )
    if status.returncode != 0:
        pytest.skip("SLURM is installed but not running: `sudo cluster/slurm/local-slurm.sh up`")


def slurm(*argv: str) -> str:
    """A SLURM client command; `timeout` because they hang if name resolution does."""
    done = subprocess.run(["timeout", "20", *argv], capture_output=True, text=True)
    assert done.returncode == 0, f"{argv}: {done.stderr}"
    return done.stdout


# Each validation epoch sleeps, so a trial lasts a known minimum time and the test can stop the
# search while one runs. With the built-in MLP a warm trial of 2 epochs took ~0.5 s, and on a
# quiet CI machine the resumed search finished every trial between two polls (stop 21).
SLOW_MODULE = """
import time

import lightning.pytorch as pl
import torch
import torch.nn.functional as F


class SlowNet(pl.LightningModule):
    def __init__(self, epoch_seconds: float = 3.0):
        super().__init__()
        self.epoch_seconds = epoch_seconds
        self.net = torch.nn.Linear(8, 3)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self.net(x), y))

    def on_validation_epoch_end(self):
        time.sleep(self.epoch_seconds)
"""

EPOCH_SECONDS = 3.0


def write_space(directory: Path, num_samples: int, max_epochs: int) -> Path:
    (directory / "slowmod.py").write_text(textwrap.dedent(SLOW_MODULE))
    space = {
        "name": "slurmtiny",
        "config": {
            "seed": 0,
            "model": {"_target_": "slowmod.SlowNet", "epoch_seconds": EPOCH_SECONDS},
            "data": {
                "name": "synthetic",
                "num_samples": 120,
                "num_features": 8,
                "num_classes": 3,
                "batch_size": 60,
            },
            "optimizer": {"name": "adamw", "lr": 1e-3},
            "trainer": {"max_epochs": max_epochs},
        },
        "metric": "val_loss",
        "mode": "min",
        "parameters": {"optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}},
        "search": {"sampler": "random", "num_samples": num_samples, "seed": 0},
        "scheduler": {"type": "fifo"},
        "resources": {"workers_per_trial": 1, "cpus_per_worker": 1},
    }
    path = directory / "space.yaml"
    path.write_text(yaml.safe_dump(space))
    return path


def submit(directory: Path, space: Path, *extra: str) -> tuple[str, str | None]:
    """Submit; the search job's id and, with --then-train, the final train job's."""
    ports = [free_port() for _ in range(3)]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "raytrain",
            "slurm",
            str(space),
            "--storage",
            str(directory / "runs"),
            "--cpus-per-task",
            "2",
            "--time",
            "15",
            "--port",
            str(ports[0]),
            "--dashboard-port",
            str(ports[1]),
            "--client-server-port",
            str(ports[2]),
            *extra,
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("RAY_")},
    )
    assert done.returncode == 0, done.stderr
    match = re.search(r"submitted SLURM job (\d+)\n", done.stdout)
    assert match, done.stdout
    assert "squeue -j" in done.stdout and "raytrain status" in done.stdout
    train = re.search(
        r"submitted SLURM job (\d+) \(final train, after (\d+) succeeds\)", done.stdout
    )
    if train is not None:
        assert train.group(2) == match.group(1)
    return match.group(1), train.group(1) if train else None


def job_state(job_id: str) -> str:
    out = slurm("scontrol", "show", "job", job_id)
    match = re.search(r"JobState=(\w+)", out)
    return match.group(1) if match else "UNKNOWN"


def wait_for(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    log: Path | None = None,
    interval: float = 2.0,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    tail = log.read_text()[-4000:] if log is not None and log.exists() else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")


def trial_rows(run_dir: Path) -> list[dict[str, str]]:
    try:
        with open(run_dir / "trials.csv", newline="") as f:
            return list(csv.DictReader(f))
    except FileNotFoundError:
        return []


def finished_trials(run_dir: Path) -> set[str]:
    return {row["trial_id"] for row in trial_rows(run_dir) if row.get("state") in FINISHED}


def leftover_processes(job_id: str) -> list[str]:
    """Processes of the job's Ray (its private temp dir names the job) still alive."""
    return [f"{pid}: {cmd}" for pid, cmd in processes_using(f"/tmp/raytrain-{job_id}-").items()]


def node_state() -> str:
    """The state of the one node of the local SLURM (`idle`, `alloc`, `comp`, ...)."""
    return slurm("sinfo", "-h", "-N", "-o", "%t").strip()


def release(job_id: str) -> None:
    """Let a requeued job start in a few seconds instead of after SLURM's requeue delay.

    SLURM holds a requeued job back (BeginTime about 2 min ahead) for a reason: slurmd
    revokes the credential of the job's previous run and refuses any launch whose credential
    is not newer, in whole seconds, than that revocation. Seen here (issue 17): with
    `StartTime=now` sent 0.2 s after "Requeuing JobId=5", while the node was still tearing
    down the old run, the job was allocated 0.3 s later, in the same second, and slurmctld
    logged "Killing non-startable batch JobId=5: Job credential revoked": the job FAILED
    (Restarts=1, start = end) and never came back. So this waits until the old run is gone
    (the job PENDING and the node no longer allocated or completing, i.e. `idle`) and asks
    for a start 2 s later, which puts the new credential strictly after the revocation.
    """
    wait_for(
        lambda: job_state(job_id) == "PENDING" and node_state() == "idle",
        300,
        f"job {job_id} to be requeued (PENDING) and its node idle",
    )
    begin = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() + 2))
    slurm("scontrol", "update", f"JobId={job_id}", f"StartTime={begin}")


def finish(job_id: str, log: Path, timeout: float = 400, stage: str = "search") -> None:
    wait_for(
        lambda: job_state(job_id) in {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"},
        timeout,
        f"job {job_id} to end",
        log,
    )
    assert job_state(job_id) == "COMPLETED", log.read_text()[-4000:]
    assert f"{stage} exited with 0" in log.read_text()
    wait_for(lambda: not leftover_processes(job_id), 60, "the job's Ray to exit")


@pytest.mark.timeout(3600)  # above the sum of the waits below, so one of them fails first
def test_requeued_job_resumes_and_finishes(tmp_path: Path) -> None:
    """sbatch -> a search that finishes (COMPLETED, best.yaml, the job's Ray gone), after
    being stopped twice mid-search: the job comes back each time, continues with --resume and
    ends with exactly num_samples distinct trials. First SLURM's warning signal (what
    `--signal=B:USR1@N` sends before the time limit; here `scancel --batch --signal=USR1`):
    the job stops the search cleanly and requeues itself. Then a requeue from outside
    (`scontrol requeue`, as for preemption): every process gets SIGTERM at once.
    With --then-train, the final `raytrain train best.yaml` job waits through both requeues
    (afterok) and trains once the search job has completed."""
    num_samples = 6
    space = write_space(tmp_path, num_samples=num_samples, max_epochs=2)
    job_id, train_id = submit(tmp_path, space, "--then-train")
    assert train_id is not None
    run_dir = tmp_path / "runs" / "slurmtiny"
    log = tmp_path / "runs" / "_slurm" / "slurmtiny" / f"slurm-{job_id}.out"
    # Timeouts: the whole test takes ~215 s on a quiet 2-core machine; each wait allows
    # several times its quiet duration, since CI may share the machine.
    wait_for(lambda: len(finished_trials(run_dir)) >= 1, 600, "a first finished trial", log)

    slurm("scancel", "--batch", "--signal=USR1", job_id)
    wait_for(lambda: "requeueing job" in log.read_text(), 300, "the self-requeue", log)
    first = finished_trials(run_dir)
    # Trials that were running when the search stopped (some had not reported yet: Ray then
    # warns that "both result.json and progress.csv were not found") are in trials.csv and
    # in Tune's saved state: the resumed search runs them again under the same id (from
    # their checkpoint if they had one), so they must all end finished below.
    unfinished_at_stop = {row["trial_id"] for row in trial_rows(run_dir)} - first
    assert len(first) < num_samples, "the search ended before it could be interrupted"
    assert job_state(train_id) == "PENDING", "the final run must wait for the search"
    release(job_id)
    wait_for(lambda: "(restart 1)" in log.read_text(), 300, "the first restart", log)
    # The second stop comes once the resumed search has started a trial it did not have
    # before: that trial sleeps 2 x EPOCH_SECONDS, so the search is still running when the
    # requeue lands (polled every 0.5 s; `scontrol requeue` takes well under a second).
    known = {row["trial_id"] for row in trial_rows(run_dir)}
    wait_for(
        lambda: bool({row["trial_id"] for row in trial_rows(run_dir)} - known),
        600,
        "a new trial in the resumed search",
        log,
        interval=0.5,
    )
    second = finished_trials(run_dir)
    assert first <= second and len(second) < num_samples, "ended before the second stop"

    slurm("scontrol", "requeue", job_id)
    release(job_id)
    finish(job_id, log, timeout=900)

    text = log.read_text()
    assert "(restart 2)" in text and text.count("(--resume)") == 2
    assert "1/1 Ray nodes alive" in text and "Ray stopped" in text
    rows = trial_rows(run_dir)
    ids = [row["trial_id"] for row in rows]
    assert len(ids) == len(set(ids)) == num_samples, rows
    assert second <= finished_trials(run_dir) == set(ids)
    assert unfinished_at_stop <= set(ids), "a trial running at the first stop was lost"
    assert (run_dir / "best.yaml").is_file()

    # the final run: started only now, trains best.yaml into <storage>/train/<name>
    train_log = tmp_path / "runs" / "_slurm" / "slurmtiny" / f"slurm-{train_id}.out"
    finish(train_id, train_log, timeout=600, stage="train")
    train_dir = tmp_path / "runs" / "train" / "slurmtiny"
    assert (train_dir / "config.yaml").is_file() and (train_dir / "metrics.csv").is_file()
    assert '"TERMINATED"' in (train_dir / "state.json").read_text()
    assert "(restart" in train_log.read_text() and "(restart 1)" not in train_log.read_text()
