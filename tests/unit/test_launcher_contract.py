"""Every launcher, one suite: submit writes the job file, runs the scheduler's submit
command, returns the job id, and turns each way submission fails into a clear `RunError`.

The scheduler's commands are stand-ins on PATH (`fixtures.cluster.FakeCommands`); the
launcher under test is real. A new launcher joins by adding a case to `LAUNCHERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fixtures.cluster import FakeCommands

from raytrain.cli import main
from raytrain.errors import RunError
from raytrain.launch import Launcher, SlurmJob, SlurmLauncher
from raytrain.launch import base as launch_base


@dataclass
class Case:
    launcher: Launcher[Any]
    job: Any
    stdout: str  # what the submit command prints on success
    job_id: str  # the id in that output
    script: Path  # where the job file goes
    fake: FakeCommands
    command: str  # the submit command's name

    def define(self, **behaviour: Any) -> None:
        self.fake.define(self.command, **behaviour)


def _slurm(tmp: Path) -> tuple[Launcher[Any], Any, str, str]:
    job = SlurmJob(space=tmp / "space.yaml", name="contract", storage=tmp / "runs", python="py")
    return SlurmLauncher(), job, "4242;cluster-a\n", "4242"


LAUNCHERS: dict[str, Callable[[Path], tuple[Launcher[Any], Any, str, str]]] = {"slurm": _slurm}


@pytest.fixture(params=sorted(LAUNCHERS))
def case(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Case:
    launcher, job, stdout, job_id = LAUNCHERS[request.param](tmp_path)
    script = tmp_path / "jobs" / "job.file"
    command = launcher.submission_command(script)[0]
    fake = FakeCommands(tmp_path / "bin", monkeypatch)
    return Case(launcher, job, stdout, job_id, script, fake, command)


def test_submit_writes_the_job_file_runs_the_command_and_returns_the_id(case: Case) -> None:
    case.define(stdout=case.stdout)
    assert case.launcher.submit(case.job, case.script) == case.job_id
    assert case.script.read_text() == case.launcher.render_script(case.job)
    assert case.fake.calls(case.command) == [case.launcher.submission_command(case.script)[1:]]


def test_a_failing_submit_command_is_a_run_error_with_its_stderr(case: Case) -> None:
    case.define(stderr="error: Batch job submission failed: Invalid account\n", code=1)
    with pytest.raises(RunError, match=r"failed \(1\): error: Batch job submission failed"):
        case.launcher.submit(case.job, case.script)


def test_output_without_a_job_id_is_a_run_error(case: Case) -> None:
    case.define(stdout="Welcome to the cluster! Maintenance on Friday.\n")
    with pytest.raises(RunError, match="no job id"):
        case.launcher.submit(case.job, case.script)


def test_a_missing_submit_command_is_a_run_error(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(case.fake.folder))  # nothing defined there
    with pytest.raises(RunError, match=f"{case.command} not found"):
        case.launcher.submit(case.job, case.script)


def test_a_submit_command_that_hangs_is_a_run_error(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launch_base, "SUBMIT_TIMEOUT_S", 0.3)
    case.define(hang=True)
    with pytest.raises(RunError, match="did not answer"):
        case.launcher.submit(case.job, case.script)


# `raytrain slurm` itself, on the same stand-in sbatch.
SPACE = """\
name: tiny
config: {trainer: {max_epochs: 2}}
metric: val_loss
mode: min
parameters:
  optimizer.lr: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}
search: {sampler: random, num_samples: 2, seed: 0}
"""


@pytest.fixture
def space(tmp_path: Path) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(SPACE)
    return path


def test_cli_slurm_submits_and_prints_how_to_watch(
    space: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    fake = FakeCommands(tmp_path / "bin", monkeypatch)
    fake.define("sbatch", stdout="77\n")
    runs = tmp_path / "runs"
    assert main(["slurm", str(space), "--storage", str(runs), "search.num_samples=3"]) == 0
    out = capsys.readouterr().out
    assert "submitted SLURM job 77" in out and "squeue -j 77" in out
    script = runs / "_slurm" / "tiny" / "job.sbatch"
    assert fake.calls("sbatch") == [["--parsable", str(script)]]
    assert "OVERRIDES=(search.num_samples=3)" in script.read_text()


def test_cli_slurm_shows_sbatch_errors_and_exits_1(
    space: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    fake = FakeCommands(tmp_path / "bin", monkeypatch)
    fake.define("sbatch", stderr="sbatch: error: invalid partition specified: gpu\n", code=1)
    code = main(["slurm", str(space), "--storage", str(tmp_path / "runs"), "--partition", "gpu"])
    assert code == 1
    err = capsys.readouterr().err
    assert "error: sbatch failed (1): sbatch: error: invalid partition specified: gpu" in err
