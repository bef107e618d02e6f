"""The driver side of one training run (`raytrain train`): Ray, the run dir, the result.

Printing is left to the caller through `on_epoch`, so the CLI decides what a person sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray.train
import yaml
from ray.train.v2.api.exceptions import TrainingFailedError

from raytrain.config.parse import train_config_to_dict
from raytrain.config.schema import TrainConfig
from raytrain.layout import TrainRunLayout
from raytrain.redaction import redact
from raytrain.results import TERMINATED, TrainRunWriter
from raytrain.trial.checkpoint_export import export_checkpoints, pick_best
from raytrain.trial.failures import explain_failure
from raytrain.trial.progress import EpochReport, ProgressRelay
from raytrain.trial.trainer import build_torch_trainer


@dataclass
class TrainOutcome:
    run_dir: Path
    final_metrics: dict[str, Any]
    best_metrics: dict[str, Any] | None
    checkpoints: dict[str, Path] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)


def train(
    cfg: TrainConfig,
    run_dir: Path,
    *,
    on_epoch: Callable[[EpochReport], None] = lambda report: None,
) -> TrainOutcome:
    """Fit `cfg` on the connected Ray, writing `run_dir` as reports arrive (with the
    writer of search trials, so `raytrain status`/`analyze` read it as one trial).

    Raises `raytrain.errors.RunError` with a readable message when training fails.
    """
    layout = TrainRunLayout(run_dir)
    history: list[dict[str, Any]] = []
    relay = ProgressRelay()
    with TrainRunWriter(layout, tensorboard=cfg.logging.tensorboard) as writer:
        config = redact(train_config_to_dict(cfg))  # secrets as written (raytrain.redaction)
        layout.config.write_text(yaml.safe_dump(config, sort_keys=False))

        def handle(report: EpochReport) -> None:
            history.append(dict(report.metrics))
            writer.epoch(report.metrics)
            on_epoch(report)

        run_config = ray.train.RunConfig(
            name=layout.RAY_DIRNAME,
            storage_path=str(run_dir.resolve()),
            callbacks=[relay.callback],  # type: ignore[list-item]
        )
        trainer = build_torch_trainer(cfg, run_config=run_config)
        relay.start(handle)
        try:
            result = trainer.fit()
        except TrainingFailedError as exc:
            raise explain_failure(exc) from None  # the writer records it as ERROR
        finally:
            relay.stop()
        checkpoints = export_checkpoints(result, cfg, layout)
        writer.finished(TERMINATED)
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
