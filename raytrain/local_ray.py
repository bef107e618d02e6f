"""A private local Ray cluster for one raytrain command, started and stopped by us.

Why not plain `ray.init()`: Ray Train V2 frees the placement groups of finished and
stopped trials from a detached cleaner actor that finds its cluster through the state
API. With more than one Ray instance on a host (two searches at once, a test session, a
SLURM node shared by jobs) that lookup fails with "Found multiple active Ray instances",
the groups are never freed and the next trials wait forever for CPUs (seen here). Starting
the head ourselves lets every Ray process inherit `RAY_ADDRESS`, so the lookup is exact.
It also lets each run pick free ports (GCS, dashboard, client server, agents) and its own
token for Ray's token authentication, which is on by default for local clusters; the token
is kept in memory and in the environment of the processes we start, never on disk.

Stop what you started: `stop()` sends SIGTERM to our `ray start --block` process only
(never `ray stop`, which would kill every Ray instance on the host).

The import rule: Ray's core (C++, loaded with `import ray`) reads `RAY_AUTH_MODE` and
`RAY_AUTH_TOKEN` once, so `ray` must not be imported in this process before `local_ray`
has exported them; a process that did cannot talk to its own head. So the CLI imports
only Ray-free modules until it has entered `connected_ray`, and imports `raytrain.tune` /
`raytrain.trial` (which import Ray at their top) inside it. `local_ray` checks the rule
and raises `RayImportedTooEarly` when it is broken (tests/unit/test_ray_import_rule.py).
This module itself imports Ray only inside `connected_ray`, after the head is set up.
"""

from __future__ import annotations

import _thread
import ctypes
import functools
import importlib
import logging
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from raytrain.errors import RunError

READY_LINE = "Ray runtime started"
# `ray start --block` kills the whole head when one of its daemons fails shortly after it
# printed READY_LINE (seen under heavy load), so a start counts once the last daemon to come
# up, the dashboard agent, accepts connections on its HTTP port (it opens it after loading
# its modules: ~1.5 s after READY_LINE here) and SETTLE_S has passed; or, if that port never
# opens, once SETTLE_MAX_S has. The fixed 3 s wait this replaces cost ~2 s of every start-up.
SETTLE_S = 1.0
SETTLE_MAX_S = 3.0

# Ray Train V2 extras that cost a process or a poll loop per trial and do nothing on a
# one-host cluster we own: the preemption watcher (an actor per run that watches for node
# drains, i.e. spot reclaims) and Train's Prometheus metrics (no Prometheus here). Measured
# on 2 CPUs: ~8 CPU-s less per trial, 4 quickstart trials 94 s -> 79 s. A value the user
# sets in the environment wins.
LOCAL_TRAIN_DEFAULTS = {
    "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
    "RAY_TRAIN_METRICS_ENABLED": "0",
}


class HeadStartError(RuntimeError):
    """The private head exited or never reported ready (retried once by `local_ray`)."""


class RayImportedTooEarly(RunError):
    """Something imported `ray` before the private head was set up (see the module doc).

    A `RunError`, so a user module that trips it gets the message, not a traceback."""


def check_ray_not_imported() -> None:
    """Raise `RayImportedTooEarly` if `ray` is already loaded in this process (see above)."""
    if "ray" in sys.modules:
        raise RayImportedTooEarly(
            "`ray` was imported before raytrain set up its private local Ray; Ray reads "
            "RAY_AUTH_MODE/RAY_AUTH_TOKEN once, when it loads, so this process could not "
            "join its own cluster. In raytrain this is a bug: import raytrain.tune / "
            "raytrain.trial only inside connected_ray(). In your own `_target_` module: "
            "import ray inside the function that needs it, or pass --address."
        )


# Ray's default ports (GCS, dashboard, client server, dashboard agent): a port the OS hands
# out may be one of them, and a Ray started later with defaults then collides with ours.
RAY_DEFAULT_PORTS = frozenset({6379, 8265, 10001, 52365})
# Our ports come from below the kernel's ephemeral range and above Ray's default worker
# ports (10002-19999). A port drawn by binding port 0 is an ephemeral one, and Ray's own
# daemons draw theirs the same way (metrics, agents' gRPC, the object manager) in the
# seconds after we closed it: seen here, the dashboard failed with "address already in
# use" on the port we had just picked, and `ray start` gave up 63 s later (its API-server
# wait), so a single start took 70 s instead of 5.
OWN_PORTS_LOW = 20000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default range starts here


