"""Loading a space: defaults, `base:`, overrides, interpolation, and load -> dump -> load."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raytrain.config.yaml_io import dump_yaml
from raytrain.errors import InputError
from raytrain.space import dump_space, load_space
from raytrain.space.types import CategoricalParam, FloatParam, IntParam, Space

REPO = Path(__file__).resolve().parents[2]
SHIPPED = [REPO / "search_spaces" / n for n in ("quickstart.yaml", "conditional.yaml")]


def write(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


MINIMAL = textwrap.dedent(
    """\
    config:
      model: {name: mlp}
      trainer: {max_epochs: 7}
    metric: val_acc
    mode: max
    parameters:
      optimizer.lr: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}
    """
)


def test_defaults(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, MINIMAL, "my-space.yaml"))
    assert space.name == "my-space"
    assert space.scheduler.max_t == 7  # = config.trainer.max_epochs
    assert space.config["checkpoint"]["metric"] == "val_acc"  # the space's metric and mode
    assert space.config["checkpoint"]["mode"] == "max"
    assert space.config["data"] == {"name": "digits"}
    assert space.config["trainer"]["precision"] == "32-true"  # complete: defaults filled in
    assert space.search.sampler == "tpe"


def test_checkpoint_metric_can_differ_from_the_space(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "trainer: {max_epochs: 7}", "trainer: {max_epochs: 7}\n  checkpoint: {metric: val_loss}"
    )
    space = load_space(write(tmp_path, text))
    assert space.config["checkpoint"]["metric"] == "val_loss"


def test_scientific_notation_without_dot_is_a_float(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, MINIMAL.replace("1.0e-4", "1e-4")))
    assert space.parameters[0] == FloatParam("optimizer.lr", 1e-4, 0.1, log=True)


def test_constants_are_merged_into_config(tmp_path: Path) -> None:
    text = MINIMAL.replace("model: {name: mlp}", "model: {name: vae}") + (
        "  model.depth: 3\n  loss.recon: {type: constant, value: {type: bce, weight: 2.0}}\n"
    )
    space = load_space(write(tmp_path, text))
    assert space.constants == {"model.depth": 3, "loss.recon": {"type": "bce", "weight": 2.0}}
    assert space.config["model"]["depth"] == 3
    assert space.config["loss"] == {"recon": {"type": "bce", "weight": 2.0}}


def test_base_file_is_overridden_by_config(tmp_path: Path) -> None:
    write(
        tmp_path,
        """\
        model: {name: mlp, hidden: 32, depth: 3}
        optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
        trainer: {max_epochs: 4}
        provenance: {trial_id: abc}
        """,
        "base.yaml",
    )
    space_file = write(
        tmp_path,
        """\
        base: base.yaml
        config:
          model: {hidden: 64}
        metric: val_loss
        mode: min
        parameters:
          optimizer.lr: {type: float, low: 0.01, high: 0.1}
        """,
    )
    space = load_space(space_file)
    assert space.config["model"] == {"name": "mlp", "hidden": 64, "depth": 3}
    assert space.config["optimizer"] == {"name": "sgd", "lr": 0.1, "momentum": 0.9}
    assert space.scheduler.max_t == 4


def test_problem_in_base_file_names_the_base_file_and_line(tmp_path: Path) -> None:
    base = write(tmp_path, "model: {name: mlp}\ntrainer: {max_epoch: 4}\n", "base.yaml")
    space_file = write(
        tmp_path,
        """\
        base: base.yaml
        metric: val_loss
        mode: min
        parameters:
          optimizer.lr: {type: float, low: 0.01, high: 0.1}
        """,
    )
    with pytest.raises(InputError) as info:
        load_space(space_file)
    (p,) = info.value.problems
    assert (p.file, p.line, p.path) == (str(base), 2, "config.trainer.max_epoch")


def test_missing_base_file(tmp_path: Path) -> None:
    space_file = write(tmp_path, "base: nope.yaml\n" + MINIMAL)
    with pytest.raises(InputError) as info:
        load_space(space_file)
    assert any(p.path == "base" and p.line == 1 for p in info.value.problems)


def test_overrides(tmp_path: Path) -> None:
    space = load_space(
        write(tmp_path, MINIMAL),
        [
            "search.num_samples=8",
            "config.trainer.max_epochs=5",
            "parameters.optimizer.lr.high=0.05",
            "parameters.trainer.limit_train_batches=0.5",
            "search.sampler=random",
        ],
    )
    assert space.search.num_samples == 8
    assert space.search.sampler == "random"
    assert space.config["trainer"]["max_epochs"] == 5
    assert space.scheduler.max_t == 5
    assert space.parameters[0].high == 0.05  # type: ignore[union-attr]
    assert space.constants == {"trainer.limit_train_batches": 0.5}


def test_override_adds_a_parameter(tmp_path: Path) -> None:
    space = load_space(
        write(tmp_path, MINIMAL), ["parameters.model.hidden={type: int, low: 8, high: 64}"]
    )
    assert IntParam("model.hidden", 8, 64) in space.parameters


WITH_STEP = MINIMAL.replace(
    "trainer: {max_epochs: 7}",
    "trainer: {max_epochs: 7}\n  lr_scheduler: {name: step, step_size: '${trainer.max_epochs}'}",
)


def test_interpolation_in_config(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, WITH_STEP))
    assert space.config["lr_scheduler"]["step_size"] == 7


def test_interpolation_sees_overrides(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, WITH_STEP), ["config.trainer.max_epochs=3"])
    assert space.config["lr_scheduler"]["step_size"] == 3


def test_broken_interpolation_is_a_problem(tmp_path: Path) -> None:
    text = MINIMAL.replace("model: {name: mlp}", "model: {name: mlp, hidden: '${nope.x}'}")
    with pytest.raises(InputError) as info:
        load_space(write(tmp_path, text))
    (p,) = info.value.problems
    assert p.path == "config.model.hidden"
    assert "interpolation" in p.message


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_spaces_load_and_round_trip(path: Path, tmp_path: Path) -> None:
    space = load_space(path)
    again = tmp_path / path.name
    again.write_text(dump_yaml(dump_space(space)))
    assert _same(load_space(again), space)


def _same(a: Space, b: Space) -> bool:
    """Equal apart from the file each was read from."""
    return dataclasses.replace(a, source=None) == dataclasses.replace(b, source=None)


def test_conditional_space_has_a_second_level_condition() -> None:
    space = load_space(REPO / "search_spaces" / "conditional.yaml")
    by_path = {p.path: p for p in space.parameters}
    nesterov = by_path["optimizer.nesterov"]
    assert "optimizer.momentum" in nesterov.when
    assert by_path["optimizer.momentum"].when == {"optimizer.name": ("sgd",)}


# ---- hypothesis: any valid space survives load -> dump -> load -------------------------------

_names = st.sampled_from(["adamw", "adam", "sgd", "rmsprop"])
_scalars = st.one_of(
    st.integers(-5, 5),
    st.text(alphabet="abcxyz019.-e", min_size=1, max_size=6),
    st.booleans(),
    st.floats(-1e3, 1e3, allow_nan=False),
)


@st.composite
def float_params(draw: st.DrawFn, path: str) -> FloatParam:
    log = draw(st.booleans())
    low = draw(st.floats(1e-6, 1e3, allow_nan=False))
    high = draw(st.floats(low, max(low, 1e3) * 2 + 1, allow_nan=False))
    if log or not draw(st.booleans()):
        return FloatParam(path, low, high, log=log)
    step = draw(st.sampled_from([1e-3, 0.05, 0.1, 0.25, 1.0, 2.5]))
    return FloatParam(path, low, low + step * draw(st.integers(0, 40)), step=step)


@st.composite
def spaces(draw: st.DrawFn) -> dict:
    params: dict = {"optimizer.lr": _spec(draw(float_params("optimizer.lr")))}
    lo = draw(st.integers(1, 50))
    params["model.hidden"] = {
        "type": "int",
        "low": lo,
        "high": draw(st.integers(lo, 300)),
        "log": draw(st.booleans()),
    }
    values = draw(st.lists(_scalars, min_size=1, max_size=4, unique=True))
    # plateau's `monitor` accepts any value: a place for arbitrary categorical values
    params["lr_scheduler.monitor"] = {"type": "categorical", "values": values}
    params["model.dropout"] = {
        "type": "float",
        "low": 0.0,
        "high": 0.5,
        "when": {"lr_scheduler.monitor": values[:1]},
    }
    params["model.depth"] = draw(st.integers(1, 4))
    return {
        "name": "h",
        "config": {
            "trainer": {"max_epochs": draw(st.integers(2, 30))},
            "optimizer": {"name": draw(_names)},
            "lr_scheduler": {"name": "plateau"},
        },
        "metric": draw(st.sampled_from(["val_loss", "val_acc"])),
        "mode": draw(st.sampled_from(["min", "max"])),
        "parameters": params,
        "search": {
            "sampler": draw(st.sampled_from(["tpe", "random", "cmaes"])),
            "num_samples": draw(st.integers(1, 100)),
            "seed": draw(st.integers(0, 9)),
        },
        "scheduler": {
            "type": draw(st.sampled_from(["asha", "fifo"])),
            "grace_period": 1,
            "reduction_factor": draw(st.sampled_from([2, 3, 4, 2.5])),
        },
    }


def _spec(p: FloatParam) -> dict:
    spec = {"type": "float", "low": p.low, "high": p.high, "log": p.log}
    if p.step is not None:
        spec["step"] = p.step
    return spec


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=spaces())
def test_round_trip_property(tmp_path: Path, data: dict) -> None:
    first = tmp_path / "first.yaml"
    first.write_text(dump_yaml(data))
    space = load_space(first)
    second = tmp_path / "second.yaml"
    second.write_text(dump_yaml(dump_space(space)))
    again = load_space(second)
    assert _same(again, space)
    assert dump_space(again) == dump_space(space)
    cat = next(p for p in space.parameters if isinstance(p, CategoricalParam))
    assert list(cat.values) == data["parameters"]["lr_scheduler.monitor"]["values"]
