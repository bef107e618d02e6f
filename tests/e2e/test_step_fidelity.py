"""`scheduler.time_attr: steps` end to end: trials report every N optimizer steps inside
epochs, ASHA stops them at rungs that fall mid-epoch, and the exported config trains again
at the same cadence, up to the same max_t. The built-in MLP on digits: 1437 training samples
in batches of 64 = 23 steps per epoch, so the rungs (10, 20, 40 steps) and max_t (60) are all
mid-epoch."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from e2e_helpers import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.ray, pytest.mark.timeout(1800)]

STEPS_PER_EPOCH = 23
SPACE = """\
name: steps
config:
  seed: 0
  model: {name: mlp, hidden: 32}
  data: {name: digits, batch_size: 64}
  trainer: {max_epochs: 3}
metric: val_loss
mode: min
parameters:
  optimizer.lr: {type: categorical, values: [0.01, 0.000003, 0.003, 0.00001]}
search: {sampler: grid, num_samples: 4}
scheduler: {type: asha, time_attr: steps, report_every: 10, max_t: 60, reduction_factor: 2}
resources: {max_concurrent_trials: 1}
"""


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_a_steps_search_stops_trials_between_epochs_at_its_rungs(tmp_path: Path) -> None:
    (tmp_path / "space.yaml").write_text(SPACE)
    plan = run_cli(["validate", "space.yaml"], cwd=tmp_path, timeout=120)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "ASHA rungs (steps where trials are compared): 10, 20, 40" in plan.stdout
    assert "trials report every 10 steps" in plan.stdout

    tuned = run_cli(["tune", "space.yaml", "--no-live"], cwd=tmp_path)
    assert tuned.returncode == 0, tuned.stdout[-3000:] + tuned.stderr[-3000:]
    run_dir = tmp_path / "runs" / "steps"
    trials = {r["trial_id"]: r for r in rows_of(run_dir / "trials.csv")}
    assert len(trials) == 4
    stopped = []
    for tid, row in trials.items():
        history = rows_of(run_dir / "trials" / tid / "metrics.csv")
        steps = [int(r["steps"]) for r in history]
        assert steps == list(range(10, steps[-1] + 1, 10)), (tid, steps)  # every 10 steps
        assert [float(r["epoch"]) for r in history] == pytest.approx(
            [s / STEPS_PER_EPOCH for s in steps], abs=1e-3
        )
        assert int(row["epochs"]) == steps[-1]  # trials.csv counts in the run's unit
        if row["state"] == "TERMINATED":
            assert steps[-1] == 60, (tid, steps)  # max_t, in epoch 3
        else:
            assert row["state"] == "STOPPED" and steps[-1] in (10, 20, 40), (tid, row)
            stopped.append(tid)
        # checkpoints follow the report cadence (every_n_epochs 1 = every report)
        assert Path(row["checkpoint"], "checkpoint.ckpt").is_file()
    assert stopped, f"ASHA stopped no trial at a rung: {trials}"
    assert all(int(trials[t]["epochs"]) % STEPS_PER_EPOCH for t in stopped)  # mid-epoch

    status = run_cli(["status", str(run_dir)], cwd=tmp_path, timeout=120)
    assert status.returncode == 0 and "steps" in status.stdout, status.stdout

    best = yaml.safe_load((run_dir / "best.yaml").read_text())
    trainer = best["trainer"]
    assert (trainer["report_every"], trainer["report_unit"], trainer["max_t"]) == (10, "steps", 60)
    at = best["provenance"]["steps"]
    trained = run_cli(
        ["train", str(run_dir / "best.yaml"), "--storage", ".", "--name", "final"], cwd=tmp_path
    )
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    value = best["provenance"]["value"]
    line = next(ln for ln in trained.stdout.splitlines() if ln.startswith("trial "))
    assert f"at step {at};" in line, trained.stdout
    assert f"recorded val_loss {value:.4f}" in line and line.endswith(f"this run: {value:.4f}")
    final = rows_of(tmp_path / "final" / "metrics.csv")
    # the final run ends at max_t (60), where ASHA ended the full trials, not at epoch 3 (69)
    assert [int(r["steps"]) for r in final] == [10, 20, 30, 40, 50, 60]