def free_port() -> int:
    """A currently free TCP port on this host (every address) that the kernel does not hand
    out by itself and that is none of Ray's default ports."""
    high = _ephemeral_low()
    if high <= OWN_PORTS_LOW + 100:  # a host whose ephemeral range starts low
        high = 65535
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(OWN_PORTS_LOW, high)
        if port in RAY_DEFAULT_PORTS:
            continue
        with socket.socket() as s:
            try:
                s.bind(("", port))
            except OSError:
                continue
        return port
    raise RunError(f"no free TCP port between {OWN_PORTS_LOW} and {high} on this host")


def ray_executable() -> str:
    beside = Path(sys.executable).parent / "ray"
    return str(beside) if beside.exists() else (shutil.which("ray") or "ray")


@dataclass
class LocalRay:
    address: str
    dashboard_url: str
    env: dict[str, str]  # RAY_ADDRESS, auth and Train defaults every process of ours shares
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    stopping: bool = False
    _saved_env: dict[str, str | None] = field(default_factory=dict)

    def apply_env(self) -> None:
        """Export the cluster's address/auth variables to this process (restored on stop)."""
        for key, value in self.env.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def stop(self, timeout: float = 30.0) -> None:
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for key, old in self._saved_env.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
        self._saved_env.clear()


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the raytrain process dies, even by SIGKILL, so a
    killed driver never leaves its private Ray head running (Linux; no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def node_ip() -> str:
    """The address Ray itself picks for this host (it binds the GCS there), found the
    way Ray does it (a UDP socket's source address: nothing is sent) but without
    importing ray: the auth variables must be in the environment before ray loads."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("8.8.8.8", 80))
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"


def shared_env(
    address: str, environ: Mapping[str, str], token: str | None = None
) -> dict[str, str]:
    """What every process of the run gets: the head's address, its auth token (fresh
    unless given), and the `LOCAL_TRAIN_DEFAULTS` the user has not set."""
    return {
        "RAY_ADDRESS": address,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": token or secrets.token_hex(32),
        **{k: v for k, v in LOCAL_TRAIN_DEFAULTS.items() if k not in environ},
    }


def head_command(
    ip: str,
    port: int,
    dashboard_port: int,
    num_cpus: int,
    num_gpus: int | None,
    agent_port: int,
) -> list[str]:
    cmd = [
        ray_executable(),
        "start",
        "--head",
        "--block",
        "--disable-usage-stats",
        f"--port={port}",
        f"--node-ip-address={ip}",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard_port}",
        f"--ray-client-server-port={free_port()}",
        f"--dashboard-agent-listen-port={agent_port}",
        f"--num-cpus={num_cpus}",
    ]
    if num_gpus is not None:
        cmd.append(f"--num-gpus={num_gpus}")
    return cmd


def start_local_ray(
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    *,
    worker_env: Mapping[str, str] | None = None,
    token: str | None = None,
    preload: Sequence[str] = (),
    timeout: float = 120.0,
) -> LocalRay:
    """Start the head; return once it has settled (SETTLE_S, SETTLE_MAX_S).

    `preload`: modules to import (with the head's env applied, so Ray may load) while the
    head starts: the driver's ~1-3 s of imports (Ray, Tune, Optuna) overlap its start-up."""
    ip, port, dashboard_port, agent_port = node_ip(), free_port(), free_port(), free_port()
    address = f"{ip}:{port}"
    env = shared_env(address, os.environ, token)
    # The head's own environment is what every worker starts with: a job-level runtime_env
    # would send each worker through Ray's setup_worker + runtime-env agent (~2 CPU-s more per
    # process, measured with psutil) and leave the prestarted workers unused.
    head_env = {**os.environ, **env, **(worker_env or {})}
    log = Path(tempfile.mkstemp(prefix="raytrain-ray-head-", suffix=".log")[1])
    cpus = num_cpus or os.cpu_count() or 1
    cmd = head_command(ip, port, dashboard_port, cpus, num_gpus, agent_port)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            # No drain on SIGTERM: Ray 2.60 waits up to 30 s for Serve replicas we never run.
            env={**head_env, "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    local = LocalRay(
        address=address,
        dashboard_url=f"http://127.0.0.1:{dashboard_port}",
        env=env,
        process=proc,
        log_path=log,
    )
    deadline = time.monotonic() + timeout
    try:  # while the head starts (importing Ray connects to nothing)
        local.apply_env()
        for module in preload:
            importlib.import_module(module)
    except BaseException:
        local.stop(timeout=10)
        raise
    ready_at: float | None = None
    while time.monotonic() < deadline and proc.poll() is None:
        if ready_at is None and READY_LINE in log.read_text(errors="replace"):
            ready_at = time.monotonic()
        if ready_at is not None and _settled(time.monotonic() - ready_at, agent_port):
            return local
        time.sleep(0.2)
    local.stop(timeout=10)
    tail = log.read_text(errors="replace")[-2000:]
    raise HeadStartError(f"the local Ray head did not start (log {log}):\n{tail}")


def _settled(since_ready: float, agent_port: int) -> bool:
    if since_ready >= SETTLE_MAX_S:
        return True
    return since_ready >= SETTLE_S and _accepts("127.0.0.1", agent_port)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def local_ray(
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    *,
    worker_env: Mapping[str, str] | None = None,
    preload: Sequence[str] = (),
) -> Iterator[LocalRay]:
    """Start a private head, export its env to this process, stop it on exit; `worker_env`
    is added to the environment of every Ray worker of the head, `preload` is imported
    while it starts (`start_local_ray`).

    Call it before `ray` is imported in this process: Ray reads the auth mode once.
    """
    check_ray_not_imported()
    # One token for both tries: a preloaded Ray has read it already.
    start = functools.partial(
        start_local_ray,
        num_cpus,
        num_gpus,
        worker_env=worker_env,
        token=secrets.token_hex(32),
        preload=preload,
    )
    try:
        local = start()
    except HeadStartError:  # one retry: start-up races under load
        local = start()
    watchdog = threading.Thread(target=_watch, args=(local,), daemon=True)
    try:  # start_local_ray has exported the head's env already (before the preload)
        watchdog.start()
        yield local
    finally:
        try:
            ray = sys.modules.get("ray")  # never imported: nothing to shut down
            if ray is not None and ray.is_initialized():
                ray.shutdown()
        finally:
            local.stopping = True
            local.stop()
            if local.log_path is not None:  # a clean stop: nobody needs the head's log
                local.log_path.unlink(missing_ok=True)


def _watch(local: LocalRay) -> None:
    """Interrupt the command if the head dies under it (else the driver waits forever
    for a GCS that is gone)."""
    proc = local.process
    if proc is None:
        return
    proc.wait()
    if not local.stopping:
        print(
            f"error: the local Ray head exited unexpectedly (log: {local.log_path})",
            file=sys.stderr,
            flush=True,
        )
        _thread.interrupt_main()


def split_worker_env(
    runtime_env: Mapping[str, object],
) -> tuple[dict[str, str], dict[str, object]]:
    """(the runtime_env's `env_vars`, the rest): on a private head the first become the
    head's environment (`start_local_ray`), the rest stays a job-level runtime_env."""
    job_env = dict(runtime_env)
    env_vars = job_env.pop("env_vars", None) or {}
    if not isinstance(env_vars, Mapping):
        raise TypeError(f"runtime_env env_vars must be a mapping, got {env_vars!r}")
    return {str(k): str(v) for k, v in env_vars.items()}, job_env


@contextmanager
def connected_ray(
    address: str | None,
    runtime_env: dict[str, object],
    *,
    verbose: bool = False,
    preload: Sequence[str] = (),
) -> Iterator[str | None]:
    """Join `address`, or start a private local Ray head (stopped on exit); yields the
    dashboard URL. Enter it before `ray` is imported in this process (see above); with an
    `address` the auth settings are the user's own environment, read whenever Ray loads.

    On a private head the runtime_env's `env_vars` become the head's environment instead
    (see `start_local_ray`), so an env-vars-only runtime_env costs no worker anything, and
    the `preload` modules (which may import Ray) are imported while the head starts."""
    with ExitStack() as stack:
        dashboard = None
        if address is None:
            worker_env, job_env = split_worker_env(runtime_env)
            local = stack.enter_context(local_ray(worker_env=worker_env, preload=preload))
            address, dashboard, runtime_env = local.address, local.dashboard_url, job_env
        import ray  # only now: the private head's auth is in the environment

        context = ray.init(
            address=address,
            runtime_env=runtime_env or None,
            log_to_driver=verbose,
            logging_level=logging.INFO if verbose else logging.WARNING,
        )
        stack.callback(ray.shutdown)
        url = dashboard or getattr(context, "dashboard_url", None)
        yield f"http://{url}" if url and not str(url).startswith("http") else url
