"""The plan `raytrain validate` prints."""

from __future__ import annotations

from pathlib import Path

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
