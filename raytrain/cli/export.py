"""`raytrain export RUN_DIR [-o best.yaml] [--top-k K]`: best config(s) as train configs.

A run with confirmation trials: `--confirmed [-o DIR]` (one file per confirmed finalist).
A run with several objectives: `--pareto [-o DIR]` (one file per Pareto-front trial), or
one choice, `--pick objective=NAME` / `--weights a=1,b=0.1`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from raytrain.cli import add_run_dir
from raytrain.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_dir(parser, "a run directory (<storage>/<name>)")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="output file (default: RUN_DIR/best.yaml); with --top-k K > 1, "
        "files are named <stem>-1.yaml ... <stem>-K.yaml; with --pareto or --confirmed a "
        "folder (default: RUN_DIR/pareto/, RUN_DIR/confirmed/)",
    )
    parser.add_argument("--top-k", type=int, default=1, help="export the K best trials")
    several = parser.add_mutually_exclusive_group()
    several.add_argument(
        "--confirmed",
        action="store_true",
        help="a run with confirmation trials: one YAML per confirmed finalist, best "
        "statistic first (default folder: RUN_DIR/confirmed/)",
    )
    several.add_argument(
        "--pareto",
        action="store_true",
        help="several objectives: one YAML per trial on the Pareto front",
    )
    several.add_argument(
        "--pick",
        metavar="objective=NAME",
        default=None,
        help="several objectives: the best feasible trial(s) by objective NAME",
    )
    several.add_argument(
        "--weights",
        metavar="A=W,B=W",
        default=None,
        help="several objectives: the feasible trial(s) with the lowest weighted sum "
        "(max objectives count negated; objectives left out weigh 0)",
    )


def run(args: argparse.Namespace) -> int:
    # Imported here: `raytrain --help` imports every command module (keep it Ray/torch-free).
    from raytrain.layout import SearchRunLayout
    from raytrain.results.export import (
        export_best,
        export_choice,
        export_confirmed,
        export_pareto,
    )
    from raytrain.storage import open_run

    if args.top_k < 1:
        raise InputError("--top-k must be at least 1")
    run_dir, copy = open_run(args.run_dir)
    run = SearchRunLayout(run_dir)
    if not run.space.is_file():  # configs are rebuilt from the space (a train run has one)
        raise InputError(
            f"{args.run_dir} is not a raytrain search run directory (no {run.space.name})"
        )
    if args.pareto:
        paths = export_pareto(run_dir, args.output)
    elif args.confirmed:
        paths = export_confirmed(run_dir, args.output)
    elif args.pick is not None or args.weights is not None:
        paths = export_choice(
            run_dir, args.output, pick=args.pick, weights=args.weights, top_k=args.top_k
        )
    else:
        paths = export_best(run_dir, args.output, top_k=args.top_k)
    for path in paths:
        print(f"wrote {path}")
    if copy is not None:  # files written into the run go back to the bucket
        inside = [p for p in paths if p.resolve().is_relative_to(copy.path.resolve())]
        for uri in copy.publish(inside):
            print(f"uploaded {uri}")
    print(f"final run: raytrain train {paths[0 if args.pareto or args.confirmed else -1]}")
    return 0
