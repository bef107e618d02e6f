"""Where a run lives, and the rules for starting vs resuming one (pure checks + I/O).

A new run never overwrites an existing directory; `--resume` requires one. On resume the
search space must be the one the run started with (the Optuna study and Tune's state are
tied to it); only `search.num_samples` may change, to extend a search.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from raytrain.errors import InputError, Problem

SPACE_FILE = "space.yaml"
RESUMABLE_KEYS = {("search", "num_samples")}


def run_dir_for(storage: Path, name: str) -> Path:
    return (Path(storage) / name).resolve()


def is_run_dir(path: Path) -> bool:
    return (Path(path) / SPACE_FILE).is_file()


def _flatten(d: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(d, dict):
        out: dict[tuple[str, ...], Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, (*prefix, str(k))))
        return out
    return {prefix: d}


def resume_conflicts(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two dumped spaces, except the budget."""
    a, b = _flatten(old), _flatten(new)
    keys = sorted(set(a) | set(b))
    return [".".join(k) for k in keys if k not in RESUMABLE_KEYS and a.get(k) != b.get(k)]


def check_new_run(run_dir: Path) -> None:
    if run_dir.exists() and any(run_dir.iterdir()):
        raise InputError(
            Problem(
                "name",
                f"run directory {run_dir} already exists. Continue it with --resume, "
                "or pick another --name / --storage (nothing was overwritten).",
            )
        )


def check_resume(run_dir: Path, space_dump: dict[str, Any]) -> dict[str, Any]:
    """Return the stored space dump; raise if the run is missing or the space changed."""
    stored = run_dir / SPACE_FILE
    if not stored.is_file():
        raise InputError(
            Problem("--resume", f"no run to resume at {run_dir} (no {SPACE_FILE} there)")
        )
    old = yaml.safe_load(stored.read_text()) or {}
    conflicts = resume_conflicts(old, space_dump)
    if conflicts:
        raise InputError(
            [
                Problem(
                    key,
                    "differs from the run being resumed; only search.num_samples may change "
                    "on --resume (start a new run with --name for a different space)",
                    file=str(stored),
                )
                for key in conflicts[:20]
            ]
        )
    return old


def write_space(run_dir: Path, space_dump: dict[str, Any]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / f".{SPACE_FILE}.tmp"
    tmp.write_text(yaml.safe_dump(space_dump, sort_keys=False))
    tmp.replace(run_dir / SPACE_FILE)
