"""Reports inside epochs (`scheduler.time_attr: steps | samples`) in a plain Lightning
fit, without Ray: cadence, the last report, a stop mid-epoch, and a mid-epoch resume."""

from __future__ import annotations

import os
from typing import Any

import lightning.pytorch as pl
import pytest

from raytrain.config.schema import ComponentConfig, TrainConfig, TrainerConfig
from raytrain.trial.components import build_model
from raytrain.trial.loop import prepare, report_interval, trainer_kwargs, trial_callbacks

# digits: 1437 training samples at val_fraction 0.2 -> 23 batches of 64 per epoch
BATCHES = 23


class ListSink:
    """Records every report; `stop_after` = stop the fit at that report (as ASHA does)."""

    def __init__(
        self, stop_after: int | None = None, save_at: int | None = None, folder: str = ""
    ) -> None:
        self.reports: list[tuple[dict[str, Any], bool, bool]] = []
        self.stop_after, self.save_at, self.folder = stop_after, save_at, folder

    def report(
        self, trainer: pl.Trainer, metrics: dict[str, Any], wants_checkpoint: bool, is_last: bool
    ) -> None:
        self.reports.append((metrics, wants_checkpoint, is_last))
        if len(self.reports) == self.save_at:
            trainer.save_checkpoint(os.path.join(self.folder, "at.ckpt"))
        if len(self.reports) == self.stop_after:
            trainer.should_stop = True


def _cfg(unit: str = "steps", every: int = 10, epochs: int = 2) -> TrainConfig:
    return TrainConfig(
        model=ComponentConfig(name="mlp", kwargs={"hidden": 16}),
        data=ComponentConfig(name="digits", kwargs={"batch_size": 64}),
        trainer=TrainerConfig(max_epochs=epochs, report_every=every, report_unit=unit),  # type: ignore[arg-type]
    )


def _fit(cfg: TrainConfig, sink: ListSink, ckpt: str | None = None) -> pl.Trainer:
    prepared = prepare(cfg)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    model = build_model(cfg, prepared.datamodule)
    trainer = pl.Trainer(
        callbacks=trial_callbacks(cfg, ["val_loss"], sink),  # type: ignore[arg-type]
        **trainer_kwargs(cfg, report_interval(cfg, prepared.datamodule)),
    )
    trainer.fit(model, datamodule=prepared.datamodule, ckpt_path=ckpt)
    return trainer


def test_steps_report_every_n_steps_inside_epochs_and_once_at_the_end() -> None:
    sink = ListSink()
    _fit(_cfg("steps", 10, epochs=2), sink)
    steps = [m["steps"] for m, _, _ in sink.reports]
    # 46 steps in all: reports at 10..40 (two of them mid-epoch 1) and at the last step
    assert steps == [10, 20, 30, 40, 2 * BATCHES]
    assert [last for _, _, last in sink.reports] == [False] * 4 + [True]
    epochs = [m["epoch"] for m, _, _ in sink.reports]
    assert epochs[0] == pytest.approx(10 / BATCHES, abs=1e-3) and epochs[-1] == 2
    assert all("val_loss" in m for m, _, _ in sink.reports)
    assert all(ckpt for _, ckpt, _ in sink.reports)  # every_n_epochs 1 = every report
    assert sink.reports[-1][0]["samples"] == 2 * 1437


def test_samples_convert_to_batches_and_count_what_was_trained() -> None:
    cfg = _cfg("samples", 500, epochs=1)
    assert report_interval(cfg, prepare(cfg).datamodule) == 8  # ceil(500 / 64)
    sink = ListSink()
    _fit(cfg, sink)
    assert [m["samples"] for m, _, _ in sink.reports] == [512, 1024, 1437]
    assert [m["steps"] for m, _, _ in sink.reports] == [8, 16, BATCHES]


def test_a_stop_mid_epoch_trains_no_further_step() -> None:
    sink = ListSink(stop_after=2)
    trainer = _fit(_cfg("steps", 5, epochs=3), sink)
    assert [m["steps"] for m, _, _ in sink.reports] == [5, 10]
    assert trainer.global_step == 10


@pytest.mark.parametrize(
    ("unit", "every", "max_t", "progress", "steps"),
    [
        # the first report at or past max_t is the last: 25 -> 30, as ASHA ends a trial there
        ("steps", 10, 25, [10, 20, 30], 30),
        ("samples", 500, 1000, [512, 1024], 16),
    ],
)
def test_max_t_ends_the_fit_at_its_first_report_past_it(
    unit: str, every: int, max_t: int, progress: list[int], steps: int
) -> None:
    cfg = _cfg(unit, every, epochs=3)
    trainer_cfg = TrainerConfig(max_epochs=3, report_every=every, report_unit=unit, max_t=max_t)  # type: ignore[arg-type]
    cfg = TrainConfig(model=cfg.model, data=cfg.data, trainer=trainer_cfg)
    sink = ListSink()
    trainer = _fit(cfg, sink)
    assert [m[unit] for m, _, _ in sink.reports] == progress
    assert [last for _, _, last in sink.reports] == [False] * (len(progress) - 1) + [True]
    assert sink.reports[-1][1]  # the last report checkpoints (save_last)
    assert trainer.global_step == steps  # no step past the last report


def test_max_t_needs_report_every() -> None:
    from raytrain.config.parse import parse_train_config
    from raytrain.errors import InputError

    with pytest.raises(InputError, match=r"trainer\.max_t: only with report_every"):
        parse_train_config({"trainer": {"max_t": 100}})
    cfg = parse_train_config({"trainer": {"report_every": 10, "max_t": 100}})
    assert cfg.trainer.max_t == 100


def test_a_mid_epoch_checkpoint_resumes_at_its_step(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = ListSink(save_at=3, stop_after=3, folder=str(tmp_path))
    _fit(_cfg("steps", 7, epochs=2), first)
    assert first.reports[-1][0]["steps"] == 21  # mid-epoch 1 (23 batches)
    again = ListSink()
    _fit(_cfg("steps", 7, epochs=2), again, ckpt=str(tmp_path / "at.ckpt"))
    steps = [m["steps"] for m, _, _ in again.reports]
    assert steps[0] == 28 and steps[-1] == 2 * BATCHES  # goes on, never back to 7
    assert again.reports[0][0]["samples"] > first.reports[-1][0]["samples"]


def test_samples_need_a_batch_size() -> None:
    from raytrain.trial.loop import batch_size_of

    with pytest.raises(ValueError, match="batch_size"):
        batch_size_of(pl.LightningDataModule())


def test_a_fit_without_validation_still_reports_its_end() -> None:
    from raytrain.config.schema import CheckpointConfig

    cfg = _cfg("steps", 10, epochs=2)
    cfg = TrainConfig(
        model=cfg.model,
        data=cfg.data,
        trainer=TrainerConfig(max_epochs=2, report_every=10, limit_val_batches=0),
        checkpoint=CheckpointConfig(metric="train_loss"),
    )
    sink = ListSink()
    prepared = prepare(cfg)
    model = build_model(cfg, prepared.datamodule)
    trainer = pl.Trainer(
        callbacks=trial_callbacks(cfg, [], sink),  # type: ignore[arg-type]
        **trainer_kwargs(cfg, report_interval(cfg, prepared.datamodule)),
    )
    trainer.fit(model, datamodule=prepared.datamodule)
    assert [(m["steps"], last) for m, _, last in sink.reports] == [(2 * BATCHES, True)]
