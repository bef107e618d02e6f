"""The user project of the `raytrain tune` e2e tests: a toy LightningModule whose
`behaviour` makes a trial good, bad, NaN or failing, its base config, and helpers that run
the CLI, read a run directory and SIGKILL a driver at a chosen moment."""

from __future__ import annotations

import csv
import hashlib
import os
import signal
import subprocess
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_helpers import RAYTRAIN, run_cli

# A secret the grid search passes to its module through ${oc.env:...}: it must reach the
# module and appear in no file of the project (run dirs, exports, the final train run).
SECRET_VAR, SECRET = "RAYTRAIN_E2E_API_KEY", "e2e-s3cret-7f3a9c1d5b"
SECRET_MODEL_ARGS = {
    "api_key": "${oc.env:" + SECRET_VAR + "}",
    "api_key_sha256": hashlib.sha256(SECRET.encode()).hexdigest(),
}

TOY = '''
import hashlib
import math
import os
import time

import lightning.pytorch as pl
import torch
import torch.nn.functional as F


class Toy(pl.LightningModule):
    """A small classifier; `behaviour` makes its trial good, worse, NaN or failing."""

    def __init__(self, input_dim: int = 8, num_classes: int = 3, hidden: int = 16,
                 behaviour: str = "good", epoch_seconds: float = 0.0,
                 api_key: str = "", api_key_sha256: str = ""):
        super().__init__()
        self.save_hyperparameters()  # into every checkpoint: api_key must be redacted there
        # the module checks the secret it was given against its hash (never the secret)
        self.key_ok = float(hashlib.sha256(api_key.encode()).hexdigest() == api_key_sha256)
        self.behaviour = behaviour
        self.epoch_seconds = epoch_seconds  # slow epochs down so a test can interrupt them
        self.net = torch.nn.Sequential(torch.nn.Linear(input_dim, hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(hidden, num_classes))
        # "worse" trials carry a constant penalty on the validation loss.
        self.penalty = {"good": 0.0, "bad": 1.0, "worse": 2.0, "worst": 3.0}.get(behaviour, 0.0)

    def training_step(self, batch, batch_idx):
        if self.behaviour == "raise":
            raise RuntimeError("toy failure on purpose")
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        loss = F.cross_entropy(logits, y) + self.penalty
        if self.behaviour == "nan":
            loss = loss * math.nan
        self.log("val_loss", loss)
        self.log("val_acc", (logits.argmax(-1) == y).float().mean())
        # which process trained it (rank 0), and in how big a DDP group
        self.log("worker_pid", float(os.getpid()))  # "pid" is a Tune key
        self.log("world_size", float(self.trainer.world_size))
        self.log("key_ok", self.key_ok)
        self.log("torch_seed", float(torch.initial_seed()))  # the config's seed, as applied

    def on_validation_epoch_end(self):
        time.sleep(self.epoch_seconds)
'''

BASE = {
    "seed": 0,
    "model": {"_target_": "toymod.Toy", "input_dim": 8, "num_classes": 3},
    "data": {
        "name": "synthetic",
        "num_samples": 240,
        "num_features": 8,
        "num_classes": 3,
        "batch_size": 60,
    },
    "optimizer": {"name": "adam", "lr": 0.01},
    "trainer": {"max_epochs": 3},
    "checkpoint": {"every_n_epochs": 1},
}


def write_project(root: Path) -> None:
    (root / "toymod.py").write_text(textwrap.dedent(TOY))


def run(
    args: list[str], cwd: Path, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI with the module's secret in the environment (as a user's shell has it)."""
    return run_cli(args, cwd, timeout, {SECRET_VAR: SECRET, **(env or {})})


FAKE_WANDB_KEY = "e2e0fake0key0e2e0fake0key0e2e0fake0key00"


def tracking_env(root: Path, mlflow_uri: str) -> dict[str, str]:
    """W&B offline into the project's wandb-dir, a (fake) key in the environment as a user
    would have it, and the MLflow server by MLFLOW_TRACKING_URI."""
    return {
        "WANDB_DIR": str(root / "wandb-dir"),
        "WANDB_API_KEY": FAKE_WANDB_KEY,
        "MLFLOW_TRACKING_URI": mlflow_uri,
    }


def epochs_of(run_dir: Path, trial_id: str, key: str = "epoch") -> list:
    with open(run_dir / "trials" / trial_id / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    return [int(float(r["epoch"])) if key == "epoch" else float(r[key]) for r in rows]


def table(run_dir: Path) -> dict[str, dict[str, str]]:
    with open(run_dir / "trials.csv") as f:
        return {r["trial_id"]: r for r in csv.DictReader(f)}


def start_driver(args: list[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """`raytrain ARGS` as the leader of its own process group (as a shell job is), output
    into `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [RAYTRAIN, *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_group_when(
    driver: subprocess.Popen[bytes],
    run_dir: Path,
    moment: str,
    ready: Callable[[dict[str, dict[str, str]]], bool],
    log: Path,
    settle_s: float = 0.0,
) -> set[str]:
    """SIGKILL the driver's whole process group once `ready(trials.csv rows)` (plus
    `settle_s`); returns the trials trials.csv had RUNNING then."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and driver.poll() is None:
        rows = table(run_dir) if (run_dir / "trials.csv").exists() else {}
        if ready(rows):
            time.sleep(settle_s)
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait(timeout=60)
            print(f"killed {moment}")  # shown with -s
            if not (run_dir / "trials.csv").exists():
                return set()
            return {tid for tid, r in table(run_dir).items() if r["state"] == "RUNNING"}
        time.sleep(0.3)
    pytest.fail(f"no moment '{moment}' in 600 s:\n{log.read_text()[-3000:]}")


def finished(rows: dict[str, dict[str, str]]) -> int:
    return sum(r["state"] == "TERMINATED" for r in rows.values())
