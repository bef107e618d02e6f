"""What e2e tests share: running the `raytrain` CLI as a user does, and finding the
processes a test started (Ray daemons outlive their parent's tree)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RAYTRAIN = str(Path(sys.executable).parent / "raytrain")


def run_cli(
    args: list[str], cwd: Path, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`raytrain ARGS` in `cwd`, output captured, no stdin; `env` on top of this one's."""
    return subprocess.run(
        [RAYTRAIN, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def processes_using(marker: str) -> dict[int, str]:
    """Live processes (other than this one) whose command line mentions `marker`, e.g.
    a private Ray temp dir: pid -> the start of the command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline:
            found[int(entry.name)] = cmdline[:120]
    return found
