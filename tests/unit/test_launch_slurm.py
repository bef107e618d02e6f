"""The sbatch job `raytrain slurm` renders: recorded output, bash syntax, options, parsing.

The record (tests/unit/records/slurm_job.sbatch) is the full script for a fixed job; when
the template changes on purpose, rewrite it with RAYTRAIN_UPDATE_RECORDS=1 and review the
diff like code.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fixtures.cluster import FakeCommands

from raytrain.cli import main
from raytrain.errors import InputError, RunError
from raytrain.launch import JobEnvironment, RayPorts, SlurmJob, SlurmLauncher
from raytrain.launch.slurm import fill, sbatch_directives, template_text

REPO = Path(__file__).resolve().parents[2]
RECORD = Path(__file__).parent / "records" / "slurm_job.sbatch"
TRAIN_RECORD = Path(__file__).parent / "records" / "slurm_train_job.sbatch"


def recorded_job() -> SlurmJob:
    return SlurmJob(
        space=Path("/home/ada/project/search_spaces/digits.yaml"),
        name="digits-mlp",
        storage=Path("/shared/runs"),
        python="/home/ada/venv/bin/python",
        overrides=("search.num_samples=16", "config.trainer.max_epochs=5"),
        nodes=3,
        gpus_per_node=2,
        cpus_per_task=8,
        time="04:00:00",
        partition="gpu",
        account="ml-lab",
        sbatch_extra=("--mem=64G", "#SBATCH --qos=normal"),
        setup=("module load cuda/12.4",),
        signal_seconds=600,
        ports=RayPorts(
            port=6400,
            dashboard_port=8400,
            client_server_port=23400,
            min_worker_port=24000,
            max_worker_port=24999,
        ),
    )


def test_rendered_script_matches_record() -> None:
    script = SlurmLauncher().render_script(recorded_job())
    if os.environ.get("RAYTRAIN_UPDATE_RECORDS"):
        RECORD.write_text(script)
    assert script == RECORD.read_text(), "template changed: see the module docstring"


def test_rendered_final_train_script_matches_record() -> None:
    script = SlurmLauncher().render_script(recorded_job().final_train())
    if os.environ.get("RAYTRAIN_UPDATE_RECORDS"):
        TRAIN_RECORD.write_text(script)
    assert script == TRAIN_RECORD.read_text(), "template changed: see the module docstring"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
@pytest.mark.parametrize("stage", ["search", "train"])
def test_rendered_script_is_valid_bash(tmp_path: Path, stage: str) -> None:
    job = recorded_job() if stage == "search" else recorded_job().final_train()
    script = tmp_path / "job.sbatch"
    script.write_text(SlurmLauncher().render_script(job))
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_final_train_job_trains_best_yaml_without_signal_or_requeue() -> None:
    train = recorded_job().final_train()
    script = SlurmLauncher().render_script(train)
    lines = sbatch_directives(train)
    assert "#SBATCH --job-name=raytrain-digits-mlp-train" in lines
    assert "#SBATCH --nodes=3" in lines and "#SBATCH --gpus-per-node=2" in lines
    assert not any("--signal" in line or "--requeue" in line for line in lines)
    assert "#SBATCH --no-requeue" in lines
    assert "STAGE=train" in script and "REQUEUE=0" in script
    assert '-m raytrain train "$RUN_DIR/best.yaml" --storage "$STORAGE/train"' in script
    assert train.train_dir == Path("/shared/runs/train/digits-mlp")
    assert "STAGE=search" in SlurmLauncher().render_script(recorded_job())


def test_script_starts_head_and_workers_with_token_auth_and_never_holds_the_token() -> None:
    script = SlurmLauncher().render_script(recorded_job())
    assert "export RAY_AUTH_MODE=token" in script
    assert "export RAY_AUTH_TOKEN" in script
    assert "start --head --block" in script
    assert "start --block --address=" in script
    assert "srun --nodes=$((NODES - 1))" in script
    # The token is made when the job runs; no literal secret is rendered into the file.
    assert "RAY_AUTH_TOKEN=$(" in script
    assert "token_hex" in script and 'echo "$RAY_AUTH_TOKEN' not in script


def test_directives_follow_the_options() -> None:
    lines = sbatch_directives(recorded_job())
    assert "#SBATCH --nodes=3" in lines
    assert "#SBATCH --gpus-per-node=2" in lines
    assert "#SBATCH --signal=B:USR1@600" in lines
    assert "#SBATCH --requeue" in lines
    assert lines[-2:] == ["#SBATCH --mem=64G", "#SBATCH --qos=normal"]


def test_no_signal_means_no_requeue_and_defaults_stay_out() -> None:
    job = SlurmJob(
        space=Path("/s.yaml"), name="n", storage=Path("/r"), python="python", signal_seconds=0
    )
    lines = sbatch_directives(job)
    joined = "\n".join(lines)
    assert "--signal" not in joined and "--requeue" not in joined
    assert "--gpus-per-node" not in joined and "--partition" not in joined
    assert "--no-requeue" not in joined, "only the final train job refuses requeues"
    assert "--cpus-per-task" not in joined
    assert "REQUEUE=0" in SlurmLauncher().render_script(job)


def test_values_are_quoted_for_bash() -> None:
    job = SlurmJob(
        space=Path("/my dir/space.yaml"),
        name="n",
        storage=Path("/r"),
        python="python",
        overrides=("config.model.name=a b",),
    )
    script = SlurmLauncher().render_script(job)
    assert "SPACE='/my dir/space.yaml'" in script
    assert "OVERRIDES=('config.model.name=a b')" in script


def test_every_bad_option_is_reported_at_once() -> None:
    job = SlurmJob(
        space=Path("/s.yaml"),
        name="bad name",
        storage=Path("/r"),
        python="p",
        nodes=0,
        time="soon",
        signal_seconds=-1,
        ports=RayPorts(port=70000, min_worker_port=30000, max_worker_port=20000),
    )
    with pytest.raises(InputError) as info:
        SlurmLauncher().render_script(job)
    keys = {p.path for p in info.value.problems}
    assert keys == {
        "--nodes",
        "--time",
        "--signal-seconds",
        "--name",
        "--port",
        "--min-worker-port",
    }


def test_half_a_worker_port_range_is_rejected() -> None:
    problems = RayPorts(min_worker_port=20000).problems()
    assert [p.path for p in problems] == ["--min-worker-port"]


@pytest.mark.parametrize(
    ("stdout", "job_id"),
    [
        ("1234\n", "1234"),
        ("77;cluster-a\n", "77"),
        ("Submitted batch job 9\n", "9"),
        ("sbatch: warning: something\n42\n", "42"),
    ],
)
def test_parse_job_id(stdout: str, job_id: str) -> None:
    assert SlurmLauncher().parse_job_id(stdout) == job_id


def test_parse_job_id_without_an_id_is_a_run_error() -> None:
    with pytest.raises(RunError):
        SlurmLauncher().parse_job_id("sbatch: error: Batch job submission failed\n")


def test_submission_command_is_parsable_sbatch() -> None:
    assert SlurmLauncher().submission_command(Path("/x/job.sbatch")) == [
        "sbatch",
        "--parsable",
        "/x/job.sbatch",
    ]


def test_a_dependent_submission_waits_for_success_and_dies_with_a_failed_search() -> None:
    assert SlurmLauncher().submission_command(Path("/x/train.sbatch"), after="77") == [
        "sbatch",
        "--parsable",
        "--dependency=afterok:77",
        "--kill-on-invalid-dep=yes",
        "/x/train.sbatch",
    ]


def test_fill_rejects_missing_and_unknown_placeholders() -> None:
    with pytest.raises(KeyError):
        fill("{{a}} {{b}}", {"a": "1"})
    with pytest.raises(KeyError):
        fill("{{a}}", {"a": "1", "c": "2"})
    assert fill("x{{a}}y", {"a": "1"}) == "x1y"


def test_template_ships_with_the_package_and_cluster_copy_is_the_same() -> None:
    assert template_text() == (REPO / "cluster" / "slurm" / "raytrain.sbatch").read_text()


def test_job_environment_reads_slurm_variables() -> None:
    env = JobEnvironment.from_environ(
        {
            "SLURM_JOB_ID": "12",
            "SLURM_JOB_NUM_NODES": "4",
            "SLURM_RESTART_COUNT": "2",
            "SLURMD_NODENAME": "gpu01",
            "SLURM_JOB_NODELIST": "gpu[01-04]",
        }
    )
    assert env == JobEnvironment("12", 4, 2, "gpu01", "gpu[01-04]")
    assert env.in_job and env.requeued
    outside = JobEnvironment.from_environ({"SLURM_RESTART_COUNT": "junk"})
    assert not outside.in_job and not outside.requeued and outside.num_nodes == 1


SPACE = """\
name: tiny
config:
  model: {name: mlp, hidden: 16, depth: 1}
  data: {name: digits, batch_size: 64}
  optimizer: {name: adamw, lr: 1.0e-3}
  trainer: {max_epochs: 2}
