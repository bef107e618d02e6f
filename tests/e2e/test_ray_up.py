"""`ray up` → `ray job submit` → `ray down` with cluster/onprem.yaml against a local sshd.

Needs `cluster/local-sshd.sh up` (root): an sshd on 127.0.0.1 and a throwaway account
with a throwaway key. Ray's `local` provider then drives this machine as the head over
SSH, exactly as it drives a remote host. Only the hosts, the account, the ports, the token
file and the environment setup are changed from the shipped file: the account gets this
test's Python through a block in its ~/.bashrc (Ray runs remote commands through
`bash --login -c -i 'source ~/.bashrc; ...'`), removed again on teardown. `ray down`'s
`ray stop` runs as that account, so it cannot touch anyone else's Ray.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from raytrain.local_ray import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.sshd]

REPO = Path(__file__).resolve().parents[2]
LOCAL_SSHD = REPO / "cluster" / "local-sshd.sh"
ACCOUNT = "raytrain-ssh"
KEY = "/var/lib/raytrain-sshd/id_ed25519"
BEGIN, END = "# >>> raytrain test_ray_up (removed on teardown)", "# <<< raytrain test_ray_up"


def as_account(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["su", ACCOUNT, "-c", command], capture_output=True, text=True, timeout=120, cwd="/"
    )


def account_processes(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


@dataclass
class Account:
    home: Path
    uid: int
    work: Path  # scratch dir readable by the account


def python_for_account(pythonpath: str) -> str | None:
    """An interpreter the account may run that imports this environment's packages (a venv
    whose base Python sits in root's home is not executable by other users)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        probe = as_account(f"PYTHONPATH={pythonpath} {candidate} -c 'import ray, raytrain'")
        if probe.returncode == 0:
            return candidate
    return None


@pytest.fixture(scope="module")
def account() -> Iterator[Account]:
    if os.geteuid() != 0:
        pytest.skip("needs root (a throwaway account and sshd): run cluster/local-sshd.sh up")
    if shutil.which("su") is None or not LOCAL_SSHD.exists():
        pytest.skip("no `su` on this machine")
    status = subprocess.run([str(LOCAL_SSHD), "status"], capture_output=True, timeout=60)
    if status.returncode != 0:
        pytest.skip("local sshd not running: `sudo cluster/local-sshd.sh up`")
    entry = pwd.getpwnam(ACCOUNT)
    home = Path(entry.pw_dir)
    work = Path(tempfile.mkdtemp(prefix="rt-up-", dir="/tmp"))
    work.chmod(0o755)
    pythonpath = f"{sysconfig.get_paths()['purelib']}:{REPO}"
    python = python_for_account(pythonpath)
    if python is None:
        shutil.rmtree(work)
        pytest.skip(f"no Python that {ACCOUNT} may run imports ray and raytrain from here")
    shims = work / "bin"
    shims.mkdir()
    for name in ("python", "python3"):
        (shims / name).symlink_to(python)
    ray = shims / "ray"
    ray.write_text(
        f"#!{python}\nimport sys\nfrom ray.scripts.scripts import main\nsys.exit(main())\n"
    )
    ray.chmod(0o755)
    remote_tmp = work / "remote-tmp"
    remote_tmp.mkdir()
    os.chown(remote_tmp, entry.pw_uid, entry.pw_gid)
    bashrc = home / ".bashrc"
    original = bashrc.read_bytes() if bashrc.exists() else None
    block = "\n".join(
        [
            BEGIN,
            f"export PATH={shims}:$PATH",
            f"export PYTHONPATH={pythonpath}",
            f"export RAY_TMPDIR={remote_tmp}",
            END,
            "",
        ]
    )
    with open(bashrc, "a") as f:
        f.write("\n" + block)
    try:
        yield Account(home=home, uid=entry.pw_uid, work=work)
    finally:
        if original is None:
            bashrc.unlink(missing_ok=True)
        else:
            bashrc.write_bytes(original)
        for pid in account_processes(entry.pw_uid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 15)
        for leftover in ("project", ".ray", "ray_bootstrap_config.yaml", "ray_bootstrap_key.pem"):
            path = home / leftover
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)


