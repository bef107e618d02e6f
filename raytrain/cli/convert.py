"""`raytrain convert SWEEP.yaml [--config BASE.yaml] [-o OUT.yaml]`: W&B sweep -> raytrain space.

Prints (or writes) the canonical space with the conversion notes as comments on top, after
checking it with the same parser `raytrain validate` uses, so a file that converts also
runs. Starts no Ray and imports no torch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from raytrain.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep", help="a W&B sweep configuration (YAML)")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="the base train config the sweep's parameters apply to (else the sweep's "
        "`raytrain:` block, else raytrain's defaults)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")


def run(args: argparse.Namespace) -> int:
    # Imported here: `raytrain --help` imports every command module (keep it Ray/torch-free).
    from raytrain.config.yaml_io import dump_yaml, load_yaml_file
    from raytrain.space.parse import parse_space
    from raytrain.space.wandb import is_wandb_sweep
    from raytrain.space.wandb_io import read_sweep

    doc = load_yaml_file(args.sweep)
    if not doc.problems and not is_wandb_sweep(doc.data):
        raise InputError(
            doc.lines.problem(
                (),
                "not a W&B sweep (no `method`): it may already be a raytrain "
                "space; check it with `raytrain validate`",
            )
        )
    conv = read_sweep(args.sweep, args.config)
    parse_space(conv.space, conv.lines, default_name=Path(args.sweep).stem)  # raises on problems
    header = [f"# raytrain space converted from the W&B sweep {args.sweep}"]
    header += [f"# note: {note}" for note in conv.notes]
    text = "\n".join(header) + "\n" + dump_yaml(conv.space)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
