"""One test per validation rule of a space file: the problem, its key path and its line."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raytrain.config.yaml_io import LineMap, dump_yaml
from raytrain.errors import InputError, Problem
from raytrain.space import load_space
from raytrain.space.parse import parse_space

DELETE = object()


class Replace:
    """Patch value that replaces instead of merging."""

    def __init__(self, value: Any) -> None:
        self.value = value


VALID: dict[str, Any] = {
    "name": "t",
    "config": {
        "seed": 0,
        "model": {"name": "mlp", "hidden": 64},
        "data": {"name": "digits", "batch_size": 64},
        "optimizer": {"name": "adamw", "lr": 1e-3},
        "trainer": {"max_epochs": 9},
    },
    "metric": "val_loss",
    "mode": "min",
    "parameters": {
        "optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "model.hidden": {"type": "int", "low": 16, "high": 128},
        "optimizer.name": {"type": "categorical", "values": ["adamw", "sgd"]},
        "optimizer.momentum": {
            "type": "float",
            "low": 0.0,
            "high": 0.9,
            "when": {"optimizer.name": "sgd"},
        },
    },
    "search": {"sampler": "tpe", "num_samples": 4, "seed": 0},
    "scheduler": {"type": "asha", "grace_period": 1, "reduction_factor": 3},
    "resources": {"workers_per_trial": 1, "cpus_per_worker": 1, "gpus_per_worker": 0},
}


def patched(patch: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    out = copy.deepcopy(VALID if base is None else base)
    for key, value in patch.items():
        if value is DELETE:
            out.pop(key, None)
        elif isinstance(value, Replace):
            out[key] = value.value
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = patched(value, out[key])
        else:
            out[key] = value
    return out


def write(tmp_path: Path, data: dict[str, Any] | str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else dump_yaml(data))
    return path


def problems(path: Path, overrides: tuple[str, ...] = ()) -> list[Problem]:
    with pytest.raises(InputError) as info:
        load_space(path, overrides)
    return info.value.problems


def find(found: list[Problem], path: str, fragment: str) -> Problem:
    for p in found:
        if p.path == path and fragment in p.message:
            return p
    listing = "\n".join(str(p) for p in found)
    raise AssertionError(f"no problem at {path!r} containing {fragment!r}; got:\n{listing}")


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_valid_space_loads(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, VALID))
    assert [p.path for p in space.parameters] == list(VALID["parameters"])


P = "parameters"
RULES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "low > high",
        {P: {"optimizer.lr": {"low": 0.5, "high": 0.1}}},
        "parameters.optimizer.lr.low",
        "greater than high",
    ),
    (
        "float log with low 0",
        {P: {"optimizer.lr": {"low": 0.0}}},
        "parameters.optimizer.lr.low",
        "log: true needs low > 0",
    ),
    (
        "float log with negative low",
        {P: {"optimizer.lr": {"low": -1.0}}},
        "parameters.optimizer.lr.low",
        "log: true needs low > 0",
    ),
    (
        "int log with low 0",
        {P: {"model.hidden": {"low": 0, "log": True}}},
        "parameters.model.hidden.low",
        "log: true needs low >= 1",
    ),
    (
        "empty values",
        {P: {"optimizer.name": {"values": []}}},
        "parameters.optimizer.name.values",
        "non-empty list",
    ),
    (
        "unknown type",
        {P: {"model.hidden": {"type": "integer"}}},
        "parameters.model.hidden.type",
        "valid types: categorical, constant, float, int",
    ),
    (
        "misspelt top-level key",
        {"schedular": {"type": "asha"}},
        "schedular",
        "did you mean 'scheduler'",
    ),
    (
        "misspelt param key",
        {P: {"optimizer.lr": {"hihg": 1.0}}},
        "parameters.optimizer.lr.hihg",
        "did you mean 'high'",
    ),
    (
        "misspelt type key",
        {P: {"model.depth": {"tpye": "int", "low": 1, "high": 3}}},
        "parameters.model.depth.tpye",
        "did you mean 'type'",
    ),
    (
        "misspelt search key",
        {"search": {"num_sample": 3}},
        "search.num_sample",
        "did you mean 'num_samples'",
    ),
    (
        "misspelt config key",
        {"config": {"trainer": {"max_epoch": 3}}},
        "config.trainer.max_epoch",
        "did you mean 'max_epochs'",
    ),
    (
        "misspelt resources key",
        {"resources": {"gpu_per_worker": 1}},
        "resources.gpu_per_worker",
        "did you mean 'gpus_per_worker'",
    ),
    (
        "missing low",
        {P: {"model.hidden": {"type": "int", "high": 3, "low": DELETE}}},
        "parameters.model.hidden.low",
        "missing key",
    ),
    (
        "missing type",
        {P: {"model.depth": {"low": 1, "high": 3}}},
        "parameters.model.depth.type",
        "missing key",
    ),
    (
        "missing values",
        {P: {"optimizer.name": {"values": DELETE}}},
        "parameters.optimizer.name.values",
        "missing key",
    ),
    ("missing metric", {"metric": DELETE}, "metric", "missing key"),
    ("missing mode", {"mode": DELETE}, "mode", "missing key"),
    ("missing config", {"config": DELETE}, "config", "missing key"),
    ("missing parameters", {P: DELETE}, "parameters", "missing key"),
    ("empty parameters", {P: Replace({})}, "parameters", "empty"),
    ("only constants", {P: Replace({"model.hidden": 32})}, "parameters", "only constants"),
    (
        "step zero",
        {P: {"model.hidden": {"step": 0}}},
        "parameters.model.hidden.step",
        "must be > 0",
    ),
    (
        "negative float step",
        {P: {"optimizer.momentum": {"step": -0.1}}},
        "parameters.optimizer.momentum.step",
        "must be > 0",
    ),
    (
        "string bound",
        {P: {"optimizer.momentum": {"high": "lots"}}},
        "parameters.optimizer.momentum.high",
        "must be a number",
    ),
    (
        "bool bound",
        {P: {"optimizer.momentum": {"high": True}}},
        "parameters.optimizer.momentum.high",
        "must be a number",
    ),
    (
        "NaN bound",
        {P: {"optimizer.momentum": {"low": float("nan")}}},
        "parameters.optimizer.momentum.low",
        "finite",
    ),
    (
        "inf bound",
        {P: {"optimizer.momentum": {"high": float("inf")}}},
        "parameters.optimizer.momentum.high",
        "finite",
    ),
    (
        "fractional int bound",
        {P: {"model.hidden": {"low": 16.5}}},
        "parameters.model.hidden.low",
        "whole number",
    ),
    (
        "categorical given low/high",
        {P: {"optimizer.name": {"low": 0, "high": 1}}},
        "parameters.optimizer.name.low",
        "takes `values`",
    ),
    (
        "float given values",
        {P: {"optimizer.momentum": {"values": [0.1, 0.9]}}},
        "parameters.optimizer.momentum.values",
        "type: categorical",
    ),
    (
        "unknown built-in parameter",
        {P: {"model.hiden": {"type": "int", "low": 1, "high": 3}}},
        "parameters.model.hiden",
        "did you mean 'hidden'",
    ),
    (
        "optimizer kwarg of another optimizer",
        {P: {"optimizer.momentum": {"when": DELETE}}},
        "parameters.optimizer.momentum",
        "optimizer 'adamw' has no parameter 'momentum'",
    ),
    (
        "unknown config section",
        {P: {"trainr.max_epochs": 3}},
        "parameters.trainr.max_epochs",
        "did you mean 'trainer'",
    ),
    (
        "data-injected key",
        {P: {"model.num_classes": 10}},
        "parameters.model.num_classes",
        "set from the data module",
    ),
    (
        "float param on an int field",
        {P: {"model.hidden": {"type": "float", "low": 1.0, "high": 2.0}}},
        "parameters.model.hidden",
        "expects an integer",
    ),
    (
        "unknown optimizer value",
        {P: {"optimizer.name": {"values": ["adamw", "sgdd"]}}},
        "parameters.optimizer.name",
        "did you mean 'sgd'",
    ),
    (
        "when names unknown parameter",
        {P: {"optimizer.momentum": {"when": {"optimizer.nam": "sgd"}}}},
        "parameters.optimizer.momentum.when.optimizer.nam",
        "did you mean 'optimizer.name'",
    ),
    (
        "when value never taken",
        {P: {"optimizer.momentum": {"when": {"optimizer.name": "sdg"}}}},
        "parameters.optimizer.momentum.when.optimizer.name",
        "can never be 'sdg'",
    ),
    (
        "when on a continuous float",
        {P: {"model.hidden": {"when": {"optimizer.lr": 0.1}}}},
        "parameters.model.hidden.when.optimizer.lr",
        "continuous float",
    ),
    (
        "when int value off range",
        {P: {"optimizer.momentum": {"when": {"model.hidden": 500}}}},
        "parameters.optimizer.momentum.when.model.hidden",
        "can never be 500",
    ),
    (
        "when on itself",
        {P: {"model.hidden": {"when": {"model.hidden": 16}}}},
        "parameters.model.hidden.when.model.hidden",
        "itself",
    ),
    (
        "when on a constant",
        {P: {"model.depth": 2, "model.hidden": {"when": {"model.depth": 2}}}},
        "parameters.model.hidden.when.model.depth",
        "names a constant",
    ),
    ("invalid metric", {"metric": 3}, "metric", "must be a metric name"),
    ("invalid mode", {"mode": "maximize"}, "mode", "must be min or max"),
    ("unknown sampler", {"search": {"sampler": "tpee"}}, "search.sampler", "did you mean 'tpe'"),
    (
        "unknown scheduler",
        {"scheduler": {"type": "hyperband"}},
        "scheduler.type",
        "valid schedulers: asha, fifo",
    ),
    ("num_samples 0", {"search": {"num_samples": 0}}, "search.num_samples", "must be >= 1"),
    (
        "grace_period > max_t",
        {"scheduler": {"grace_period": 10, "max_t": 5}},
        "scheduler.grace_period",
        "greater than max_t",
    ),
    (
        "grace_period > default max_t",
        {"scheduler": {"grace_period": 10}},
        "scheduler.grace_period",
        "greater than max_t (9)",
    ),
    (
        "reduction_factor 1",
        {"scheduler": {"reduction_factor": 1}},
        "scheduler.reduction_factor",
        "must be > 1",
    ),
    (
        "reduction_factor 0.5",
        {"scheduler": {"reduction_factor": 0.5}},
        "scheduler.reduction_factor",
        "must be > 1",
    ),
    (
        "zero workers",
        {"resources": {"workers_per_trial": 0}},
        "resources.workers_per_trial",
        "must be >= 1",
    ),
    (
        "negative workers (alias)",
        {"resources": {"workers_per_trial": DELETE, "workers": -2}},
        "resources.workers",
        "must be >= 1",
    ),
    (
        "negative gpus",
        {"resources": {"gpus_per_worker": -1}},
        "resources.gpus_per_worker",
        "must be >= 0",
    ),
    (
        "negative cpus",
        {"resources": {"cpus_per_worker": -1}},
        "resources.cpus_per_worker",
        "must be >= 0",
    ),
    (
        "bad max_concurrent_trials",
        {"resources": {"max_concurrent_trials": 0}},
        "resources.max_concurrent_trials",
        "'auto' or an integer >= 1",
    ),
    (
        "grid with continuous float",
        {"search": {"sampler": "grid"}},
        "parameters.optimizer.lr",
        "grid sampler needs a finite set",
    ),
    (
        "conditions in a cycle",
        {
            P: {
                "optimizer.name": {"when": {"optimizer.momentum": 0.5}},
                "optimizer.momentum": {"step": 0.1},
            }
        },
        "parameters.optimizer.name.when",
        "cycle",
    ),
    (
        "overlapping parameter paths",
        {P: {"model": {"type": "constant", "value": {"name": "mlp"}}}},
        "parameters.model.hidden",
        "overlaps parameter 'model'",
    ),
    (
        "negative loss weight",
        {
            "config": {"model": Replace({"name": "vae"})},
            P: {
                "model.hidden": DELETE,
                "loss.kl.weight": {"type": "float", "low": -1.0, "high": 1.0},
            },
        },
        "parameters.loss.kl.weight",
        "number >= 0",
    ),
    (
        "loss term the model lacks",
        {
            "config": {"model": Replace({"name": "vae"})},
            P: {
                "model.hidden": DELETE,
                "loss.kld.weight": {"type": "float", "low": 0.0, "high": 1.0},
            },
        },
        "parameters.loss.kld.weight",
        "did you mean 'kl'",
    ),
    (
        "wandb api key in config",
        {"config": {"logging": {"wandb": {"project": "p", "api_key": "x"}}}},
        "config.logging.wandb.api_key",
        "WANDB_API_KEY",
    ),
    (
        "categorical with a list value",
        {P: {"optimizer.name": {"values": [["a"], "sgd"]}}},
        "parameters.optimizer.name.values.0",
        "plain scalars",
    ),
    (
        "duplicate categorical value",
        {P: {"optimizer.name": {"values": ["sgd", "sgd"]}}},
        "parameters.optimizer.name.values",
        "listed twice",
    ),
    (
        "categorical values equal to Optuna",
        {P: {"trainer.max_epochs": {"type": "categorical", "values": [1, True]}}},
        "parameters.trainer.max_epochs.values",
        "equals 1 to Optuna",
    ),
    (
        "range not a multiple of step",
        {P: {"model.hidden": {"low": 16, "high": 120, "step": 16}}},
        "parameters.model.hidden.step",
        "e.g. high: 112",
    ),
    (
        "float range not a multiple of step",
        {P: {"optimizer.momentum": {"low": 0.0, "high": 0.9, "step": 0.25}}},
        "parameters.optimizer.momentum.step",
        "multiple of step",
    ),
    (
        "log with step",
        {P: {"optimizer.lr": {"step": 0.01}}},
        "parameters.optimizer.lr.step",
        "cannot be combined with log",
    ),
    ("bad name", {"name": "a/b"}, "name", "usable as a folder"),
    (
        "steps without report_every",
        {"scheduler": {"time_attr": "steps", "max_t": 100}},
        "scheduler.report_every",
        "required with time_attr: steps",
    ),
    (
        "steps under ASHA without max_t",
        {"scheduler": {"time_attr": "steps", "report_every": 50}},
        "scheduler.max_t",
        "required with time_attr: steps",
    ),
    (
        "report_every with epochs",
        {"scheduler": {"report_every": 50}},
        "scheduler.report_every",
        "only with time_attr: steps or samples",
    ),
    (
        "unknown time_attr",
        {"scheduler": {"time_attr": "minutes"}},
        "scheduler.time_attr",
        "expected epochs | steps | samples",
    ),
    (
        "report_every in a space's config",
        {"config": {"trainer": {"report_every": 5}}},
        "config.trainer.report_every",
        "use scheduler.time_attr",
    ),
    (
        "steps with check_val_every_n_epoch",
        {
            "scheduler": {"time_attr": "steps", "report_every": 5, "max_t": 50},
            "config": {"trainer": {"check_val_every_n_epoch": 2}},
        },
        "config.trainer.check_val_every_n_epoch",
        "not with scheduler.time_attr: steps",
    ),
    (
        "max_t in a space's config",
        {
            "scheduler": {"time_attr": "steps", "report_every": 5, "max_t": 50},
            "config": {"trainer": {"max_t": 20}},
        },
        "config.trainer.max_t",
        "use scheduler.max_t",
    ),
    (
        "searched report_every",
        {P: {"trainer.report_every": {"type": "int", "low": 5, "high": 50}}},
        "parameters.trainer.report_every",
        "use scheduler.time_attr",
    ),
]


def test_steps_scheduler_defaults_and_trial_config(tmp_path: Path) -> None:
    from raytrain.space import trial_train_config

    sched = {"time_attr": "samples", "report_every": 500, "max_t": 8000, "reduction_factor": 2}
    space = load_space(write(tmp_path, patched({"scheduler": Replace(sched)})))
    s = space.scheduler
    assert (s.time_attr, s.report_every, s.grace_period, s.max_t) == ("samples", 500, 500, 8000)
    trainer = trial_train_config(space, {"optimizer.lr": 0.01}).trainer
    # ASHA ends every trial that gets that far at max_t: its config (so best.yaml) ends there
    assert (trainer.report_every, trainer.report_unit, trainer.max_t) == (500, "samples", 8000)
    fifo = load_space(
        write(
            tmp_path,
            patched(
                {"scheduler": Replace({"type": "fifo", "time_attr": "steps", "report_every": 7})}
            ),
            "fifo.yaml",
        )
    )
    assert fifo.scheduler.report_every == 7  # FIFO has no rungs: no max_t needed
    assert trial_train_config(fifo, {}).trainer.max_t is None  # max_epochs ends its trials
    assert load_space(write(tmp_path, VALID, "e.yaml")).scheduler.time_attr == "epochs"
    assert trial_train_config(load_space(tmp_path / "e.yaml"), {}).trainer.report_every is None


@pytest.mark.parametrize(
    ("patch", "path", "fragment"), [r[1:] for r in RULES], ids=[r[0] for r in RULES]
)
def test_rule(tmp_path: Path, patch: dict[str, Any], path: str, fragment: str) -> None:
    file = write(tmp_path, patched(patch))
    problem = find(problems(file), path, fragment)
    assert problem.file == str(file)
    if "missing key" in problem.message and "." not in path:
        return  # a missing top-level key has no line
    assert problem.line is not None, "a problem inside the file names its line"
    text = file.read_text().splitlines()[problem.line - 1]
    assert any(f"{seg}:" in text for seg in path.split(".")), (text, path)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    patch = {
        "mode": "up",
        "search": {"sampler": "nope", "num_samples": 0},
        P: {"optimizer.lr": {"low": 1.0, "high": 0.1}, "model.hidden": {"step": 0}},
    }
    found = problems(write(tmp_path, patched(patch)))
    paths = {p.path for p in found}
    assert {
        "mode",
        "search.sampler",
        "search.num_samples",
        "parameters.optimizer.lr.low",
        "parameters.model.hidden.step",
    } <= paths


def test_message_format_names_file_line_and_key(tmp_path: Path) -> None:
    file = write(tmp_path, patched({"search": {"num_samples": 0}}))
    with pytest.raises(InputError) as info:
        load_space(file)
    line = line_of(file, "num_samples")
    assert f"{file}:{line}: search.num_samples: must be >= 1" in str(info.value)


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    text = "name: t\nmetric: val_loss\nparameters:\n  a: {type: float, low: 1\nmode: min\n"
    (p,) = problems(write(tmp_path, text))
    assert "YAML syntax error" in p.message
    assert p.line in (4, 5)


def test_duplicate_keys_reported_with_both_lines(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        metric: val_loss
        mode: min
        config: {model: {name: mlp}}
        parameters:
          model.hidden: {type: int, low: 8, high: 16}
          model.hidden: {type: int, low: 8, high: 32}
        """
    )
    p = find(problems(write(tmp_path, text)), "parameters.model.hidden", "duplicate key")
    assert p.line == 6
    assert "first at line 5" in p.message


