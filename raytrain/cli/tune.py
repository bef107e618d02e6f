"""`raytrain tune SPACE.yaml [KEY=VALUE ...]`: run (or resume) a search."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from raytrain.cli import add_overrides, add_ray_address, add_search_output
from raytrain.errors import InputError, Problem
from raytrain.layout import SearchRunLayout

if TYPE_CHECKING:
    from raytrain.space.types import Space
    from raytrain.storage import RemoteDir
    from raytrain.tune.runner import TuneOutcome
    from raytrain.tune.warm import WarmStart


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "space", help="space file, or a run directory (or its s3://... URI) with --resume"
    )
    add_overrides(parser, "search.num_samples=8")
    parser.add_argument(
        "--config", default=None, metavar="FILE", help="base train config for a W&B sweep file"
    )
    add_ray_address(parser)
    parser.add_argument(
        "--storage",
        default=None,
        help="where run directories go: a folder, or s3://bucket/prefix, gs://... "
        "(default: ./runs)",
    )
    parser.add_argument("--name", default=None, help="run name (default: the space's name)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run; raise search.num_samples to extend a finished one",
    )
    parser.add_argument(
        "--warm-from",
        action="append",
        default=[],
        metavar="RUN_DIR",
        help="start the new study with the finished trials of an earlier search run whose "
        "values fit this space (repeatable); TPE's start-up counts them",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan and the resource plan on the cluster, run nothing",
    )
    add_search_output(parser)


def _warm_start(space: Space, sources: list[str], resume: bool) -> WarmStart | None:
    """Read the `--warm-from` runs before Ray starts, so a bad one exits 2 at once (a run
    in a bucket from its read copy)."""
    if not sources:
        return None
    if resume:
        raise InputError(
            Problem(
                "--warm-from",
                "starts a new run; a resumed run keeps the warm trials it started with",
            )
        )
    from raytrain.space.catalogue import SAMPLERS
    from raytrain.storage import open_run
    from raytrain.tune.warm import load_warm_start

    runs = [open_run(source)[0] for source in sources]
    warm = load_warm_start(space, runs)
    for note in warm.notes:
        print(f"note: {note}")
    for source in warm.sources:
        print(f"warm start: {source.describe()}")
    if not SAMPLERS[space.search.sampler].model_based:
        print(
            f"note: the {space.search.sampler} sampler does not learn from finished trials: "
            "the warm trials are in the study (optuna-dashboard, status) but do not steer it"
        )
    return warm


def run(args: argparse.Namespace) -> int:
    # Imported here (`--help` imports every command module), and Ray-free until the
    # session is entered (the import rule in raytrain/local_ray.py).
    from raytrain import storage as objects
    from raytrain.runlock import run_lock
    from raytrain.space import load_space_with_notes

    storage, name = args.storage, args.name
    remote = _remote_run(args)  # a run in a bucket: its working copy, up to date
    target = remote.local if remote is not None and args.resume else Path(args.space)
    if target.is_dir():
        run = SearchRunLayout(target)
        if not run.space.is_file():  # a search run to go on from needs its space file
            raise InputError(
                f"{target} is a directory but not a raytrain search run (no {run.space.name})"
            )
        if remote is None:
            storage = storage or target.resolve().parent
            name = name or target.resolve().name
        target = run.space
    space, notes = load_space_with_notes(target, args.overrides, args.config)
    for note in notes:
        print(f"note: {note}")
    if remote is None and objects.is_remote(storage):
        remote = objects.RemoteDir.working_copy(objects.join(str(storage), name or space.name))
        if args.resume:  # `tune space.yaml --storage s3://... --resume`
            objects.continue_run(remote, check_driver=not args.dry_run)
        elif not args.dry_run:
            _check_new_in_bucket(remote)
    if remote is not None:
        if str(args.address or "").startswith("ray://"):
            # Ray Client runs this driver here, but the trials' Tune actors on the head
            # write their checkpoints into the working copy: it must be the head's disk
            raise InputError(
                Problem(
                    "--address",
                    "a run in a bucket is driven from the head node: run `raytrain tune` "
                    "there (ray attach, or ray job submit) with --address auto",
                )
            )
        layout = SearchRunLayout(remote.local)
    else:
        layout = SearchRunLayout.at(Path(storage or "runs"), name or space.name)
    shown = remote.uri if remote is not None else str(layout.root)
    with contextlib.ExitStack() as stack:
        if not args.dry_run:  # a dry run writes nothing: no lock
            # before Ray starts, so a second driver of this run stops at once
            stack.enter_context(run_lock(layout.lock))
            if remote is not None:
                layout.root.mkdir(parents=True, exist_ok=True)
                print(f"run stored in {remote.uri} (working copy {remote.local})", flush=True)
                stack.enter_context(objects.Mirror(remote))
        try:
            outcome = _search(args, space, layout, remote)
        except KeyboardInterrupt:  # Ctrl-C/SIGTERM before Tune's own graceful stop took it
            if not args.dry_run and layout.space.is_file():
                print(
                    f"stopped. Continue with: raytrain tune {shown} --resume",
                    file=sys.stderr,
                    flush=True,
                )
            raise
    if args.dry_run:
        return 0
    if remote is not None:
        print(
            f"uploaded to {remote.uri}"
            + ("" if outcome.complete else f"; continue with: raytrain tune {remote.uri} --resume")
        )
    return 0 if outcome.complete else 130


def _check_new_in_bucket(remote: RemoteDir) -> None:
    """A new run in a bucket overwrites neither a run there nor a working copy of one whose
    uploads never happened."""
    if remote.exists():
        raise InputError(
            Problem(
                "name",
                f"{remote.uri} already holds a run. Continue it with "
                f"`raytrain tune {remote.uri} --resume`, or pick another --name / "
                "--storage (nothing was overwritten).",
            )
        )
    try:
        SearchRunLayout(remote.local).check_new()
    except InputError:
        raise InputError(
            Problem(
                "name",
                f"the bucket has no run at {remote.uri}, but this machine has a working copy "
                f"of one at {remote.local}: if its uploads failed, continue it with "
                f"`raytrain tune {remote.local} --resume` (which uploads it); otherwise "
                "delete that folder first (nothing was overwritten).",
            )
        ) from None


def _remote_run(args: argparse.Namespace) -> RemoteDir | None:
    """The bucket run `tune` continues (`tune s3://... --resume`, or a working copy's path),
    its working copy made current and its driver checked, before anything else reads it."""
    from raytrain import storage as objects

    if objects.is_remote(args.space):
        if not args.resume:
            raise InputError(
                Problem("SPACE", f"{args.space} is a run in a bucket: continue it with --resume")
            )
        remote = objects.RemoteDir.working_copy(args.space)
    else:
        found = objects.remote_of(args.space) if Path(args.space).is_dir() else None
        if found is None or not args.resume:
            return None
        remote = objects.RemoteDir.working_copy(found.uri)  # a read cache drives nothing
    if objects.continue_run(remote, check_driver=not args.dry_run):
        print(f"downloaded {remote.uri} to {remote.local}", flush=True)
    if not SearchRunLayout(remote.local).space.is_file():
        raise InputError(Problem("--resume", f"no search run at {remote.uri}"))
    return remote


def _search(
    args: argparse.Namespace, space: Space, layout: SearchRunLayout, remote: RemoteDir | None
) -> TuneOutcome:
    from raytrain.local_ray import connected_ray
    from raytrain.resume_state import check_resume_state
    from raytrain.runtime_env import put_cwd_on_path, user_code_runtime_env
    from raytrain.signals import sigterm_as_sigint
    from raytrain.space import dump_space, trial_config
    from raytrain.tracking import require_packages

    if args.resume:
        layout.check_resume(dump_space(space))
        if not args.dry_run:  # whole state files, before Ray starts (a dry run changes nothing)
            for note in check_resume_state(layout):
                print(note, flush=True)
    elif not args.dry_run:
        layout.check_new()
    warm = _warm_start(space, args.warm_from, args.resume)
    cwd = Path.cwd()
    put_cwd_on_path(cwd)  # so that the space's `_target_` code imports here and on workers
    require_packages(trial_config(space, {}).logging)  # before Ray's start-up, not after
    env = user_code_runtime_env(trial_config(space, {}), cwd, remote=args.address is not None)
    # sigterm_as_sigint after ray.init (in connected_ray), which sets its own handler.
    session = connected_ray(
        args.address, env, verbose=args.verbose, preload=["raytrain.tune.runner"]
    )
    with session as dashboard, sigterm_as_sigint():
        from raytrain.tune.runner import TuneOptions, run_tune  # imports Ray: only now

        if dashboard:
            print(f"Ray dashboard: {dashboard}")
        options = TuneOptions(
            resume=args.resume,
            dry_run=args.dry_run,
            verbose=args.verbose,
            live=False if args.no_live else None,
            warm=warm,
            in_bucket=remote is not None,
        )
        return run_tune(space, layout.root, options)
