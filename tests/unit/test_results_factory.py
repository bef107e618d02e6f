"""A realistic fake run directory built with the real RunWriter (no Ray): a 5-parameter
space with a conditional parameter, ASHA stopping, a diverging trial, a failed trial, and
trials still running or pending. Used by the results/status/analyze tests."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import yaml

from raytrain.results import RunWriter, load_run
from raytrain.space.asha import rung_epochs

SPACE: dict[str, Any] = {
    "name": "fake-sweep",
    "config": {
        "seed": 0,
        "model": {"name": "mlp", "hidden": 128, "depth": 2, "dropout": 0.1},
        "data": {"name": "digits", "batch_size": 64},
        "optimizer": {"name": "adamw", "lr": 1e-3, "weight_decay": 0.0},
        "trainer": {"max_epochs": 20},
    },
    "metric": "val_loss",
    "mode": "min",
    "parameters": {
        "optimizer.lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
        "model.hidden": {"type": "int", "low": 32, "high": 512, "log": True},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.05},
        "optimizer.name": {"type": "categorical", "values": ["adamw", "sgd"]},
        "optimizer.momentum": {
            "type": "float",
            "low": 0.0,
            "high": 0.99,
            "when": {"optimizer.name": "sgd"},
        },
        "data.batch_size": 64,
    },
    "search": {"sampler": "tpe", "num_samples": 24, "seed": 0},
    "scheduler": {"type": "asha", "max_t": 20, "grace_period": 1, "reduction_factor": 3},
}
PARAM_PATHS = [p for p, s in SPACE["parameters"].items() if isinstance(s, dict)]


def sample(rng: random.Random, lr_best: float) -> dict[str, Any]:
    name = rng.choice(["adamw", "sgd"])
    params: dict[str, Any] = {
        "optimizer.lr": 10 ** rng.uniform(-5, -1),
        "model.hidden": round(2 ** rng.uniform(5, 9)),
        "model.dropout": round(rng.randrange(0, 11) * 0.05, 2),
        "optimizer.name": name,
    }
    if name == "sgd":
        params["optimizer.momentum"] = rng.uniform(0, 0.99)
    return params


def loss(params: dict[str, Any], epoch: int, lr_best: float, rng: random.Random) -> float:
    """Synthetic val_loss: lr matters most, hidden a bit, dropout not at all."""
    d = abs(math.log10(params["optimizer.lr"]) - math.log10(lr_best))
    floor = 0.05 + 0.12 * d**2 + 0.03 * abs(math.log2(params["model.hidden"]) - 7)
    if params["optimizer.name"] == "sgd":
        floor += 0.1 * (1 - params.get("optimizer.momentum", 0.0))
    tau = 1.5 + 2.5 * d
    return floor + (1.2 - floor) * math.exp(-epoch / tau) + rng.gauss(0, 0.003)


def make_run(
    root: Path,
    *,
    n_done: int = 18,
    n_running: int = 2,
    n_pending: int = 2,
    fail: bool = True,
    diverge: bool = True,
    lr_best: float = 3e-3,
    seed: int = 0,
    tensorboard: bool = True,
    name: str = "fake-sweep",
) -> Path:
    """Write a run directory under root/name and return its path."""
    run_dir = root / name
    run_dir.mkdir(parents=True)
    (run_dir / "space.yaml").write_text(yaml.safe_dump({**SPACE, "name": name}, sort_keys=False))
    rng = random.Random(seed)
    now = [1_700_000_000.0]

    def clock() -> float:
        now[0] += rng.uniform(1.0, 3.0)
        return now[0]

    sched = SPACE["scheduler"]
    rungs = rung_epochs(sched["max_t"], sched["grace_period"], sched["reduction_factor"])
    writer = RunWriter(
        run_dir,
        metric="val_loss",
        mode="min",
        param_paths=PARAM_PATHS,
        rungs=rungs,
        tensorboard=tensorboard,
        clock=clock,
    )
    recorded: dict[int, list[float]] = {r: [] for r in rungs}
    for i in range(n_done + n_running + n_pending):
        tid = f"t{i:03d}"
        params = sample(rng, lr_best)
        writer.trial_added(tid, params)
        if i >= n_done + n_running:
            continue
        writer.trial_started(tid)
        last_epoch = 3 if i >= n_done else sched["max_t"]
        outcome = "TERMINATED"
        for epoch in range(1, last_epoch + 1):
            value = loss(params, epoch, lr_best, rng)
            if diverge and i == 0 and epoch >= 3:
                value = math.nan
            if fail and i == 1 and epoch == 2:
                writer.trial_finished(
                    tid,
                    "ERROR",
                    "Traceback (most recent call last):\n  ...\nRuntimeError: CUDA oom",
                )
                outcome = "ERROR"
                break
            metrics = {"epoch": epoch, "val_loss": value, "train_loss": value * 0.9}
            writer.trial_result(tid, {**metrics, "val_acc": 1 - value / 2})
            if epoch % 5 == 0:
                writer.trial_checkpoint(tid, f"/cluster/ckpt/{tid}/epoch={epoch}")
            if epoch in recorded and i < n_done:
                recorded[epoch].append(value if math.isfinite(value) else math.inf)
                ranked = sorted(recorded[epoch])
                cutoff = ranked[len(ranked) // 2] if len(ranked) >= 3 else math.inf
                if value > cutoff or not math.isfinite(value):
                    outcome = "STOPPED"
                    break
        if i < n_done and outcome != "ERROR":
            writer.trial_finished(tid, outcome)
    writer.close()
    return run_dir


def test_fake_run_has_every_state(tmp_path: Path) -> None:
    run = load_run(make_run(tmp_path))
    counts = run.counts()
    assert counts["ERROR"] == 1 and counts["RUNNING"] == 2 and counts["PENDING"] == 2
    assert counts["STOPPED"] >= 5 and counts["TERMINATED"] >= 2
    assert len(run.trials) == 22