@pytest.mark.parametrize(
    "payload",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/apply:pathlib.Path.touch\n"
        "  [!!python/object/apply:pathlib.Path ['{marker}']]",
        "!!python/name:os.system",
        "!custom {marker}",
    ],
)
def test_python_tags_are_rejected_and_never_run(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "pwned"
    text = f"metric: val_loss\nmode: min\nname: {payload.format(marker=marker)}\n"
    found = problems(write(tmp_path, text))
    assert any("is not allowed" in p.message and p.line == 3 for p in found)
    assert not marker.exists()


def test_python_tag_in_override_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    file = write(tmp_path, VALID)
    found = problems(file, (f"name=!!python/object/apply:os.system ['touch {marker}']",))
    assert any("is not allowed" in p.message for p in found)
    assert not marker.exists()


def test_unknown_override_key(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID), ("search.num_sample=3",))
    p = find(found, "search.num_sample", "did you mean 'num_samples'")
    assert p.file == "override 'search.num_sample=3'"


def test_unknown_override_config_key(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID), ("config.model.hiden=3",))
    find(found, "config.model.hiden", "did you mean 'hidden'")


@pytest.mark.parametrize("bad", ["search.num_samples", "=3", "search..seed=1", "a b=1"])
def test_bad_override_syntax(tmp_path: Path, bad: str) -> None:
    found = problems(write(tmp_path, VALID), (bad,))
    assert any(p.file == f"override {bad!r}" for p in found)


