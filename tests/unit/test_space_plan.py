"""The plan `raytrain validate` prints."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from raytrain.space import load_space, render_plan

REPO = Path(__file__).resolve().parents[2]


def test_plan_of_the_conditional_space() -> None:
    plan = render_plan(load_space(REPO / "search_spaces" / "conditional.yaml"))
    assert "objective: minimise val_loss" in plan
    assert "optimizer.momentum" in plan and "when optimizer.name = sgd" in plan
    assert "when optimizer.momentum = 0.9" in plan
    assert "when lr_scheduler.name in {cosine, step}" in plan
    assert "float [0.0001, 0.1] log" in plan
    assert "trials: 24" in plan
    assert "sampler: tpe (seed 0, n_startup_trials 8" in plan
    assert "ASHA rungs (epochs where trials are compared): 1, 3, 9" in plan
    assert "1 worker(s) x (1 CPU, 0 GPU)" in plan
    assert "max_concurrent_trials: auto" in plan


def test_plan_lists_constants_and_fifo(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "config: {trainer: {max_epochs: 3}}\nmetric: val_acc\nmode: max\n"
        "parameters:\n  model.hidden: {type: int, low: 8, high: 64, step: 8}\n"
        "  model.depth: 3\n"
        "scheduler: {type: fifo}\n"
        "resources: {workers: 2, cpus_per_worker: 2, gpus_per_worker: 0.5, "
        "max_concurrent_trials: 3}\n"
    )
    plan = render_plan(load_space(path))
    assert "model.hidden  int   [8, 64] step 8" in plan
    assert "constants:\n  model.depth = 3" in plan
    assert "scheduler: fifo" in plan and "rungs" not in plan
    assert "2 worker(s) x (2 CPU, 0.5 GPU) = 4 CPU, 1 GPU" in plan
    assert "max_concurrent_trials: 3" in plan


USER_MODULES = """
import lightning.pytorch as pl
import torch

from raytrain.models.base import RaytrainModule


class OwnOptimizer(pl.LightningModule):
    def __init__(self, hidden: int = 8):
        super().__init__()
        self.layer = torch.nn.Linear(2, hidden)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class InheritsOwn(OwnOptimizer):
    pass


class ConfigOptimizer(pl.LightningModule):
    def __init__(self, hidden: int = 8):
        super().__init__()


class BuiltinStyle(RaytrainModule):
    def __init__(self, hidden: int = 8):
        super().__init__()
"""


def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    pytest.importorskip("lightning")
    name = f"plan_user_mod_{abs(hash(tmp_path))}"
    (tmp_path / f"{name}.py").write_text(USER_MODULES)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


@pytest.mark.parametrize(
    ("cls", "own"),
    [
        ("OwnOptimizer", True),
        ("InheritsOwn", True),
        ("ConfigOptimizer", False),
        ("BuiltinStyle", False),
    ],
)
def test_plan_says_when_the_model_brings_its_own_optimizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cls: str, own: bool
) -> None:
    module = user_module(tmp_path, monkeypatch)
    path = tmp_path / "s.yaml"
    path.write_text(
        f"config: {{model: {{_target_: {module}.{cls}}}, trainer: {{max_epochs: 2}}}}\n"
        "metric: val_loss\nmode: min\n"
        f"parameters:\n  model.hidden: {{type: int, low: 8, high: 16}}\n"
    )
    plan = render_plan(load_space(path))
    assert ("the model's own configure_optimizers" in plan) == own
    assert ("optimizer adamw, lr_scheduler none" in plan) == (not own)


def test_own_optimizer_rule_is_the_trainers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate's torch-free rule agrees with the one the trial applies."""
    from raytrain.config.components import defines_own_optimizers
    from raytrain.config.registry import MODELS
    from raytrain.trial import optimizers

    module = importlib.import_module(user_module(tmp_path, monkeypatch))
    classes = [getattr(module, n) for n in ("OwnOptimizer", "InheritsOwn", "ConfigOptimizer")]
    classes += [module.BuiltinStyle, *(MODELS[n].load() for n in MODELS.names())]
    for cls in classes:
        instance = cls.__new__(cls)  # the trial's rule looks at the type only
        assert defines_own_optimizers(cls) == optimizers.defines_own_optimizers(instance), cls
