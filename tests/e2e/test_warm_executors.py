"""Warm executors end to end: a warm trial trains like a cold one (`executor: fresh`),
and 2-worker DDP trials are served by one warm worker group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tune_project import (
    BASE,
    epochs_of,
    run,
    table,
    write_project,
)

pytestmark = [pytest.mark.e2e, pytest.mark.ray, pytest.mark.timeout(1800)]


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