def test_override_value_with_bad_yaml(tmp_path: Path) -> None:
    found = problems(write(tmp_path, VALID), ("search.num_samples=[1,",))
    assert any("YAML syntax error" in p.message for p in found)


def test_empty_file(tmp_path: Path) -> None:
    (p,) = problems(write(tmp_path, ""))
    assert "empty" in p.message


def test_top_level_not_a_mapping(tmp_path: Path) -> None:
    (p,) = problems(write(tmp_path, "- a\n- b\n"))
    assert "mapping" in p.message


def test_missing_file(tmp_path: Path) -> None:
    (p,) = problems(tmp_path / "nope.yaml")
    assert "cannot read file" in p.message


def test_target_kwargs_checked_against_signature(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "mymods.py").write_text(
        "class Net:\n    def __init__(self, width: int = 3, depth: int = 2):\n        pass\n"
        "class Loose:\n    def __init__(self, **kwargs):\n        pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    strict = patched(
        {
            "config": {"model": {"name": DELETE, "hidden": DELETE, "_target_": "mymods.Net"}},
            P: {"model.hidden": DELETE, "model.widht": {"type": "int", "low": 1, "high": 4}},
        }
    )
    find(problems(write(tmp_path, strict)), "parameters.model.widht", "did you mean 'width'")
    ok = patched(
        {
            "config": {"model": {"name": DELETE, "hidden": DELETE, "_target_": "mymods.Net"}},
            P: {"model.hidden": DELETE, "model.width": {"type": "int", "low": 1, "high": 4}},
        }
    )
    assert load_space(write(tmp_path, ok)).config["model"]["_target_"] == "mymods.Net"
    loose = patched({"config": {"model": {"name": DELETE, "_target_": "mymods.Loose"}}})
    assert load_space(write(tmp_path, loose)).config["model"]["_target_"] == "mymods.Loose"


