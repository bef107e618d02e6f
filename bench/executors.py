"""The quickstart search with each executor: `resources.executor` warm (the default) vs fresh.

Runs `raytrain tune search_spaces/quickstart.yaml` (the real file, as the README's first
command does) once per executor, one after the other, and prints the search part of each:

  wall s      the whole `raytrain tune` command (Ray start, search, summary, Ray shutdown)
  start-up s  command start -> the first trial's first epoch
  search s    first trial's first epoch -> last epoch of any trial (the trials themselves)
  trials      trials that ended without error / all trials; epochs: all epochs trained
  best        the best value of the space's metric

    python bench/executors.py [--executors warm fresh] [--samples N] [--storage DIR]
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from _common import TuneRun, bench_parser, fmt, print_table, raytrain_tune, storage_dir

from raytrain.results import ERROR, FINISHED_STATES

QUICKSTART = Path(__file__).resolve().parents[1] / "search_spaces" / "quickstart.yaml"

HEADERS = ["executor", "wall s", "start-up s", "search s", "trials", "epochs", "best"]


def row(executor: str, rt: TuneRun) -> list[str]:
    first = rt.rows[0].wall_time if rt.rows else None
    last = rt.rows[-1].wall_time if rt.rows else None
    ended = [t for t in rt.run.trials if t.state in FINISHED_STATES and t.state != ERROR]
    best = rt.run.best(1)
    return [
        executor,
        fmt(rt.wall_s, ".1f"),
        fmt(first - rt.started if first is not None else None, ".1f"),
        fmt(last - first if first is not None and last is not None else None, ".1f"),
        f"{len(ended)}/{len(rt.run.trials)}",
        str(len(rt.rows)),
        fmt(best[0].best_value if best else None, ".4f"),
    ]


def main() -> None:
    parser = bench_parser(__doc__, executor=False)
    parser.add_argument(
        "--executors", nargs="+", choices=["warm", "fresh"], default=["warm", "fresh"]
    )
    parser.add_argument("--samples", type=int, default=None, help="search.num_samples")
    args = parser.parse_args()

    rows = []
    t_all = time.perf_counter()
    with storage_dir(args.storage) as storage:
        for executor in args.executors:
            overrides = [f"resources.executor={executor}"]
            if args.samples is not None:
                overrides.append(f"search.num_samples={args.samples}")
            print(f"quickstart, executor {executor}: raytrain tune ...", flush=True)
            rt = raytrain_tune(QUICKSTART, storage, f"quickstart-{executor}", overrides)
            rows.append(row(executor, rt))
    print(
        f"\n{QUICKSTART.name}{f', {args.samples} trials' if args.samples else ''}, "
        f"{os.cpu_count()} CPUs; benchmark took {time.perf_counter() - t_all:.0f} s\n"
    )
    print_table(HEADERS, rows)


if __name__ == "__main__":
    main()