def cluster_file(account: Account, token_file: Path, project: Path, ports: dict[str, int]) -> Path:
    config = yaml.safe_load((REPO / "cluster" / "onprem.yaml").read_text())
    config["provider"].update(head_ip="127.0.0.1", worker_ips=[])
    config["auth"] = {"ssh_user": ACCOUNT, "ssh_private_key": KEY}
    config["min_workers"] = config["max_workers"] = 0
    config["file_mounts"] = {"~/project": str(project), "~/.ray/auth_token": str(token_file)}
    # The account's Python comes from the test's ~/.bashrc block, not a fresh venv + pip.
    config["setup_commands"] = [c for c in config["setup_commands"] if "RAY_AUTH_MODE" in c]
    head = []
    for command in config["head_start_ray_commands"]:
        head.append(
            command.replace(
                "--port=6379",
                f"--port={ports['gcs']} --dashboard-port={ports['dashboard']} "
                f"--ray-client-server-port={ports['client']} "
                f"--dashboard-agent-listen-port={ports['agent']}",
            )
        )
    assert any(str(ports["gcs"]) in c for c in head), "onprem.yaml no longer uses --port=6379"
    config["head_start_ray_commands"] = head
    path = account.work / "cluster.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def ray_cli(
    *argv: str, env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ray.scripts.scripts", *argv],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_ray_up_submit_down(account: Account) -> None:
    token = secrets.token_hex(32)
    token_file = account.work / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    project = account.work / "project"
    project.mkdir()
    (project / "README").write_text("synced to ~/project by ray up\n")
    # Own ports: other Ray instances on this machine hold the defaults (6379, 8265, 52365).
    ports = {name: free_port() for name in ("gcs", "dashboard", "client", "agent")}
    config = cluster_file(account, token_file, project, ports)
    local_tmp = account.work / "local-tmp"
    local_tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(RAY_TMPDIR=str(local_tmp), RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)

    started = time.monotonic()
    up = ray_cli("up", "-y", "--no-config-cache", str(config), env=env, cwd=project)
    up_s = time.monotonic() - started
    try:
        assert up.returncode == 0, (up.stdout + up.stderr)[-4000:]
        assert (account.home / "project" / "README").is_file(), "file mounts not synced"
        dashboard = f"http://127.0.0.1:{ports['dashboard']}"
        entry = [
            "python",
            "-c",
            "import ray; ray.init(); print('CLUSTER-CPUS', ray.cluster_resources().get('CPU'))",
        ]
        # The head's dashboard agent needs a few seconds after `ray up` returns.
        deadline = time.monotonic() + 90
        while True:
            job = ray_cli(
                "job", "submit", "--address", dashboard, "--", *entry, env=env, cwd=project
            )
            if job.returncode == 0 or "No available agent" not in job.stderr:
                break
            assert time.monotonic() < deadline, job.stderr[-2000:]
            time.sleep(3)
        assert job.returncode == 0 and "CLUSTER-CPUS" in job.stdout, job.stdout + job.stderr
        # Token auth is on: the same request with another token is refused.
        wrong = {**env, "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        refused = ray_cli("job", "list", "--address", dashboard, env=wrong, cwd=project, timeout=60)
        assert refused.returncode != 0
    finally:
        started_down = time.monotonic()
        down = ray_cli("down", "-y", str(config), env=env, cwd=project)
        down_s = time.monotonic() - started_down
    assert down.returncode == 0, down.stderr[-2000:]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        names = []
        for pid in account_processes(account.uid):
            try:
                names.append(Path(f"/proc/{pid}/comm").read_text().strip())
            except OSError:
                continue
        if not {"raylet", "gcs_server"} & set(names):
            break
        time.sleep(1)
    else:
        pytest.fail(f"ray down left Ray running as {ACCOUNT}: {names}")
    print(f"ray up {up_s:.0f} s, ray down {down_s:.0f} s")
