"""`raytrain tune SPACE.yaml [KEY=VALUE ...]`: run (or resume) a search."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from raytrain.cli import add_overrides
from raytrain.errors import InputError
from raytrain.layout import SearchRunLayout

if TYPE_CHECKING:
    from raytrain.space import Space
    from raytrain.tune.runner import TuneOutcome


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", help="space file, or a run directory with --resume")
    add_overrides(parser, "search.num_samples=8")
    parser.add_argument(
        "--config", default=None, metavar="FILE", help="base train config for a W&B sweep file"
    )
    parser.add_argument(
        "--address",
        default=None,
        help="existing Ray cluster: 'auto' or 'ray://host:10001' (default: start a local Ray)",
    )
    parser.add_argument(
        "--storage", type=Path, default=None, help="where run directories go (default: ./runs)"
    )
    parser.add_argument("--name", default=None, help="run name (default: the space's name)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run; raise search.num_samples to extend a finished one",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan and the resource plan on the cluster, run nothing",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show Ray's and the trials' own logs"
    )
    parser.add_argument(
        "--no-live",
        action="store_true",
        help="print one line per finished trial instead of a live table",
    )


def run(args: argparse.Namespace) -> int:
    # Imported here (`--help` imports every command module), and Ray-free until the
    # session is entered (the import rule in raytrain/local_ray.py).
    from raytrain.runlock import run_lock
    from raytrain.space import load_space_with_notes

    target = Path(args.space)
    storage, name = args.storage, args.name
    if target.is_dir():
        run = SearchRunLayout(target)
        if not run.space.is_file():  # a search run to go on from needs its space file
            raise InputError(
                f"{target} is a directory but not a raytrain search run (no {run.space.name})"
            )
        storage = storage or target.resolve().parent
        name = name or target.resolve().name
        target = run.space
    space, notes = load_space_with_notes(target, args.overrides, args.config)
    for note in notes:
        print(f"note: {note}")
    layout = SearchRunLayout.at(storage or Path("runs"), name or space.name)
    with contextlib.ExitStack() as stack:
        if not args.dry_run:  # a dry run writes nothing: no lock
            # before Ray starts, so a second driver of this run stops at once
            stack.enter_context(run_lock(layout.lock))
        try:
            outcome = _search(args, space, layout)
        except KeyboardInterrupt:  # Ctrl-C/SIGTERM before Tune's own graceful stop took it
            if not args.dry_run and layout.space.is_file():
                print(
                    f"stopped. Continue with: raytrain tune {layout.root} --resume",
                    file=sys.stderr,
                    flush=True,
                )
            raise
    if args.dry_run:
        return 0
    return 0 if outcome.complete else 130


def _search(args: argparse.Namespace, space: Space, layout: SearchRunLayout) -> TuneOutcome:
    from raytrain.local_ray import connected_ray
    from raytrain.resume_state import check_resume_state
    from raytrain.runtime_env import put_cwd_on_path, user_code_runtime_env
    from raytrain.signals import sigterm_as_sigint
    from raytrain.space import dump_space, trial_config

    if args.resume:
        layout.check_resume(dump_space(space))
        if not args.dry_run:  # whole state files, before Ray starts (a dry run changes nothing)
            for note in check_resume_state(layout):
                print(note, flush=True)
    elif not args.dry_run:
        layout.check_new()
    cwd = Path.cwd()
    put_cwd_on_path(cwd)  # so that the space's `_target_` code imports here and on workers
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
        )
        return run_tune(space, layout.root, options)
