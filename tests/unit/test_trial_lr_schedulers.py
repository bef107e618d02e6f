"""Learning-rate schedules: warm-up and main-schedule multipliers, and the torch wiring."""

from __future__ import annotations

import inspect
import itertools
import math

import pytest
import torch

from raytrain.config.registry import LR_SCHEDULERS
from raytrain.optim import lr_schedulers as ls
from raytrain.optim.lr_schedulers import ScheduleContext


def _opt(lr: float = 0.1) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def _lrs(schedule: dict, optimizer: torch.optim.Optimizer, epochs: int) -> list[float]:
    """The lr each epoch trains at, stepping the scheduler the way Lightning does."""
    out = []
    for _ in range(epochs):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        sched = schedule["scheduler"]
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(1.0)  # a metric that never improves
        else:
            sched.step()
    return out


def test_warmup_is_linear_then_full() -> None:
    assert [ls.warmup_factor(e, 3) for e in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert ls.warmup_factor(0, 0) == 1.0


def test_cosine_after_warmup_goes_from_full_to_floor() -> None:
    values = [ls.cosine_factor(e, 2, 10, 0.0) for e in range(10)]
    assert values[:2] == [pytest.approx(1 / 3), pytest.approx(2 / 3)]
    assert values[2] == 1.0
    assert values[6] == pytest.approx(0.5 * (1 + math.cos(math.pi * 4 / 8)))
    assert all(a > b for a, b in itertools.pairwise(values[2:]))
    assert ls.cosine_factor(10, 2, 10, 0.1) == pytest.approx(0.1)


def test_step_decays_every_step_size_epochs_after_warmup() -> None:
    values = [ls.step_factor(e, 1, 2, 0.5) for e in range(6)]
    assert values == [0.5, 1.0, 1.0, 0.5, 0.5, 0.25]


def test_no_scheduler_without_warmup_is_none_and_with_warmup_ramps() -> None:
    assert ls.no_scheduler(_opt(), ScheduleContext()) is None
    opt = _opt(0.1)
    lrs = _lrs(ls.no_scheduler(opt, ScheduleContext(warmup_epochs=1)), opt, 3)  # type: ignore[arg-type]
    assert lrs == pytest.approx([0.05, 0.1, 0.1])


def test_cosine_torch_values_with_eta_min() -> None:
    opt = _opt(0.1)
    lrs = _lrs(ls.cosine(opt, ScheduleContext(warmup_epochs=1, max_epochs=5), eta_min=0.01), opt, 5)
    assert lrs[0] == pytest.approx(0.05)
    assert lrs[1] == pytest.approx(0.1)
    assert lrs[3] == pytest.approx(0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * 2 / 4)))


def test_step_torch_values() -> None:
    opt = _opt(1.0)
    lrs = _lrs(ls.step(opt, ScheduleContext(), step_size=2, gamma=0.1), opt, 5)
    assert lrs == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01])


def test_plateau_warms_up_then_reduces_on_a_flat_metric() -> None:
    opt = _opt(1.0)
    schedule = ls.plateau(
        opt, ScheduleContext(warmup_epochs=2, monitor="val_acc", mode="max"), factor=0.5, patience=0
    )
    assert schedule["monitor"] == "val_acc"
    lrs = _lrs(schedule, opt, 6)
    assert lrs[:3] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert lrs[-1] < 1.0  # the flat metric triggered reductions after warm-up


def test_plateau_monitor_override() -> None:
    schedule = ls.plateau(_opt(), ScheduleContext(), monitor="train_loss")
    assert schedule["monitor"] == "train_loss"


@pytest.mark.parametrize("name", LR_SCHEDULERS.names())
def test_registry_params_match_signature(name: str) -> None:
    entry = LR_SCHEDULERS[name]
    params = list(inspect.signature(entry.load()).parameters.values())[2:]  # optimizer, ctx
    assert {p.name: p.default for p in params} == dict(entry.params)
