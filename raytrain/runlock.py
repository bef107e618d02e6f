"""One driver per run directory: `<run>/driver.lock` says who drives it.

`raytrain tune` (a new run and `--resume`) and `raytrain train` take the lock before Ray
starts and hold it to the end; a second driver on the same directory stops at once with
a message naming the owner (pid, host, start time, command). The lock file is created
with O_EXCL, so two drivers starting together cannot both win.

A lock whose owner is gone is stale and is taken over with a note:
- on the same host: the owner pid no longer runs (or runs a different process: its start
  time, from /proc, differs from the recorded one, i.e. the pid was reused);
- a requeued SLURM job (same SLURM_JOB_ID, higher SLURM_RESTART_COUNT): SLURM runs one
  incarnation of a job at a time, so the lock's owner was this job's previous run;
- on any host: the owner has not refreshed the file for `STALE_AFTER_S` (a live owner
  touches it every `HEARTBEAT_S` from a thread), so a driver on another node of a shared
  file system that died without cleaning up (SIGKILL, node lost) frees it after that long.
The lock is removed on every exit the process lives through (normal end, error, Ctrl-C,
SIGTERM); after SIGKILL the rules above take it over.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raytrain.errors import InputError, Problem

HEARTBEAT_S = 30.0
STALE_AFTER_S = 600.0  # ten missed heartbeats


@dataclass(frozen=True)
class LockOwner:
    pid: int
    host: str
    started: float  # time.time() when the lock was taken
    command: str
    pid_start: str | None = None  # /proc/<pid>/stat start time: tells a reused pid apart
    slurm_job: str | None = None  # SLURM_JOB_ID and SLURM_RESTART_COUNT of the owner
    slurm_restart: int = 0

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"pid {self.pid} on {self.host}, since {when} ({self.command})"


def _proc_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def this_host() -> str:
    return socket.gethostname()


def read_owner(path: Path) -> LockOwner | None:
    """The recorded owner, or None when the file is gone or unreadable (a half-written
    lock from a driver killed while writing it counts as unreadable)."""
    try:
        data = json.loads(path.read_text())
        return LockOwner(
            pid=int(data["pid"]),
            host=str(data["host"]),
            started=float(data["started"]),
            command=str(data.get("command", "?")),
            pid_start=data.get("pid_start"),
            slurm_job=data.get("slurm_job"),
            slurm_restart=int(data.get("slurm_restart") or 0),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _slurm(environ: Mapping[str, str]) -> tuple[str | None, int]:
    job = environ.get("SLURM_JOB_ID") or None
    try:
        restart = int(environ.get("SLURM_RESTART_COUNT") or 0)
    except ValueError:
        restart = 0
    return job, restart


def stale_reason(
    owner: LockOwner | None,
    age_s: float,
    host: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """Why the lock of `owner` (last refreshed `age_s` ago) is stale, or None: it is held."""
    if age_s > STALE_AFTER_S:
        every = f"a live driver refreshes it every {HEARTBEAT_S:.0f} s"
        return f"not refreshed for {age_s / 60:.0f} min ({every})"
    if owner is None:
        return None  # being written right now, or damaged: only the age can free it
    job, restart = _slurm(os.environ if environ is None else environ)
    if job is not None and owner.slurm_job == job and restart > owner.slurm_restart:
        return f"it was SLURM job {job}'s run before its requeue"
    if owner.host != (host or this_host()):
        return None
    if not pid_alive(owner.pid):
        return "that process is gone"
    if owner.pid_start is not None and _proc_start(owner.pid) not in (None, owner.pid_start):
        return "that pid now belongs to another process"
    return None


class RunLock:
    """The lock of one run directory, held between `acquire` and `release`."""

    def __init__(self, path: Path, command: str, note: Callable[[str], None] = print) -> None:
        self.path = Path(path)
        self.command = command
        self.note = note
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._record: dict[str, Any] | None = None
        self._made_dir = False

    def acquire(self) -> None:
        """Take the lock (creating the run directory), or raise `InputError` naming the
        owner. A stale lock is taken over, with a note saying whose it was."""
        self._made_dir = not self.path.parent.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        record = {
            "pid": pid,
            "host": this_host(),
            "started": time.time(),
            "command": self.command,
            "pid_start": _proc_start(pid),
        }
        job, restart = _slurm(os.environ)
        if job is not None:
            record.update(slurm_job=job, slurm_restart=restart)
        for _ in range(3):  # a lock that vanishes between our tries: try again
            if self._create(record):
                self._record = record
                self._start_heartbeat()
                return
            owner = read_owner(self.path)
            try:
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:
                continue
            reason = stale_reason(owner, age)
            if reason is None:
                self._remove_made_dir()
                raise InputError(Problem("", self._held_message(owner, age)))
            self._take_over(owner, reason)
        self._remove_made_dir()
        raise InputError(Problem("", f"could not take the lock {self.path}; try again"))

    def _held_message(self, owner: LockOwner | None, age: float) -> str:
        who = owner.describe() if owner else "an unreadable lock file"
        left = max(0.0, STALE_AFTER_S - age)
        return (
            f"run directory {self.path.parent} is being driven by {who}: only one driver "
            f"may run it at a time. Wait for it to end (or stop it). If that driver is gone "
            f"without cleaning up, the lock counts as stale {left / 60:.0f} min from now, "
            f"or delete {self.path} yourself."
        )

    def _create(self, record: dict[str, Any]) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(record) + "\n")
        return True

    def _take_over(self, owner: LockOwner | None, reason: str) -> None:
        """Remove the stale lock, guarded so that of two drivers taking over at once only
        one removes it (the other then finds the new owner's lock and refuses)."""
        guard = self.path.with_name(self.path.name + ".takeover")
        with contextlib.suppress(FileNotFoundError):
            if time.time() - guard.stat().st_mtime > 60:  # left by a driver killed right here
                guard.unlink()
        try:
            fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            time.sleep(0.2)  # another driver is taking it over; then we see its lock
            return
        os.close(fd)
        try:
            if read_owner(self.path) == owner:  # still the stale one we judged
                who = owner.describe() if owner else "an unreadable lock file"
                self.note(f"note: taking over the stale lock of {who}: {reason}")
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
        finally:
            guard.unlink()

    def _start_heartbeat(self) -> None:
        def beat() -> None:
            while not self._stop.wait(HEARTBEAT_S):
                with contextlib.suppress(OSError):
                    os.utime(self.path)

        self._thread = threading.Thread(target=beat, name="raytrain-lock", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Remove the lock if it is still ours (never another driver's)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._record is None:
            return
        owner = read_owner(self.path)
        if owner is not None and (owner.pid, owner.started) == (
            self._record["pid"],
            self._record["started"],
        ):
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self._record = None
        self._remove_made_dir()

    def _remove_made_dir(self) -> None:
        """A run directory that only the lock created goes again if nothing was written."""
        if self._made_dir:
            with contextlib.suppress(OSError):  # not empty: the run wrote something
                self.path.parent.rmdir()


def command_line() -> str:
    """How this driver was started, for the lock's owner line."""
    return " ".join(["raytrain", *sys.argv[1:]])[:300]


@contextlib.contextmanager
def run_lock(path: Path, note: Callable[[str], None] = print) -> Iterator[RunLock]:
    lock = RunLock(path, command_line(), note)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()
