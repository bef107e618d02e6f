"""A short real tune over the autoencoder's latent types, started from a W&B sweep file."""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.ray]

RAYTRAIN = str(Path(sys.executable).parent / "raytrain")

# A W&B grid sweep as a thesis project would write it, plus its base train config.
SWEEP = """\
program: train.py
method: grid
metric: {name: val_loss, goal: minimize}
parameters:
  latent_space: {values: [none, linear, vq]}
raytrain:
  map: {latent_space: model.latent}
  resources: {max_concurrent_trials: 1}
"""
# One trial at a time: a second warm worker group costs ~30 CPU-s to start, more than the
# three trials' training (4 batches each) on the 2-core CI machine.
CONFIG = """\
seed: 0
model: {name: autoencoder, encoder_hidden: 16, decoder_hidden: 16, depth: 1, latent_dim: 4,
        codebook_size: 8}
loss: {recon: {type: mse}, vq: {weight: 0.5}}
data: {name: digits, batch_size: 128}
trainer: {max_epochs: 1, limit_train_batches: 4, limit_val_batches: 2}
checkpoint: {every_n_epochs: 0}
"""


def test_tune_over_latent_types_from_a_wandb_sweep(tmp_path: Path) -> None:
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    (tmp_path / "ae.yaml").write_text(textwrap.dedent(CONFIG))
    converted = subprocess.run(
        [RAYTRAIN, "convert", "sweep.yaml", "--config", "ae.yaml", "-o", "space.yaml"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert converted.returncode == 0, converted.stderr
    space = yaml.safe_load((tmp_path / "space.yaml").read_text())
    assert space["search"] == {"sampler": "grid", "num_samples": 3}

    tuned = subprocess.run(
        [RAYTRAIN, "tune", "space.yaml", "--storage", "runs", "--no-live"],
        cwd=tmp_path, capture_output=True, text=True, timeout=540,
    )  # fmt: skip
    assert tuned.returncode == 0, tuned.stdout[-3000:] + tuned.stderr[-3000:]
    run_dir = tmp_path / "runs" / "sweep"
    with (run_dir / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["param.model.latent"] for r in rows) == ["linear", "none", "vq"]
    assert all(r["state"] == "TERMINATED" and float(r["best_value"]) > 0 for r in rows), rows
    best = yaml.safe_load((run_dir / "best.yaml").read_text())
    assert best["model"]["name"] == "autoencoder"
    assert best["model"]["latent"] in ("none", "linear", "vq")
    assert best["loss"]["vq"]["weight"] == 0.5
