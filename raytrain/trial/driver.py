"""The driver side of one training run (`raytrain train`): Ray, the run dir, the result.

Printing is left to the caller through `on_epoch`, so the CLI decides what a person sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raytrain.config.schema import TrainConfig
from raytrain.trial.run_dir import RAY_SUBDIR, RunDirWriter, export_checkpoints, pick_best

if TYPE_CHECKING:
    from raytrain.trial.progress import EpochReport


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
    """Fit `cfg` on the connected Ray, writing `run_dir` as reports arrive.

    Raises `raytrain.errors.RunError` with a readable message when training fails.
    """
    import ray.train
    from ray.train.v2.api.exceptions import TrainingFailedError

    from raytrain.trial.failures import explain_failure
    from raytrain.trial.progress import ProgressRelay
    from raytrain.trial.trainer import build_torch_trainer

    writer = RunDirWriter(run_dir, tensorboard=cfg.logging.tensorboard)
    writer.write_config(cfg)
    relay = ProgressRelay()

    def handle(report: EpochReport) -> None:
        writer.add_epoch(report.metrics)
        on_epoch(report)

    run_config = ray.train.RunConfig(
        name=RAY_SUBDIR,
        storage_path=str(run_dir.resolve()),
        callbacks=[relay.callback],  # type: ignore[list-item]
    )
    trainer = build_torch_trainer(cfg, run_config=run_config)
    relay.start(handle)
    try:
        result = trainer.fit()
    except TrainingFailedError as exc:
        raise explain_failure(exc) from None
    finally:
        relay.stop()
        writer.close()
    checkpoints = export_checkpoints(result, cfg, run_dir)
    best = pick_best(
        list(result.best_checkpoints or []), cfg.checkpoint.metric, cfg.checkpoint.mode
    )
    final = writer.rows[-1] if writer.rows else dict(result.metrics or {})
    return TrainOutcome(
        run_dir=run_dir,
        final_metrics=final,
        best_metrics=best[1] if best else None,
        checkpoints=checkpoints,
        history=list(writer.rows),
    )
