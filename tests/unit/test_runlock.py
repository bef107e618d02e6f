"""One driver per run directory (`raytrain.runlock`), without Ray: the lock module itself,
and `tune`/`train` refusing a directory whose lock is live before Ray is started."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from raytrain import runlock
from raytrain.errors import InputError
from raytrain.layout import SearchRunLayout, TrainRunLayout
from raytrain.runlock import LockOwner, RunLock, read_owner, run_lock, stale_reason

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "search_spaces" / "quickstart.yaml"


@pytest.fixture
def other_process() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not us: the owner of a lock held elsewhere."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait()


def write_lock(path: Path, pid: int, host: str | None = None, **extra: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "host": host or socket.gethostname(), "started": time.time()}
    path.write_text(json.dumps({**record, "command": "raytrain tune x.yaml", **extra}))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_lock_records_the_owner_and_is_removed_on_release(tmp_path: Path) -> None:
    path = tmp_path / "run" / "driver.lock"
    lock = RunLock(path, "raytrain tune s.yaml")
    lock.acquire()
    owner = read_owner(path)
    assert owner is not None
    assert (owner.pid, owner.host, owner.command) == (
        os.getpid(),
        socket.gethostname(),
        "raytrain tune s.yaml",
    )
    assert abs(owner.started - time.time()) < 60
    lock.release()
    assert not path.exists()


def test_release_on_an_exception_and_an_untouched_new_directory_goes(tmp_path: Path) -> None:
    path = tmp_path / "run" / "driver.lock"
    with pytest.raises(KeyboardInterrupt), run_lock(path, note=lambda _: None):
        assert path.exists()
        raise KeyboardInterrupt
    assert not path.exists() and not path.parent.exists()


def test_a_directory_that_was_written_to_stays(tmp_path: Path) -> None:
    path = tmp_path / "run" / "driver.lock"
    with run_lock(path):
        (path.parent / "space.yaml").write_text("name: x\n")
    assert not path.exists() and (path.parent / "space.yaml").is_file()


def test_second_driver_is_refused_with_the_owner_named(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    path = tmp_path / "driver.lock"
    write_lock(path, other_process.pid)
    with pytest.raises(InputError) as exc:
        RunLock(path, "raytrain tune --resume").acquire()
    text = exc.value.render()
    assert f"pid {other_process.pid} on {socket.gethostname()}" in text
    assert "raytrain tune x.yaml" in text and "only one driver" in text
    assert read_owner(path) is not None and read_owner(path).pid == other_process.pid  # type: ignore[union-attr]


def test_two_locks_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    path = tmp_path / "driver.lock"
    with run_lock(path), pytest.raises(InputError, match="only one driver"):
        RunLock(path, "second").acquire()


def test_stale_lock_of_a_dead_pid_here_is_taken_over_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "driver.lock"
    gone = dead_pid()
    write_lock(path, gone)
    notes: list[str] = []
    with run_lock(path, note=notes.append):
        assert read_owner(path).pid == os.getpid()  # type: ignore[union-attr]
    assert len(notes) == 1 and f"pid {gone}" in notes[0] and "process is gone" in notes[0]


def test_reused_pid_is_stale(tmp_path: Path, other_process: subprocess.Popen[bytes]) -> None:
    if runlock._proc_start(other_process.pid) is None:
        pytest.skip("no /proc here")
    owner = LockOwner(other_process.pid, socket.gethostname(), time.time(), "x", pid_start="1")
    assert stale_reason(owner, age_s=0) == "that pid now belongs to another process"
    same = LockOwner(
        other_process.pid,
        socket.gethostname(),
        time.time(),
        "x",
        pid_start=runlock._proc_start(other_process.pid),
    )
    assert stale_reason(same, age_s=0) is None


def test_other_hosts_lock_is_held_until_it_stops_being_refreshed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "driver.lock"
    write_lock(path, dead_pid(), host="some-other-node")
    with pytest.raises(InputError, match="some-other-node"):
        RunLock(path, "x").acquire()  # its pid means nothing here: only the age counts
    old = time.time() - runlock.STALE_AFTER_S - 5
    os.utime(path, (old, old))
    notes: list[str] = []
    with run_lock(path, note=notes.append):
        pass
    assert "not refreshed for" in notes[0]


def test_unreadable_lock_is_held_until_stale(tmp_path: Path) -> None:
    path = tmp_path / "driver.lock"
    path.write_text('{"pid": 12')  # a driver killed while writing it
    with pytest.raises(InputError, match="unreadable lock file"):
        RunLock(path, "x").acquire()


def test_heartbeat_refreshes_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runlock, "HEARTBEAT_S", 0.05)
    path = tmp_path / "driver.lock"
    with run_lock(path):
        old = time.time() - 1000
        os.utime(path, (old, old))
        time.sleep(0.3)
        assert time.time() - path.stat().st_mtime < 10


def test_release_never_removes_another_drivers_lock(tmp_path: Path) -> None:
    path = tmp_path / "driver.lock"
    lock = RunLock(path, "x")
    lock.acquire()
    write_lock(path, os.getpid() + 1)  # someone took it over meanwhile
    lock.release()
    assert path.exists()


def test_new_run_check_ignores_the_lock(tmp_path: Path) -> None:
    for layout in (SearchRunLayout(tmp_path / "s"), TrainRunLayout(tmp_path / "t")):
        with run_lock(layout.lock):
            layout.check_new()  # only our lock in there: still a new run


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    code = (
        "import sys\nfrom raytrain.cli import main\nrc = main(sys.argv[1:])\n"
        "assert 'ray' not in sys.modules, 'Ray was imported'\nsys.exit(rc)"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_tune_and_resume_refuse_a_live_lock_before_ray_starts(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    run_dir = tmp_path / "runs" / "quickstart"
    write_lock(run_dir / "driver.lock", other_process.pid)
    new = run_cli(tmp_path, "tune", str(QUICKSTART), "--storage", "runs", "--no-live")
    assert new.returncode == 2, new.stderr
    assert f"pid {other_process.pid}" in new.stderr and "Traceback" not in new.stderr

    (run_dir / "space.yaml").write_text(yaml.safe_dump(yaml.safe_load(QUICKSTART.read_text())))
    resumed = run_cli(tmp_path, "tune", str(run_dir), "--resume", "--no-live")
    assert resumed.returncode == 2, resumed.stderr
    assert f"pid {other_process.pid}" in resumed.stderr and "only one driver" in resumed.stderr
    assert read_owner(run_dir / "driver.lock").pid == other_process.pid  # type: ignore[union-attr]


def test_train_refuses_a_live_lock_before_ray_starts(
    tmp_path: Path, other_process: subprocess.Popen[bytes]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(
            {"model": {"name": "mlp"}, "data": {"name": "synthetic"}, "trainer": {"max_epochs": 1}}
        )
    )
    write_lock(tmp_path / "out" / "r" / "driver.lock", other_process.pid)
    proc = run_cli(tmp_path, "train", str(config), "--storage", "out", "--name", "r")
    assert proc.returncode == 2, proc.stderr
    assert f"pid {other_process.pid}" in proc.stderr and "Traceback" not in proc.stderr


def test_a_requeued_slurm_job_takes_over_its_previous_runs_lock(
    tmp_path: Path, other_process: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The previous run may have been on another node; SLURM runs one of them at a time."""
    path = tmp_path / "driver.lock"
    write_lock(path, other_process.pid, host="node-a", slurm_job="77", slurm_restart=0)
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "0")  # the same run: held
    with pytest.raises(InputError):
        RunLock(path, "x").acquire()
    monkeypatch.setenv("SLURM_JOB_ID", "78")  # another job: held
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    with pytest.raises(InputError):
        RunLock(path, "x").acquire()
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    notes: list[str] = []
    with run_lock(path, note=notes.append):
        owner = read_owner(path)
        assert owner is not None and (owner.slurm_job, owner.slurm_restart) == ("77", 1)
    assert "SLURM job 77" in notes[0]
