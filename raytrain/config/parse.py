"""Train config: plain mapping <-> typed `TrainConfig`, reporting every problem at once.

This is the one place where a YAML train config (or a space's `config:` section) becomes
typed objects; everything downstream takes a `TrainConfig`. `train_config_to_dict` is the
inverse and writes every default out, so an exported config is complete and explicit.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from raytrain.config.components import TARGET_KEY, check_builtin_kwargs, check_component
from raytrain.config.loss_terms import loss_problems
from raytrain.config.problems import Problems
from raytrain.config.registry import DATA, LR_SCHEDULERS, MODELS, OPTIMIZERS
from raytrain.config.schema import (
    CheckpointConfig,
    ComponentConfig,
    LoggingConfig,
    LRSchedulerConfig,
    MlflowConfig,
    OptimizerConfig,
    ResourcesConfig,
    TrainConfig,
    TrainerConfig,
    WandbConfig,
)
from raytrain.config.tree import suggest
from raytrain.config.types_check import at_least, check_fields, is_int, is_number
from raytrain.config.yaml_io import LineMap

SECTIONS = (
    "seed",
    "model",
    "data",
    "optimizer",
    "lr_scheduler",
    "trainer",
    "checkpoint",
    "logging",
    "resources",
    "loss",
)

PRECISIONS = (
    "64-true",
    "64",
    "32-true",
    "32",
    "16-mixed",
    "16",
    "bf16-mixed",
    "bf16",
    "16-true",
    "bf16-true",
    "transformer-engine",
    "transformer-engine-float16",
)


def _limit_batches(value: Any) -> str | None:
    if value is None or (is_int(value) and value >= 1) or (is_number(value) and 0 < value <= 1):
        return None
    return f"must be a fraction in (0, 1] or a number of batches >= 1, got {value!r}"


def _precision(value: Any) -> str | None:
    if str(value) in PRECISIONS:
        return None
    return f"unknown precision {value!r}; {suggest(str(value), PRECISIONS, 'valid precisions')}"


_TRAINER_RULES = {
    "max_epochs": at_least(1),
    "precision": _precision,
    "gradient_clip_val": at_least(0),
    "accumulate_grad_batches": at_least(1),
    "check_val_every_n_epoch": at_least(1),
    "early_stopping_patience": at_least(1),
    "limit_train_batches": _limit_batches,
    "limit_val_batches": _limit_batches,
    "log_every_n_steps": at_least(1),
    "report_every": lambda v: None if v is None else at_least(1)(v),
    "report_unit": lambda v: None if v in ("steps", "samples") else "must be steps or samples",
    "max_t": lambda v: None if v is None else at_least(1)(v),
}
_CHECKPOINT_RULES = {"every_n_epochs": at_least(0), "num_to_keep": at_least(1)}
_METRIC_IS_DEFAULT = "metric_is_default"
_RESOURCE_RULES = {
    "workers": at_least(1),
    "cpus_per_worker": at_least(0),
    "gpus_per_worker": at_least(0),
}
_NO_KEYS = "API keys are never read from files: set WANDB_API_KEY in the environment"
_WANDB_FORBIDDEN = {k: _NO_KEYS for k in ("api_key", "key", "apikey", "token")}
_NO_MLFLOW_SECRETS = (
    "credentials are never read from files: set MLFLOW_TRACKING_USERNAME and "
    "MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) in the environment"
)
_MLFLOW_FORBIDDEN = {k: _NO_MLFLOW_SECRETS for k in ("password", "token", "username")}


def parse_train_config(
    raw: Mapping[str, Any],
    *,
    file: str | None = None,
    lines: LineMap | None = None,
    prefix: tuple[str, ...] = (),
) -> TrainConfig:
    """Validate `raw` and build a `TrainConfig`; raise `InputError` listing every problem.

    `prefix` names where the mapping sits in its file (`("config",)` inside a space file)
    so that messages carry the full key path and the right line.
    """
    probs = Problems(lines or LineMap(file), prefix)
    cfg = check_train_config(raw, probs)
    probs.raise_if_any()
    return cfg


def check_train_config(raw: Any, probs: Problems) -> TrainConfig:
    """Like `parse_train_config`, but adds problems to `probs` (best-effort result)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        probs.add((), f"expected a mapping (the train config), got {raw!r}")
        return TrainConfig()
    for key in raw:
        if key not in SECTIONS:
            probs.add((key,), f"unknown key; {suggest(key, SECTIONS)}")
    seed = raw.get("seed", 0)
    if not is_int(seed):
        probs.add(("seed",), f"expected an integer, got {seed!r}")
        seed = 0
    model = _component(raw.get("model"), probs.under("model"), MODELS, "mlp")
    data = _component(raw.get("data"), probs.under("data"), DATA, "digits")
    trainer_raw = raw.get("trainer")
    if isinstance(trainer_raw, Mapping) and is_int(trainer_raw.get("precision")):
        trainer_raw = {**trainer_raw, "precision": str(trainer_raw["precision"])}  # 16 -> "16"
    trainer = check_fields(TrainerConfig, trainer_raw, probs.under("trainer"), _TRAINER_RULES)
    if trainer.get("report_every") is not None and trainer.get("check_val_every_n_epoch", 1) != 1:
        probs.add(
            ("trainer", "check_val_every_n_epoch"),
            "not with report_every (validation runs every report_every steps/samples instead)",
        )
    if trainer.get("max_t") is not None and trainer.get("report_every") is None:
        probs.add(
            ("trainer", "max_t"),
            "only with report_every (max_t counts report_unit steps/samples; per-epoch runs "
            "end at max_epochs)",
        )
    return TrainConfig(
        seed=seed,
        model=model,
        data=data,
        optimizer=_optimizer(raw.get("optimizer"), probs.under("optimizer")),
        lr_scheduler=_lr_scheduler(raw.get("lr_scheduler"), probs.under("lr_scheduler")),
        trainer=TrainerConfig(**trainer),
        checkpoint=_checkpoint(raw.get("checkpoint"), probs.under("checkpoint")),
        logging=_logging(raw.get("logging"), probs.under("logging")),
        resources=ResourcesConfig(
            **check_fields(
                ResourcesConfig,
                raw.get("resources"),
                probs.under("resources"),
                _RESOURCE_RULES,
                aliases={"workers_per_trial": "workers"},
            )
        ),
        loss=_loss(raw.get("loss"), probs.under("loss"), model),
    )


