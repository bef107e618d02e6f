"""`raytrain analyze RUN_DIR [--top-k K] [--format text|json]`: top trials, parameter
importance, advice, and PNG plots in RUN_DIR/plots/ (read from disk; works on a live run
and on a copy from a cluster)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from raytrain.errors import InputError, Problem


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run directory")
    parser.add_argument("--top-k", type=int, default=5, metavar="K", help="trials to list (5)")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (text)"
    )
    parser.add_argument("--no-plots", action="store_true", help="skip writing RUN_DIR/plots/")


def run(args: argparse.Namespace) -> int:
    # Imported here: `raytrain --help` imports every command module (keep it Ray/torch-free).
    from rich.console import Console

    from raytrain.results import load_run
    from raytrain.results.analysis import analyze, render_text, to_json

    if args.top_k < 1:
        raise InputError(Problem("--top-k", f"must be at least 1, got {args.top_k}"))
    result = analyze(load_run(args.run_dir), top_k=args.top_k, plots=not args.no_plots)
    if args.format == "json":
        json.dump(to_json(result), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        Console().print(render_text(result))
    return 0
