"""A short real multi-objective search: the VAE's recon vs KL with a posterior-collapse
constraint, multi-objective ASHA, warm executor; then the front exported."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.ray]

RAYTRAIN = str(Path(sys.executable).parent / "raytrain")

SPACE = """\
name: vae-rd
config:
  seed: 0
  model: {name: vae, encoder_hidden: 16, decoder_hidden: 16, depth: 1, latent_dim: 4}
  data: {name: digits, batch_size: 128}
  trainer: {max_epochs: 3, limit_train_batches: 4, limit_val_batches: 2}
  checkpoint: {every_n_epochs: 0}
objectives: {val_recon: min, val_kl: min}
constraints:
  - {metric: val_active_units, ">=": 1}
parameters:
  model.beta: {type: float, low: 0.05, high: 4.0, log: true}
search: {sampler: tpe, num_samples: 4, seed: 0, n_startup_trials: 2}
scheduler: {type: asha, grace_period: 1, reduction_factor: 2}
resources: {max_concurrent_trials: 1}
"""
# One trial at a time: a second warm worker group costs ~30 CPU-s to start, more than the
# four trials' training (4 batches an epoch) on the 2-core CI machine.


def test_pareto_search_reports_every_objective_and_exports_the_front(tmp_path: Path) -> None:
    (tmp_path / "space.yaml").write_text(SPACE)
    tuned = subprocess.run(
        [RAYTRAIN, "tune", "space.yaml", "--storage", "runs", "--no-live"],
        cwd=tmp_path, capture_output=True, text=True, timeout=540,
    )  # fmt: skip
    assert tuned.returncode == 0, tuned.stdout[-3000:] + tuned.stderr[-3000:]
    assert "Pareto front:" in tuned.stdout
    run_dir = tmp_path / "runs" / "vae-rd"
    with (run_dir / "trials.csv").open() as f:
        rows = {r["trial_id"]: r for r in csv.DictReader(f)}
    assert len(rows) == 4
    for r in rows.values():  # every objective and the constraint reached Tune's results
        assert r["state"] in ("TERMINATED", "STOPPED"), r
        assert float(r["objective.val_recon"]) > 0 and float(r["objective.val_kl"]) >= 0
        assert r["feasible"] in ("True", "False")
    front = {t for t, r in rows.items() if r["pareto_rank"] == "1"}
    assert front

    # the tuner exported the front: one runnable file per point, values as recorded
    files = sorted((run_dir / "pareto").glob("front-*.yaml"))
    assert len(files) == len(front)
    for path in files:
        provenance = yaml.safe_load(path.read_text())["provenance"]
        row = rows[provenance["trial_id"]]
        assert provenance["values"]["val_recon"] == pytest.approx(float(row["objective.val_recon"]))
        assert provenance["values"]["val_kl"] == pytest.approx(float(row["objective.val_kl"]))

    # the journal is a normal two-objective Optuna study with the constraint on each trial
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(run_dir / "optuna.journal"))
    )
    study = optuna.load_study(study_name="vae-rd", storage=storage)
    assert len(study.directions) == 2 and study.metric_names == ["val_recon", "val_kl"]
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(done) == 4 and all(len(t.constraints) == 1 for t in done)

    # without a choice, export refuses to guess
    plain = subprocess.run(
        [RAYTRAIN, "export", str(run_dir)], capture_output=True, text=True, timeout=120
    )
    assert plain.returncode == 2 and "--pareto" in plain.stderr
