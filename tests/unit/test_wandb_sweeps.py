"""W&B sweep import: realistic sweep files -> canonical spaces the parser accepts; and errors."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from raytrain.cli import main
from raytrain.config.yaml_io import LineMap, load_yaml_file, load_yaml_text
from raytrain.errors import InputError
from raytrain.space import FloatParam, IntParam, Space, load_space
from raytrain.space.parse import parse_space
from raytrain.space.wandb import convert_sweep, is_wandb_sweep, sweep_conversion
from raytrain.space.wandb_io import read_sweep

REPO = Path(__file__).resolve().parents[2]

# Modelled on a diffusion project's sweep.yaml: bayes, flat names, nested groups, hyperband.
DIFFUSION_SWEEP = """\
program: train_sweep.py
method: bayes
project: snp-diffusion
entity: lab
name: unet lr/attention sweep
description: tune the optimiser and the VAE prior weight
metric:
  name: val_loss
  goal: minimize
run_cap: 20
early_terminate:
  type: hyperband
  min_iter: 3
  eta: 3
parameters:
  learning_rate:
    distribution: log_uniform_values
    min: 1.0e-5
    max: 1.0e-2
  weight_decay:
    distribution: log_uniform_values
    min: 1.0e-6
    max: 1.0e-2
  batch_size:
    values: [32, 64, 128]
  epochs:
    value: 12
  model:
    parameters:
      latent_dim: {distribution: int_uniform, min: 4, max: 32}
      free_bits: {distribution: q_uniform, min: 0.0, max: 2.0, q: 0.5}
  loss:
    parameters:
      kl:
        parameters:
          weight: {min: 0.1, max: 1.0}
command:
  - ${env}
  - python
  - ${program}
  - ${args}
"""

BASE_CONFIG = """\
seed: 0
model: {name: vae, encoder_hidden: 64, decoder_hidden: 64, depth: 1}
data: {name: digits}
optimizer: {name: adamw, lr: 1.0e-3}
trainer: {max_epochs: 5}
"""

# A thesis-style latent comparison, with its own raytrain block and name map.
LATENT_SWEEP = """\
method: random
metric: {name: val_recon}
parameters:
  latent_space: {values: [none, linear, vq]}
  z_dim: {min: 4, max: 16}
  codebook_size: {distribution: q_log_uniform_values, q: 1, min: 16, max: 128}
  lr: {distribution: uniform, min: 0.001, max: 0.01}
  optimizer: {values: [adam, adamw]}
raytrain:
  name: latent-comparison
  num_samples: 6
  map: {latent_space: model.latent, z_dim: model.latent_dim}
  config:
    model: {name: autoencoder, depth: 1}
    trainer: {max_epochs: 3}
  resources: {max_concurrent_trials: 2}
"""

GRID_SWEEP = """\
method: grid
metric: {name: val_acc, goal: maximize}
parameters:
  optimizer:
    parameters:
      lr: {values: [0.001, 0.003, 0.01]}
  model:
    parameters:
      hidden: {values: [32, 64]}
      depth: {distribution: int_uniform, min: 1, max: 2}
      dropout: {distribution: q_uniform, min: 0.0, max: 0.2, q: 0.1}
"""

# max_iter + s hyperband and W&B's log-space `log_uniform` (min/max are exponents).
HYPERBAND_SWEEP = """\
method: bayes
metric: {name: val_acc, goal: maximize}
early_terminate: {type: hyperband, max_iter: 27, s: 2, eta: 3}
parameters:
  learning_rate: {distribution: log_uniform, min: -9.210340371976182, max: -2.302585092994046}
  hidden: {distribution: q_log_uniform_values, q: 1, min: 16, max: 256}
  seed: {value: 3}
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _parse(conversion_space: dict[str, Any], lines: LineMap | None = None) -> Space:
    return parse_space(conversion_space, lines or LineMap(), default_name="sweep")


