"""Building trial components without Ray: models, data, optimizers, policy, errors."""

from __future__ import annotations

import pickle
from typing import Any

import lightning.pytorch as pl
import pytest
import torch

from raytrain.config.schema import (
    CheckpointConfig,
    ComponentConfig,
    LRSchedulerConfig,
    OptimizerConfig,
    TrainConfig,
    TrainerConfig,
)
from raytrain.errors import RunError
from raytrain.models import MLPClassifier
from raytrain.optim import Optimization, configure_optimizers
from raytrain.trial.checkpointing import CheckpointPolicy
from raytrain.trial.components import build_datamodule, build_model, import_target
from raytrain.trial.errors import MetricNotLoggedError, TrialError
from raytrain.trial.failures import explain_failure
from raytrain.trial.loop import prepare, required_metrics
from raytrain.trial.optimizers import attach_optimization
from raytrain.trial.report import scalar_metrics


class NoOptModule(pl.LightningModule):
    """A user module without configure_optimizers (raytrain supplies one)."""

    def __init__(self, width: int = 4, loss: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.loss_cfg = loss
        self.layer = torch.nn.Linear(64, width)


class OwnOptModule(NoOptModule):
    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.5)


def _cfg(**kw: Any) -> TrainConfig:
    return TrainConfig(**kw)


def test_builtin_model_gets_data_dimensions_and_kwargs() -> None:
    cfg = _cfg(
        model=ComponentConfig(name="mlp", kwargs={"hidden": 8}),
        data=ComponentConfig(name="synthetic", kwargs={"num_features": 7, "num_classes": 5}),
    )
    model = build_model(cfg, build_datamodule(cfg))
    assert isinstance(model, MLPClassifier)
    assert (model.hparams.input_dim, model.hparams.num_classes, model.hparams.hidden) == (7, 5, 8)


def test_config_optimizer_and_schedule_are_supplied() -> None:
    cfg = _cfg(
        model=ComponentConfig(name="mlp"),
        optimizer=OptimizerConfig(name="sgd", kwargs={"lr": 0.2, "momentum": 0.9}),
        lr_scheduler=LRSchedulerConfig(name="cosine", warmup_epochs=1),
    )
    model = build_model(cfg, build_datamodule(cfg))
    conf = model.configure_optimizers()
    assert isinstance(conf["optimizer"], torch.optim.SGD)
    assert conf["optimizer"].param_groups[0]["momentum"] == 0.9
    assert conf["optimizer"].param_groups[0]["lr"] == pytest.approx(0.1)  # warm-up epoch 0


def test_user_module_own_configure_optimizers_wins() -> None:
    own = OwnOptModule()
    assert not attach_optimization(own, Optimization())
    assert own.configure_optimizers().param_groups[0]["lr"] == 0.5
    plain = NoOptModule()
    assert attach_optimization(plain, Optimization(OptimizerConfig("adam", {"lr": 0.01})))
    assert isinstance(plain.configure_optimizers(), torch.optim.Adam)


def test_user_target_gets_loss_when_it_accepts_it() -> None:
    cfg = _cfg(
        model=ComponentConfig(target=f"{__name__}.NoOptModule", kwargs={"width": 3}),
        loss={"recon": {"weight": 2.0}},
    )
    model = build_model(cfg, build_datamodule(cfg))
    assert isinstance(model, NoOptModule) and model.loss_cfg == {"recon": {"weight": 2.0}}


def test_bad_targets_and_kwargs_explain_themselves() -> None:
    with pytest.raises(TrialError, match=r"cannot import _target_ 'nopkg_xyz\.mod\.Model'"):
        import_target("nopkg_xyz.mod.Model")
    with pytest.raises(TrialError, match="has no attribute 'Nope'"):
        import_target(f"{__name__}.Nope")
    cfg = _cfg(model=ComponentConfig(target=f"{__name__}.NoOptModule", kwargs={"depth": 2}))
    with pytest.raises(TrialError, match="depth"):
        build_model(cfg, build_datamodule(cfg))


def test_prepare_caches_data_per_data_config() -> None:
    cfg = _cfg(data=ComponentConfig(name="digits", kwargs={"batch_size": 17}))
    first = prepare(cfg)
    assert first.datamodule.train_set is not None  # built-ins load eagerly
    assert prepare(cfg).datamodule is first.datamodule
    other = _cfg(data=ComponentConfig(name="digits", kwargs={"batch_size": 18}))
    assert prepare(other).datamodule is not first.datamodule


def test_required_metrics_are_unique_and_ordered() -> None:
    cfg = _cfg(checkpoint=CheckpointConfig(metric="val_loss", extra_metrics={"val_acc": "max"}))
    assert required_metrics(cfg, ["val_acc", "f1"]) == ["val_loss", "val_acc", "f1"]


@pytest.mark.parametrize(
    ("every", "save_last", "wanted"),
    [
        (1, True, [1, 2, 3, 4, 5]),
        (2, False, [2, 4]),
        (2, True, [2, 4, 5]),
        (0, True, [5]),
        (0, False, []),
    ],
)
def test_checkpoint_policy(every: int, save_last: bool, wanted: list[int]) -> None:
    policy = CheckpointPolicy(every_n_epochs=every, save_last=save_last)
    assert [e for e in range(1, 6) if policy.wants(e, is_last=e == 5)] == wanted


def test_scalar_metrics_keeps_scalars_only() -> None:
    got = scalar_metrics({"a": torch.tensor(1.5), "b": torch.ones(3), "c": 2})
    assert got == {"a": 1.5, "c": 2.0}


