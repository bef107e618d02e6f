"""The Ray import rule (raytrain/local_ray.py): nothing imports `ray` before the private
local Ray is set up, because Ray reads its token-auth settings once, when it loads.

`local_ray` refuses to start when the rule is broken, and the real `tune` / `train`
command lines reach it with `ray` still unimported. No Ray is started: the head start is
replaced by a stand-in that reports and stops the command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from raytrain import local_ray as lr

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "search_spaces" / "quickstart.yaml"

# Runs a command line in a fresh interpreter up to the head start, then prints whether
# `ray` had been imported by then. `{before}` is code run first (to break the rule).
PROBE = """
import sys
{before}
from raytrain import local_ray
from raytrain.cli import main

class Reached(Exception):
    pass

def fake_start(*args, **kwargs):
    print("head start reached; ray imported:", "ray" in sys.modules)
    raise Reached

local_ray.start_local_ray = fake_start
try:
    rc = main({argv!r})  # the CLI turns RayImportedTooEarly (a RunError) into a message
    print("exit code", rc)
except Reached:
    pass
"""


def probe(argv: list[str], before: str = "") -> str:
    code = PROBE.format(before=before, argv=argv)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def command_lines(tmp_path: Path) -> dict[str, list[str]]:
    config = tmp_path / "train.yaml"
    config.write_text("model: {name: mlp}\ndata: {name: synthetic}\n")
    return {
        "tune": ["tune", str(QUICKSTART), "--storage", str(tmp_path / "runs")],
        "train": ["train", str(config), "--storage", str(tmp_path / "runs")],
    }


def test_local_ray_refuses_once_ray_is_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_start(*args: object, **kwargs: object) -> lr.LocalRay:
        raise AssertionError("a head was started although ray was imported")

    monkeypatch.setattr(lr, "start_local_ray", must_not_start)
    monkeypatch.setitem(sys.modules, "ray", sys.modules.get("ray") or object())
    refused = pytest.raises(lr.RayImportedTooEarly, match="imported before raytrain set up")
    with refused, lr.local_ray():
        pass


@pytest.mark.parametrize("command", ["tune", "train"])
def test_the_command_reaches_the_session_with_ray_unimported(command: str, tmp_path: Path) -> None:
    out = probe(command_lines(tmp_path)[command])
    assert "head start reached; ray imported: False" in out, out


def test_the_rule_is_checked_on_the_real_command_line(tmp_path: Path) -> None:
    """The probe above would see a module that imports ray too early: here, `import ray`."""
    out = probe(command_lines(tmp_path)["tune"], before="import ray")
    assert "`ray` was imported before raytrain set up" in out and "exit code 1" in out, out
    assert "Traceback" not in out, out
    assert "head start reached" not in out
