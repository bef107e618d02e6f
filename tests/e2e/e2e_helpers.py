"""Finding the processes an e2e test started (Ray daemons outlive their parent's tree)."""

from __future__ import annotations

import os
from pathlib import Path


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
