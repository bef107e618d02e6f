"""Local web servers for a run directory: TensorBoard and optuna-dashboard as child
processes, started on free localhost ports, waited on until they answer, and stopped
cleanly (terminate, then kill) however `raytrain dashboard` ends."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from raytrain.errors import RunError
from raytrain.signals import sigterm_as_sigint


@dataclass
class Server:
    """A command that serves HTTP on host:port once started."""

    name: str
    argv: list[str]
    host: str
    port: int
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def log_tail(self, chars: int = 2000) -> str:
        if self.log is None:
            return ""
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-chars:]


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(host: str, wanted: int, explicit: bool, taken: set[int]) -> int | None:
    """`wanted` if free; for a default port the next free one (up to +50); None if none."""
    candidates = [wanted] if explicit else list(range(wanted, wanted + 50))
    for port in candidates:
        if port not in taken and port_free(host, port):
            return port
    return None


def tensorboard_server(run_dir: Path, host: str, port: int) -> Server:
    argv = [sys.executable, "-m", "tensorboard.main", "--logdir", str(run_dir)]
    argv += ["--host", host, "--port", str(port), "--reload_interval", "5"]
    return Server("TensorBoard", argv, host, port)


def optuna_dashboard_executable() -> str | None:
    """The optuna-dashboard script of this environment (the `dashboard` extra), if any."""
    beside = Path(sys.executable).with_name("optuna-dashboard")
    return str(beside) if beside.is_file() else shutil.which("optuna-dashboard")


def optuna_server(journal: Path, host: str, port: int, executable: str) -> Server:
    argv = [executable, "--storage-class", "JournalFileStorage", "--host", host]
    argv += ["--port", str(port), "--quiet", str(journal)]
    return Server("Optuna dashboard", argv, host, port)


def start(server: Server) -> None:
    server.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
    server.process = subprocess.Popen(
        server.argv,
        stdin=subprocess.DEVNULL,
        stdout=server.log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches us only; we stop the children ourselves
    )


def answers(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_ready(server: Server, timeout: float = 180.0) -> None:
    """Block until the server answers 200, or raise RunError with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            raise RunError(
                f"{server.name} exited (code {server.process.returncode}) before serving:\n"
                + server.log_tail()
            )
        if answers(server.url):
            return
        time.sleep(0.3)
    raise RunError(f"{server.name} did not answer on {server.url} within {timeout:.0f} s")


def stop(server: Server, grace: float = 5.0) -> None:
    proc = server.process
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if server.log is not None:
        server.log.close()
        server.log = None


def serve_until_interrupted(servers: list[Server], poll: float = 0.5) -> None:
    """Return on Ctrl-C/SIGTERM; raise RunError if a server dies on its own."""
    with sigterm_as_sigint():
        try:
            while True:
                for s in servers:
                    if s.process is not None and s.process.poll() is not None:
                        raise RunError(
                            f"{s.name} stopped (code {s.process.returncode}):\n" + s.log_tail()
                        )
                time.sleep(poll)
        except KeyboardInterrupt:
            return
