"""What a search costs on top of its training: per-search start-up and per-trial slope.

Two numbers that a ratio on a tiny search mixes up:
  start-up    command start -> the first trial's first epoch (private Ray head, executors
              or the first TorchTrainer ready, Tune set up, one epoch trained)
  slope       fixed cost per trial: `raytrain tune` of N1 and N2 trials of the same space,
              (wall(N2) - wall(N1)) / (N2 - N1), minus the training time of those extra
              trials, measured by plain Optuna in one process on the same N1 / N2 trials
              ((optuna(N2) - optuna(N1)) / (N2 - N1)); the per-search costs cancel out.
The space is the benchmark one (mlp on digits) with random sampling and FIFO, so that every
trial trains exactly `--epochs` epochs whatever the sampler suggests.

    python bench/search_cost.py [--trials 8 32] [--epochs 4] [--concurrency 1 2]
                                [--executor warm|fresh] [--quick]
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from _common import (
    TuneRun,
    bench_parser,
    fmt,
    make_space,
    print_table,
    raytrain_tune,
    storage_dir,
    write_space,
)
from tune_overhead import OptunaRun, optuna_search


@dataclass
class Sized:
    trials: int
    rt: TuneRun
    op: OptunaRun

    @property
    def startup_s(self) -> float | None:
        firsts = [r.wall_time for r in self.rt.rows if r.epoch == 1]
        return min(firsts) - self.rt.started if firsts else None


def slope_cells(conc: int, small: Sized, big: Sized) -> list[str]:
    extra = big.trials - small.trials
    rt_slope = (big.rt.wall_s - small.rt.wall_s) / extra
    op_slope = (big.op.wall_s - small.op.wall_s) / extra
    return [
        str(conc),
        fmt(small.startup_s, ".1f"),
        fmt(small.rt.ray_up_s, ".1f"),
        f"{fmt(small.rt.wall_s, '.1f')} / {fmt(big.rt.wall_s, '.1f')}",
        f"{fmt(small.op.wall_s, '.1f')} / {fmt(big.op.wall_s, '.1f')}",
        fmt(rt_slope, ".2f"),
        fmt(op_slope, ".2f"),
        fmt(rt_slope - op_slope, ".2f"),
    ]


HEADERS = [
    "conc",
    "start-up s",
    "ray up s",
    "raytrain s (N1 / N2)",
    "optuna s (N1 / N2)",
    "rt s/trial",
    "op s/trial",
    "fixed s/trial",
]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--trials", type=int, nargs=2, default=[8, 32], metavar=("N1", "N2"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--quick", action="store_true", help="2 and 4 trials x 2 epochs")
    args = parser.parse_args()
    if args.quick:
        args.trials, args.epochs = [2, 4], 2

    rows = []
    t_all = time.perf_counter()
    with storage_dir(args.storage) as storage:
        for conc in args.concurrency:
            sized = []
            for n in args.trials:
                space = make_space(
                    trials=n,
                    epochs=args.epochs,
                    sampler="random",
                    scheduler="fifo",
                    seed=0,
                    concurrency=conc,
                    executor=args.executor,
                )
                space_file = write_space(space, storage / f"space-c{conc}-n{n}.yaml")
                print(f"concurrency {conc}, {n} trials: raytrain tune ...", flush=True)
                rt = raytrain_tune(space_file, storage, f"cost-c{conc}-n{n}")
                print(f"concurrency {conc}, {n} trials: optuna in-process ...", flush=True)
                op = optuna_search(space_file, n_jobs=conc)
                sized.append(Sized(n, rt, op))
            rows.append(slope_cells(conc, *sized))

    n1, n2 = args.trials
    print(
        f"\nmlp on digits, {n1} and {n2} trials x {args.epochs} epochs, random + FIFO, "
        f"executor {args.executor}, {os.cpu_count()} CPUs; "
        f"benchmark took {time.perf_counter() - t_all:.0f} s\n"
    )
    print_table(HEADERS, rows)


if __name__ == "__main__":
    main()
