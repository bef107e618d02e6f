"""A search stored in an S3 bucket (moto's server, a real S3 API on 127.0.0.1): its driver
is SIGKILLed mid-search, its local working copy deleted as on a new head node, and
`tune s3://... --resume` finishes it from the bucket; `status` and `export` read the bucket,
and the export names the trial's checkpoint by its URI (issue 13). `train --from-checkpoint`
from that URI is the Ray checkpoint of tests/unit/test_storage.py, resumed as in
tests/integration/test_trial_torch_trainer.py: a final train run here would cost another
~25 s of Ray start-up in a suite that must stay under 15 minutes."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml
from fixtures.s3_server import FAKE_SECRET, s3_server
from tune_project import BASE, kill_group_when, run, start_driver, table, write_project

pytestmark = [pytest.mark.e2e, pytest.mark.ray, pytest.mark.timeout(900)]

BUCKET = "raytrain-e2e"
NUM_SAMPLES = 4


@pytest.fixture
def bucket_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    with s3_server(tmp_path / "moto", BUCKET) as env:
        env = {
            **env,
            "RAYTRAIN_CACHE_DIR": str(tmp_path / "cache"),
            "RAYTRAIN_SYNC_INTERVAL_S": "1",
        }
        for key, value in env.items():  # the drivers started below inherit them
            monkeypatch.setenv(key, value)
        yield env


def write_space(root: Path) -> Path:
    write_project(root)
    space = {
        "name": "bucketed",
        "config": {**BASE, "model": {**BASE["model"], "epoch_seconds": 0.5}},
        "metric": "val_loss",
        "mode": "min",
        "parameters": {"optimizer.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}},
        "search": {"sampler": "random", "num_samples": NUM_SAMPLES, "seed": 0},
        "scheduler": {"type": "fifo"},
        # one warm slot: the point is where the run lives, not how fast it goes
        "resources": {"workers_per_trial": 1, "cpus_per_worker": 1, "max_concurrent_trials": 1},
    }
    path = root / "space.yaml"
    path.write_text(yaml.safe_dump(space))
    return path


def bucket_rows(uri: str) -> dict[str, dict[str, str]]:
    """trials.csv as the bucket has it (read with the AWS SDK, not through raytrain)."""
    import boto3

    key = f"{uri.removeprefix(f's3://{BUCKET}/')}/trials.csv"
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    return {r["trial_id"]: r for r in csv.DictReader(io.StringIO(body))}


def finished_in(uri: str) -> bool:
    try:
        return any(r["state"] == "TERMINATED" for r in bucket_rows(uri).values())
    except Exception:  # no trials.csv uploaded yet
        return False


def files_holding(root: Path, needle: str) -> list[str]:
    found = subprocess.run(["grep", "-rlaF", needle, str(root)], capture_output=True, text=True)
    return found.stdout.split()


def test_a_bucket_run_resumes_on_a_new_machine_after_its_driver_was_killed(
    tmp_path: Path, bucket_env: dict[str, str]
) -> None:
    space = write_space(tmp_path)
    uri = f"s3://{BUCKET}/runs/bucketed"
    working = tmp_path / "cache" / "runs" / "s3" / BUCKET / "runs" / "bucketed"
    log = tmp_path / "tune.log"
    driver = start_driver(
        ["tune", str(space), "--storage", f"s3://{BUCKET}/runs", "--no-live"], tmp_path, log
    )
    # killed once the bucket has a finished trial (the working copy is a second ahead)
    kill_group_when(driver, working, "after a first trial", lambda _: finished_in(uri), log)
    before = bucket_rows(uri)  # what the mirror had uploaded by the kill
    done_before = {t: r["epochs"] for t, r in before.items() if r["state"] == "TERMINATED"}
    assert done_before and len(before) < NUM_SAMPLES, log.read_text()[-3000:]
    shutil.rmtree(tmp_path / "cache")  # a new head node: nothing local survives

    resumed = run(["tune", uri, "--resume", "--no-live"], cwd=tmp_path, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert f"downloaded {uri}" in resumed.stdout

    rows = bucket_rows(uri)
    states = {t: r["state"] for t, r in rows.items()}
    assert len(rows) == NUM_SAMPLES and set(states.values()) == {"TERMINATED"}, (
        f"{states}\n{resumed.stdout[-3000:]}"
    )
    for trial, epochs in done_before.items():  # finished trials were not trained again
        assert rows[trial]["epochs"] == epochs
    assert table(working) == rows  # the new working copy's last upload is the bucket's

    status = run(["status", uri], cwd=tmp_path, timeout=120)
    assert status.returncode == 0 and f"{NUM_SAMPLES} trials" in status.stdout, status.stdout
    exported = run(["export", uri, "-o", str(tmp_path / "best.yaml")], cwd=tmp_path, timeout=120)
    assert exported.returncode == 0, exported.stderr
    provenance = yaml.safe_load((tmp_path / "best.yaml").read_text())["provenance"]
    assert provenance["run_dir"] == uri
    assert provenance["checkpoint"].startswith(f"{uri}/trials/{provenance['trial_id']}/")
    import boto3  # the checkpoint it names is in the bucket, whole

    key = f"{provenance['checkpoint'].removeprefix(f's3://{BUCKET}/')}/checkpoint.ckpt"
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert zipfile.is_zipfile(io.BytesIO(body))

    # the keys came from the environment and stayed there
    assert not files_holding(tmp_path / "cache", FAKE_SECRET)
    assert not files_holding(tmp_path / "best.yaml", FAKE_SECRET)