def test_diffusion_style_bayes_sweep_with_base_config_file(tmp_path: Path) -> None:
    sweep = _write(tmp_path, "sweep.yaml", DIFFUSION_SWEEP)
    base = _write(tmp_path, "config.yaml", BASE_CONFIG)
    conv = read_sweep(sweep, base)
    space = conv.space
    assert space["name"] == "unet-lr-attention-sweep"
    assert (space["metric"], space["mode"]) == ("val_loss", "min")
    assert space["search"] == {"sampler": "tpe", "num_samples": 20}
    assert space["scheduler"] == {"type": "asha", "reduction_factor": 3, "grace_period": 3}
    params = space["parameters"]
    assert params["optimizer.lr"] == {"type": "float", "low": 1e-5, "high": 1e-2, "log": True}
    assert params["optimizer.weight_decay"]["log"] is True
    assert params["data.batch_size"] == {"type": "categorical", "values": [32, 64, 128]}
    assert params["trainer.max_epochs"] == 12
    assert params["model.latent_dim"] == {"type": "int", "low": 4, "high": 32}
    assert params["model.free_bits"] == {"type": "float", "low": 0.0, "high": 2.0, "step": 0.5}
    assert params["loss.kl.weight"] == {"type": "float", "low": 0.1, "high": 1.0}
    assert space["config"]["model"]["name"] == "vae"
    assert "logging" not in space["config"]  # project/entity do not turn on W&B logging
    notes = "\n".join(conv.notes)
    for word in ("program", "command", "project", "entity", "description", "learning_rate"):
        assert word in notes
    parsed = _parse(space, conv.lines)
    assert parsed.search.num_samples == 20 and parsed.scheduler.type == "asha"
    assert parsed.scheduler.grace_period == 3 and parsed.scheduler.max_t == 12
    assert {p.path for p in parsed.parameters} == {
        "optimizer.lr",
        "optimizer.weight_decay",
        "data.batch_size",
        "model.latent_dim",
        "model.free_bits",
        "loss.kl.weight",
    }
    assert parsed.constants == {"trainer.max_epochs": 12}


def test_latent_comparison_sweep_with_raytrain_block_and_map() -> None:
    raw = yaml.safe_load(LATENT_SWEEP)
    conv = sweep_conversion(raw)
    space = conv.space
    assert space["name"] == "latent-comparison"
    assert space["search"] == {"sampler": "random", "num_samples": 6}
    assert space["scheduler"] == {"type": "fifo"}  # no early_terminate: every trial finishes
    assert space["resources"] == {"max_concurrent_trials": 2}
    params = space["parameters"]
    assert params["model.latent"]["values"] == ["none", "linear", "vq"]
    assert params["model.latent_dim"] == {"type": "int", "low": 4, "high": 16}
    assert params["model.codebook_size"] == {"type": "int", "low": 16, "high": 128, "log": True}
    assert params["optimizer.lr"]["type"] == "float"
    assert params["optimizer.name"]["values"] == ["adam", "adamw"]
    parsed = _parse(space)
    assert (parsed.metric, parsed.mode) == ("val_recon", "min")  # W&B's default goal
    assert parsed.config["model"]["name"] == "autoencoder"


def test_grid_sweep_counts_the_grid() -> None:
    space = convert_sweep(yaml.safe_load(GRID_SWEEP))
    assert space["search"] == {"sampler": "grid", "num_samples": 3 * 2 * 2 * 3}
    assert space["mode"] == "max"
    assert "no base train config" in "\n".join(sweep_conversion(yaml.safe_load(GRID_SWEEP)).notes)
    parsed = _parse(space)
    assert parsed.search.sampler == "grid"
    assert len(parsed.parameters) == 4


