"""`raytrain export RUN_DIR [-o best.yaml] [--top-k K]`: best config(s) as train configs."""

from __future__ import annotations

import argparse
from pathlib import Path

from raytrain.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="a run directory (<storage>/<name>)")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="output file (default: RUN_DIR/best.yaml); with --top-k K > 1, "
        "files are named <stem>-1.yaml ... <stem>-K.yaml",
    )
    parser.add_argument("--top-k", type=int, default=1, help="export the K best trials")


def run(args: argparse.Namespace) -> int:
    # Imported here: `raytrain --help` imports every command module (keep it Ray/torch-free).
    from raytrain.layout import SearchRunLayout
    from raytrain.results.export import export_best

    if args.top_k < 1:
        raise InputError("--top-k must be at least 1")
    run = SearchRunLayout(args.run_dir)
    if not run.space.is_file():  # configs are rebuilt from the space (a train run has one)
        raise InputError(
            f"{args.run_dir} is not a raytrain search run directory (no {run.space.name})"
        )
    for path in export_best(args.run_dir, args.output, top_k=args.top_k):
        print(f"wrote {path}")
    print(f"final run: raytrain train {path}")
    return 0
