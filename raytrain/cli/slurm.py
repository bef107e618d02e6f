"""`raytrain slurm SPACE.yaml [KEY=VALUE ...]`: submit a search as one sbatch job
(and, with `--then-train`, the final training of its best.yaml as a dependent second job).

The job starts a Ray cluster over its nodes and runs `raytrain tune` on it (see
`raytrain.launch.slurm`). The space file is validated here first, so a bad file or
override exits 2 before anything reaches the queue.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from raytrain.cli import add_overrides
from raytrain.errors import InputError, Problem
from raytrain.launch.slurm import RayPorts, SlurmJob, SlurmLauncher
from raytrain.layout import SearchRunLayout, SlurmJobLayout, TrainRunLayout


def _shared_path(value: str) -> Path:
    """`--storage` of a SLURM job: a folder (the job script and SLURM's log sit beside the
    run, and a SLURM cluster's nodes share a file system), not a bucket URI."""
    from raytrain.storage import is_remote

    if is_remote(value):
        raise argparse.ArgumentTypeError(
            f"{value}: a SLURM job's runs go on a shared file system path; for a bucket run "
            "`raytrain tune --storage URI` on a Ray cluster"
        )
    return Path(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", help="search space file")
    add_overrides(parser, "search.num_samples=8")
    job = parser.add_argument_group("allocation")
    job.add_argument("--nodes", type=int, default=1, help="nodes (one Ray node each; default 1)")
    job.add_argument("--gpus-per-node", type=int, default=0, help="GPUs per node (default 0)")
    job.add_argument(
        "--cpus-per-task",
        type=int,
        default=None,
        help="CPUs per node for Ray (default: SLURM's default for the partition)",
    )
    job.add_argument("--time", default="01:00:00", help="time limit (default 01:00:00)")
    job.add_argument("--partition", default=None)
    job.add_argument("--account", default=None)
    job.add_argument(
        "--sbatch-extra",
        action="append",
        default=[],
        metavar="LINE",
        help="extra #SBATCH option, e.g. --sbatch-extra=--mem=32G (repeatable)",
    )
    job.add_argument(
        "--setup",
        action="append",
        default=[],
        metavar="CMD",
        help="shell line run first in the job, e.g. 'module load cuda' (repeatable)",
    )
    job.add_argument(
        "--signal-seconds",
        type=int,
        default=300,
        help="ask SLURM for USR1 this many seconds before the time limit; the "
        "search then stops cleanly and the job requeues itself and resumes "
        "(0: no signal, no requeue; default 300)",
    )
    job.add_argument(
        "--join-timeout",
        type=int,
        default=300,
        help="seconds to wait for the head and all workers (default 300)",
    )
    job.add_argument(
        "--python",
        default=sys.executable,
        help="Python with raytrain installed on the nodes (default: this one)",
    )
    ports = parser.add_argument_group("ports (shared nodes: give each job its own)")
    ports.add_argument("--port", type=int, default=6379, help="Ray GCS port (default 6379)")
    ports.add_argument("--dashboard-port", type=int, default=None)
    ports.add_argument("--client-server-port", type=int, default=None)
    ports.add_argument("--min-worker-port", type=int, default=None)
    ports.add_argument("--max-worker-port", type=int, default=None)
    ports.add_argument("--node-manager-port", type=int, default=None)
    ports.add_argument("--object-manager-port", type=int, default=None)
    run = parser.add_argument_group("run")
    run.add_argument(
        "--storage",
        type=_shared_path,
        default=Path("runs"),
        help="where run directories go; must be on a filesystem every node sees (default: ./runs)",
    )
    run.add_argument("--name", default=None, help="run name (default: the space's name)")
    run.add_argument(
        "--resume",
        action="store_true",
        help="submit a job that continues the existing run of this name",
    )
    run.add_argument(
        "--warm-from",
        action="append",
        type=Path,
        default=[],
        metavar="RUN_DIR",
        help="start the new run's study with the finished trials of an earlier run "
        "(repeatable; as `raytrain tune --warm-from`)",
    )
    run.add_argument(
        "--then-train",
        action="store_true",
        help="also submit the final `raytrain train <run>/best.yaml` as a second job that "
        "starts once the search job has succeeded (--dependency=afterok); it trains into "
        "<storage>/train/<name> on the same allocation shape",
    )
    run.add_argument(
        "--dry-run", action="store_true", help="print the sbatch script(s) only, submit nothing"
    )


def build_job(args: argparse.Namespace, space_name: str) -> SlurmJob:
    ports = RayPorts(
        port=args.port,
        dashboard_port=args.dashboard_port,
        client_server_port=args.client_server_port,
        min_worker_port=args.min_worker_port,
        max_worker_port=args.max_worker_port,
        node_manager_port=args.node_manager_port,
        object_manager_port=args.object_manager_port,
    )
    return SlurmJob(
        space=Path(args.space).resolve(),
        name=args.name or space_name,
        storage=args.storage.resolve(),
        python=args.python,
        overrides=tuple(args.overrides),
        nodes=args.nodes,
        gpus_per_node=args.gpus_per_node,
        cpus_per_task=args.cpus_per_task,
        time=args.time,
        partition=args.partition,
        account=args.account,
        sbatch_extra=tuple(args.sbatch_extra),
        setup=tuple(args.setup),
        signal_seconds=args.signal_seconds,
        join_timeout=args.join_timeout,
        ports=ports,
        warm_from=tuple(p.resolve() for p in args.warm_from),
    )


def check_run_dir(job: SlurmJob, resume: bool) -> None:
    """Refuse to mix runs: a new job needs a fresh run dir, --resume an existing one."""
    exists = SearchRunLayout(job.run_dir).space.is_file()
    if exists and not resume:
        raise InputError(
            Problem(
                "--name",
                f"run {job.run_dir} exists: pass --resume to "
                "continue it, or choose another --name/--storage",
            )
        )
    if resume and not exists:
        raise InputError(Problem("--resume", f"no run to resume at {job.run_dir}"))


def check_train_dir(job: SlurmJob) -> None:
    """The final run must not land in an existing train run dir (it would fail only after
    the whole search)."""
    layout = TrainRunLayout(job.train_dir)
    if layout.root.exists() and any(layout.root.iterdir()):
        raise InputError(
            Problem(
                "--then-train",
                f"{layout.root} exists already: move it away or choose another --name",
            )
        )


def dependency_note(launcher: SlurmLauncher, script: Path) -> str:
    """The comment a dry run prints between the two scripts: how the second is submitted."""
    argv = launcher.submission_command(script, after="SEARCH_JOB_ID")
    return f"# ---- then, once the search job has succeeded: {' '.join(argv)}\n"


def run(args: argparse.Namespace) -> int:
    # Imported here: `raytrain --help` imports every command module (keep it Ray/torch-free).
    from raytrain.space import load_space

    space = load_space(args.space, args.overrides)
    job = build_job(args, space.name)
    if job.warm_from:
        if args.resume:
            raise InputError(Problem("--warm-from", "starts a new run; not with --resume"))
        from raytrain.tune.warm import load_warm_start

        # checked here so a bad source exits 2 before anything is queued
        for source in load_warm_start(space, list(job.warm_from)).sources:
            print(f"warm start: {source.describe()}", file=sys.stderr)
    launcher = SlurmLauncher()
    script = launcher.render_script(job)
    train_job = job.final_train() if args.then_train else None
    files = SlurmJobLayout(job.job_dir)
    if args.dry_run:
        print(script, end="")
        if train_job is not None:
            print(dependency_note(launcher, files.train_script), end="")
            print(launcher.render_script(train_job), end="")
        return 0
    check_run_dir(job, args.resume)
    if train_job is not None:
        check_train_dir(train_job)
    job_id = launcher.submit(job, files.script)
    print(f"submitted SLURM job {job_id}")
    train_id = None
    if train_job is not None:
        train_id = launcher.submit(train_job, files.train_script, after=job_id)
        print(f"submitted SLURM job {train_id} (final train, after {job_id} succeeds)")
    print(f"run directory: {job.run_dir}")
    print(f"job log:       {files.log(job_id)}")
    if train_job is not None and train_id is not None:
        print(f"final run:     {train_job.train_dir}   (log {files.log(train_id)})")
    queue = f"{job_id},{train_id}" if train_id else job_id
    print(f"watch:         raytrain status {job.run_dir} --watch   |   squeue -j {queue}")
    print(
        f"cancel:        scancel {queue}   (stop early and requeue: "
        f"scancel --batch --signal=USR1 {job_id})"
    )
    return 0
