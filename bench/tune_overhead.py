"""What raytrain's Ray layer costs a search, against plain Optuna in one process.

The same module (built-in mlp on digits), space, trial count and epochs run two ways:
  raytrain   `raytrain tune` in a subprocess (private local Ray, warm executors by default,
             `--executor fresh`: a TorchTrainer per trial; TPE + ASHA, raytrain's default
             checkpoint policy)
  optuna     one Python process: the same TPE sampler (raytrain's own settings) +
             optuna.pruners.SuccessiveHalvingPruner(min_resource=grace, reduction_factor=rf);
             the objective is a plain Lightning fit built with raytrain's own builders
             (prepare/build_model/trainer_kwargs), reporting val_acc every epoch to
             trial.report / trial.should_prune
at each concurrency asked for (raytrain: resources.max_concurrent_trials; optuna: n_jobs
threads in the same process, each trial's torch limited to cpus_per_worker threads like a
Ray worker), and prints wall time, the ratio, and the fixed cost per trial.

    python bench/tune_overhead.py [--trials 8] [--epochs 4] [--concurrency 1 2] [--quick]
                                  [--samples N] [--executor warm|fresh]
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    TuneRun,
    bench_parser,
    epoch_intervals,
    fmt,
    make_space,
    median,
    print_table,
    raytrain_tune,
    storage_dir,
    write_space,
)


@dataclass
class OptunaRun:
    wall_s: float
    first_epoch: list[float] = field(default_factory=list)  # trial start -> 1st epoch (s)
    intervals: list[float] = field(default_factory=list)  # between epochs of a trial (s)
    epochs: int = 0
    pruned: int = 0


def optuna_search(space_file: Path, n_jobs: int) -> OptunaRun:
    """The whole search in this process; see the module docstring."""
    import lightning.pytorch as pl
    import optuna
    import torch

    from raytrain.space import define_by_run, load_space, trial_config
    from raytrain.trial.components import build_model
    from raytrain.trial.loop import prepare, quiet_worker_logs, trainer_kwargs
    from raytrain.tune.searchers import make_sampler

    quiet_worker_logs()
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")  # lightning vs newer torch
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space(space_file)
    # A Ray worker runs torch with OMP_NUM_THREADS = its CPUs; do the same per trial.
    torch.set_num_threads(max(1, int(space.resources.cpus_per_worker)))
    sampler = make_sampler(space)
    pruner: optuna.pruners.BasePruner = (
        optuna.pruners.SuccessiveHalvingPruner(
            min_resource=space.scheduler.grace_period,
            reduction_factor=int(space.scheduler.reduction_factor),
        )
        if space.scheduler.type == "asha"
        else optuna.pruners.NopPruner()  # fifo: every trial trains max_epochs
    )
    study = optuna.create_study(
        direction="maximize" if space.mode == "max" else "minimize", sampler=sampler, pruner=pruner
    )
    suggest = define_by_run(space)
    out = OptunaRun(wall_s=0.0)
    lock = threading.Lock()

    class Report(pl.Callback):
        """trial.report each validation epoch; stop the fit when the pruner says so."""

        def __init__(self, trial: optuna.Trial, start: float) -> None:
            self.trial, self.start, self.last = trial, start, start
            self.pruned = False

        def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            now = time.perf_counter()
            epoch = trainer.current_epoch + 1
            with lock:
                out.epochs += 1
                (out.first_epoch if epoch == 1 else out.intervals).append(
                    now - (self.start if epoch == 1 else self.last)
                )
            self.last = now
            value = float(trainer.callback_metrics[space.metric])
            self.trial.report(value, epoch)
            if self.trial.should_prune():
                self.pruned = True
                trainer.should_stop = True

    def objective(trial: optuna.Trial) -> float:
        start = time.perf_counter()
        suggest(trial)
        cfg = trial_config(space, trial.params)
        prepared = prepare(cfg)
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
        model = build_model(cfg, prepared.datamodule)
        report = Report(trial, start)
        # raytrain's Trainer arguments minus the Ray wiring; no checkpoints in this process.
        kwargs = {**trainer_kwargs(cfg), "enable_checkpointing": False}
        trainer = pl.Trainer(callbacks=[report], **kwargs)
        trainer.fit(model, datamodule=prepared.datamodule)
        if report.pruned:
            with lock:
                out.pruned += 1
            raise optuna.TrialPruned()
        return float(trainer.callback_metrics[space.metric])

    t0 = time.perf_counter()
    study.optimize(objective, n_trials=space.search.num_samples, n_jobs=n_jobs)
    out.wall_s = time.perf_counter() - t0
    return out


@dataclass
class Row:
    concurrency: int
    rt: TuneRun
    op: OptunaRun

    def cells(self, trials: int) -> list[str]:
        rt_rows = self.rt.rows
        first = self.rt.first_trial_start
        to_first_trial = first - self.rt.started if first else None
        stopped = sum(t.state == "STOPPED" for t in self.rt.run.trials)
        return [
            str(self.concurrency),
            fmt(self.rt.wall_s, ".1f"),
            fmt(self.op.wall_s, ".1f"),
            fmt(self.rt.wall_s / self.op.wall_s, ".1f") + "x",
            fmt((self.rt.wall_s - self.op.wall_s) / trials, ".1f"),
            fmt(median(self.rt.first_epoch), ".1f"),
            fmt(median(self.op.first_epoch), ".2f"),
            fmt(median(epoch_intervals(rt_rows)), ".2f"),
            fmt(median(self.op.intervals), ".2f"),
            fmt(self.rt.ray_up_s, ".1f"),
            fmt(to_first_trial, ".1f"),
            fmt(self.rt.shutdown_s, ".1f"),
            f"{len(rt_rows)}/{self.op.epochs}",
            f"{stopped}/{self.op.pruned}",
        ]


HEADERS = [
    "conc",
    "raytrain s",
    "optuna s",
    "ratio",
    "fixed s/trial",
    "rt 1st ep s",
    "op 1st ep s",
    "rt s/epoch",
    "op s/epoch",
    "ray up s",
    "->1st trial s",
    "shutdown s",
    "epochs rt/op",
    "stopped rt/op",
]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--grace", type=int, default=1, help="ASHA grace / pruner min_resource")
    parser.add_argument("--rf", type=int, default=2, help="reduction factor (both)")
    parser.add_argument("--seed", type=int, default=0, help="search.seed")
    parser.add_argument("--quick", action="store_true", help="2 trials x 2 epochs (smoke run)")
    parser.add_argument(
        "--samples",
        type=int,
        default=None,
        help="train on built-in `synthetic` data of this many samples (64 features, 10 "
        "classes) instead of digits: a medium search with epochs of seconds",
    )
    args = parser.parse_args()
    if args.quick:
        args.trials, args.epochs = 2, 2

    rows: list[Row] = []
    t_all = time.perf_counter()
    with storage_dir(args.storage) as storage:
        for conc in args.concurrency:
            space = make_space(
                trials=args.trials,
                epochs=args.epochs,
                sampler="tpe",
                scheduler="asha",
                seed=args.seed,
                concurrency=conc,
                grace=args.grace,
                reduction_factor=args.rf,
                executor=args.executor,
            )
            if args.samples:
                space["config"]["data"] = {
                    "name": "synthetic",
                    "num_samples": args.samples,
                    "num_features": 64,
                    "num_classes": 10,
                    "batch_size": 64,
                }
            space_file = write_space(space, storage / f"space-c{conc}.yaml")
            print(f"concurrency {conc}: raytrain tune ...", flush=True)
            rt = raytrain_tune(space_file, storage, f"overhead-c{conc}")
            print(f"concurrency {conc}: optuna in-process ...", flush=True)
            op = optuna_search(space_file, n_jobs=conc)
            rows.append(Row(conc, rt, op))

    print(
        f"\nmlp on {f'synthetic ({args.samples} samples)' if args.samples else 'digits'}, "
        f"{args.trials} trials x <= {args.epochs} epochs, TPE + ASHA/SHA "
        f"(grace {args.grace}, rf {args.rf}), executor {args.executor}, {os.cpu_count()} CPUs; "
        f"benchmark took {time.perf_counter() - t_all:.0f} s\n"
    )
    print_table(HEADERS, [r.cells(args.trials) for r in rows])


if __name__ == "__main__":
    main()
