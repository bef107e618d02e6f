"""`raytrain validate SPACE.yaml [KEY=VALUE ...]`: check a space file, print the plan.

Starts no Ray and imports neither torch nor optuna (unless the space names a user
`_target_` class, which must be imported to check its arguments), so it answers at once.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", help="the search space file (YAML)")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="dot-list overrides, e.g. search.num_samples=8 config.trainer.max_epochs=5",
    )


def run(args: argparse.Namespace) -> int:
    from raytrain.space import load_space, render_plan

    space = load_space(args.space, args.overrides)  # InputError -> exit 2, problems listed
    print(render_plan(space))
    print("ok: the space is valid")
    return 0