def test_metric_not_logged_message_and_pickle() -> None:
    err = MetricNotLoggedError(["val_f1"], ["val_loss", "train_loss"])
    text = str(err)
    assert "'val_f1'" in text and "train_loss, val_loss" in text
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == text and isinstance(again, RunError)


def test_explain_failure_prefers_run_errors_and_summarises_others() -> None:
    from ray.exceptions import RayTaskError
    from ray.train.v2.api.exceptions import WorkerGroupError

    wrapped = RayTaskError("fn", "Traceback ...", MetricNotLoggedError(["m"], ["x"]))
    err = explain_failure(WorkerGroupError("boom", {1: wrapped, 0: wrapped}))
    assert "'m'" in str(err) and "Traceback" not in str(err)
    other = explain_failure(WorkerGroupError("boom", {0: ZeroDivisionError("division by zero")}))
    assert "rank 0: ZeroDivisionError: division by zero" in str(other)


def test_plain_lightning_fit_uses_config_schedule() -> None:
    """The config-driven optimizer + warm-up drive a real Lightning fit (no Ray)."""
    cfg = _cfg(
        model=ComponentConfig(name="mlp", kwargs={"hidden": 8}),
        data=ComponentConfig(name="synthetic", kwargs={"num_samples": 64, "num_features": 4}),
        optimizer=OptimizerConfig(name="sgd", kwargs={"lr": 0.3}),
        lr_scheduler=LRSchedulerConfig(name="step", warmup_epochs=2, kwargs={"step_size": 1}),
        trainer=TrainerConfig(max_epochs=3),
    )
    dm = build_datamodule(cfg)
    model = build_model(cfg, dm)
    seen: list[float] = []

    class Spy(pl.Callback):
        def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            seen.append(trainer.optimizers[0].param_groups[0]["lr"])

    trainer = pl.Trainer(
        max_epochs=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Spy()],
    )
    trainer.fit(model, datamodule=dm)
    assert seen == pytest.approx([0.1, 0.2, 0.3])
    assert {"train_loss", "val_loss", "val_acc"} <= set(trainer.callback_metrics)
    assert configure_optimizers(model, Optimization()).__class__ is torch.optim.AdamW


def test_lightning_trainer_honours_the_trainer_config() -> None:
    from lightning.pytorch.callbacks import EarlyStopping

    from raytrain.trial.loop import trainer_kwargs, trial_callbacks
    from raytrain.trial.report import EpochReportCallback

    cfg = _cfg(
        trainer=TrainerConfig(
            max_epochs=7,
            gradient_clip_val=0.5,
            accumulate_grad_batches=2,
            check_val_every_n_epoch=2,
            early_stopping_patience=3,
            limit_train_batches=4,
            precision="bf16-mixed",
        ),
        checkpoint=CheckpointConfig(metric="val_acc", mode="max"),
    )
    callbacks = trial_callbacks(cfg, ["val_loss"])
    # A plain Trainer accepts exactly these arguments (the Ray wiring is added in workers).
    trainer = pl.Trainer(callbacks=callbacks, **trainer_kwargs(cfg))
    assert (trainer.max_epochs, trainer.gradient_clip_val, trainer.accumulate_grad_batches) == (
        7,
        0.5,
        2,
    )
    assert (trainer.check_val_every_n_epoch, trainer.limit_train_batches) == (2, 4)
    assert trainer.precision == "bf16-mixed"
    stopper = next(c for c in trainer.callbacks if isinstance(c, EarlyStopping))
    assert (stopper.monitor, stopper.mode, stopper.patience) == ("val_acc", "max", 3)
    reporter = next(c for c in trainer.callbacks if isinstance(c, EpochReportCallback))
    assert reporter.required_metrics == ("val_acc", "val_loss")
    assert trainer.logger is None and not trainer.progress_bar_callback
    assert _cfg().trainer.limit_train_batches is None
    assert "limit_train_batches" not in trainer_kwargs(_cfg())


def test_user_code_runtime_env_local_and_remote(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    import raytrain
    from raytrain.runtime_env import INHERIT_ENV, POLL_ENV, user_code_runtime_env

    (tmp_path / "mypkg_rt").mkdir()
    (tmp_path / "mypkg_rt" / "__init__.py").write_text("")
    (tmp_path / "mydata_rt.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.delenv(POLL_ENV, raising=False)
    monkeypatch.delenv(INHERIT_ENV, raising=False)
    cfg = _cfg(
        model=ComponentConfig(target="mypkg_rt.models.Net"),
        data=ComponentConfig(target="mydata_rt.Data"),
    )
    assert user_code_runtime_env(cfg, tmp_path, remote=False) == {
        "env_vars": {POLL_ENV: "0.2", "PYTHONPATH": str(tmp_path)}
    }
    remote = user_code_runtime_env(cfg, tmp_path, remote=True)
    assert remote["env_vars"] == {POLL_ENV: "0.2"}
    shipped = remote["py_modules"]
    assert shipped == [
        str((tmp_path / "mypkg_rt").resolve()),
        str((tmp_path / "mydata_rt.py").resolve()),
        str(Path(raytrain.__file__).parent),
    ]
    # a SLURM job's Ray started from the job's environment: nothing to ship or set
    monkeypatch.setenv(INHERIT_ENV, "1")
    assert user_code_runtime_env(cfg, tmp_path, remote=True) == {}
    assert "env_vars" in user_code_runtime_env(cfg, tmp_path, remote=False)