def test_hyperband_max_iter_and_log_space_bounds() -> None:
    space = convert_sweep(yaml.safe_load(HYPERBAND_SWEEP))
    assert space["scheduler"] == {
        "type": "asha",
        "reduction_factor": 3,
        "max_t": 27,
        "grace_period": 3,
    }
    lr = space["parameters"]["optimizer.lr"]
    assert lr["log"] is True
    assert lr["low"] == pytest.approx(1e-4) and lr["high"] == pytest.approx(0.1)
    assert space["parameters"]["model.hidden"] == {
        "type": "int",
        "low": 16,
        "high": 256,
        "log": True,
    }
    assert space["parameters"]["seed"] == 3
    parsed = _parse(space)
    lr_param = next(p for p in parsed.parameters if p.path == "optimizer.lr")
    assert isinstance(lr_param, FloatParam) and math.isclose(lr_param.low, 1e-4)
    hidden = next(p for p in parsed.parameters if p.path == "model.hidden")
    assert isinstance(hidden, IntParam) and hidden.log


def test_map_prefix_and_non_scalar_constants_and_wandb_logging() -> None:
    raw = {
        "method": "random",
        "project": "ae",
        "entity": "me",
        "metric": {"name": "val_loss"},
        "parameters": {
            "net": {"parameters": {"latent_dim": {"values": [4, 8]}}},
            "betas": {"value": [0.9, 0.95]},
        },
        "raytrain": {
            "map": {"net": "model", "betas": "optimizer.betas"},
            "config": {"model": {"name": "autoencoder"}},
            "wandb_logging": True,
        },
    }
    space = convert_sweep(raw)
    assert space["parameters"] == {"model.latent_dim": {"type": "categorical", "values": [4, 8]}}
    assert space["config"]["optimizer"]["betas"] == [0.9, 0.95]
    assert space["config"]["logging"] == {"wandb": {"project": "ae", "entity": "me"}}
    _parse(space)


def test_base_config_argument_is_merged_under_the_raytrain_block() -> None:
    raw = yaml.safe_load(LATENT_SWEEP)
    base = {"model": {"name": "autoencoder", "encoder_hidden": 32}, "trainer": {"max_epochs": 9}}
    space = convert_sweep(raw, base_config=base)
    assert space["config"]["model"] == {"name": "autoencoder", "encoder_hidden": 32, "depth": 1}
    assert space["config"]["trainer"]["max_epochs"] == 3  # the sweep's raytrain block wins


