"""The driver side of one training run (`raytrain train`): Ray, the run dir, the result.

Printing is left to the caller through `on_epoch`, so the CLI decides what a person sees.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray.train
import yaml
from ray.train.v2.api.exceptions import TrainingFailedError

from raytrain.config.parse import train_config_to_dict
from raytrain.config.schema import TrainConfig
from raytrain.errors import InputError, Problem
from raytrain.layout import CHECKPOINT_NAME, TrainRunLayout
from raytrain.redaction import redact
from raytrain.results import TERMINATED, TrainRunWriter
from raytrain.results.states import ERROR
from raytrain.space.fidelity import train_key
from raytrain.storage import is_remote
from raytrain.tracking import RunEnd, RunStart, Scope, Tracking
from raytrain.trial.checkpoint_export import export_checkpoints, pick_best
from raytrain.trial.failures import explain_failure
from raytrain.trial.progress import EpochReport, ProgressRelay
from raytrain.trial.scaling import start_train_coordinator
from raytrain.trial.trainer import build_torch_trainer


@dataclass
class TrainOutcome:
    run_dir: Path
    final_metrics: dict[str, Any]
    best_metrics: dict[str, Any] | None
    checkpoints: dict[str, Path] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)


def train_scope(
    cfg: TrainConfig, run_dir: Path, name: str, provenance: Mapping[str, Any] | None
) -> Scope:
    """A train run exported from a search logs beside it: the search's name (W&B project,
    MLflow experiment) and group, tagged with the trial it reproduces."""
    provenance = provenance or {}
    search_dir = provenance.get("run_dir")
    return Scope(
        kind="train",
        name=str(provenance.get("experiment") or name),
        run_dir=Path(run_dir),
        metric=cfg.checkpoint.metric,
        mode=cfg.checkpoint.mode,
        group=Path(search_dir).name if search_dir else Path(run_dir).resolve().name,
        reproduces=str(provenance["trial_id"]) if provenance.get("trial_id") else None,
    )


def best_of(rows: list[dict[str, float]], metric: str, mode: str) -> tuple[float, int] | None:
    """(best value, its epoch) of `metric` over the reported epochs."""
    finite = [r for r in rows if metric in r and math.isfinite(r[metric])]
    if not finite:
        return None
    pick = min if mode == "min" else max
    row = pick(finite, key=lambda r: r[metric])
    return float(row[metric]), int(row["epoch"])


def train(
    cfg: TrainConfig,
    run_dir: Path,
    *,
    on_epoch: Callable[[EpochReport], None] = lambda report: None,
    name: str = "train",
    provenance: Mapping[str, Any] | None = None,
    start_from: str | None = None,
    ray_storage: str | None = None,
) -> TrainOutcome:
    """Fit `cfg` on the connected Ray, writing `run_dir` as reports arrive (with the
    writer of search trials, so `raytrain status`/`analyze` read it as one trial), and
    to the trackers `cfg.logging` turns on (`name`: their default project/experiment).
    `start_from`: a Lightning `.ckpt` (path or object URI) the fit continues from;
    `ray_storage`: where Ray Train keeps its folder when not in `run_dir` (a bucket URI).

    Raises `raytrain.errors.RunError` with a readable message when training fails.
    """
    layout = TrainRunLayout(run_dir)
    history: list[dict[str, Any]] = []
    tracking = Tracking.open(cfg.logging, train_scope(cfg, run_dir, name, provenance))
    key = Path(run_dir).resolve().name
    try:
        result, checkpoints = _fit(
            cfg, layout, history, on_epoch, tracking, key, start_from, ray_storage
        )
    finally:
        if tracking is not None:  # also on Ctrl-C: a run still open is finished as killed
            tracking.close()
    best = pick_best(
        list(result.best_checkpoints or []), cfg.checkpoint.metric, cfg.checkpoint.mode
    )
    final = history[-1] if history else dict(result.metrics or {})
    return TrainOutcome(
        run_dir=run_dir,
        final_metrics=final,
        best_metrics=best[1] if best else None,
        checkpoints=checkpoints,
        history=history,
    )


def _fit(
    cfg: TrainConfig,
    layout: TrainRunLayout,
    history: list[dict[str, Any]],
    on_epoch: Callable[[EpochReport], None],
    tracking: Tracking | None,
    key: str,
    start_from: str | None,
    ray_storage: str | None,
) -> tuple[Any, dict[str, Path]]:
    relay = ProgressRelay()
    recorded_rows: list[dict[str, float]] = []  # as metrics.csv has them (numbered epochs)
    progress = train_key(cfg.trainer.report_every, cfg.trainer.report_unit)
    with TrainRunWriter(layout, tensorboard=cfg.logging.tensorboard, key=progress) as writer:
        # secrets as written, in the file and in the trackers (raytrain.redaction)
        resolved = redact(train_config_to_dict(cfg))
        layout.config.write_text(yaml.safe_dump(resolved, sort_keys=False))
        if tracking is not None:
            tracking.start(RunStart(key=key, params={}, config=resolved))

        def handle(report: EpochReport) -> None:
            history.append(dict(report.metrics))
            recorded = writer.epoch(report.metrics)
            recorded_rows.append(recorded)
            if tracking is not None:
                tracking.epoch(key, recorded)
            on_epoch(report)

        run_config = ray.train.RunConfig(
            name=layout.RAY_DIRNAME,
            storage_path=ray_storage or str(layout.root.resolve()),
            callbacks=[relay.callback],  # type: ignore[list-item]
        )
        start_train_coordinator()  # comes up while the trainer's controller starts
        trainer = build_torch_trainer(
            cfg, run_config=run_config, resume_from_checkpoint=checkpoint_of(start_from)
        )
        relay.start(handle)
        try:
            result = trainer.fit()
        except TrainingFailedError as exc:
            _end_tracking(tracking, key, ERROR, recorded_rows, cfg, None)
            raise explain_failure(exc) from None  # the writer records it as ERROR
        finally:
            relay.stop()
        checkpoints = export_checkpoints(result, cfg, layout)
        writer.finished(TERMINATED)
        main = checkpoints.get(layout.best_ckpt.name) or checkpoints.get(layout.last_ckpt.name)
        _end_tracking(tracking, key, TERMINATED, recorded_rows, cfg, main)
    return result, checkpoints


def checkpoint_of(ckpt: str | None) -> ray.train.Checkpoint | None:
    """A trial's checkpoint folder (or its `checkpoint.ckpt`), a local path or an object URI,
    as a Ray checkpoint each worker downloads itself (`as_directory` in raytrain.trial.loop)."""
    if ckpt is None:
        return None
    if is_remote(ckpt):
        folder = ckpt.rstrip("/").removesuffix(f"/{CHECKPOINT_NAME}")
        return ray.train.Checkpoint(folder)
    path = Path(ckpt).resolve()
    folder_path = path.parent if path.name == CHECKPOINT_NAME else path
    if not (folder_path / CHECKPOINT_NAME).is_file():
        raise InputError(
            Problem(
                "--from-checkpoint",
                f"{ckpt}: expected a trial's checkpoint folder or the {CHECKPOINT_NAME} in it",
            )
        )
    return ray.train.Checkpoint(str(folder_path))


def _end_tracking(
    tracking: Tracking | None,
    key: str,
    state: str,
    rows: list[dict[str, float]],
    cfg: TrainConfig,
    checkpoint: Path | None,
) -> None:
    if tracking is None:
        return
    best = best_of(rows, cfg.checkpoint.metric, cfg.checkpoint.mode)
    tracking.end(
        RunEnd(
            key=key,
            state=state,
            best_value=best[0] if best else None,
            best_epoch=best[1] if best else None,
            checkpoint=checkpoint,
        )
    )
