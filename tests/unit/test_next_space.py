"""`analyze --next-space`: a run's space narrowed by its results, each change commented.

The run is built in memory (`Run` + `TrialRecord`s with chosen values), so every rule is
hit on purpose; the written file is loaded back with the real space parser."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtures.runs import make_run

from raytrain.cli import main
from raytrain.errors import InputError
from raytrain.results import TERMINATED, Run, TrialRecord
from raytrain.results.importance import Importance
from raytrain.results.next_space import MARGIN, next_space, top_trials
from raytrain.results.specs import run_params
from raytrain.space import dump_space, load_space

SPACE: dict[str, Any] = {
    "name": "wide",
    "config": {
        "model": {"name": "mlp", "hidden": 64, "depth": 1, "dropout": 0.1},
        "data": {"name": "digits", "batch_size": 64},
        "optimizer": {"name": "adamw", "lr": 1.0e-3},
        "trainer": {"max_epochs": 5},
    },
    "metric": "val_loss",
    "mode": "min",
    "parameters": {
        "optimizer.lr": {"type": "float", "low": 1.0e-5, "high": 1.0e-1, "log": True},
        "model.hidden": {"type": "int", "low": 16, "high": 256, "step": 16},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.05},
        "optimizer.name": {"type": "categorical", "values": ["adamw", "sgd", "rmsprop"]},
        "optimizer.momentum": {
            "type": "float",
            "low": 0.0,
            "high": 0.99,
            "when": {"optimizer.name": ["sgd", "rmsprop"]},
        },
        "optimizer.alpha": {
            "type": "float",
            "low": 0.9,
            "high": 0.999,
            "when": {"optimizer.name": "rmsprop"},
        },
    },
    "search": {"sampler": "tpe", "num_samples": 40, "seed": 0},
}
BEST_LR = 1e-3


def stored_space(tmp_path: Path) -> dict[str, Any]:
    """What a run keeps as space.yaml (the dump of the validated space)."""
    path = tmp_path / "wide.yaml"
    path.write_text(yaml.safe_dump(SPACE, sort_keys=False))
    return dump_space(load_space(path))


def loss(p: dict[str, Any]) -> float:
    """lr matters, dropout does not, rmsprop is always bad."""
    value = 0.1 + abs(math.log10(p["optimizer.lr"] / BEST_LR)) + 0.001 * p["model.hidden"] / 16
    return value + (5.0 if p["optimizer.name"] == "rmsprop" else 0.0)


def make_trials(n: int = 40, seed: int = 0) -> list[TrialRecord]:
    rng = random.Random(seed)
    trials = []
    for i in range(n):
        name = ["adamw", "sgd", "rmsprop"][i % 3]
        params: dict[str, Any] = {
            "optimizer.lr": 10 ** rng.uniform(-5, -1),
            "model.hidden": 16 * rng.randint(1, 16),
            "model.dropout": round(0.05 * rng.randint(0, 10), 2),
            "optimizer.name": name,
        }
        if name != "adamw":
            params["optimizer.momentum"] = rng.uniform(0, 0.99)
        if name == "rmsprop":
            params["optimizer.alpha"] = rng.uniform(0.9, 0.999)
        v = loss(params)
        trials.append(TrialRecord(f"t{i:03d}", TERMINATED, params, epochs=5, value=v, best_value=v))
    return trials


def make(tmp_path: Path, trials: list[TrialRecord]) -> tuple[Run, dict[str, Any]]:
    run = Run(
        path=tmp_path / "runs" / "wide",
        name="wide",
        metric="val_loss",
        mode="min",
        space=stored_space(tmp_path),
        trials=trials,
        param_paths=list(SPACE["parameters"]),
    )
    return run, run_params(run)


IMPORTANCE = Importance(
    values={
        "optimizer.lr": 0.9,
        "model.hidden": 0.05,
        "optimizer.name": 0.04,
        "model.dropout": 0.001,
        "optimizer.momentum": 0.005,
    },
    trials_used=40,
)


def lines_by_path(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        stripped = line.strip().removeprefix("# ")
        for path in SPACE["parameters"]:
            if stripped.startswith(f"{path}:"):
                out[path] = line
    return out


def test_the_next_space_narrows_freezes_drops_and_comments_every_change(tmp_path: Path) -> None:
    run, params = make(tmp_path, make_trials())
    result = next_space(run, params, IMPORTANCE)
    out = tmp_path / "next.yaml"
    out.write_text(result.text)
    space = load_space(out)  # a valid space file
    assert space.name == "wide-next"
    by_path = {p.path: p for p in space.parameters}
    top = top_trials(run)

    # lr: the top trials' range plus the margin, inside the old range
    lr = by_path["optimizer.lr"]
    top_lrs = [t.params["optimizer.lr"] for t in top]
    assert 1e-5 <= lr.low <= min(top_lrs) and max(top_lrs) <= lr.high <= 1e-1
    assert lr.high / lr.low < 1e4, "not narrowed"
    width = math.log(1e-1 / 1e-5)
    assert math.log(min(top_lrs) / lr.low) <= MARGIN * width + 0.01  # + outward rounding
    # hidden: on its step grid, holding the top trials' values
    hidden = by_path["model.hidden"]
    top_hidden = [t.params["model.hidden"] for t in top]
    assert hidden.low <= min(top_hidden) and max(top_hidden) <= hidden.high
    assert (hidden.low - 16) % 16 == 0 and (hidden.high - 16) % 16 == 0
    # dropout: importance ~0 -> a constant at the best trial's value
    assert "model.dropout" not in by_path
    assert space.constants["model.dropout"] == top[0].params["model.dropout"]
    # optimizer.name is named by conditions: not frozen although its importance is small
    # (0.04 is above the threshold anyway); rmsprop never won and is dropped
    assert by_path["optimizer.name"].values == ("adamw", "sgd")
    # momentum is conditional: not frozen; its condition loses rmsprop
    assert by_path["optimizer.momentum"].when == {"optimizer.name": ("sgd",)}
    # alpha existed only for rmsprop: removed (kept as a comment)
    assert "optimizer.alpha" not in by_path and "optimizer.alpha" not in space.constants

    lines = lines_by_path(result.text)
    changed = {change.split(":")[0] for change in result.changes}
    assert changed == {
        "optimizer.lr",
        "model.hidden",
        "model.dropout",
        "optimizer.name",
        "optimizer.momentum",
        "optimizer.alpha",
    }
    for path in changed:
        assert "  # " in lines[path], f"{path}: the change has no comment: {lines[path]!r}"
    assert lines["optimizer.alpha"].lstrip().startswith("# optimizer.alpha:")
    assert "rmsprop (" in lines["optimizer.name"] and "never in the top" in lines["optimizer.name"]
    assert "--warm-from" in result.text


def test_without_importance_or_a_losing_category_only_ranges_change(tmp_path: Path) -> None:
    # every trial equally good (ties ranked by id, so each optimizer is in the top) and no
    # importance computed: nothing is frozen, dropped or removed
    trials = make_trials()
    for t in trials:
        t.best_value = t.value = 1.0
    run, params = make(tmp_path, trials)
    result = next_space(run, params, Importance())
    specs = yaml.safe_load(result.text)["parameters"]
    assert specs["optimizer.name"]["values"] == ["adamw", "sgd", "rmsprop"]
    assert specs["model.dropout"]["type"] == "float" and "optimizer.alpha" in specs
    assert all("narrowed from" in change for change in result.changes)


def test_too_few_trials_is_an_input_error(tmp_path: Path) -> None:
    run, params = make(tmp_path, make_trials(n=6))
    with pytest.raises(InputError, match="at least 10"):
        next_space(run, params, IMPORTANCE)


def test_cli_writes_a_valid_next_space_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_dir = make_run(tmp_path / "runs", tensorboard=False, n_done=30, n_running=0, n_pending=0)
    out = tmp_path / "next.yaml"
    assert main(["analyze", str(run_dir), "--no-plots", "--next-space", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"next space: {out}" in printed
    space = load_space(out)
    assert space.name == "fake-sweep-next"
    assert main(["analyze", str(run_dir), "--no-plots", "--next-space", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
