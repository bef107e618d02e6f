"""`raytrain analyze RUN_DIR [--top-k K] [--format text|json] [--next-space FILE]`: top
trials, parameter importance, advice, and PNG plots in RUN_DIR/plots/ (read from disk; works
on a live run and on a copy from a cluster); `--next-space` also writes the run's space
narrowed by its results (`raytrain.results.next_space`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from raytrain.cli import add_run_dir
from raytrain.errors import InputError, Problem


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_dir(parser)
    parser.add_argument("--top-k", type=int, default=5, metavar="K", help="trials to list (5)")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (text)"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip writing RUN_DIR/plots/")
    parser.add_argument(
        "--next-space",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the space narrowed by the results (ranges of the top trials, "
        "unimportant parameters frozen, losing categories dropped; every change commented)",
    )


def run(args: argparse.Namespace) -> int:
    # Imported here: `raytrain --help` imports every command module (keep it Ray/torch-free).
    from rich.console import Console

    from raytrain.layout import run_layout
    from raytrain.results import load_run
    from raytrain.results.analysis import analyze, render_text, to_json
    from raytrain.storage import open_run

    if args.top_k < 1:
        raise InputError(Problem("--top-k", f"must be at least 1, got {args.top_k}"))
    if args.next_space is not None and args.next_space.exists():
        raise InputError(
            Problem("--next-space", f"{args.next_space} exists: choose another file name")
        )
    run_dir, copy = open_run(args.run_dir)
    run = load_run(run_dir)
    if args.next_space is not None and run.kind != "search":
        raise InputError(Problem("--next-space", "needs a search run (a train run has no space)"))
    result = analyze(run, top_k=args.top_k, plots=not args.no_plots)
    if args.format == "json":
        json.dump(to_json(result), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        Console().print(render_text(result))
    if args.next_space is not None:
        _write_next_space(run, result.importance, args.next_space)
    layout = run_layout(run.path)
    if copy is not None and not args.no_plots and layout is not None and layout.plots_dir.is_dir():
        copy.publish([layout.plots_dir])
        where = f"{args.run_dir.rstrip('/')}/{layout.plots_dir.name}/"
        print(f"plots: {where} (local copy {layout.plots_dir})", file=sys.stderr)
    return 0


def _write_next_space(run: Any, importance: Any, path: Path) -> None:
    from raytrain.results.next_space import next_space
    from raytrain.results.specs import run_params
    from raytrain.space import load_space

    narrowed = next_space(run, run_params(run), importance)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(narrowed.text)
    load_space(path)  # the file must be a valid space (raises with file:line otherwise)
    out = sys.stderr if sys.stdout is None else sys.stdout
    print(f"next space: {path} ({len(narrowed.changes)} change(s))", file=out)
    for change in narrowed.changes:
        print(f"  - {change}", file=out)