def test_target_import_failure_names_target_and_error(tmp_path: Path) -> None:
    bad = patched(
        {
            "config": {
                "model": {"name": DELETE, "hidden": DELETE, "_target_": "no_such_pkg.Model"}
            },
            P: {"model.hidden": DELETE},
        }
    )
    p = find(problems(write(tmp_path, bad)), "config.model._target_", "no_such_pkg.Model")
    assert "ModuleNotFoundError" in p.message


def test_name_and_target_together(tmp_path: Path) -> None:
    bad = patched({"config": {"model": {"_target_": "x.Y"}}})
    find(problems(write(tmp_path, bad)), "config.model", "not both")


def test_unconditional_kwarg_clashing_with_searched_name(tmp_path: Path) -> None:
    # momentum exists for sgd only; config sets it for every trial while adamw is searched
    bad = patched(
        {
            "config": {"optimizer": {"name": "sgd", "momentum": 0.9}},
            P: {"optimizer.momentum": DELETE},
        }
    )
    p = find(problems(write(tmp_path, bad)), "parameters.optimizer.name", "'momentum'")
    assert "adamw" in p.message


def test_grid_accepts_int_and_stepped_float(tmp_path: Path) -> None:
    ok = patched(
        {
            "search": {"sampler": "grid"},
            P: {
                "optimizer.lr": {"log": False, "step": 0.05, "low": 0.05, "high": 0.1},
                "optimizer.momentum": {"step": 0.3},
            },
        }
    )
    assert load_space(write(tmp_path, ok)).search.sampler == "grid"