metric: val_loss
mode: min
parameters:
  optimizer.lr: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}
search: {sampler: random, num_samples: 2, seed: 0}
"""


def test_cli_dry_run_prints_the_script(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    code = main(
        [
            "slurm",
            str(space),
            "search.num_samples=3",
            "--nodes",
            "2",
            "--storage",
            str(tmp_path / "runs"),
            "--dry-run",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("#!/bin/bash\n#SBATCH --job-name=raytrain-tiny\n")
    assert "OVERRIDES=(search.num_samples=3)" in out
    assert not (tmp_path / "runs").exists(), "a dry run writes nothing"


def test_cli_bad_space_exits_2_before_submitting(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE.replace("type: float", "type: floaty"))
    code = main(["slurm", str(space), "--storage", str(tmp_path / "runs")])
    assert code == 2
    assert "floaty" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_cli_bad_option_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    assert main(["slurm", str(space), "--time", "tomorrow", "--dry-run"]) == 2
    assert "--time" in capsys.readouterr().err


def test_cli_refuses_to_mix_runs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    runs = tmp_path / "runs"
    assert main(["slurm", str(space), "--storage", str(runs), "--resume"]) == 2
    assert "no run to resume" in capsys.readouterr().err
    (runs / "tiny").mkdir(parents=True)
    (runs / "tiny" / "space.yaml").write_text(SPACE)
    assert main(["slurm", str(space), "--storage", str(runs)]) == 2
    assert "--resume" in capsys.readouterr().err


def counting_sbatch(fake: FakeCommands, first_id: int) -> None:
    """An `sbatch` that logs its argv and prints a new job id per call (first_id, +1, ...)."""
    log = fake.calls_file("sbatch")
    script = fake.folder / "sbatch"
    script.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\necho $(( {first_id} + $(wc -l < {log}) - 1 ))\n'
    )
    script.chmod(0o755)


def test_cli_then_train_submits_a_dependent_final_run(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeCommands(tmp_path / "bin", monkeypatch)
    counting_sbatch(fake, 500)
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    runs = tmp_path / "runs"
    assert main(["slurm", str(space), "--storage", str(runs), "--then-train"]) == 0
    out = capsys.readouterr().out
    jobs = runs / "_slurm" / "tiny"
    assert fake.calls("sbatch") == [
        ["--parsable", str(jobs / "job.sbatch")],
        [
            "--parsable",
            "--dependency=afterok:500",
            "--kill-on-invalid-dep=yes",
            str(jobs / "train.sbatch"),
        ],
    ]
    assert "submitted SLURM job 500\n" in out
    assert "submitted SLURM job 501 (final train, after 500 succeeds)" in out
    assert f"final run:     {runs.resolve() / 'train' / 'tiny'}" in out
    assert "squeue -j 500,501" in out
    assert "STAGE=search" in (jobs / "job.sbatch").read_text()
    assert "STAGE=train" in (jobs / "train.sbatch").read_text()


def test_cli_then_train_dry_run_prints_both_scripts(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    runs = tmp_path / "runs"
    assert main(["slurm", str(space), "--storage", str(runs), "--then-train", "--dry-run"]) == 0
    out = capsys.readouterr().out
    search, note, train = re.split(r"^(# ---- then.*)$", out, flags=re.M)
    assert "STAGE=search" in search and "STAGE=train" in train
    assert "--dependency=afterok:SEARCH_JOB_ID" in note
    assert train.lstrip("\n").startswith("#!/bin/bash\n#SBATCH --job-name=raytrain-tiny-train\n")
    assert not runs.exists()


def test_cli_then_train_refuses_an_existing_train_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeCommands(tmp_path / "bin", monkeypatch)
    counting_sbatch(fake, 1)
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    runs = tmp_path / "runs"
    (runs / "train" / "tiny").mkdir(parents=True)
    (runs / "train" / "tiny" / "config.yaml").write_text("{}")
    assert main(["slurm", str(space), "--storage", str(runs), "--then-train"]) == 2
    assert "--then-train" in capsys.readouterr().err
    assert fake.calls("sbatch") == [], "nothing is submitted"


def test_warm_from_reaches_the_new_run_only(tmp_path: Path) -> None:
    job = SlurmJob(
        space=Path("/s.yaml"),
        name="n",
        storage=Path("/r"),
        python="python",
        warm_from=(Path("/shared/runs/old run"), Path("/shared/runs/older")),
    )
    script = SlurmLauncher().render_script(job)
    assert "TUNE_ARGS=(--warm-from '/shared/runs/old run' --warm-from /shared/runs/older)" in script
    resume_line = next(line for line in script.splitlines() if "--resume --address" in line)
    assert "TUNE_ARGS" not in resume_line, "a resumed run keeps its warm trials"
    assert '--no-live "${TUNE_ARGS[@]}" &' in script
    assert "TUNE_ARGS=()" in SlurmLauncher().render_script(recorded_job())


def test_cli_warm_from_is_checked_before_submitting(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeCommands(tmp_path / "bin", monkeypatch)
    counting_sbatch(fake, 1)
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    runs = str(tmp_path / "runs")
    (tmp_path / "empty").mkdir()
    warm = str(tmp_path / "empty")
    assert main(["slurm", str(space), "--storage", runs, "--warm-from", warm]) == 2
    assert "not a search run" in capsys.readouterr().err
    assert fake.calls("sbatch") == [], "nothing is submitted"
