"""`raytrain tune SPACE.yaml [KEY=VALUE ...]`: run (or resume) a search."""

from __future__ import annotations

import argparse
from pathlib import Path

from raytrain.cli import add_overrides


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
    from raytrain.layout import SearchRunLayout
    from raytrain.space import load_space_with_notes
    from raytrain.tune.runner import TuneOptions, run_tune

    target = Path(args.space)
    storage, name = args.storage, args.name
    if target.is_dir():
        run = SearchRunLayout(target)
        if not run.space.is_file():  # a search run to go on from needs its space file
            from raytrain.errors import InputError

            raise InputError(
                f"{target} is a directory but not a raytrain search run (no {run.space.name})"
            )
        storage = storage or target.resolve().parent
        name = name or target.resolve().name
        target = run.space
    space, notes = load_space_with_notes(target, args.overrides, args.config)
    for note in notes:
        print(f"note: {note}")
    options = TuneOptions(
        storage=storage or Path("runs"),
        name=name,
        address=args.address,
        resume=args.resume,
        dry_run=args.dry_run,
        verbose=args.verbose,
        live=False if args.no_live else None,
    )
    outcome = run_tune(space, options)
    if options.dry_run:
        return 0
    return 0 if outcome.complete else 130
