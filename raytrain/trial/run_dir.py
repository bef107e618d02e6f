"""The run directory of `raytrain train`: resolved config, per-epoch metrics, checkpoints.

<run_dir>/config.yaml        the resolved train config (rerunnable as is)
<run_dir>/metrics.csv        one row per reported epoch
<run_dir>/events.out.tfevents.*   TensorBoard scalars
<run_dir>/best.ckpt          best checkpoint by checkpoint.metric
<run_dir>/best-<metric>.ckpt one per checkpoint.extra_metrics entry
<run_dir>/last.ckpt          the latest checkpoint
<run_dir>/ray/               Ray Train's own run folder (persisted checkpoints, state)
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from raytrain.config.parse import train_config_to_dict
from raytrain.config.schema import TrainConfig
from raytrain.trial.checkpointing import CHECKPOINT_NAME

RAY_SUBDIR = "ray"


class RunDirWriter:
    """Writes the per-epoch files as reports arrive (called from one thread only)."""

    def __init__(self, path: Path, tensorboard: bool = True) -> None:
        self.path = path
        self.path.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = []
        self._tb: Any = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(path))

    def write_config(self, cfg: TrainConfig) -> Path:
        target = self.path / "config.yaml"
        target.write_text(yaml.safe_dump(train_config_to_dict(cfg), sort_keys=False))
        return target

    def add_epoch(self, metrics: dict[str, Any]) -> None:
        self.rows.append(metrics)
        columns = ["epoch", *sorted({k for row in self.rows for k in row} - {"epoch"})]
        tmp = self.path / "metrics.csv.tmp"
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(tmp, self.path / "metrics.csv")
        if self._tb is not None:
            for key, value in metrics.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self._tb.add_scalar(key, value, global_step=int(metrics["epoch"]))
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


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


def export_checkpoints(result: Any, cfg: TrainConfig, run_dir: Path) -> dict[str, Path]:
    """best.ckpt, best-<metric>.ckpt (extra metrics) and last.ckpt from a Train `Result`."""
    candidates = list(result.best_checkpoints or [])
    placed: dict[str, Path] = {}
    wanted = {"best.ckpt": (cfg.checkpoint.metric, cfg.checkpoint.mode)}
    for name, mode in cfg.checkpoint.extra_metrics.items():
        wanted[f"best-{name.replace('/', '_')}.ckpt"] = (name, mode)
    for filename, (metric, mode) in wanted.items():
        best = pick_best(candidates, metric, mode)
        if best is not None:
            placed[filename] = place_checkpoint(best[0], run_dir / filename)
    if result.checkpoint is not None and cfg.checkpoint.save_last:
        placed["last.ckpt"] = place_checkpoint(result.checkpoint, run_dir / "last.ckpt")
    return placed
