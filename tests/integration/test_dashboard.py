"""`raytrain dashboard` serves TensorBoard (with the HParams data of every trial) and
optuna-dashboard on localhost, then stops its children on Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from fixtures.runs import make_run

from raytrain.local_ray import free_port

REPO = Path(__file__).resolve().parent.parent.parent


def get(url: str, body: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as response:
        return response.status, response.read()


def write_journal(run_dir: Path) -> None:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(run_dir / "optuna.journal")))
    study = optuna.create_study(study_name=run_dir.name, storage=storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=3)


def read_lines(stream: object, out: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        out.put(line)


def interactive_sigint() -> None:
    """Ctrl-C as in a terminal. A suite started in the background by a script (`cmd &`,
    nohup) passes SIGINT on as ignored, and Python then installs no KeyboardInterrupt
    handler, so the SIGINT below would do nothing (seen: "did not stop on SIGINT" only under
    `nohup ... &`). The dashboard's own behaviour there is issue 14's."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_dashboard_serves_tensorboard_and_optuna(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path, n_done=5, n_running=1, n_pending=1)
    write_journal(run_dir)
    tb_port, op_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "raytrain",
            "dashboard",
            str(run_dir),
            "--port",
            str(tb_port),
            "--optuna-port",
            str(op_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=interactive_sigint,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=read_lines, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while not any("Ctrl-C" in s for s in seen):
            assert time.monotonic() < deadline, f"dashboard did not come up: {seen}"
            assert proc.poll() is None, f"dashboard exited: {seen}"
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=1))
        tb_url, op_url = f"http://127.0.0.1:{tb_port}/", f"http://127.0.0.1:{op_port}/"
        assert any(tb_url in s for s in seen) and any(op_url in s for s in seen)
        assert get(tb_url)[0] == 200
        status, body = get(op_url)
        assert status == 200 and b"<html" in body.lower()
        # the HPARAMS tab: one session per started trial, with parameters and metrics
        status, body = get(
            tb_url + "data/plugin/hparams/session_groups",
            {
                "experimentName": "",
                "allowedStatuses": [
                    "STATUS_UNKNOWN",
                    "STATUS_SUCCESS",
                    "STATUS_FAILURE",
                    "STATUS_RUNNING",
                ],
                "colParams": [],
                "startIndex": 0,
                "sliceSize": 100,
            },
        )
        groups = json.loads(body)["sessionGroups"]
        assert status == 200 and len(groups) == 6  # 5 finished + 1 running; pending has none
        assert all("optimizer.lr" in g["hparams"] for g in groups)
        assert all(g["metricValues"] for g in groups)  # every started trial reported
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("dashboard did not stop on SIGINT")
    assert rc == 0
    for port in (tb_port, op_port):  # children are gone: nothing listens any more
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0


def test_dashboard_started_in_the_background_by_a_script_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    """`raytrain dashboard RUN &` in a non-interactive shell (an sbatch script, nohup):
    SIGINT arrives ignored there; a SIGTERM must still stop it and its TensorBoard."""
    run_dir = make_run(tmp_path, n_done=2, n_running=0, n_pending=0)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    script = (
        f"{sys.executable} -m raytrain dashboard {run_dir} --port {port} --no-optuna &\n"
        'echo "pid $!"\nwait $!\necho "rc $?"\n'
    )
    proc = subprocess.Popen(
        ["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=read_lines, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while not any("Ctrl-C" in s for s in seen):
            assert time.monotonic() < deadline, f"dashboard did not come up: {seen}"
            assert proc.poll() is None, f"dashboard exited: {seen}"
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=1))
        pid = int(next(s for s in seen if s.startswith("pid ")).split()[1])
        status = Path(f"/proc/{pid}/status").read_text()
        ignored = int(
            next(ln for ln in status.splitlines() if ln.startswith("SigIgn:")).split()[1], 16
        )
        assert ignored & (1 << (signal.SIGINT - 1)), "the scenario: SIGINT is ignored"
        stopped_at = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        proc.wait(timeout=60)
        took = time.monotonic() - stopped_at
    finally:
        if proc.poll() is None:
            proc.kill()
    while not lines.empty():
        seen.append(lines.get())
    assert "rc 0\n" in seen and "stopped.\n" in seen, seen
    assert took < 15, took  # seconds, not a hang
    with socket.socket() as s:  # its TensorBoard is gone too
        assert s.connect_ex(("127.0.0.1", port)) != 0
