"""Define-by-run sampling (Optuna in-process, no Ray) and point -> train config."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raytrain.space import (
    active,
    define_by_run,
    grid_values,
    holds,
    load_space,
    materialize,
    trial_config,
)
from raytrain.space.types import CategoricalParam, FloatParam, IntParam, Param, Space

REPO = Path(__file__).resolve().parents[2]
optuna.logging.set_verbosity(optuna.logging.WARNING)


def sample(space: Space, sampler: optuna.samplers.BaseSampler, n: int) -> list[dict[str, Any]]:
    study = optuna.create_study(sampler=sampler)
    fn = define_by_run(space)

    def objective(trial: optuna.trial.Trial) -> float:
        assert fn(trial) is None
        return sum(hash(str(v)) % 7 for v in trial.params.values())

    study.optimize(objective, n_trials=n)
    return [t.params for t in study.trials]


def check_point(space: Space, point: dict[str, Any]) -> None:
    """Every value in bounds/on its grid; exactly the parameters whose conditions hold."""
    expected = {p.path for p in active(space.parameters, point)}
    assert set(point) == expected
    by_path = {p.path: p for p in space.parameters}
    for path, value in point.items():
        p = by_path[path]
        assert holds(p.when, point), (path, p.when, point)
        if isinstance(p, CategoricalParam):
            assert value in p.values
        elif isinstance(p, IntParam):
            assert isinstance(value, int) and p.low <= value <= p.high
            assert (value - p.low) % p.step == 0
        else:
            assert isinstance(p, FloatParam)
            # Optuna's log scale round-trips exp(log(x)): allow one rounding error
            tol = 1e-12 * max(1.0, abs(p.high))
            assert p.low - tol <= value <= p.high + tol
            if p.step is not None:
                k = (value - p.low) / p.step
                assert math.isclose(k, round(k), abs_tol=1e-6)


# ---- random spaces with chained conditions ---------------------------------------------------


@st.composite
def random_spaces(draw: st.DrawFn) -> Space:
    params: list[Param] = []
    for i in range(draw(st.integers(1, 7))):
        when = _condition(draw, [p for p in params if not isinstance(p, FloatParam)])
        kind = draw(st.sampled_from([_categorical, _int, _float]))
        params.append(kind(draw, f"loss.t{i}.v", when))
    return Space(name="h", config={}, metric="m", mode="min", parameters=tuple(params))


def _condition(draw: st.DrawFn, choosable: list[Param]) -> dict[str, tuple[Any, ...]]:
    use = draw(st.booleans())
    if not choosable or not use:
        return {}
    dep = draw(st.sampled_from(choosable))
    if isinstance(dep, CategoricalParam):
        domain = list(dep.values)
    else:
        assert isinstance(dep, IntParam)
        domain = list(range(dep.low, dep.high + 1, dep.step))
    chosen = draw(st.lists(st.sampled_from(domain), min_size=1, max_size=3, unique=True))
    return {dep.path: tuple(chosen)}


def _categorical(draw: st.DrawFn, path: str, when: dict[str, tuple[Any, ...]]) -> Param:
    choice = st.one_of(st.sampled_from(["a", "b", "c", "d"]), st.integers(-3, 3), st.booleans())
    values = draw(st.lists(choice, min_size=1, max_size=4, unique=True))
    return CategoricalParam(path, tuple(values), when=when)


def _int(draw: st.DrawFn, path: str, when: dict[str, tuple[Any, ...]]) -> Param:
    log = draw(st.booleans())
    low = draw(st.integers(1 if log else -20, 20))
    step = 1 if log else draw(st.integers(1, 4))
    high = low + step * draw(st.integers(0, 10))
    return IntParam(path, low, high, log=log, step=step, when=when)


def _float(draw: st.DrawFn, path: str, when: dict[str, tuple[Any, ...]]) -> Param:
    log = draw(st.booleans())
    low = draw(st.floats(1e-5 if log else -10, 10))
    if log or not draw(st.booleans()):
        return FloatParam(path, low, draw(st.floats(low, low + 100)), log=log, when=when)
    low = draw(st.integers(-1000, 1000)) / 100  # decimal bounds, as people write them
    step = draw(st.sampled_from([0.1, 0.25, 1.0]))
    high = round(low + step * draw(st.integers(0, 20)), 2)
    return FloatParam(path, low, high, step=step, when=when)


@settings(max_examples=40, deadline=None)
@given(space=random_spaces(), seed=st.integers(0, 1000))
def test_random_sampler_points_respect_bounds_and_conditions(space: Space, seed: int) -> None:
    for point in sample(space, optuna.samplers.RandomSampler(seed=seed), 12):
        check_point(space, point)


@settings(max_examples=10, deadline=None)
@given(space=random_spaces(), seed=st.integers(0, 1000))
def test_tpe_points_respect_bounds_and_conditions(space: Space, seed: int) -> None:
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=3, constant_liar=True)
    for point in sample(space, sampler, 8):
        check_point(space, point)


# ---- the shipped spaces ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["quickstart.yaml", "conditional.yaml"])
def test_shipped_space_points_become_valid_train_configs(name: str) -> None:
    space = load_space(REPO / "search_spaces" / name)
    sampler = optuna.samplers.TPESampler(seed=0, n_startup_trials=5)
    for point in sample(space, sampler, 12):
        check_point(space, point)
        cfg = trial_config(space, point)  # raises InputError if the point broke the config
        assert cfg.trainer.max_epochs == space.config["trainer"]["max_epochs"]
        for path, value in point.items():
            section, key = path.split(".", 1)
            assert _get(materialize(space, point), path) == value, (section, key)


def test_conditional_space_explores_the_nested_branch() -> None:
    space = load_space(REPO / "search_spaces" / "conditional.yaml")
    points = sample(space, optuna.samplers.RandomSampler(seed=1), 60)
    assert any("optimizer.nesterov" in p for p in points)
    assert any("optimizer.weight_decay" in p for p in points)
    for p in points:
        assert ("optimizer.nesterov" in p) == (p.get("optimizer.momentum") == 0.9)
        assert ("optimizer.momentum" in p) == (p["optimizer.name"] == "sgd")


def _get(config: dict[str, Any], path: str) -> Any:
    node: Any = config
    for key in path.split("."):
        node = node[key]
    return node


def test_materialize_merges_point_and_constants_into_a_copy() -> None:
    space = Space(
        name="s",
        config={"optimizer": {"name": "adamw", "lr": 0.001}, "model": {"name": "mlp"}},
        metric="val_loss",
        mode="min",
        parameters=(FloatParam("optimizer.lr", 1e-4, 1e-1),),
        constants={"model.hidden": 32, "loss.kl.weight": 0.5},
    )
    out = materialize(space, {"optimizer.lr": 0.01})
    assert out["optimizer"] == {"name": "adamw", "lr": 0.01}
    assert out["model"] == {"name": "mlp", "hidden": 32}
    assert out["loss"] == {"kl": {"weight": 0.5}}
    assert space.config["optimizer"]["lr"] == 0.001  # not mutated


def test_materialize_rejects_unknown_keys() -> None:
    space = Space(
        name="s",
        config={},
        metric="m",
        mode="min",
        parameters=(FloatParam("optimizer.lr", 1e-4, 1e-1),),
    )
    with pytest.raises(ValueError, match=r"optimizer\.lrr"):
        materialize(space, {"optimizer.lrr": 0.1})


def test_grid_values() -> None:
    space = Space(
        name="g",
        config={},
        metric="m",
        mode="min",
        parameters=(
            IntParam("model.hidden", 8, 16, step=4),
            FloatParam("model.dropout", 0.0, 0.5, step=0.25),
            CategoricalParam("optimizer.name", ("adamw", "sgd")),
        ),
    )
    assert grid_values(space) == {
        "model.hidden": [8, 12, 16],
        "model.dropout": [0.0, 0.25, 0.5],
        "optimizer.name": ["adamw", "sgd"],
    }
    with pytest.raises(ValueError, match="continuous"):
        grid_values(
            Space(
                name="g",
                config={},
                metric="m",
                mode="min",
                parameters=(FloatParam("x.y", 0.0, 1.0),),
            )
        )
