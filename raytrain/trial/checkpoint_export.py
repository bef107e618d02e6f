"""The checkpoint files of a `raytrain train` run dir, taken from Ray Train's `Result`:
best.ckpt (by checkpoint.metric), best-<metric>.ckpt (checkpoint.extra_metrics) and
last.ckpt, each a hard link (or copy) of the persisted Lightning file. Their names and the
rest of the run dir: `raytrain.layout.TrainRunLayout`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from raytrain.config.schema import TrainConfig
from raytrain.layout import TrainRunLayout
from raytrain.trial.checkpointing import CHECKPOINT_NAME


def pick_best(
    candidates: Sequence[tuple[Any, dict[str, Any]]], metric: str, mode: str
) -> tuple[Any, dict[str, Any]] | None:
    """The (checkpoint, metrics) with the best `metric`; None when no candidate has it."""
    scored = [(c, m) for c, m in candidates if isinstance(m.get(metric), (int, float))]
    if not scored:
        return None
    choose = min if mode == "min" else max
    return choose(scored, key=lambda cm: cm[1][metric])


def place_checkpoint(checkpoint: Any, target: Path) -> Path:
    """Hard-link (or copy) the Lightning file of a persisted Ray checkpoint to `target`."""
    with checkpoint.as_directory() as directory:
        source = Path(directory) / CHECKPOINT_NAME
        target.unlink(missing_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    return target


def export_checkpoints(result: Any, cfg: TrainConfig, layout: TrainRunLayout) -> dict[str, Path]:
    """best.ckpt, best-<metric>.ckpt (extra metrics) and last.ckpt from a Train `Result`,
    by file name."""
    candidates = list(result.best_checkpoints or [])
    placed: dict[str, Path] = {}
    wanted = {layout.best_ckpt: (cfg.checkpoint.metric, cfg.checkpoint.mode)}
    for name, mode in cfg.checkpoint.extra_metrics.items():
        wanted[layout.best_ckpt_for(name)] = (name, mode)
    for target, (metric, mode) in wanted.items():
        best = pick_best(candidates, metric, mode)
        if best is not None:
            placed[target.name] = place_checkpoint(best[0], target)
    if result.checkpoint is not None and cfg.checkpoint.save_last:
        placed[layout.last_ckpt.name] = place_checkpoint(result.checkpoint, layout.last_ckpt)
    return placed
