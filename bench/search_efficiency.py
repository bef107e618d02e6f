"""Does TPE + ASHA reach a good model sooner than random search without early stopping?

Runs `raytrain tune` on the quickstart search (mlp on digits) twice per seed:
  tpe+asha     sampler tpe, scheduler asha (grace 1, reduction factor 2)
  random+fifo  sampler random, scheduler fifo (every trial runs max_epochs)
with search.seed = S and config.seed fixed, and reads each run's per-epoch timeline
(metrics.csv wall_time of every trial, merged in wall-time order) to find the first epoch
whose val_acc >= --target. Prints per-seed rows, then mean / median per method.

    python bench/search_efficiency.py [--seeds 0 1 2] [--trials 12] [--epochs 8]
                                      [--target 0.96] [--concurrency auto] [--quick]
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

from _common import (
    TuneRun,
    bench_parser,
    fmt,
    make_space,
    mean,
    median,
    print_table,
    raytrain_tune,
    storage_dir,
    write_space,
)

METRIC = "val_acc"
METHODS = {"tpe+asha": ("tpe", "asha"), "random+fifo": ("random", "fifo")}


@dataclass
class Result:
    method: str
    seed: int
    time_to_target: float  # s from the first trial start; inf when never reached
    epochs_to_target: float  # epochs trained by all trials until then; inf when never
    best: float  # final best val_acc
    epochs: int  # epochs trained in the whole run
    stopped: int  # trials stopped early by the scheduler
    search_s: float  # first trial start -> last epoch reported
    wall_s: float  # the whole command


def measure(method: str, seed: int, rt: TuneRun, target: float) -> Result:
    rows = rt.rows
    start = rt.first_trial_start or rt.started
    time_to, epochs_to = math.inf, math.inf
    for n, row in enumerate(rows, start=1):
        if row.metrics.get(METRIC, -math.inf) >= target:
            time_to, epochs_to = row.wall_time - start, float(n)
            break
    scores = [r.metrics[METRIC] for r in rows if math.isfinite(r.metrics.get(METRIC, math.nan))]
    return Result(
        method=method,
        seed=seed,
        time_to_target=time_to,
        epochs_to_target=epochs_to,
        best=max(scores, default=math.nan),
        epochs=len(rows),
        stopped=sum(t.state == "STOPPED" for t in rt.run.trials),
        search_s=(rows[-1].wall_time - start) if rows else math.nan,
        wall_s=rt.wall_s,
    )


def per_seed_cells(r: Result) -> list[str]:
    return [
        r.method,
        str(r.seed),
        fmt(r.time_to_target, ".1f") if math.isfinite(r.time_to_target) else "never",
        fmt(int(r.epochs_to_target), "d") if math.isfinite(r.epochs_to_target) else "never",
        fmt(r.best, ".4f"),
        str(r.epochs),
        str(r.stopped),
        fmt(r.search_s, ".1f"),
        fmt(r.wall_s, ".1f"),
    ]


def summary_cells(method: str, results: list[Result], stat: str) -> list[str]:
    """`stat` (mean | median) over seeds; *_to_target over the seeds that reached it."""
    f = mean if stat == "mean" else median
    hit = [r for r in results if math.isfinite(r.time_to_target)]
    return [
        method,
        f"{stat} ({len(hit)}/{len(results)} hit)",
        fmt(f([r.time_to_target for r in hit]), ".1f"),
        fmt(f([r.epochs_to_target for r in hit]), ".1f"),
        fmt(f([r.best for r in results]), ".4f"),
        fmt(f([float(r.epochs) for r in results]), ".1f"),
        fmt(f([float(r.stopped) for r in results]), ".1f"),
        fmt(f([r.search_s for r in results]), ".1f"),
        fmt(f([r.wall_s for r in results]), ".1f"),
    ]


HEADERS = [
    "method",
    "seed",
    "t->target s",
    "epochs->target",
    f"best {METRIC}",
    "epochs",
    "stopped",
    "search s",
    "wall s",
]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="search.seed")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=8, help="max_epochs (ASHA max_t)")
    parser.add_argument("--target", type=float, default=0.96, help=f"{METRIC} to reach")
    parser.add_argument(
        "--concurrency", default="auto", help="resources.max_concurrent_trials (int or auto)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="1 seed, 4 trials x 3 epochs (smoke run)"
    )
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.trials, args.epochs = args.seeds[:1], 4, 3
    concurrency = args.concurrency if args.concurrency == "auto" else int(args.concurrency)

    results: list[Result] = []
    t_all = time.perf_counter()
    with storage_dir(args.storage) as storage:
        for seed in args.seeds:
            for method, (sampler, scheduler) in METHODS.items():
                space = make_space(
                    trials=args.trials,
                    epochs=args.epochs,
                    sampler=sampler,
                    scheduler=scheduler,
                    seed=seed,
                    concurrency=concurrency,
                    executor=args.executor,
                )
                name = f"{method.replace('+', '-')}-s{seed}"
                space_file = write_space(space, storage / f"{name}.yaml")
                print(f"seed {seed}: {method} ...", flush=True)
                rt = raytrain_tune(space_file, storage, name)
                results.append(measure(method, seed, rt, args.target))

    print(
        f"\nmlp on digits, {args.trials} trials x <= {args.epochs} epochs, concurrency "
        f"{args.concurrency}, target {METRIC} >= {args.target}, {os.cpu_count()} CPUs\n"
    )
    print_table(HEADERS, [per_seed_cells(r) for r in results])
    print()
    summary = [
        summary_cells(method, [r for r in results if r.method == method], stat)
        for stat in ("mean", "median")
        for method in METHODS
    ]
    print_table(HEADERS, summary)
    print(f"\ntotal benchmark time: {time.perf_counter() - t_all:.0f} s")


if __name__ == "__main__":
    main()
