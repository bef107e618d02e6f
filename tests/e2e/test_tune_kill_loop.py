"""The kill loop: one `raytrain tune` search whose driver is SIGKILLed three times,
resumed by a script and stopped with SIGTERM, moved, and resumed to the end while one
Train worker is SIGKILLed (issue 14)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from tune_project import (
    BASE,
    RAYTRAIN,
    epochs_of,
    finished,
    kill_group_when,
    run,
    start_driver,
    table,
    write_project,
)

pytestmark = [pytest.mark.e2e, pytest.mark.ray, pytest.mark.timeout(1800)]


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
    # The killed process's own epochs may be gone from metrics.csv: when the kill lands
    # after an epoch's report but before Tune has its checkpoint, the retry goes on from the
    # checkpoint before and trains that epoch again, in the new process (seen in CI beside
    # another test: pids [19766, 22094 x 4], the killed 21388 not among them).
    pids = epochs_of(run_dir, victim, "worker_pid")
    assert pids[-1] != victim_pid, pids
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
