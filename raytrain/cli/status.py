"""`raytrain status RUN_DIR [--watch]`: the trial table of a run, read from disk.

Reads only the run directory (trials.csv + trial folders), so it works while a search is
running (locally or on a cluster whose storage you can see), after it ends, and on a
directory copied off a cluster. A `raytrain train` run directory shows as one trial.
"""

from __future__ import annotations

import argparse
import contextlib
import time

from raytrain.cli import add_run_dir
from raytrain.errors import InputError, Problem


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_dir(parser)
    parser.add_argument(
        "--watch", action="store_true", help="refresh until every trial is finished (Ctrl-C stops)"
    )
    parser.add_argument(
        "--interval", type=float, default=2.0, metavar="S", help="refresh period (default 2 s)"
    )
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="show only the N best rows"
    )


def run(args: argparse.Namespace) -> int:
    # Imported here: `raytrain --help` imports every command module (keep it Ray/torch-free).
    from rich.console import Console
    from rich.live import Live

    from raytrain.results import load_run
    from raytrain.results.view import status_view
    from raytrain.storage import open_run

    if args.interval <= 0:
        raise InputError(Problem("--interval", "must be a positive number of seconds"))
    console = Console()
    run_dir, copy = open_run(args.run_dir)
    current = load_run(run_dir)
    if not args.watch:
        console.print(status_view(current, limit=args.limit))
        return 0
    view = Live(status_view(current, limit=args.limit), console=console, auto_refresh=False)
    with contextlib.suppress(KeyboardInterrupt), view as live:  # Ctrl-C is how watching stops
        while not current.finished:
            time.sleep(args.interval)
            if copy is not None:
                copy.refresh()
            current = load_run(run_dir)
            live.update(status_view(current, limit=args.limit), refresh=True)
    return 0
