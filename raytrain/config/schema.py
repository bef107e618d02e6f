"""The typed train config: what `raytrain train` consumes and what a space's `config:` holds.

YAML is converted into these dataclasses once, at the boundary (see
`raytrain.config.parse`); everything inward takes typed objects. Field defaults here are
the documented defaults. Component sections (model, data) keep their keyword arguments as
a plain mapping because their schema comes from the registry entry or the user's class.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["min", "max"]


@dataclass(frozen=True)
class ComponentConfig:
    """A model or data module: a built-in `name` or a user `_target_` ("pkg.mod.Class")."""

    name: str | None = None
    target: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OptimizerConfig:
    """`name` is a registry key (adamw, adam, sgd, rmsprop, adagrad); kwargs go to torch."""

    name: str = "adamw"
    kwargs: dict[str, Any] = field(default_factory=lambda: {"lr": 1e-3})


@dataclass(frozen=True)
class LRSchedulerConfig:
    """`name`: none | cosine | step | plateau; linear warm-up for `warmup_epochs` first."""

    name: str = "none"
    warmup_epochs: int = 0
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainerConfig:
    max_epochs: int = 20
    precision: str = "32-true"
    gradient_clip_val: float | None = None
    accumulate_grad_batches: int = 1
    check_val_every_n_epoch: int = 1
    deterministic: bool = False
    early_stopping_patience: int | None = None
    limit_train_batches: float | int | None = None
    limit_val_batches: float | int | None = None
    log_every_n_steps: int = 50
    # Report (and checkpoint) every `report_every` optimizer steps or training samples,
    # inside epochs, instead of after every validated epoch (raytrain.space.fidelity). In a
    # space, `scheduler.time_attr` / `scheduler.report_every` set these for every trial.
    report_every: int | None = None
    report_unit: Literal["steps", "samples"] = "steps"
    # With report_every: stop at the first report at or past this many report units, the
    # budget a search trial had (`scheduler.max_t`), so an exported config trains what its
    # trial trained (raytrain.space.materialize). None: max_epochs alone ends the run.
    max_t: int | None = None


@dataclass(frozen=True)
class CheckpointConfig:
    """Which checkpoints a run keeps. `metric`/`mode` decide "best" (a space's own by default).

    `every_n_epochs: 0` disables checkpoints during training except `save_last` at the end.
    `extra_metrics` keeps one extra best checkpoint per named metric (multi-metric runs).
    """

    metric: str = "val_loss"
    mode: Mode = "min"
    every_n_epochs: int = 1
    save_best: bool = True
    save_last: bool = True
    num_to_keep: int = 1
    extra_metrics: dict[str, Mode] = field(default_factory=dict)
    # Set by the config check when the file names no `metric`: "val_loss" is then only a
    # default, and a module that does not log it keeps the last checkpoint instead of
    # failing (Lightning's default). Not a key of the file; code that builds a config names
    # the metric it means. Equal configs stay equal whichever way the metric came.
    metric_is_default: bool = field(default=False, compare=False)


def checkpoint_keep(cfg: CheckpointConfig) -> dict[str, Any]:
    """What Ray keeps on storage, as `CheckpointConfig` arguments (Ray Train's for a train
    run, Tune's for the trials of a warm search). Ray always keeps the latest checkpoint too.

    Ray ranks by one metric only, so a run with `extra_metrics` keeps every checkpoint and
    the best per metric is picked afterwards
    (`raytrain.trial.checkpoint_export.export_checkpoints`).
    """
    if cfg.extra_metrics:
        return {"num_to_keep": None}
    if cfg.save_best:
        return {
            "num_to_keep": cfg.num_to_keep,
            "checkpoint_score_attribute": cfg.metric,
            "checkpoint_score_order": cfg.mode,
        }
    return {"num_to_keep": cfg.num_to_keep}


def default_metric_note(cfg: CheckpointConfig, logged: Iterable[str]) -> str | None:
    """What to say, once, when the default checkpoint metric is not among `logged`.

    A config that names no `checkpoint.metric` gets "val_loss"; a module of the user's own
    may not log it. Rather than fail the run, it then keeps the last checkpoint, as a
    Lightning `ModelCheckpoint` without `monitor` does: Ray ranks the checkpoints by a
    missing value, so all tie and the latest one stays, and no `best.ckpt` is picked.
    """
    if not cfg.metric_is_default or cfg.metric in logged:
        return None
    return (
        f"note: checkpoint.metric is not set and the module does not log {cfg.metric!r}: "
        "keeping the last checkpoint (Lightning's default); set checkpoint.metric to keep "
        "the best one"
    )


WandbMode = Literal["online", "offline", "disabled"]


@dataclass(frozen=True)
class WandbConfig:
    """W&B: one run per trial (and per `raytrain train`), one group per search.

    The API key only ever comes from WANDB_API_KEY in the environment. `project` defaults
    to the search's (or train config's) name, `group` to the run directory's name, `mode`
    to WANDB_MODE (W&B's own default: online).
    """

    project: str | None = None
    entity: str | None = None
    group: str | None = None
    tags: tuple[str, ...] = ()
    mode: WandbMode | None = None


@dataclass(frozen=True)
class MlflowConfig:
    """MLflow: a parent run per search with a child run per trial; a run per `train`.

    `tracking_uri` defaults to MLFLOW_TRACKING_URI (then MLflow's own default), `experiment`
    to the search's (or train config's) name. `log_checkpoint` uploads the best checkpoint
    (a search's best trial's, to the parent run) as an artifact.
    """

    tracking_uri: str | None = None
    experiment: str | None = None
    log_checkpoint: bool = False


@dataclass(frozen=True)
class LoggingConfig:
    tensorboard: bool = True
    wandb: WandbConfig | None = None
    mlflow: MlflowConfig | None = None


@dataclass(frozen=True)
class ResourcesConfig:
    """Ray Train workers of one run. In a space file `workers_per_trial` is the same key."""

    workers: int = 1
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    model: ComponentConfig = field(default_factory=lambda: ComponentConfig(name="mlp"))
    data: ComponentConfig = field(default_factory=lambda: ComponentConfig(name="digits"))
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    lr_scheduler: LRSchedulerConfig = field(default_factory=LRSchedulerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    loss: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Key paths of values from secret environment variables, with their text as written
    # (`raytrain.redaction`; no values). Not part of the YAML form.
    secrets: tuple[tuple[str, str], ...] = field(default=(), compare=False)
