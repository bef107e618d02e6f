"""`raytrain validate SPACE.yaml [KEY=VALUE ...]`: check a space file, print the plan.

Starts no Ray and imports neither torch nor optuna (unless the space names a user
`_target_` class, which must be imported to check its arguments), so it answers at once.
"""

from __future__ import annotations

import argparse

from raytrain.cli import add_overrides


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", help="the search space file (YAML)")
    add_overrides(parser, "search.num_samples=8 config.trainer.max_epochs=5")
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="base train config for a W&B sweep file (or give it in the sweep's raytrain: block)",
    )


def run(args: argparse.Namespace) -> int:
    # Imported here: `raytrain --help` imports every command module (keep it Ray/torch-free).
    from raytrain.space import load_space_with_notes, render_plan

    # InputError -> exit 2 with every problem listed
    space, notes = load_space_with_notes(args.space, args.overrides, args.config)
    for note in notes:
        print(f"note: {note}")
    print(render_plan(space))
    print("ok: the space is valid")
    return 0
