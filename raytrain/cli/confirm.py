"""`raytrain confirm RUN_DIR --top-k K --seeds S [--pick mean|lcb]`: confirm afterwards.

The same as a `confirm:` block in the space from the start: the run is resumed with
`confirm.*` set (`tune RUN_DIR --resume confirm.top_k=K ...`), its K best trials are
re-run with S new seeds each as extra trials of the run, and best.yaml is written again,
chosen by the statistic. Asking again with a larger K or S adds only the missing re-runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from raytrain.cli import add_overrides, add_ray_address, add_run_dir, add_search_output
from raytrain.errors import InputError, Problem
from raytrain.layout import SearchRunLayout


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_dir(parser, "a search run directory (<storage>/<name>)")
    add_overrides(parser, "search.num_samples=8")
    parser.add_argument("--top-k", type=int, default=3, help="re-run the K best trials (3)")
    parser.add_argument("--seeds", type=int, default=3, help="new seeds per trial (3; >= 2)")
    parser.add_argument(
        "--pick",
        choices=("mean", "lcb"),
        default="mean",
        help="rank the finalists by the mean over the seeds, or by mean minus one std "
        "(towards worse: plus for mode min)",
    )
    add_ray_address(parser)
    add_search_output(parser)


def has_confirm_step(layout: SearchRunLayout) -> bool:
    """Whether the run's saved Tune searcher has the confirmation step (runs started before
    `confirm` existed do not, and their restored searcher could never add a re-run). Read
    from the bytes of Tune's searcher state (`SearchGenerator.CKPT_FILE_TMPL`, a pickle
    holding one `name:<class>` key per wrapper), so this check imports no Ray."""
    states = sorted(layout.trials_dir.glob("search_gen_state-*.json"))
    return any(b"name:ConfirmSearcher" in p.read_bytes() for p in states)


def run(args: argparse.Namespace) -> int:
    from raytrain import storage as objects
    from raytrain.cli import tune

    layout = SearchRunLayout(Path(args.run_dir))
    if objects.is_remote(args.run_dir):  # its working copy, as `tune URI --resume` makes it
        remote = objects.RemoteDir.working_copy(args.run_dir)
        objects.continue_run(remote)
        layout = SearchRunLayout(remote.local)
    if not layout.space.is_file():
        raise InputError(
            Problem("", "not a raytrain search run directory (no space.yaml)", str(args.run_dir))
        )
    if not has_confirm_step(layout):
        raise InputError(
            Problem(
                "",
                "this run's saved searcher has no confirmation step (it was started before "
                "`confirm` existed, or never started): start a new search with a `confirm:` "
                "block, or with --warm-from this run",
                str(args.run_dir),
            )
        )
    overrides = [
        *args.overrides,
        f"confirm.top_k={args.top_k}",
        f"confirm.seeds={args.seeds}",
        f"confirm.pick={args.pick}",
    ]
    resumed = argparse.Namespace(
        space=str(args.run_dir),
        overrides=overrides,
        config=None,
        address=args.address,
        storage=None,
        name=None,
        resume=True,
        warm_from=[],
        dry_run=False,
        verbose=args.verbose,
        no_live=args.no_live,
    )
    return tune.run(resumed)