def test_raytrain_base_file_is_resolved_relative_to_the_sweep(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    _write(tmp_path / "configs", "vae.yaml", BASE_CONFIG)
    text = DIFFUSION_SWEEP + "raytrain:\n  base: configs/vae.yaml\n"
    conv = read_sweep(_write(tmp_path, "sweep.yaml", text))
    assert "base" not in conv.space
    assert conv.space["config"]["model"]["name"] == "vae"
    _parse(conv.space, conv.lines)


@pytest.mark.parametrize(
    "raw",
    [
        yaml.safe_load(DIFFUSION_SWEEP),
        yaml.safe_load(GRID_SWEEP),
        {"metric": {"name": "x", "goal": "maximize"}, "parameters": {}},
    ],
)
def test_detects_wandb_sweeps(raw: dict[str, Any]) -> None:
    assert is_wandb_sweep(raw)


@pytest.mark.parametrize("name", ["quickstart.yaml", "autoencoder.yaml", "vae.yaml"])
def test_canonical_spaces_are_not_wandb_sweeps(name: str) -> None:
    path = REPO / "search_spaces" / name
    if not path.exists():
        pytest.fail(f"missing {path}")
    assert not is_wandb_sweep(load_yaml_file(path).data)


def _problems(text: str, **kwargs: Any) -> list[str]:
    doc = load_yaml_text(textwrap.dedent(text), "sweep.yaml")
    with pytest.raises(InputError) as info:
        sweep_conversion(doc.data, lines=doc.lines, **kwargs)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            """\
         method: bayes
         metric: {name: val_loss}
         parameters:
           lr: {distribution: normal, mu: 0.01, sigma: 0.002}
         """,
            "sweep.yaml:4: parameters.lr: distribution 'normal' has no raytrain counterpart",
        ),
        (
            """\
         method: random
         metric: {name: val_loss}
         parameters:
           optimizer: {values: [adam, sgd], probabilities: [0.8, 0.2]}
         """,
            "sweep.yaml:4: parameters.optimizer: `probabilities`",
        ),
        (
            """\
         method: random
         metric: {name: val_acc, goal: maximize, target: 0.99}
         parameters: {lr: {min: 0.001, max: 0.1}}
         """,
            "sweep.yaml:2: metric.target: stopping the whole search at a target value",
        ),
        (
            """\
         method: bayes
         metric: {name: val_loss}
         early_terminate: {type: hyperband, min_iter: 1, strict: true}
         parameters: {lr: {min: 0.001, max: 0.1}}
         """,
            "early_terminate.strict: strict hyperband pruning has no ASHA counterpart",
        ),
        (
            """\
         method: random
         metric: {name: val_loss}
         parameters:
           attention_heads: {values: [2, 4]}
         """,
            "parameters.attention_heads: 'attention_heads' is not a raytrain config path",
        ),
        (
            """\
         method: random
         metric: {name: val_loss}
         parameters:
           hidden: {distribution: q_log_uniform_values, q: 8, min: 32, max: 256}
         """,
            "parameters.hidden: raytrain's log-scaled parameters cannot also be quantised",
        ),
        (
            """\
         method: grid
         metric: {name: val_loss}
         parameters:
           lr: {min: 0.001, max: 0.1}
         """,
            "parameters.lr: grid search needs discrete values",
        ),
        (
            """\
         method: random
         parameters: {lr: {min: 0.001, max: 0.1}}
         """,
            "metric: raytrain ranks trials by a metric",
        ),
        (
            """\
         method: custom
         metric: {name: val_loss}
         parameters: {lr: {min: 0.001, max: 0.1}}
         """,
            "sweep.yaml:1: method: expected one of random, grid, bayes, got 'custom'",
        ),
        (
            """\
         method: random
         metric: {name: val_loss}
         imageUri: gcr.io/x
         parameters: {lr: {min: 0.001, max: 0.1}}
         """,
            "sweep.yaml:3: imageUri: not a W&B sweep key raytrain can use",
        ),
        (
            """\
         method: random
         metric: {name: val_loss}
         parameters:
           lr: {min: 0.1, max: 0.001}
         """,
            "parameters.lr: min (0.1) must be below max (0.001)",
        ),
        (
            """\
         method: random
         metric: {name: val_loss}
         parameters:
           lr: {distribution: uniform, min: 0.1, max: 1, q: 0.1}
         """,
            "q cannot be combined with distribution 'uniform'",
        ),
        (
            """\
         method: random
         metric: {name: val_loss}
         parameters:
           learning_rate: {min: 0.001, max: 0.1}
           lr: {values: [0.01]}
         """,
            "parameters.lr: maps to 'optimizer.lr', which 'learning_rate' already sets",
        ),
        (
            """\
         method: random
         metric: {name: val_loss}
         parameters: {lr: {min: 0.001, max: 0.1}}
         raytrain: {num_samples: many, mapping: {}}
         """,
            "raytrain.mapping: unknown key; did you mean 'map'?",
        ),
        (
            """\
         method: bayes
         metric: {name: val_loss}
         early_terminate: {type: hyperband, max_iter: 27}
         parameters: {lr: {min: 0.001, max: 0.1}}
         """,
            "early_terminate.s: hyperband with max_iter needs `s`",
        ),
    ],
)
def test_unsupported_features_are_errors_with_key_paths(text: str, expected: str) -> None:
    problems = _problems(text)
    assert any(expected in p for p in problems), problems


def test_ambiguous_flat_name_asks_for_a_map() -> None:
    raw = {
        "method": "random",
        "metric": {"name": "val_loss"},
        "parameters": {"weight_decay": {"values": [0.0, 0.1]}},
        "raytrain": {"config": {"model": {"_target_": "pkg.Net", "weight_decay": 0.0}}},
    }
    with pytest.raises(InputError, match=r"could be any of model\.weight_decay, optimizer"):
        convert_sweep(raw)


def test_every_problem_is_reported_at_once() -> None:
    problems = _problems("""\
        method: bayes
        metric: {name: val_loss, goal: lower}
        parameters:
          a: {distribution: beta, a: 1, b: 2}
          b: {distribution: inv_log_uniform_values, min: 1, max: 10}
        """)
    assert len(problems) == 3


