"""Start-vs-resume rules of a run directory."""

from __future__ import annotations

import pytest
import yaml

from raytrain.errors import InputError
from raytrain.layout import SearchRunLayout, resume_conflicts
from raytrain.tune.budget import read_budget


def check_new_run(path):
    SearchRunLayout(path).check_new()


def check_resume(path, dump):
    return SearchRunLayout(path).check_resume(dump)


def write_space(path, dump):
    SearchRunLayout(path).write_space(dump)


SPACE = {
    "name": "x",
    "metric": "val_loss",
    "search": {"num_samples": 4, "sampler": "tpe"},
    "parameters": {"optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-1}},
}


def test_existing_run_is_never_overwritten(tmp_path):
    write_space(tmp_path / "run", SPACE)
    with pytest.raises(InputError, match="already exists"):
        check_new_run(tmp_path / "run")
    check_new_run(tmp_path / "fresh")  # absent: fine


def test_resume_requires_a_run(tmp_path):
    with pytest.raises(InputError, match="no run to resume"):
        check_resume(tmp_path / "missing", SPACE)


def test_resume_allows_only_budget_changes(tmp_path):
    write_space(tmp_path, SPACE)
    more = {**SPACE, "search": {"num_samples": 9, "sampler": "tpe"}}
    assert check_resume(tmp_path, more)["search"]["num_samples"] == 4
    other = {**SPACE, "search": {"num_samples": 4, "sampler": "random"}}
    with pytest.raises(InputError, match=r"search\.sampler"):
        check_resume(tmp_path, other)


def test_conflicts_list_added_and_removed_keys():
    a = {"parameters": {"x": {"low": 1}}}
    b = {"parameters": {"x": {"low": 2}, "y": 1}}
    assert resume_conflicts(a, b) == ["parameters.x.low", "parameters.y"]


def test_budget_is_read_from_space_file(tmp_path):
    assert read_budget(tmp_path) is None
    write_space(tmp_path, SPACE)
    assert read_budget(tmp_path) == 4
    assert yaml.safe_load((tmp_path / "space.yaml").read_text())["name"] == "x"