def _checkpoint(raw: Any, probs: Problems) -> CheckpointConfig:
    fields = check_fields(
        CheckpointConfig,
        raw,
        probs,
        _CHECKPOINT_RULES,
        forbidden={_METRIC_IS_DEFAULT: "unknown key: leave `metric` out to use the default"},
    )
    given = isinstance(raw, Mapping) and "metric" in raw
    return CheckpointConfig(**fields, metric_is_default=not given)


def _component(raw: Any, probs: Problems, registry: Any, default: str) -> ComponentConfig:
    name, target, kwargs = check_component(raw, probs, registry, default)
    return ComponentConfig(name=name, target=target, kwargs=kwargs)


def _named(raw: Any, probs: Problems, registry: Any, default: str, fixed: tuple[str, ...]):
    """Shared shape of optimizer / lr_scheduler: `name` + keyword arguments."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        probs.add((), f"expected a mapping with `name`, got {raw!r}")
        return default, {}, {}
    name = raw.get("name", default)
    fixed_values = {k: raw[k] for k in fixed if k in raw}
    kwargs = {k: v for k, v in raw.items() if k != "name" and k not in fixed}
    if not isinstance(name, str) or name not in registry:
        probs.add(("name",), f"unknown {registry.kind} {name!r}; {registry.suggest(str(name))}")
    else:
        check_builtin_kwargs(registry[name], kwargs, probs, registry.kind)
    return name, kwargs, fixed_values


def _optimizer(raw: Any, probs: Problems) -> OptimizerConfig:
    if raw is None:
        return OptimizerConfig()
    name, kwargs, _ = _named(raw, probs, OPTIMIZERS, "adamw", ())
    lr = kwargs.get("lr")
    if is_number(lr) and lr <= 0:
        probs.add(("lr",), f"must be > 0, got {lr!r}")
    wd = kwargs.get("weight_decay")
    if is_number(wd) and wd < 0:
        probs.add(("weight_decay",), f"must be >= 0, got {wd!r}")
    return OptimizerConfig(name=name, kwargs=kwargs)


def _lr_scheduler(raw: Any, probs: Problems) -> LRSchedulerConfig:
    name, kwargs, fixed = _named(raw, probs, LR_SCHEDULERS, "none", ("warmup_epochs",))
    warmup = fixed.get("warmup_epochs", 0)
    if not is_int(warmup) or warmup < 0:
        probs.add(("warmup_epochs",), f"expected an integer >= 0, got {warmup!r}")
        warmup = 0
    return LRSchedulerConfig(name=name, warmup_epochs=warmup, kwargs=kwargs)


def _logging(raw: Any, probs: Problems) -> LoggingConfig:
    if raw is None:
        return LoggingConfig()
    if not isinstance(raw, Mapping):
        check_fields(LoggingConfig, raw, probs)  # reports "expected a mapping"
        return LoggingConfig()
    plain = {k: v for k, v in raw.items() if k not in _TRACKERS}
    fields = check_fields(LoggingConfig, plain, probs)
    wandb = _tracker(raw.get("wandb"), WandbConfig, probs.under("wandb"), _WANDB_FORBIDDEN)
    mlflow = _tracker(
        raw.get("mlflow"),
        MlflowConfig,
        probs.under("mlflow"),
        _MLFLOW_FORBIDDEN,
        rules={"tracking_uri": _no_credentials_in_uri},
    )
    return LoggingConfig(tensorboard=fields.get("tensorboard", True), wandb=wandb, mlflow=mlflow)


_TRACKERS = ("wandb", "mlflow")


def _tracker(raw: Any, cls: type, probs: Problems, forbidden: Mapping[str, str], **kw: Any) -> Any:
    """A tracker section: null/false is off, true or a mapping is on (its defaults)."""
    if raw in (None, False):
        return None
    fields = check_fields(cls, {} if raw is True else raw, probs, forbidden=forbidden, **kw)
    return cls(**fields)


def _no_credentials_in_uri(value: Any) -> str | None:
    """http://user:secret@host would put the password in every file the config goes to."""
    if isinstance(value, str) and "@" in value.partition("://")[2].partition("/")[0]:
        return _NO_MLFLOW_SECRETS
    return None


