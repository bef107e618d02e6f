"""Export the best trial(s) of a run as runnable `raytrain train` configs.

An exported file is the space's `config` with the trial's values merged in (plus the
space's per-trial resources), and a `provenance:` block that `raytrain train` ignores for
training but prints next to its own result, so a final run can be checked against the
trial it reproduces.
"""

from __future__ import annotations

import math
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from raytrain.config.parse import train_config_to_dict
from raytrain.errors import InputError, Problem
from raytrain.layout import SearchRunLayout
from raytrain.redaction import redact
from raytrain.results import load_run
from raytrain.results.format import fmt_params, fmt_value
from raytrain.results.states import state_label
from raytrain.space import load_space, trial_train_config

VERSIONED = ("raytrain", "ray", "optuna", "torch", "lightning")


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(cwd: Path | None = None) -> str | None:
    """The commit of the project the search ran from, if it is a git checkout."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    ).stdout.strip()
    return proc.stdout.strip() + ("-dirty" if dirty else "")


def _plain(value: Any) -> Any:
    """YAML-safe scalars (numpy scalars and tuples become plain Python)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def exported_config(run: Any, record: Any, space: Any) -> dict[str, Any]:
    cfg = train_config_to_dict(trial_train_config(space, record.params))
    cfg["provenance"] = {
        "experiment": run.name,
        "trial_id": record.trial_id,
        "metric": run.metric,
        "mode": run.mode,
        "value": record.best_value,
        "epoch": record.best_epoch,
        "epochs_run": record.epochs,
        "state": record.state,
        "checkpoint": record.checkpoint,
        # which "best" the checkpoint is: the run's metric (extra metrics keep their own)
        "checkpoint_selected_by": f"best {run.metric} ({run.mode})",
        "params": dict(record.params),
        "git_commit": git_commit(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
    }
    return _plain(redact(cfg))  # secrets as written (raytrain.redaction)


def export_best(run_dir: Path, out: Path | None = None, *, top_k: int = 1) -> list[Path]:
    """Write the best `top_k` trials; with k > 1 files are named `<stem>-<rank>.yaml`."""
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    best = [r for r in run.best(top_k) if r.best_value is not None and math.isfinite(r.best_value)]
    if not best:
        raise InputError(
            Problem(
                "trials",
                f"run {run_dir} has no trial with a finite {run.metric}: nothing to export "
                f"({len(run.trials)} trial(s): "
                + ", ".join(sorted({t.state for t in run.trials}) or ["none"])
                + "). See `raytrain status` for their errors.",
                file=str(run_dir),
            )
        )
    layout = SearchRunLayout(run_dir)
    space = load_space(layout.space)
    out = Path(out) if out is not None else layout.best_yaml
    paths = []
    for rank, record in enumerate(best, start=1):
        path = out if top_k == 1 else out.with_name(f"{out.stem}-{rank}{out.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(exported_config(run, record, space), sort_keys=False)
        header = (
            f"# raytrain export of run '{run.name}', rank {rank}: trial {record.trial_id}, "
            f"{run.metric}={record.best_value:.6g} at epoch {record.best_epoch}\n"
            f"# final run: raytrain train {path}\n"
        )
        path.write_text(header + text)
        paths.append(path)
    return paths


def render_top(run: Any, k: int = 5) -> str:
    """Plain-text table of the best k trials (printed when a search ends)."""
    rows = run.best(k)
    if not rows:
        return f"no trial reported a finite {run.metric} yet."
    lines = [f"top {len(rows)} trial(s) by {run.metric} ({run.mode}):"]
    for rank, r in enumerate(rows, start=1):
        lines.append(
            f"  {rank}. {r.trial_id}  {run.metric}={fmt_value(r.best_value)} "
            f"(epoch {r.best_epoch}/{r.epochs}, {state_label(r.state)})  "
            f"{fmt_params(r.params, limit=8)}"
        )
    return "\n".join(lines)
