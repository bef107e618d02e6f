"""Train config validation (every problem at once) and the dict <-> TrainConfig round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raytrain.config.parse import parse_train_config, train_config_to_dict
from raytrain.config.schema import ComponentConfig, TrainConfig, WandbConfig
from raytrain.config.yaml_io import load_yaml_text
from raytrain.errors import InputError, Problem


def problems_of(raw: dict[str, Any]) -> list[Problem]:
    with pytest.raises(InputError) as info:
        parse_train_config(raw, file="c.yaml")
    return info.value.problems


def one(raw: dict[str, Any], path: str, fragment: str) -> Problem:
    found = problems_of(raw)
    hits = [p for p in found if p.path == path and fragment in p.message]
    assert hits, "\n".join(str(p) for p in found)
    return hits[0]


def test_empty_config_is_all_defaults() -> None:
    assert parse_train_config({}) == TrainConfig()


def test_full_config() -> None:
    cfg = parse_train_config(
        {
            "seed": 3,
            "model": {"name": "mlp", "hidden": 32, "depth": 1},
            "data": {"name": "synthetic", "num_features": 8},
            "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
            "lr_scheduler": {"name": "cosine", "warmup_epochs": 2, "eta_min": 1e-5},
            "trainer": {
                "max_epochs": 4,
                "precision": 16,
                "gradient_clip_val": 1,
                "limit_train_batches": 0.5,
                "early_stopping_patience": 2,
            },
            "checkpoint": {
                "metric": "val_acc",
                "mode": "max",
                "every_n_epochs": 0,
                "num_to_keep": 2,
                "extra_metrics": {"val_loss": "min"},
            },
            "logging": {"tensorboard": False, "wandb": {"project": "p", "tags": ["a"]}},
            "resources": {"workers": 2, "cpus_per_worker": 2, "gpus_per_worker": 0.5},
        }
    )
    assert cfg.model == ComponentConfig("mlp", None, {"hidden": 32, "depth": 1})
    assert cfg.optimizer.kwargs == {"lr": 0.1, "momentum": 0.9, "nesterov": True}
    assert cfg.lr_scheduler.warmup_epochs == 2 and cfg.lr_scheduler.kwargs == {"eta_min": 1e-5}
    assert cfg.trainer.precision == "16"
    assert cfg.trainer.gradient_clip_val == 1.0
    assert cfg.checkpoint.extra_metrics == {"val_loss": "min"}
    assert cfg.logging.wandb == WandbConfig(project="p", tags=("a",))
    assert cfg.resources.gpus_per_worker == 0.5


RULES = [
    ({"sed": 1}, "sed", "did you mean 'seed'"),
    ({"seed": 1.5}, "seed", "integer"),
    ({"model": {"name": "mlpp"}}, "model.name", "did you mean 'mlp'"),
    ({"model": {"hidden": 3}}, "model.name", "missing key"),
    ({"model": {"name": "mlp", "hiden": 3}}, "model.hiden", "did you mean 'hidden'"),
    ({"model": {"name": "mlp", "hidden": "big"}}, "model.hidden", "expects an integer"),
    ({"model": {"name": "mlp", "dropout": True}}, "model.dropout", "expects a number"),
    ({"model": {"name": "mlp", "input_dim": 3}}, "model.input_dim", "set from the data module"),
    ({"data": {"name": "digits", "batch": 3}}, "data.batch", "did you mean 'batch_size'"),
    ({"data": "digits"}, "data", "expected a mapping"),
    ({"optimizer": {"name": "adam", "momentum": 0.9}}, "optimizer.momentum", "no parameter"),
    ({"optimizer": {"name": "adam", "betas": [0.9]}}, "optimizer.betas", "a list of 2 numbers"),
    ({"optimizer": {"name": "adam", "lr": 0}}, "optimizer.lr", "must be > 0"),
    ({"optimizer": {"name": "adam", "weight_decay": -1}}, "optimizer.weight_decay", ">= 0"),
    ({"optimizer": {"name": "lbfgs"}}, "optimizer.name", "valid optimizer names"),
    ({"lr_scheduler": {"name": "cosin"}}, "lr_scheduler.name", "did you mean 'cosine'"),
    ({"lr_scheduler": {"name": "step", "gama": 0.5}}, "lr_scheduler.gama", "'gamma'"),
    ({"lr_scheduler": {"name": "step", "warmup_epochs": -1}}, "lr_scheduler.warmup_epochs", ">= 0"),
    ({"trainer": {"max_epochs": 0}}, "trainer.max_epochs", "must be >= 1"),
    ({"trainer": {"max_epochs": 2.5}}, "trainer.max_epochs", "an integer"),
    ({"trainer": {"precision": "fp8"}}, "trainer.precision", "valid precisions"),
    ({"trainer": {"limit_train_batches": 1.5}}, "trainer.limit_train_batches", "fraction"),
    ({"trainer": {"deterministic": "yes please"}}, "trainer.deterministic", "true/false"),
    ({"checkpoint": {"mode": "maximum"}}, "checkpoint.mode", "min | max"),
    ({"checkpoint": {"num_to_keep": 0}}, "checkpoint.num_to_keep", ">= 1"),
    (
        {"checkpoint": {"extra_metrics": {"val_acc": "up"}}},
        "checkpoint.extra_metrics",
        "mapping of min | max",
    ),
    (
        {"logging": {"wandb": {"project": "p", "api_key": "secret"}}},
        "logging.wandb.api_key",
        "WANDB_API_KEY",
    ),
    ({"logging": {"wandb": {"mode": "offlin"}}}, "logging.wandb.mode", "offline"),
    (
        {"logging": {"mlflow": {"tracking_uri": "http://me:s3cr3t@host:5000"}}},
        "logging.mlflow.tracking_uri",
        "MLFLOW_TRACKING_PASSWORD",
    ),
    ({"logging": {"mlflow": {"token": "t"}}}, "logging.mlflow.token", "MLFLOW_TRACKING_TOKEN"),
    ({"logging": {"mlflow": {"experimnt": "x"}}}, "logging.mlflow.experimnt", "experiment"),
    ({"logging": {"tensorbord": True}}, "logging.tensorbord", "did you mean 'tensorboard'"),
    ({"resources": {"workers": 0}}, "resources.workers", ">= 1"),
    ({"resources": {"gpus_per_worker": -1}}, "resources.gpus_per_worker", ">= 0"),
    ({"loss": {"recon": 1.0}}, "loss", "no configurable loss terms"),
    ({"model": {"name": "vae"}, "loss": {"kl": {"weight": -1}}}, "loss.kl.weight", ">= 0"),
    ({"model": {"name": "vae"}, "loss": {"kl": 0.5}}, "loss.kl", "expected a mapping"),
]


@pytest.mark.parametrize(("raw", "path", "fragment"), RULES, ids=[r[1] for r in RULES])
def test_rule(raw: dict[str, Any], path: str, fragment: str) -> None:
    p = one(raw, path, fragment)
    assert p.file == "c.yaml"


def test_all_problems_at_once_with_lines() -> None:
    text = "seed: x\ntrainer:\n  max_epochs: 0\noptimizer: {name: sgdd}\n"
    doc = load_yaml_text(text, "c.yaml")
    with pytest.raises(InputError) as info:
        parse_train_config(doc.data, file="c.yaml", lines=doc.lines)
    got = {(p.path, p.line) for p in info.value.problems}
    assert got == {("seed", 1), ("trainer.max_epochs", 3), ("optimizer.name", 4)}


def test_prefix_places_problems_inside_a_space_file() -> None:
    with pytest.raises(InputError) as info:
        parse_train_config({"seed": "x"}, file="s.yaml", prefix=("config",))
    assert info.value.problems[0].path == "config.seed"


def test_target_signature(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "user_mod.py").write_text(
        "class DM:\n    def __init__(self, root: str, batch_size: int = 8):\n        pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = parse_train_config({"data": {"_target_": "user_mod.DM", "root": "/d"}})
    assert cfg.data == ComponentConfig(None, "user_mod.DM", {"root": "/d"})
    assert parse_train_config(train_config_to_dict(cfg)) == cfg
    one({"data": {"_target_": "user_mod:DM", "roots": "/d"}}, "data.roots", "did you mean 'root'")
    one({"data": {"_target_": "user_mod.Nope"}}, "data._target_", "has no attribute 'Nope'")
    one({"data": {"_target_": "Nope"}}, "data._target_", "package.module.Class")


def test_api_key_value_never_echoed() -> None:
    (p,) = problems_of({"logging": {"wandb": {"project": "p", "api_key": "s3cr3t"}}})
    assert "s3cr3t" not in str(p)


# ---- round trip ------------------------------------------------------------------------------

_configs = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31),
        "model": st.fixed_dictionaries(
            {"name": st.just("mlp")},
            optional={
                "hidden": st.integers(1, 512),
                "dropout": st.floats(0, 0.9),
                "activation": st.sampled_from(["relu", "gelu"]),
            },
        ),
        "optimizer": st.one_of(
            st.fixed_dictionaries(
                {"name": st.just("sgd")},
                optional={
                    "lr": st.floats(1e-6, 1),
                    "momentum": st.floats(0, 1),
                    "nesterov": st.booleans(),
                },
            ),
            st.fixed_dictionaries(
                {"name": st.just("adam")},
                optional={"betas": st.tuples(st.floats(0, 1), st.floats(0, 1)).map(list)},
            ),
        ),
        "trainer": st.fixed_dictionaries(
            {},
            optional={
                "max_epochs": st.integers(1, 100),
                "gradient_clip_val": st.one_of(st.none(), st.floats(0, 10)),
                "limit_val_batches": st.one_of(st.integers(1, 50), st.floats(0.01, 1.0)),
                "precision": st.sampled_from(["32-true", "bf16-mixed"]),
            },
        ),
        "checkpoint": st.fixed_dictionaries(
            {},
            optional={
                "metric": st.sampled_from(["val_loss", "val_acc"]),
                "mode": st.sampled_from(["min", "max"]),
                "save_last": st.booleans(),
            },
        ),
        "logging": st.one_of(
            st.just({}),
            st.fixed_dictionaries(
                {
                    "wandb": st.fixed_dictionaries(
                        {"project": st.text("abc", min_size=1)},
                        optional={
                            "tags": st.lists(st.text("xyz", min_size=1), max_size=3),
                            "mode": st.sampled_from(["online", "offline", "disabled"]),
                            "group": st.text("g", min_size=1),
                        },
                    )
                },
                optional={
                    "mlflow": st.one_of(
                        st.just(True),
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "tracking_uri": st.just("http://127.0.0.1:5000"),
                                "experiment": st.text("e", min_size=1),
                                "log_checkpoint": st.booleans(),
                            },
                        ),
                    )
                },
            ),
        ),
    }
)


@settings(max_examples=60, deadline=None)
@given(raw=_configs)
def test_round_trip(raw: dict[str, Any]) -> None:
    cfg = parse_train_config(raw)
    as_dict = train_config_to_dict(cfg)
    assert parse_train_config(as_dict) == cfg
    assert train_config_to_dict(parse_train_config(as_dict)) == as_dict