# ---- robustness: any document is either a Space or an InputError, never a crash --------------

_WORDS = [
    "name", "base", "config", "metric", "mode", "parameters", "search", "scheduler",
    "resources", "failure", "type", "low", "high", "log", "step", "values", "when", "value",
    "model", "data", "optimizer", "lr_scheduler", "trainer", "checkpoint", "logging", "loss",
    "optimizer.name", "optimizer.lr", "model.hidden", "lr_scheduler.name", "loss.kl.weight",
    "sampler", "num_samples", "seed", "max_t", "grace_period", "reduction_factor", "workers",
    "max_concurrent_trials", "wandb", "project", "api_key", "weight", "_target_", "float",
    "int", "categorical", "constant", "asha", "tpe", "grid", "mlp", "sgd", "adamw", "min",
    "max", "val_loss", "max_epochs", "precision",
]  # fmt: skip
_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**400), 10**400),
    st.integers(-5, 50),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(_WORDS),
    st.text(max_size=8),
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(_WORDS), st.text(max_size=5)), inner,
                        max_size=5),
    ),
    max_leaves=25,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    doc=st.dictionaries(st.sampled_from(_WORDS[:10]), _VALUES, max_size=10),
    base=st.booleans(),
)
def test_any_document_gives_a_space_or_an_input_error(doc: dict[str, Any], base: bool) -> None:
    data = patched(doc) if base else doc
    try:
        parse_space(data, LineMap("f.yaml"), default_name="f")
    except InputError as exc:
        assert exc.problems
        assert all(isinstance(p.message, str) and p.message for p in exc.problems)


