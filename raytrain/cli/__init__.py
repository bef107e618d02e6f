"""The `raytrain` command line.

One module per command under `raytrain.cli`; each defines ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported only when their command runs, and command bodies
import ray/torch/optuna inside ``run`` so that ``raytrain --help`` and ``raytrain validate``
stay fast and Ray-free. A command that takes ``KEY=VALUE`` overrides declares them with
`add_overrides`, and `parse_command_line` accepts them anywhere on the line.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from raytrain import __version__
from raytrain.errors import InputError, RunError
from raytrain.signals import sigterm_as_sigint

# command name -> (module under raytrain.cli, one-line help). The one registry of commands.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "check a space file and print the resolved plan (no Ray)"),
    "tune": ("tune", "run a hyperparameter search on Ray Tune"),
    "status": ("status", "table of a run's trials, read from disk"),
    "analyze": ("analyze", "top trials, parameter importance and plots of a run"),
    "export": ("export", "write the best config(s) of a run as runnable train configs"),
    "confirm": ("confirm", "re-run the k best configs of a run with new seeds"),
    "train": ("train", "one training run of a config on Ray Train (the final run)"),
    "dashboard": ("dashboard", "serve TensorBoard (and optuna-dashboard) for a run"),
    "slurm": ("slurm", "render and submit an sbatch job that runs `raytrain tune`"),
    "convert": ("convert", "print a W&B sweep file as a canonical raytrain space"),
}


def _available() -> dict[str, tuple[str, str]]:
    """Commands whose module exists in this installation (so --help never lies)."""
    found = {}
    for name, (module, help_) in COMMANDS.items():
        if importlib.util.find_spec(f"raytrain.cli.{module}") is not None:
            found[name] = (module, help_)
    return found


def add_overrides(parser: argparse.ArgumentParser, example: str) -> None:
    """The command's ``KEY=VALUE ...`` positional (see `parse_command_line`)."""
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help=f"OmegaConf dot-list overrides, e.g. {example}",
    )


def add_ray_address(parser: argparse.ArgumentParser) -> None:
    """`--address`: the Ray cluster a command runs on (default: a private local head)."""
    parser.add_argument(
        "--address",
        default=None,
        help="existing Ray cluster: 'auto' or 'ray://host:10001' (default: start a local Ray)",
    )


def add_run_dir(parser: argparse.ArgumentParser, what: str = "run directory") -> None:
    """The `RUN_DIR` positional: a folder, or a run in a bucket (`s3://bucket/prefix/name`,
    `gs://...`), which the command reads from a local copy (raytrain.storage.open_run)."""
    parser.add_argument("run_dir", metavar="RUN_DIR", help=f"{what}, or its s3:// / gs:// URI")


def add_search_output(parser: argparse.ArgumentParser) -> None:
    """`-v` and `--no-live`: what a running search prints."""
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show Ray's and the trials' own logs"
    )
    parser.add_argument(
        "--no-live",
        action="store_true",
        help="print one line per finished trial instead of a live table",
    )


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="raytrain",
        description="Hyperparameter search for PyTorch Lightning on Ray: "
        "YAML space in, tuned config out.",
    )
    parser.add_argument("--version", action="version", version=f"raytrain {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in _available().items():
        sub = subparsers.add_parser(name, help=help_, description=help_)
        if only is None or only == name:
            # Only the chosen command's module is imported; the others just list their help.
            importlib.import_module(f"raytrain.cli.{module}").add_arguments(sub)
    return parser


def parse_command_line(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """Parse `argv` with overrides allowed anywhere, not only before the first option.

    argparse fills a ``nargs="*"`` positional once, from the words before the first option,
    so in `tune space.yaml --resume search.num_samples=20` the override would be
    "unrecognized". Words left over that are not options are the command's overrides, in
    the order given; for a command without overrides they stay errors.
    """
    argv = list(argv)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=chosen if chosen in COMMANDS else None)
    args, extra = parser.parse_known_args(argv)
    if hasattr(args, "overrides"):
        args.overrides = [*args.overrides, *(a for a in extra if not a.startswith("-"))]
        extra = [a for a in extra if a.startswith("-")]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return parser, args


def main(argv: Sequence[str] | None = None) -> int:
    parser, args = parse_command_line(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        parser.print_help()
        return 0
    module = importlib.import_module(f"raytrain.cli.{COMMANDS[args.command][0]}")
    try:
        # SIGTERM stops every command as Ctrl-C does, from its first line on (commands
        # that start Ray enter it again after ray.init, which replaces the handler).
        with sigterm_as_sigint():
            return int(module.run(args) or 0)
    except InputError as exc:
        print(f"error: {exc.render()}", file=sys.stderr)
        return InputError.exit_code
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return RunError.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
