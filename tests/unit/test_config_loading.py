"""`raytrain train CONFIG.yaml KEY=VALUE`: loading a train config file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from raytrain.config.loading import load_train_config, load_train_config_with_provenance
from raytrain.config.parse import train_config_to_dict
from raytrain.config.yaml_io import dump_yaml
from raytrain.errors import InputError, Problem


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(path: Path, overrides: tuple[str, ...] = ()) -> list[Problem]:
    with pytest.raises(InputError) as info:
        load_train_config(path, overrides)
    return info.value.problems


def test_exported_config_with_provenance(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "best.yaml",
        """\
        seed: 1
        model: {name: mlp, hidden: 64}
        trainer: {max_epochs: 3}
        provenance:
          experiment: quickstart
          trial_id: abc_00001
          value: 0.97
        """,
    )
    cfg, provenance = load_train_config_with_provenance(path)
    assert cfg.seed == 1 and cfg.model.kwargs == {"hidden": 64}
    assert provenance == {"experiment": "quickstart", "trial_id": "abc_00001", "value": 0.97}
    assert load_train_config(path) == cfg


def test_no_provenance(tmp_path: Path) -> None:
    cfg, provenance = load_train_config_with_provenance(write(tmp_path, "c.yaml", "seed: 2\n"))
    assert provenance is None and cfg.seed == 2


def test_overrides_and_interpolation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        """\
        trainer: {max_epochs: 10}
        lr_scheduler: {name: step, step_size: "${trainer.max_epochs}"}
        """,
    )
    cfg = load_train_config(path, ["trainer.max_epochs=4", "optimizer.lr=1e-2", "seed=7"])
    assert cfg.trainer.max_epochs == 4
    assert cfg.lr_scheduler.kwargs == {"step_size": 4}
    assert cfg.optimizer.kwargs["lr"] == 0.01 and cfg.seed == 7


def test_unknown_override_key_names_the_override(tmp_path: Path) -> None:
    (p,) = problems(write(tmp_path, "c.yaml", "seed: 1\n"), ("trainer.max_epoch=3",))
    assert p.file == "override 'trainer.max_epoch=3'" and "did you mean 'max_epochs'" in p.message


def test_base_chain(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "model: {name: mlp, hidden: 16, depth: 1}\nseed: 5\n")
    (tmp_path / "sub").mkdir()
    write(tmp_path, "sub/b.yaml", "base: ../a.yaml\nmodel: {hidden: 32}\n")
    path = write(tmp_path, "c.yaml", "base: sub/b.yaml\ntrainer: {max_epochs: 2}\n")
    cfg = load_train_config(path)
    assert cfg.model.kwargs == {"hidden": 32, "depth": 1}
    assert cfg.seed == 5 and cfg.trainer.max_epochs == 2


def test_problem_in_base_points_at_the_base_file(tmp_path: Path) -> None:
    base = write(tmp_path, "a.yaml", "seed: 1\ntrainer: {max_epochs: 0}\n")
    (p,) = problems(write(tmp_path, "c.yaml", "base: a.yaml\n"))
    assert (p.file, p.line, p.path) == (str(base), 2, "trainer.max_epochs")


def test_base_cycle(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "base: b.yaml\n")
    write(tmp_path, "b.yaml", "base: a.yaml\n")
    found = problems(tmp_path / "a.yaml")
    assert any("cycle" in p.message for p in found)


def test_missing_base(tmp_path: Path) -> None:
    (p,) = problems(write(tmp_path, "c.yaml", "seed: 1\nbase: gone.yaml\n"))
    assert (p.path, p.line) == ("base", 2) and "not found" in p.message


def test_syntax_error_and_override_problem_together(tmp_path: Path) -> None:
    found = problems(write(tmp_path, "c.yaml", "seed: [1\n"), ("novalue",))
    assert any("YAML syntax error" in p.message for p in found)
    assert any(p.file == "override 'novalue'" for p in found)


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    cfg = load_train_config(write(tmp_path, "c.yaml", "model: {name: mlp, dropout: 0}\n"))
    again = tmp_path / "again.yaml"
    again.write_text(dump_yaml(train_config_to_dict(cfg)))
    assert load_train_config(again) == cfg


def test_every_broken_interpolation_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        """\
        seed: 3
        model: {name: mlp, hidden: "${nope}", depth: "${seed"}
        trainer: {max_epochs: "${seed}"}
        """,
    )
    found = {(p.path, p.line) for p in problems(path)}
    assert found == {("model.hidden", 2), ("model.depth", 2)}  # no follow-on type errors


def test_interpolation_inside_lists_and_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAYTRAIN_TEST_PROJECT", "proj")
    path = write(
        tmp_path,
        "c.yaml",
        """\
        logging: {wandb: {project: "${oc.env:RAYTRAIN_TEST_PROJECT}", tags: ["run-${seed}", x]}}
        seed: 4
        """,
    )
    cfg = load_train_config(path)
    assert cfg.logging.wandb is not None
    assert cfg.logging.wandb.project == "proj"
    assert cfg.logging.wandb.tags == ("run-4", "x")