def test_convert_cli_writes_a_space_that_loads(tmp_path: Path, capsys: Any) -> None:
    sweep = _write(tmp_path, "sweep.yaml", DIFFUSION_SWEEP)
    base = _write(tmp_path, "config.yaml", BASE_CONFIG)
    out = tmp_path / "space.yaml"
    assert main(["convert", str(sweep), "--config", str(base), "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# raytrain space converted from the W&B sweep")
    assert "# note: ignored `program`" in text
    space = load_space(out)
    assert space.name == "unet-lr-attention-sweep" and space.search.num_samples == 20
    assert main(["convert", str(sweep), "--config", str(base)]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["metric"] == "val_loss"


def test_convert_cli_reports_problems_with_lines(tmp_path: Path, capsys: Any) -> None:
    sweep = _write(
        tmp_path,
        "sweep.yaml",
        "method: random\nmetric: {name: val_loss}\n"
        "parameters:\n  lr: {distribution: log_normal, mu: 0, sigma: 1}\n",
    )
    assert main(["convert", str(sweep)]) == 2
    err = capsys.readouterr().err
    assert f"{sweep}:4: parameters.lr: distribution 'log_normal' has no raytrain counterpart" in err


def test_convert_cli_reports_invalid_config_paths_from_the_parser(
    tmp_path: Path, capsys: Any
) -> None:
    sweep = _write(
        tmp_path,
        "sweep.yaml",
        "method: random\nmetric: {name: val_loss}\n"
        "parameters:\n  unet:\n    parameters:\n      channels: {values: [32, 64]}\n",
    )
    assert main(["convert", str(sweep)]) == 2
    err = capsys.readouterr().err
    assert "parameters.unet.channels" in err and f"{sweep}:6" in err


def test_convert_cli_rejects_a_canonical_space(capsys: Any) -> None:
    assert main(["convert", str(REPO / "search_spaces" / "vae.yaml")]) == 2
    assert "not a W&B sweep" in capsys.readouterr().err


def test_bundled_example_sweep_converts_and_validates() -> None:
    conv = read_sweep(REPO / "search_spaces" / "wandb_sweep_example.yaml")
    space = _parse(conv.space, conv.lines)
    assert space.config["model"]["name"] == "vae"
    assert {p.path for p in space.parameters} == {
        "optimizer.lr",
        "data.batch_size",
        "model.beta",
        "model.kl_anneal_epochs",
        "model.latent_dim",
    }
    assert space.scheduler.type == "asha" and space.search.sampler == "tpe"


def test_load_sweep_space_applies_overrides_to_the_converted_space(tmp_path: Path) -> None:
    from raytrain.space.wandb_io import load_sweep_space

    sweep = _write(tmp_path, "sweep.yaml", DIFFUSION_SWEEP)
    base = _write(tmp_path, "config.yaml", BASE_CONFIG)
    space, notes = load_sweep_space(
        sweep, ["search.num_samples=4", "parameters.model.latent_dim.high=8"], base
    )
    assert space.search.num_samples == 4
    latent = next(p for p in space.parameters if p.path == "model.latent_dim")
    assert isinstance(latent, IntParam) and latent.high == 8
    assert space.source == sweep and any("program" in n for n in notes)
    with pytest.raises(InputError, match=r"override 'search\.num_samples=0'"):
        load_sweep_space(sweep, ["search.num_samples=0"], base)


def test_problems_in_the_base_config_name_its_file_and_line(tmp_path: Path) -> None:
    from raytrain.space.wandb_io import load_sweep_space

    sweep = _write(tmp_path, "sweep.yaml", LATENT_SWEEP)
    base = _write(tmp_path, "config.yaml", "seed: 0\nmodel: {name: autoencoder, widht: 3}\n")
    with pytest.raises(InputError) as info:
        load_sweep_space(sweep, [], base)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.path) == (str(base), 2, "config.model.widht")