def _paths(data: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    if isinstance(data, dict):
        for k, v in data.items():
            out.append((*prefix, k))
            out += _paths(v, (*prefix, k))
    return out


_VALID_PATHS = _paths(VALID)


@settings(max_examples=200, deadline=None)
@given(changes=st.lists(st.tuples(st.sampled_from(_VALID_PATHS), _VALUES), min_size=1, max_size=4))
def test_any_corruption_of_a_valid_space_gives_problems_not_a_crash(
    changes: list[tuple[tuple[str, ...], Any]],
) -> None:
    data = copy.deepcopy(VALID)
    for path, value in changes:
        node: Any = data
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[path[-1]] = value
    try:
        parse_space(data, LineMap("f.yaml"), default_name="f")
    except InputError as exc:
        assert exc.problems


_OVERRIDE_KEYS = st.sampled_from(
    [".".join(p) for p in _VALID_PATHS] + ["search.bogus", "parameters.x.y", "a..b", "", "="]
)


@settings(max_examples=100, deadline=None)
@given(
    overrides=st.lists(
        st.tuples(_OVERRIDE_KEYS, st.sampled_from(["=", "", "=="]), st.text(max_size=12)).map(
            "".join
        ),
        max_size=3,
    )
)
def test_any_overrides_give_problems_not_a_crash(overrides: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        file = write(Path(tmp), VALID)
        try:
            load_space(file, overrides)
        except InputError as exc:
            assert exc.problems
