"""`raytrain tune` end to end on real tiny searches, as a user runs it (subprocesses).

One user project (a toy LightningModule whose `behaviour` makes a trial good, bad, NaN or
failing) serves three searches: a grid over behaviours (ASHA stops, NaN, a retried then
failed trial, export -> train round trip; tracked by W&B offline and a local MLflow
server), and a TPE search killed with SIGKILL and resumed.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

# Quiet 2-core machine: the grid fixture ~100 s, the SIGKILL/resume test ~115 s (its
# background resume + SIGTERM, a third Ray start, adds ~40 s of that: 72 -> 110-119 s here). Every
# subprocess and wait below allows several times that, so a loaded CI machine still passes,
# and the per-test limit sits above their sum so a named wait fails first.
pytestmark = [pytest.mark.e2e, pytest.mark.ray, pytest.mark.timeout(1800)]
# the grid search is built once per module: its tests share one xdist worker
SHARES_GRID_RUN = pytest.mark.xdist_group("grid_run")

RAYTRAIN = str(Path(sys.executable).parent / "raytrain")
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
    return subprocess.run(
        [RAYTRAIN, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, SECRET_VAR: SECRET, **(env or {})},
    )


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


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory, mlflow_uri):
    """A grid over every behaviour: 4 finite trials of different quality, one NaN, one
    that raises (retried once, then failed). Two trials at a time. Tracked by W&B
    (offline) and MLflow (the session's local server). Then `confirm`: the two best re-run
    with seeds 1 and 2 (four more trials, ~10 s here)."""
    root = tmp_path_factory.mktemp("project")
    write_project(root)
    (root / "wandb-dir").mkdir()
    tracked = {"wandb": {"mode": "offline"}, "mlflow": {"log_checkpoint": True}}
    space = {
        "name": "grid",
        "config": {**BASE, "model": {**BASE["model"], **SECRET_MODEL_ARGS}, "logging": tracked},
        "metric": "val_loss",
        "mode": "min",
        "parameters": {
            "model.behaviour": {
                "type": "categorical",
                "values": ["good", "bad", "worse", "worst", "nan", "raise"],
            },
        },
        "search": {"sampler": "grid", "num_samples": 6, "seed": 3},
        "scheduler": {"type": "asha", "grace_period": 1, "reduction_factor": 2},
        "failure": {"max_failures": 1},
        "confirm": {"top_k": 2, "seeds": 2},
    }
    (root / "space.yaml").write_text(yaml.safe_dump(space, sort_keys=False))
    proc = run(["tune", "space.yaml", "--no-live"], cwd=root, env=tracking_env(root, mlflow_uri))
    return root, root / "runs" / "grid", proc


def sampled(run_dir: Path) -> dict[str, dict[str, str]]:
    """The rows of the sampler's trials (not the `confirm` re-runs)."""
    return {t: r for t, r in table(run_dir).items() if not r["confirms"]}


@SHARES_GRID_RUN
def test_grid_search_runs_every_trial_to_an_end(grid_run):
    _root, run_dir, proc = grid_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = sampled(run_dir)
    assert len(rows) == 6
    by_behaviour = {
        json.loads((run_dir / "trials" / tid / "params.json").read_text())["model.behaviour"]: r
        for tid, r in rows.items()
    }
    assert by_behaviour["raise"]["state"] == "ERROR"
    assert "toy failure on purpose" in by_behaviour["raise"]["error"]
    # a diverged trial is stopped at its first report and never wins
    assert by_behaviour["nan"]["state"] == "STOPPED" and by_behaviour["nan"]["epochs"] == "1"
    assert by_behaviour["good"]["state"] == "TERMINATED"
    # ASHA compared trials at epoch 1 and stopped at least one of the worse ones there
    stopped = [b for b in ("bad", "worse", "worst") if by_behaviour[b]["state"] == "STOPPED"]
    assert stopped, {b: r["state"] for b, r in by_behaviour.items()}
    # ...and a stopped trial trained no epoch past the rung it was stopped at
    for behaviour in stopped:
        row = by_behaviour[behaviour]
        trained = epochs_of(run_dir, row["trial_id"])
        assert trained == list(range(1, int(row["rung"]) + 1)), (behaviour, row, trained)
    assert "top" in proc.stdout and "best config" in proc.stdout


@SHARES_GRID_RUN
def test_confirm_reruns_the_two_best_and_best_yaml_takes_the_mean(grid_run):
    """`confirm: {top_k: 2, seeds: 2}`: good and bad (the two best) re-run with seeds 1 and
    2 as four more trials of the run, each to its last epoch (ASHA stops none), and
    best.yaml carries the mean/std over the re-runs; status shows them."""
    root, run_dir, _proc = grid_run
    rows, searched = table(run_dir), sampled(run_dir)
    reruns = {t: r for t, r in rows.items() if r["confirms"]}
    top2 = sorted((t for t in searched if searched[t]["best_value"]), key=lambda t: (
        float(searched[t]["best_value"]), t))[:2]  # fmt: skip
    assert sorted((r["confirms"], r["seed"]) for r in reruns.values()) == sorted(
        (t, s) for t in top2 for s in ("1", "2")
    )
    for tid, r in reruns.items():
        assert r["state"] == "TERMINATED" and r["epochs"] == "3", r
        assert r["param.model.behaviour"] == searched[r["confirms"]]["param.model.behaviour"]
        assert set(epochs_of(run_dir, tid, "torch_seed")) == {float(r["seed"])}
    best = yaml.safe_load((run_dir / "best.yaml").read_text())
    confirm = best["provenance"]["confirm"]
    assert confirm["n"] == 2 and confirm["seeds"] == [1, 2] and confirm["pick"] == "mean"
    values = [float(reruns[t]["best_value"]) for t in confirm["trials"]]
    assert confirm["mean"] == pytest.approx(sum(values) / 2) and confirm["std"] is not None
    assert confirm["rank_confirmed"] == 1 and best["seed"] == 0  # the original's config
    status = run(["status", str(run_dir)], cwd=root, timeout=60)
    out = " ".join(status.stdout.split())
    assert status.returncode == 0 and "seed 2" in out and "confirmed finalists by mean" in out


@SHARES_GRID_RUN
def test_failed_trial_was_retried(grid_run):
    _root, run_dir, _proc = grid_run
    rows = table(run_dir)
    raise_id = next(
        tid
        for tid in rows
        if json.loads((run_dir / "trials" / tid / "params.json").read_text())["model.behaviour"]
        == "raise"
    )
    errors = (run_dir / "trials" / raise_id / "error.txt").read_text()
    # max_failures=1: the first failure is retried, the second one ends the trial
    assert errors.count("toy failure on purpose") >= 2, errors[-2000:]


@SHARES_GRID_RUN
def test_best_is_the_good_trial_and_export_train_round_trip(grid_run, mlflow_uri):
    root, run_dir, _proc = grid_run
    best = yaml.safe_load((run_dir / "best.yaml").read_text())
    prov = best["provenance"]
    assert best["model"]["behaviour"] == "good"
    assert prov["metric"] == "val_loss" and prov["params"] == {"model.behaviour": "good"}
    assert {"raytrain", "ray", "optuna", "torch", "lightning"} <= set(prov["versions"])

    out = run(["export", str(run_dir), "-o", "exported.yaml", "--top-k", "2"], cwd=root)
    assert out.returncode == 0, out.stderr
    assert (root / "exported-1.yaml").exists() and (root / "exported-2.yaml").exists()

    env = tracking_env(root, mlflow_uri)
    train = run(["train", str(run_dir / "best.yaml"), "--storage", "final"], cwd=root, env=env)
    assert train.returncode == 0, train.stdout[-3000:] + train.stderr[-3000:]
    assert "recorded val_loss" in train.stdout  # the provenance is printed next to the result
    # same seed, data and epochs: the final run reproduces the trial's value at its epoch
    (final_dir,) = (root / "final").iterdir()
    with open(final_dir / "metrics.csv") as f:
        by_epoch = {int(float(r["epoch"])): float(r["val_loss"]) for r in csv.DictReader(f)}
    assert by_epoch[prov["epoch"]] == pytest.approx(prov["value"], rel=1e-4, abs=1e-5)

    # status and analyze read a `train` run directory as a run of one finished trial
    status = run(["status", str(final_dir)], cwd=root, timeout=120)
    assert status.returncode == 0, status.stdout + status.stderr
    unwrapped = " ".join(status.stdout.split())  # rich folds lines at its width
    assert "best val_loss" in unwrapped and f"({final_dir.name}, epoch" in unwrapped, unwrapped
    analyzed = run(["analyze", str(final_dir)], cwd=root, timeout=300)
    assert analyzed.returncode == 0, analyzed.stdout + analyzed.stderr
    assert any((final_dir / "plots").glob("*.png"))

    # the final run is tracked on its own, linked to the trial it reproduces
    from fixtures import wandb_offline
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("grid")
    (final,) = client.search_runs([exp.experiment_id], "tags.`raytrain.kind` = 'train'")
    assert final.data.tags["raytrain.reproduces_trial"] == prov["trial_id"]
    (trial_run,) = client.search_runs(
        [exp.experiment_id], f"tags.`raytrain.trial_id` = '{prov['trial_id']}'"
    )
    assert final.data.tags["raytrain.reproduces_run_id"] == trial_run.info.run_id
    history = client.get_metric_history(final.info.run_id, "val_loss")
    assert [m.step for m in history] == sorted(by_epoch)
    ckpts = [a.path for a in client.list_artifacts(final.info.run_id, "checkpoint")]
    assert ckpts == ["checkpoint/best.ckpt"]
    (wandb_final,) = [
        p
        for p in (root / "wandb-dir").rglob("run-*.wandb")
        if wandb_offline.run_info(p).job_type == "train"
    ]
    info = wandb_offline.run_info(wandb_final)
    assert info.project == "grid" and info.run_group == "grid"
    assert [r["val_loss"] for r in wandb_offline.history(wandb_final)] == [
        by_epoch[e] for e in sorted(by_epoch)
    ]


@SHARES_GRID_RUN
def test_every_trial_is_tracked_in_wandb_and_mlflow(grid_run, mlflow_uri):
    """One W&B offline run and one MLflow child run per trial, each with its per-epoch
    metric; the W&B key of the environment is in no file."""
    from fixtures import wandb_offline
    from mlflow.tracking import MlflowClient

    root, run_dir, proc = grid_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "logging stopped" not in proc.stderr, proc.stderr[-3000:]
    rows = table(run_dir)
    offline = {}
    for path in (root / "wandb-dir").rglob("run-*.wandb"):
        info = wandb_offline.run_info(path)
        if info.job_type == "trial":
            assert info.display_name not in offline, "two W&B runs for one trial"
            offline[info.display_name] = path
    assert set(offline) == set(rows)
    client = MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("grid")
    (parent,) = client.search_runs([exp.experiment_id], "tags.`raytrain.kind` = 'search'")
    children = client.search_runs(
        [exp.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    by_trial = {c.data.tags["raytrain.trial_id"]: c for c in children}
    assert set(by_trial) == set(rows)
    for tid, row in rows.items():
        reported = (run_dir / "trials" / tid / "metrics.csv").exists()  # not the failing one
        losses = [v for v in epochs_of(run_dir, tid, "val_loss") if v == v] if reported else []
        wb = wandb_offline.history(offline[tid])
        assert [r["val_loss"] for r in wb if r["val_loss"] == r["val_loss"]] == losses, tid
        child = by_trial[tid]
        assert child.data.tags["raytrain.state"] == row["state"]
        history = client.get_metric_history(child.info.run_id, "val_loss")
        assert [m.value for m in history] == pytest.approx(losses, rel=1e-6), tid
        if row["best_value"]:
            assert wandb_offline.summary(offline[tid])["val_loss"] == pytest.approx(
                float(row["best_value"]), rel=1e-6
            )
    uploaded = [a.path for a in client.list_artifacts(parent.info.run_id, "checkpoint")]
    assert "checkpoint/checkpoint.ckpt" in uploaded, uploaded
    leaked = [
        p for p in root.rglob("*") if p.is_file() and FAKE_WANDB_KEY.encode() in p.read_bytes()
    ]
    assert not leaked


@SHARES_GRID_RUN
def test_a_secret_reaches_the_module_and_no_file(grid_run):
    root, run_dir, proc = grid_run
    trained = [tid for tid in table(run_dir) if (run_dir / "trials" / tid / "metrics.csv").exists()]
    assert trained and all(set(epochs_of(run_dir, t, "key_ok")) == {1.0} for t in trained)
    assert any((run_dir / "trials").rglob("checkpoint.ckpt"))  # hparams were saved in them
    files = [p for p in root.rglob("*") if p.is_file()]
    leaked = [str(p.relative_to(root)) for p in files if SECRET.encode() in p.read_bytes()]
    assert not leaked
    assert SECRET not in proc.stdout + proc.stderr
    written = yaml.safe_load((run_dir / "best.yaml").read_text())["model"]["api_key"]
    assert written == "${oc.env:" + SECRET_VAR + "}"


@SHARES_GRID_RUN
def test_existing_run_is_not_overwritten(grid_run):
    root, _run_dir, _proc = grid_run
    again = run(["tune", "space.yaml", "--no-live", "--dry-run"], cwd=root)
    assert again.returncode == 0  # a dry run touches nothing
    refused = run(["tune", "space.yaml", "--no-live"], cwd=root, timeout=60)
    assert refused.returncode == 2 and "already exists" in refused.stderr


def test_export_without_a_finite_trial_is_a_clear_error(tmp_path):
    from raytrain.results import RunWriter

    run_dir = tmp_path / "failed"
    run_dir.mkdir()
    (run_dir / "space.yaml").write_text(
        yaml.safe_dump({"name": "failed", "metric": "val_loss", "mode": "min", "config": BASE})
    )
    with RunWriter(run_dir, metric="val_loss", mode="min", param_paths=[]) as w:
        w.trial_added("a", {})
        w.trial_started("a")
        w.trial_result("a", {"epoch": 1, "val_loss": float("nan")})
        w.trial_finished("a", "ERROR", error="boom")
    out = run(["export", str(run_dir)], cwd=tmp_path, timeout=60)
    assert out.returncode == 2
    assert "no trial with a finite val_loss" in out.stderr and "Traceback" not in out.stderr


def lock_owner(run_dir: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, KeyError):
        return int(json.loads((run_dir / "driver.lock").read_text())["pid"])
    return None


def resume_in_background_then_sigterm(tmp_path: Path, run_dir: Path) -> set[str]:
    """Resume the SIGKILLed run the way an sbatch script would (`cmd &` in a
    non-interactive shell: SIGINT ignored). It takes over the dead driver's stale lock; a
    second driver meanwhile is refused, naming it; once the search trains again, SIGTERM
    stops it within seconds, saying how to go on. Returns the trials it left RUNNING."""
    log = tmp_path / "background.log"
    script = f"{RAYTRAIN} tune {run_dir} --resume --no-live > {log} 2>&1 &\necho $!\nwait $!\n"
    script += f"echo rc=$? >> {log}\n"
    shell = subprocess.Popen(
        ["bash", "-c", script], cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )
    assert shell.stdout is not None
    pid = int(shell.stdout.readline())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and lock_owner(run_dir) != pid:  # taken before Ray
        assert shell.poll() is None, log.read_text()[-3000:]
        time.sleep(0.2)
    # while it starts Ray: a second driver is refused at once, naming it
    second = run(["tune", str(run_dir), "--resume", "--no-live"], cwd=tmp_path, timeout=120)
    assert second.returncode == 2 and f"pid {pid}" in second.stderr, second.stderr
    assert "only one driver" in second.stderr

    before = {tid: int(r["epochs"] or 0) for tid, r in table(run_dir).items()}
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and shell.poll() is None:
        rows = table(run_dir)
        if any(r["state"] == "RUNNING" and int(r["epochs"] or 0) > before.get(t, 0)
               for t, r in rows.items()):  # fmt: skip
            break  # training again: stop it now, with trials left to run
        time.sleep(0.3)
    assert shell.poll() is None, log.read_text()[-3000:]
    running = {tid for tid, r in table(run_dir).items() if r["state"] == "RUNNING"}
    sent = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    shell.wait(timeout=180)
    took = time.monotonic() - sent
    print(f"SIGTERM to a clean exit: {took:.1f} s")  # shown with -s
    out = log.read_text()
    assert "taking over the stale lock" in out and "process is gone" in out, out[-3000:]
    assert "rc=130" in out and f"raytrain tune {run_dir} --resume" in out, out[-3000:]
    assert took < 60, f"SIGTERM took {took:.0f} s to stop the search"
    assert not (run_dir / "driver.lock").exists()
    return running


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


def kill_worker_when_trained(
    driver: subprocess.Popen[bytes],
    run_dir: Path,
    epochs_before: dict[str, int],
    max_epochs: int,
    log: Path,
) -> tuple[str, int]:
    """SIGKILL the Train worker (rank 0, the only one) of a trial that has trained and
    checkpointed an epoch under this driver and has epochs left; returns (trial, pid)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and driver.poll() is None:
        rows = table(run_dir)
        for tid, r in rows.items():
            trained = int(r["epochs"] or 0)
            fresh = epochs_before.get(tid, 0) < trained < max_epochs
            if r["state"] == "RUNNING" and r["checkpoint"] and fresh:
                pid = int(epochs_of(run_dir, tid, "worker_pid")[-1])
                os.kill(pid, signal.SIGKILL)
                print(f"killed the Train worker of {tid} after epoch {trained}")
                return tid, pid
        time.sleep(0.2)
    pytest.fail(f"no trial trained an epoch under the last driver:\n{log.read_text()[-3000:]}")


def finished(rows: dict[str, dict[str, str]]) -> int:
    return sum(r["state"] == "TERMINATED" for r in rows.values())


@pytest.mark.faults
def test_resume_after_sigkill_keeps_every_trial(tmp_path):
    """The kill loop: the driver's process group SIGKILLed three times (during start-up,
    mid-epoch, right after a trial ended while its checkpoint and Tune's state are saved),
    resumed each time, then resumed by a script and stopped with SIGTERM, then resumed to
    the end, with one Train worker SIGKILLed on the way: exactly num_samples distinct
    trials, interrupted ones continued from their checkpoint (no epoch twice, none
    restarted at 1), the Optuna study agrees with trials.csv, best.yaml written. One
    search for all of it: each restart costs ~20 s of Ray start-up, a new search more."""
    write_project(tmp_path)
    epochs = 5
    space = {
        "name": "resumable",
        "config": {
            **BASE,
            "model": {**BASE["model"], "epoch_seconds": 1.0},
            "trainer": {"max_epochs": epochs},
        },
        "metric": "val_loss",
        "mode": "min",
        "parameters": {"optimizer.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}},
        "search": {"sampler": "tpe", "num_samples": 3, "seed": 0, "n_startup_trials": 2},
        "scheduler": {"type": "fifo"},
        "resources": {"max_concurrent_trials": 1},
        "budget": {"trial_hours": 1},  # never reached: the ledger is what is checked
        "failure": {"max_failures": 1},  # the killed Train worker's trial is retried once
    }
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space, sort_keys=False))
    run_dir = tmp_path / "runs" / "resumable"
    log = tmp_path / "drivers.log"
    resume = ["tune", str(run_dir), "--resume", "--no-live"]

    # 1. during start-up: the run directory exists, no trial has reported yet
    driver = start_driver(["tune", "space.yaml", "--no-live"], tmp_path, log)
    interrupted = kill_group_when(
        driver,
        run_dir,
        "during start-up",
        lambda rows: (run_dir / "space.yaml").is_file(),
        log,
        settle_s=1.0,
    )
    if (run_dir / "trials.csv").exists():
        assert not any(int(r["epochs"] or 0) for r in table(run_dir).values())

    # 2. mid-epoch: a trial has reported 2 epochs and is half-way into its next one
    driver = start_driver(resume, tmp_path, log)
    interrupted |= kill_group_when(
        driver,
        run_dir,
        "mid-epoch",
        lambda rows: any(
            r["state"] == "RUNNING" and int(r["epochs"] or 0) >= 2 for r in rows.values()
        ),
        log,
        settle_s=0.5,
    )
    before = json.loads((run_dir / "budget.json").read_text())
    assert any(not use["done"] for use in before["trials"].values()), before

    # 3. right after a trial ended: Tune saves its last checkpoint and its state then
    done = finished(table(run_dir))
    driver = start_driver(resume, tmp_path, log)
    interrupted |= kill_group_when(
        driver, run_dir, "right after a trial ended", lambda rows: finished(rows) > done, log
    )
    assert finished(table(run_dir)) < 3, "nothing left for the script's resume to train"

    interrupted |= resume_in_background_then_sigterm(tmp_path, run_dir)

    # 4. the last resume runs to the end, in another place (a run copied off scratch,
    # another head node): everything goes on there and nothing writes to the old place
    # (Tune's pickled state names it, raytrain.tune.relocation); one Train worker is
    # SIGKILLed on the way
    old_dir, run_dir = run_dir, tmp_path / "moved" / run_dir.name
    run_dir.parent.mkdir()
    shutil.move(old_dir, run_dir)
    resume = ["tune", str(run_dir), "--resume", "--no-live"]
    final_log = tmp_path / "final.log"
    epochs_before = {tid: int(r["epochs"] or 0) for tid, r in table(run_dir).items()}
    driver = start_driver(resume, tmp_path, final_log)
    victim, victim_pid = kill_worker_when_trained(driver, run_dir, epochs_before, epochs, final_log)
    assert driver.wait(timeout=900) == 0, final_log.read_text()[-3000:]
    assert not old_dir.exists(), sorted(p.name for p in old_dir.rglob("*"))
    final_out = final_log.read_text()
    # The budget ledger went on from what the killed part had saved (Ray's stoppers would
    # count from the restart): kept per trial, added to by the later parts.
    after = json.loads((run_dir / "budget.json").read_text())
    assert after["wall_s"] > before["wall_s"] > 0
    for tid, use in before["trials"].items():
        if use["done"]:
            assert after["trials"][tid]["seconds"] == use["seconds"], tid
        else:
            assert after["trials"][tid]["seconds"] > use["seconds"], tid
    assert after["trial_s"] == pytest.approx(sum(u["seconds"] for u in after["trials"].values()))
    assert "budget: trial_hours" in final_out and "of 1.00 h" in final_out
    assert "stale lock" not in final_out  # the SIGTERMed driver removed its lock
    rows = table(run_dir)
    assert len(rows) == 3 and all(r["state"] == "TERMINATED" for r in rows.values()), rows
    assert interrupted & set(rows), "no kill interrupted a trial"
    for tid in rows:
        trained = epochs_of(run_dir, tid)
        # never backwards, never twice, and to the end
        assert trained == list(range(1, epochs + 1)), (tid, tid in interrupted, trained)
    assert (run_dir / "best.yaml").is_file()
    # the killed worker's trial was retried (failure.max_failures: 1) in a new process
    # and went on from its checkpoint (the epochs above), the other trials regardless
    pids = epochs_of(run_dir, victim, "worker_pid")
    assert victim_pid in pids and pids[-1] != victim_pid, pids
    assert (run_dir / "trials" / victim / "error.txt").is_file()
    # The searcher kept its history: the Optuna study holds exactly the 3 trials of
    # trials.csv, each with the value Tune reported last (none lost, none twice).
    import optuna
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(run_dir / "optuna.journal")))
    study = optuna.load_study(study_name="resumable", storage=storage)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    in_study = sorted((t.params["optimizer.lr"], t.value) for t in complete)
    in_table = sorted((float(r["param.optimizer.lr"]), float(r["value"])) for r in rows.values())
    assert len(in_study) == 3, study.trials
    for (lr, value), (lr_row, value_row) in zip(in_study, in_table, strict=True):
        assert (lr, value) == (pytest.approx(lr_row, rel=1e-9), pytest.approx(value_row, rel=1e-9))
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MiB tmpfs (root only: CI runs as root), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "--lazy", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until `disk` has no byte left; returns it (delete it to free the space)."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        for chunk in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * chunk)
    return filler


@pytest.mark.faults
def test_a_full_disk_stops_the_search_clearly_and_resume_finishes_it(tmp_path, small_disk):
    """The run directory's disk fills up after the first checkpoint: the driver stops with
    a message naming the directory and what to do, trials.csv and the checkpoint are
    intact; once space is freed, --resume finishes the search, nothing trained twice."""
    write_project(tmp_path)
    space = {
        "name": "diskfull",
        "config": {
            **BASE,
            "model": {**BASE["model"], "epoch_seconds": 1.0},
            "trainer": {"max_epochs": 2},
        },
        "metric": "val_loss",
        "mode": "min",
        "parameters": {"optimizer.lr": {"type": "categorical", "values": [0.01, 0.03]}},
        "search": {"sampler": "grid", "num_samples": 2, "seed": 0},
        "scheduler": {"type": "fifo"},
        "resources": {"max_concurrent_trials": 1},
    }
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space, sort_keys=False))
    run_dir = small_disk / "runs" / "diskfull"
    log = tmp_path / "driver.log"
    args = ["tune", "space.yaml", "--no-live", "--storage", str(small_disk / "runs")]
    driver = start_driver(args, tmp_path, log)
    filler = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and driver.poll() is None and filler is None:
        rows = table(run_dir) if (run_dir / "trials.csv").exists() else {}
        if any(r["checkpoint"] for r in rows.values()):
            filler = fill(small_disk)
        time.sleep(0.2)
    assert filler is not None, "no checkpoint in 600 s:\n" + log.read_text()[-3000:]
    rc = driver.wait(timeout=600)
    out = log.read_text()
    assert rc == 1, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert "no space left on device" in out and f"raytrain tune {run_dir} --resume" in out
    # what was written before the disk filled is whole
    rows = table(run_dir)
    for tid, r in rows.items():
        trained = epochs_of(run_dir, tid) if r["epochs"] else []
        assert trained == list(range(1, len(trained) + 1)), (tid, trained)
        if r["checkpoint"]:
            assert zipfile.is_zipfile(Path(r["checkpoint"]) / "checkpoint.ckpt"), r

    filler.unlink()
    resumed = run(["tune", str(run_dir), "--resume", "--no-live"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    rows = table(run_dir)
    assert len(rows) == 2 and all(r["state"] == "TERMINATED" for r in rows.values()), rows
    for tid in rows:
        assert epochs_of(run_dir, tid) == [1, 2], tid
    assert (run_dir / "best.yaml").is_file()


def test_a_search_stops_at_its_trial_hours_budget(tmp_path):
    """budget.trial_hours of 60 s, trials of 3+ s each (3 epochs of 1 s; the first trial of
    each part also waits out the worker group's start-up, ~20-25 s here); the driver is
    SIGKILLed once the first trial has ended and the search resumed: the resumed part goes
    on with the ledger of the first (Ray's own stoppers would count from the restart), so
    admission stops at the budget measured across both parts, before num_samples, and says
    why; best.yaml is exported. ~110 s on a quiet 2-core machine."""
    write_project(tmp_path)
    limit_s = 60.0
    space = {
        "name": "budgeted",
        "config": {**BASE, "model": {**BASE["model"], "epoch_seconds": 1.0}},
        "metric": "val_loss",
        "mode": "min",
        "parameters": {"optimizer.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}},
        "search": {"sampler": "random", "num_samples": 16, "seed": 0},
        "scheduler": {"type": "fifo"},
        "resources": {"max_concurrent_trials": 1},
        "budget": {"trial_hours": limit_s / 3600},
    }
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space, sort_keys=False))
    run_dir = tmp_path / "runs" / "budgeted"
    log = tmp_path / "first.log"
    ledger_file = run_dir / "budget.json"

    def first_trial_saved(rows: dict[str, dict[str, str]]) -> bool:
        # the ledger is saved every few seconds: wait until it holds the ended trial
        if finished(rows) < 1 or not ledger_file.is_file():
            return False
        return any(u["done"] for u in json.loads(ledger_file.read_text())["trials"].values())

    driver = start_driver(["tune", "space.yaml", "--no-live"], tmp_path, log)
    kill_group_when(driver, run_dir, "after the first trial", first_trial_saved, log)
    first = json.loads(ledger_file.read_text())
    assert 0 < first["trial_s"] < limit_s, first
    proc = run(["tune", str(run_dir), "--resume", "--no-live"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = table(run_dir)
    assert 2 <= len(rows) < 16 and all(r["state"] == "TERMINATED" for r in rows.values()), rows
    assert f"budget reached: no new trials after {len(rows)}/16 (trial_hours:" in proc.stdout
    assert (run_dir / "best.yaml").is_file()
    ledger = json.loads((run_dir / "budget.json").read_text())
    assert ledger["stopped"].startswith("trial_hours") and set(ledger["trials"]) == set(rows)
    assert set(first["trials"]) <= set(ledger["trials"])  # the first part's use is kept
    durations = [u["seconds"] for u in ledger["trials"].values()]
    # admission stops before the limit is crossed by more than the last admitted trial,
    # over both parts together (a budget counted from the restart would let the second
    # part alone use the whole limit on top of the first part's use)
    assert ledger["trial_s"] == pytest.approx(sum(durations), abs=1e-3 * len(durations))
    assert ledger["trial_s"] - max(durations) < limit_s


def test_a_warm_trial_trains_like_a_cold_one(tmp_path):
    """Four trials served one after another by one warm process; the last one is run again
    by the `fresh` executor (a new TorchTrainer): identical per-epoch metrics."""
    write_project(tmp_path)
    lrs = [0.003, 0.03, 0.1, 0.01]

    def space(name: str, values: list[float], executor: str) -> dict:
        return {
            "name": name,
            "config": BASE,
            "metric": "val_loss",
            "mode": "min",
            "parameters": {"optimizer.lr": {"type": "categorical", "values": values}},
            "search": {"sampler": "grid", "num_samples": len(values), "seed": 0},
            "scheduler": {"type": "fifo"},
            "resources": {"max_concurrent_trials": 1, "executor": executor},
        }

    (tmp_path / "warm.yaml").write_text(yaml.safe_dump(space("warm", lrs, "warm")))
    warm = run(["tune", "warm.yaml", "--no-live"], cwd=tmp_path)
    assert warm.returncode == 0, warm.stdout[-3000:] + warm.stderr[-3000:]
    warm_dir = tmp_path / "runs" / "warm"
    rows = sorted(table(warm_dir).values(), key=lambda r: r["started_at"])
    assert [r["state"] for r in rows] == ["TERMINATED"] * 4
    pids = {epochs_of(warm_dir, r["trial_id"], "worker_pid")[0] for r in rows}
    assert len(pids) == 1, f"the four trials were not served by one process: {pids}"
    last = rows[-1]
    last_lr = json.loads((warm_dir / "trials" / last["trial_id"] / "params.json").read_text())
    # a warm trial checkpoints through Tune, in its own trial folder
    assert "/trials/" + last["trial_id"] + "/checkpoint_" in last["checkpoint"]
    assert (Path(last["checkpoint"]) / "checkpoint.ckpt").is_file()

    cold_values = [last_lr["optimizer.lr"]]
    cold_space = space("cold", cold_values, "fresh")
    # the fresh executor's trial is tracked like a warm one (W&B offline, into the run dir)
    cold_space["config"] = {**BASE, "logging": {"wandb": {"mode": "offline"}}}
    (tmp_path / "cold.yaml").write_text(yaml.safe_dump(cold_space))
    # --warm-from the first run: of its 4 trials only the one with the cold lr fits
    import optuna
    from optuna.storages.journal import JournalFileBackend

    cold = run(["tune", "cold.yaml", "--no-live", "--warm-from", str(warm_dir)], cwd=tmp_path)
    assert cold.returncode == 0, cold.stdout[-3000:] + cold.stderr[-3000:]
    assert f"warm start: 1 of 4 finished trials of {warm_dir} (3 dropped" in cold.stdout
    cold_dir = tmp_path / "runs" / "cold"
    (cold_row,) = table(cold_dir).values()
    assert cold_row["state"] == "TERMINATED"
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(cold_dir / "optuna.journal")))
    study = optuna.load_study(study_name="cold", storage=storage)
    sources = [t.user_attrs.get("raytrain_warm_from") for t in study.trials]
    assert sources.count(str(warm_dir)) == 1 and len(sources) == 2, sources
    status = run(["status", str(cold_dir)], cwd=tmp_path, timeout=60)
    assert "warm start: 1 earlier trial in the study" in status.stdout, status.stdout
    for key in ("val_loss", "train_loss", "val_acc"):
        warm_values = epochs_of(warm_dir, last["trial_id"], key)
        cold_values = epochs_of(cold_dir, cold_row["trial_id"], key)
        assert warm_values == pytest.approx(cold_values, rel=1e-6, abs=1e-7), key
    assert epochs_of(cold_dir, cold_row["trial_id"], "worker_pid")[0] not in pids
    from fixtures import wandb_offline

    (wandb_run,) = (cold_dir / "wandb").glob("offline-run-*/run-*.wandb")
    assert wandb_offline.run_info(wandb_run).display_name == cold_row["trial_id"]
    logged = [r["val_loss"] for r in wandb_offline.history(wandb_run)]
    assert logged == pytest.approx(epochs_of(cold_dir, cold_row["trial_id"], "val_loss"))


def test_two_worker_ddp_trials_are_served_warm(tmp_path):
    """workers_per_trial: 2 (gloo DDP on CPU): both trials train in the same 2-rank group."""
    write_project(tmp_path)
    space = {
        "name": "ddp",
        "config": {**BASE, "trainer": {"max_epochs": 2}},
        "metric": "val_loss",
        "mode": "min",
        "parameters": {"optimizer.lr": {"type": "categorical", "values": [0.01, 0.03]}},
        "search": {"sampler": "grid", "num_samples": 2, "seed": 0},
        "scheduler": {"type": "fifo"},
        "resources": {"workers_per_trial": 2, "cpus_per_worker": 1},
    }
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space))
    proc = run(["tune", "space.yaml", "--no-live"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = tmp_path / "runs" / "ddp"
    rows = table(run_dir)
    assert [r["state"] for r in rows.values()] == ["TERMINATED"] * 2
    for tid in rows:
        assert epochs_of(run_dir, tid, "world_size") == [2.0, 2.0]
    pids = {epochs_of(run_dir, tid, "worker_pid")[0] for tid in rows}
    assert len(pids) == 1, f"each DDP trial got new processes: {pids}"