def _loss(raw: Any, probs: Problems, model: ComponentConfig) -> dict[str, dict[str, Any]]:
    """Loss terms: the built-in model declares which exist (`raytrain.config.loss_terms`)."""
    builtin = model.target is None and isinstance(model.name, str) and model.name in MODELS
    name = model.name if builtin else None
    for path, message in loss_problems(name, raw):
        probs.add(path, message)
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): dict(v) for k, v in raw.items() if isinstance(v, Mapping)}


def train_config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """The complete YAML-able form of `cfg`; `parse_train_config` of it gives `cfg` back."""

    def component(c: ComponentConfig) -> dict[str, Any]:
        head = {TARGET_KEY: c.target} if c.target is not None else {"name": c.name}
        return {**head, **c.kwargs}

    wandb, mlflow = cfg.logging.wandb, cfg.logging.mlflow
    out = {
        "seed": cfg.seed,
        "model": component(cfg.model),
        "data": component(cfg.data),
        "optimizer": {"name": cfg.optimizer.name, **cfg.optimizer.kwargs},
        "lr_scheduler": {
            "name": cfg.lr_scheduler.name,
            "warmup_epochs": cfg.lr_scheduler.warmup_epochs,
            **cfg.lr_scheduler.kwargs,
        },
        "trainer": dataclasses.asdict(cfg.trainer),
        "checkpoint": _checkpoint_to_dict(cfg.checkpoint),
        "logging": {
            "tensorboard": cfg.logging.tensorboard,
            "wandb": None
            if wandb is None
            else {**dataclasses.asdict(wandb), "tags": list(wandb.tags)},
            "mlflow": None if mlflow is None else dataclasses.asdict(mlflow),
        },
        "resources": dataclasses.asdict(cfg.resources),
        "loss": {k: dict(v) for k, v in cfg.loss.items()},
    }
    return copy.deepcopy(out)


def _checkpoint_to_dict(ckpt: CheckpointConfig) -> dict[str, Any]:
    """A defaulted metric stays out, so the written config reads back the same way."""
    out = dataclasses.asdict(ckpt)
    del out[_METRIC_IS_DEFAULT]
    if ckpt.metric_is_default:
        del out["metric"]
    return out
