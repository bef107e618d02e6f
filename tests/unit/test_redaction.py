"""Secrets from `${oc.env:...}` reach the trial but no file (`raytrain.redaction`), without
Ray: the name rule, the loaders, and each writer raytrain has."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from raytrain import redaction
from raytrain.config.loading import load_train_config
from raytrain.config.parse import train_config_to_dict
from raytrain.layout import SearchRunLayout, TrainRunLayout
from raytrain.redaction import is_secret_name, redact, redact_text
from raytrain.results import RunWriter, TrainRunWriter
from raytrain.results.export import export_best
from raytrain.space import dump_space, load_space, trial_train_config

SECRET = "s3cr3t-value-0123456789"
USER_MOD = (
    "class Net:\n"
    "    def __init__(self, api_key: str = '', url: str = '', data_dir: str = ''):\n"
    "        pass\n"
)


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    (tmp_path / "secret_mod.py").write_text(USER_MOD)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("MY_API_KEY", SECRET)
    monkeypatch.setenv("DB_PASSWORD", "hunter2-long-password")
    monkeypatch.setenv("DATA_DIR", "/data/plain")
    redaction.forget_all()
    yield
    redaction.forget_all()


MODEL = {
    "_target_": "secret_mod.Net",
    "api_key": "${oc.env:MY_API_KEY}",
    "url": "https://me:${oc.env:DB_PASSWORD}@db.example",
    "data_dir": "${oc.env:DATA_DIR}",
}


def space_file(tmp_path: Path) -> Path:
    path = tmp_path / "space.yaml"
    space = {
        "name": "sec",
        "metric": "val_loss",
        "mode": "min",
        "config": {"model": MODEL, "data": {"name": "synthetic"}, "trainer": {"max_epochs": 2}},
        "parameters": {"optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-1}},
    }
    path.write_text(yaml.safe_dump(space))
    return path


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("MY_API_KEY", True),
        ("GITHUB_TOKEN", True),
        ("CLIENT_SECRET", True),
        ("DB_PASSWORD", True),
        ("WANDB_API_KEY", True),
        ("AWS_ACCESS_KEY_ID", True),
        ("AWS_PROFILE", True),
        ("GOOGLE_APPLICATION_CREDENTIALS", True),
        ("MLFLOW_TRACKING_USERNAME", True),
        ("DATA_DIR", False),
        ("HOME", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name, environ={}) is secret


def test_user_list_extends_the_rule() -> None:
    assert not is_secret_name("DB_URL", environ={})
    env = {"RAYTRAIN_SECRET_VARS": "DB_URL, corp_*"}
    assert is_secret_name("DB_URL", environ=env) and is_secret_name("CORP_THING", environ=env)


def test_space_trial_gets_the_values_and_space_yaml_shows_the_text(tmp_path: Path) -> None:
    space = load_space(space_file(tmp_path))
    cfg = trial_train_config(space, {"optimizer.lr": 0.01})
    assert cfg.model.kwargs["api_key"] == SECRET  # the trial receives the real value
    assert cfg.model.kwargs["url"] == "https://me:hunter2-long-password@db.example"
    assert cfg.model.kwargs["data_dir"] == "/data/plain"

    dumped = dump_space(space)
    model = dumped["config"]["model"]
    assert model["api_key"] == "${oc.env:MY_API_KEY}"
    assert model["url"] == "https://me:${oc.env:DB_PASSWORD}@db.example"
    assert model["data_dir"] == "/data/plain"  # not a secret: written as resolved

    layout = SearchRunLayout(tmp_path / "run")
    layout.write_space(dumped)
    text = layout.space.read_text()
    assert SECRET not in text and "hunter2" not in text
    # resuming compares the written space with the reloaded one: equal
    assert layout.check_resume(dump_space(load_space(layout.space)))
    assert load_space(layout.space).config["model"]["api_key"] == SECRET


def test_pickled_searcher_space_holds_no_secret(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    from raytrain.tune.searchers import SpaceFunction

    space = load_space(space_file(tmp_path))
    blob = pickle.dumps(SpaceFunction(space))
    assert SECRET.encode() not in blob and b"hunter2" not in blob
    assert SpaceFunction(space).space.config["model"]["api_key"] == SECRET  # live one intact


def test_writers_redact_params_errors_and_exports(tmp_path: Path) -> None:
    space_path = space_file(tmp_path)
    space = load_space(space_path)
    run_dir = tmp_path / "run"
    SearchRunLayout(run_dir).write_space(dump_space(space))
    with RunWriter(run_dir, metric="val_loss", mode="min", param_paths=["optimizer.lr"]) as w:
        w.trial_added("t1", {"optimizer.lr": 0.01})
        w.trial_started("t1")
        w.trial_result("t1", {"epoch": 1, "val_loss": 0.5})
        w.trial_finished("t1", "ERROR", error=f"HTTP 401 for token {SECRET}")
    (best,) = export_best(run_dir, tmp_path / "best.yaml")
    exported = yaml.safe_load(best.read_text())
    assert exported["model"]["api_key"] == "${oc.env:MY_API_KEY}"
    assert load_train_config(best).model.kwargs["api_key"] == SECRET  # still runnable
    for path in [*run_dir.rglob("*"), best]:
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data and b"hunter2" not in data, path
    assert "${oc.env:MY_API_KEY}" in (run_dir / "trials" / "t1" / "error.txt").read_text()


def test_train_config_yaml_and_error(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"model": MODEL, "data": {"name": "synthetic"}}))
    cfg = load_train_config(config)
    assert cfg.model.kwargs["api_key"] == SECRET
    layout = TrainRunLayout(tmp_path / "train-run")
    with TrainRunWriter(layout, tensorboard=True) as w:
        layout.config.write_text(yaml.safe_dump(redact(train_config_to_dict(cfg))))
        w.epoch({"epoch": 1, "val_loss": 0.3})
        w.finished("ERROR", error=f"failed with {SECRET}")
    for path in layout.root.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_checkpoint_hparams_are_redacted_in_a_worker_from_the_config_alone() -> None:
    """A Train worker has the resolved config and its key paths, not the loader's state."""
    pytest.importorskip("lightning")
    from raytrain.trial.loop import RedactCheckpointSecrets

    refs = (("model.api_key", "${oc.env:MY_API_KEY}"),)
    redaction.remember({"model": {"api_key": "worker-side-secret-42"}}, refs, environ={})
    checkpoint = {"hyper_parameters": {"api_key": "worker-side-secret-42", "hidden": 8}}
    RedactCheckpointSecrets().on_save_checkpoint(None, None, checkpoint)  # type: ignore[arg-type]
    assert checkpoint["hyper_parameters"] == {"api_key": "${oc.env:MY_API_KEY}", "hidden": 8}


def test_short_values_only_whole_strings() -> None:
    redaction.remember({"k": "ab"}, (("k", "${oc.env:X_KEY}"),), environ={})
    assert redact_text("ab") == "${oc.env:X_KEY}"
    assert redact_text("table") == "table"  # "ab" inside a word is left alone
    assert redact({"k": ["ab", 1]}) == {"k": ["${oc.env:X_KEY}", 1]}


def test_params_json_written_by_the_writer(tmp_path: Path) -> None:
    redaction.remember({"a": SECRET}, (("a", "${oc.env:MY_API_KEY}"),))
    with RunWriter(tmp_path, metric="m", mode="min", param_paths=["p"]) as w:
        w.trial_added("t", {"p": SECRET})
    params = json.loads((tmp_path / "trials" / "t" / "params.json").read_text())
    assert params == {"p": "${oc.env:MY_API_KEY}"}
