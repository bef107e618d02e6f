"""`raytrain tune` end to end on real tiny searches, as a user runs it (subprocesses).

One user project (tests/e2e/tune_project.py: a toy LightningModule whose `behaviour` makes
a trial good, bad, NaN or failing) serves a grid over behaviours: ASHA stops, NaN, a retried
then failed trial, `confirm`, the export -> train round trip; tracked by W&B offline and a
local MLflow server. The kill loop, disk-full and budget searches and the warm-executor checks
have their own modules (test_tune_kill_loop, test_tune_faults, test_warm_executors), so that
pytest-xdist (`--dist loadfile`) can run them beside each other.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from tune_project import (
    BASE,
    FAKE_WANDB_KEY,
    SECRET,
    SECRET_MODEL_ARGS,
    SECRET_VAR,
    epochs_of,
    run,
    table,
    tracking_env,
    write_project,
)

# The grid fixture takes ~90 s alone on a quiet 2-core machine, ~160 s beside another test
# (pytest-xdist). Every subprocess and wait allows several times that, so a loaded CI machine
# still passes, and the per-test limit sits above their sum so a named wait fails first.
pytestmark = [pytest.mark.e2e, pytest.mark.ray, pytest.mark.timeout(1800)]


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
