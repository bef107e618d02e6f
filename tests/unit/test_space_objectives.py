"""`objectives:` / `constraints:` of a space file: parsing, validation, plan and dump."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from unit.test_space_validation import (
    DELETE,
    VALID,
    Replace,
    find,
    line_of,
    patched,
    problems,
    write,
)

from raytrain.config.yaml_io import dump_yaml
from raytrain.space import dump_space, load_space, render_plan
from raytrain.space.types import Constraint, Objective

MULTI: dict[str, Any] = patched(
    {
        "metric": DELETE,
        "mode": DELETE,
        "objectives": {"val_loss": "min", "val_acc": "max"},
        "constraints": [{"metric": "val_acc", ">=": 0.5}, {"metric": "epoch_time_s", "<=": 30}],
    }
)


def test_objectives_and_constraints_load(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, MULTI))
    assert space.objectives == (Objective("val_loss", "min"), Objective("val_acc", "max"))
    assert space.constraints == (
        Constraint("val_acc", ">=", 0.5),
        Constraint("epoch_time_s", "<=", 30.0),
    )
    assert space.multi_objective and (space.metric, space.mode) == ("val_loss", "min")
    assert space.watched_metrics == ["val_loss", "val_acc", "epoch_time_s"]
    # the checkpoint's "best" defaults to the first objective
    assert space.config["checkpoint"]["metric"] == "val_loss"


def test_single_metric_spaces_are_unchanged(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, VALID))
    assert space.objectives == (Objective("val_loss", "min"),)
    assert not space.multi_objective and space.constraints == ()
    assert "objectives" not in dump_space(space) and dump_space(space)["metric"] == "val_loss"


def test_dump_round_trips_a_multi_objective_space(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, MULTI))
    dumped = dump_space(space)
    assert "metric" not in dumped and dumped["objectives"] == MULTI["objectives"]
    again = load_space(write(tmp_path, dump_yaml(dumped), "again.yaml"))
    assert again.objectives == space.objectives and again.constraints == space.constraints


def test_plan_shows_objectives_constraints_and_the_pareto_scheduler(tmp_path: Path) -> None:
    plan = render_plan(load_space(write(tmp_path, MULTI)))
    assert "objectives (2, Pareto search):" in plan
    assert "  minimise val_loss" in plan and "  maximise val_acc" in plan
    assert "  val_acc >= 0.5" in plan and "  epoch_time_s <= 30" in plan
    assert "the sampler avoids infeasible regions" in plan  # tpe reads constraints
    assert "multi-objective ASHA" in plan


RULES: list[tuple[str, dict[str, Any], str, str]] = [
    ("metric with objectives", {"metric": "val_loss"}, "metric", "not both"),
    ("mode with objectives", {"mode": "min"}, "mode", "not both"),
    ("one objective", {"objectives": Replace({"val_loss": "min"})}, "objectives", "2 or more"),
    ("objectives as a list", {"objectives": ["val_loss", "val_acc"]}, "objectives", "2 or more"),
    ("bad mode", {"objectives": {"val_acc": "maximum"}}, "objectives.val_acc", "min or max"),
    (
        "constraint without comparator",
        {"constraints": [{"metric": "val_acc"}]},
        "constraints.0",
        "exactly one comparator",
    ),
    (
        "constraint without threshold",
        {"constraints": [{"metric": "val_acc", ">=": None}]},
        "constraints.0.>=",
        "must be a number",
    ),
    (
        "constraint with both comparators",
        {"constraints": [{"metric": "val_acc", ">=": 0.1, "<=": 0.9}]},
        "constraints.0",
        "got both",
    ),
    (
        "constraint without metric",
        {"constraints": [{">=": 0.1}]},
        "constraints.0",
        "needs `metric:`",
    ),
    (
        "misspelt comparator",
        {"constraints": [{"metric": "val_acc", "=>": 0.1}]},
        "constraints.0.=>",
        "unknown key",
    ),
    (
        "duplicate constraint",
        {"constraints": [{"metric": "a", ">=": 1}, {"metric": "a", ">=": 1}]},
        "constraints.1",
        "duplicate constraint",
    ),
    ("constraints not a list", {"constraints": {"metric": "a"}}, "constraints", "a list"),
    ("grid sampler", {"search": {"sampler": "grid"}}, "search.sampler", "optimises one"),
    ("cmaes sampler", {"search": {"sampler": "cmaes"}}, "search.sampler", "optimises one"),
]


@pytest.mark.parametrize(
    ("patch", "path", "fragment"), [r[1:] for r in RULES], ids=[r[0] for r in RULES]
)
def test_rule(tmp_path: Path, patch: dict[str, Any], path: str, fragment: str) -> None:
    data = (
        patched({"constraints": Replace(patch.pop("constraints"))}, MULTI)
        if "constraints" in patch
        else MULTI
    )
    file = write(tmp_path, patched(patch, data))
    found = find(problems(file), path, fragment)
    assert found.line is not None and found.file == str(file)


def test_constraints_need_several_objectives(tmp_path: Path) -> None:
    file = write(tmp_path, patched({"constraints": [{"metric": "val_acc", ">=": 0.5}]}))
    p = find(problems(file), "constraints", "multi-objective")
    assert p.line == line_of(file, "constraints:")


def test_duplicate_objective_is_reported_with_its_line(tmp_path: Path) -> None:
    text = dump_yaml(MULTI).replace("  val_acc: max\n", "  val_acc: max\n  val_loss: max\n")
    file = write(tmp_path, text)
    p = find(problems(file), "objectives.val_loss", "duplicate key")
    assert p.line == line_of(file, "  val_loss: max")


@pytest.mark.parametrize("name", ["vae_rate_distortion.yaml", "mlp_accuracy_size.yaml"])
def test_bundled_pareto_spaces_load(name: str) -> None:
    space = load_space(Path(__file__).resolve().parents[2] / "search_spaces" / name)
    assert space.multi_objective and space.constraints
    assert space.scheduler.type == "asha" and space.search.sampler == "tpe"
