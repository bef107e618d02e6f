"""`raytrain tune` meets a full disk, and a trial-hours budget across a SIGKILL and
`--resume`."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from tune_project import (
    BASE,
    epochs_of,
    finished,
    kill_group_when,
    run,
    start_driver,
    table,
    write_project,
)

from raytrain.resume_state import state_damage

pytestmark = [pytest.mark.e2e, pytest.mark.ray, pytest.mark.timeout(1800)]


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
    # a whole copy of Tune's state, under Tune's own file names, for a resume after a cut
    # (raytrain.tune.state_backup; put back by raytrain.resume_state)
    copies = {p.name: p.read_bytes() for p in (run_dir / "trials" / "_state_backup").iterdir()}
    assert any(n.startswith("experiment_state-") for n in copies), sorted(copies)
    assert all(state_damage(n, data) is None for n, data in copies.items()), sorted(copies)

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
    # the first part's use is kept; a trial it started after Tune's last saved state is
    # discarded on resume (its folder moved to trials/_discarded), its seconds kept apart
    aside = run_dir / "trials" / "_discarded"
    discarded = {p.name for p in aside.iterdir()} if aside.is_dir() else set()
    assert set(first["trials"]) - discarded <= set(ledger["trials"])
    lost = [first["trials"][t]["seconds"] for t in discarded & set(first["trials"])]
    assert ledger["discarded_s"] == pytest.approx(sum(lost), abs=1e-3 * (len(lost) + 1))
    durations = [u["seconds"] for u in ledger["trials"].values()]
    # admission stops before the limit is crossed by more than the last admitted trial,
    # over both parts together (a budget counted from the restart would let the second
    # part alone use the whole limit on top of the first part's use)
    # (a trial started after Tune's last saved state is discarded on resume: its seconds
    # stay used, in discarded_s)
    used = sum(durations) + ledger["discarded_s"]
    assert ledger["trial_s"] == pytest.approx(used, abs=1e-3 * len(durations))
    assert ledger["trial_s"] - max(durations) < limit_s
