"""`raytrain validate` as a user runs it: exit codes, messages, speed, no heavy imports."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "search_spaces" / "quickstart.yaml"
HEAVY = ("ray", "torch", "lightning", "optuna", "pytorch_lightning")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "raytrain", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_valid_space_prints_the_plan() -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run_cli("validate", str(QUICKSTART))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert result.returncode == 0, result.stderr
    trials = yaml.safe_load(QUICKSTART.read_text())["search"]["num_samples"]
    expected = ("parameters (", f"trials: {trials}", "sampler: tpe", "ASHA rungs", "resources per")
    for text in expected:
        assert text in result.stdout
    # CPU time, not wall time: the test machine is shared; alone this answers in ~0.3 s.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < 1.0, f"validate used {cpu:.2f} s of CPU"


def test_overrides_show_in_the_plan() -> None:
    result = run_cli("validate", str(QUICKSTART), "search.num_samples=3", "search.sampler=random")
    assert result.returncode == 0, result.stderr
    assert "trials: 3" in result.stdout and "sampler: random" in result.stdout


def test_validate_imports_no_ray_torch_lightning_or_optuna() -> None:
    code = (
        "import sys\nfrom raytrain.cli import main\n"
        f"rc = main(['validate', {str(QUICKSTART)!r}])\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_bad_space_exits_2_with_every_problem_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "metric: val_loss\nmode: min\n"
        "parameters:\n"
        "  optimizer.lr: {type: float, low: 1.0, high: 0.1}\n"
        "  model.hidden: {type: int, low: 8, high: 64, stp: 8}\n"
        "search: {sampler: tpee}\n"
    )
    result = run_cli("validate", str(bad), "search.num_samples=0")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{bad}:4: parameters.optimizer.lr.low:" in result.stderr
    assert f"{bad}:5: parameters.model.hidden.stp: unknown key" in result.stderr
    assert "did you mean 'tpe'" in result.stderr
    assert "override 'search.num_samples=0': search.num_samples: must be >= 1" in result.stderr


def test_python_tag_never_runs_through_the_cli(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.yaml"
    bad.write_text(
        f"metric: !!python/object/apply:os.system ['touch {marker}']\nmode: min\n"
        "parameters:\n  optimizer.lr: {type: float, low: 0.1, high: 1.0}\n"
    )
    result = run_cli("validate", str(bad))
    assert result.returncode == 2
    assert "!!python/object/apply:os.system" in result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "cannot read file" in result.stderr and "Traceback" not in result.stderr


def test_help_lists_validate() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "validate" in result.stdout


def _laughs() -> str:
    """Billion laughs: 10 aliases of 10 aliases of ... (10**9 values once expanded)."""
    rows = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    rows += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    return "\n".join(rows) + "\n"


HOSTILE = {
    "billion_laughs": (_laughs(), "has more than"),
    "self_reference": ("a: &x [*x]\n", "refers to itself"),
    "deep_flow": ("a: " + "[" * 20000 + "]" * 20000 + "\n", "nested too deeply"),
    "deep_block": ("".join(" " * i + f"k{i}:\n" for i in range(1200)), "nested too deeply"),
    "deep_flow_mapping": ("a: " + "{a: " * 20000 + "}" * 20000 + "\n", "nested too deeply"),
    "megabytes": (
        "name: big\nparameters:\n" + "".join(f"  p{i}: {i}\n" for i in range(200_000)),
        "may be at most 1 MiB",
    ),
    "huge_string": ("name: " + "x" * 3_000_000 + "\n", "may be at most 1 MiB"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_yaml_is_refused_fast_with_a_clear_message(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from raytrain.cli import main

    text, expected = HOSTILE[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    # CPU time, not wall time: with two test modules at once on two cores (pytest-xdist,
    # README "Development") a neighbour's Ray start-up can take this process's core a while
    started = time.process_time()
    code = main(["validate", str(path)])
    took = time.process_time() - started
    err = capsys.readouterr().err
    assert code == 2 and expected in err and str(path) in err, err[-500:]
    assert "Traceback" not in err
    assert took < 1.0, f"{case}: {took:.2f} s"


def test_hostile_override_values_are_refused_too(capsys: pytest.CaptureFixture[str]) -> None:
    from raytrain.cli import main

    code = main(["validate", str(QUICKSTART), "search.seed=" + "[" * 20000])
    assert code == 2 and "Traceback" not in capsys.readouterr().err
