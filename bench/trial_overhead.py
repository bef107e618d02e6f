"""What a trial costs on Ray Train compared with a plain in-process Lightning fit.

Runs the same module, data and epochs (built-in mlp on digits by default) four ways:
  plain      Lightning fit in this process (no Ray)
  cli        `raytrain train` in a subprocess: command start -> epoch lines on stdout
  ray        build_torch_trainer on an already started local Ray, checkpoint only at the end
  ray+ckpt   the same, with a checkpoint every epoch
and prints start-up (start -> first epoch reported), mean interval between epochs, total,
and the derived per-epoch report and checkpoint costs.

    python bench/trial_overhead.py [--epochs 5] [--workers 1] [--no-cli] [--poll-s 0.2]

`--poll-s` is Ray Train's controller poll interval (RAY_TRAIN_HEALTH_CHECK_INTERVAL_S) for the
ray rows; raytrain uses 0.2, Ray's default is 2.0. The cli row always uses raytrain's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from raytrain.config.parse import train_config_to_dict
from raytrain.config.schema import (
    CheckpointConfig,
    ComponentConfig,
    ResourcesConfig,
    TrainConfig,
    TrainerConfig,
)
from raytrain.runtime_env import POLL_ENV, REPORT_POLL_S


@dataclass
class Timing:
    name: str
    first: float  # start -> first epoch reported
    epochs: list[float]  # times each epoch was reported, from start
    total: float

    @property
    def interval(self) -> float:
        gaps = [b - a for a, b in zip(self.epochs, self.epochs[1:], strict=False)]
        return statistics.mean(gaps) if gaps else float("nan")


def plain_fit(cfg: TrainConfig) -> Timing:
    import lightning.pytorch as pl
    import torch

    from raytrain.trial.components import build_datamodule, build_model

    # Same CPU budget as a Train worker (Ray sets OMP_NUM_THREADS to its CPUs).
    torch.set_num_threads(max(1, int(cfg.resources.cpus_per_worker)))

    start = time.perf_counter()
    stamps: list[float] = []

    class Stamp(pl.Callback):
        def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            stamps.append(time.perf_counter() - start)

    pl.seed_everything(cfg.seed, verbose=False)
    dm = build_datamodule(cfg)
    model = build_model(cfg, dm)
    trainer = pl.Trainer(
        max_epochs=cfg.trainer.max_epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[Stamp()],
    )
    trainer.fit(model, datamodule=dm)
    return Timing("plain lightning", stamps[0], stamps, time.perf_counter() - start)


def ray_fit(cfg: TrainConfig, name: str, storage: Path) -> Timing:
    import ray.train

    from raytrain.trial import build_torch_trainer
    from raytrain.trial.progress import EpochReport, ProgressRelay

    start = time.perf_counter()
    stamps: list[float] = []
    relay = ProgressRelay()

    def on_report(report: EpochReport) -> None:
        stamps.append(time.perf_counter() - start)

    relay.start(on_report)
    run_config = ray.train.RunConfig(
        name=name, storage_path=str(storage), callbacks=[relay.callback]
    )
    try:
        build_torch_trainer(cfg, run_config=run_config).fit()
    finally:
        relay.stop()
    return Timing(name, stamps[0], stamps, time.perf_counter() - start)


def cli_fit(cfg: TrainConfig, workdir: Path) -> Timing:
    (workdir / "bench.yaml").write_text(yaml.safe_dump(train_config_to_dict(cfg)))
    start = time.perf_counter()
    stamps: list[float] = []
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "raytrain"), "train", "bench.yaml", "--storage", "runs"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("epoch "):
            stamps.append(time.perf_counter() - start)
    if proc.wait() != 0:
        raise SystemExit("raytrain train failed")
    return Timing("raytrain train (cli)", stamps[0], stamps, time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-cli", action="store_true", help="skip the subprocess CLI run")
    parser.add_argument("--poll-s", type=float, default=float(REPORT_POLL_S))
    args = parser.parse_args()
    cfg = TrainConfig(
        model=ComponentConfig(name="mlp"),
        data=ComponentConfig(name="digits"),
        trainer=TrainerConfig(max_epochs=args.epochs),
        checkpoint=CheckpointConfig(every_n_epochs=0),
        resources=ResourcesConfig(workers=args.workers),
    )
    rows = [plain_fit(cfg)]
    with tempfile.TemporaryDirectory(prefix="raytrain-bench-") as tmp:
        if not args.no_cli:
            rows.append(cli_fit(cfg, Path(tmp)))
        import ray

        t0 = time.perf_counter()
        ray.init(
            address="local",  # a new instance even while other `ray start` heads run here
            num_cpus=os.cpu_count(),
            include_dashboard=True,
            dashboard_host="127.0.0.1",
            log_to_driver=False,
            configure_logging=False,
            runtime_env={"env_vars": {POLL_ENV: str(args.poll_s)}},
        )
        init_s = time.perf_counter() - t0
        try:
            rows.append(ray_fit(cfg, "ray train, ckpt at end", Path(tmp)))
            every = replace(cfg, checkpoint=CheckpointConfig(every_n_epochs=1))
            rows.append(ray_fit(every, "ray train, ckpt every epoch", Path(tmp)))
        finally:
            ray.shutdown()

    print(
        f"\n{args.epochs} epochs, mlp on digits, {args.workers} worker(s), "
        f"{os.cpu_count()} CPUs; ray.init took {init_s:.1f} s (not in the ray rows)\n"
    )
    print(f"| {'run':<28} | start->1st epoch (s) | epoch interval (s) | total (s) |")
    print(f"|{'-' * 30}|{'-' * 22}|{'-' * 20}|{'-' * 11}|")
    for r in rows:
        print(f"| {r.name:<28} | {r.first:>20.2f} | {r.interval:>18.3f} | {r.total:>9.2f} |")
    by = {r.name: r for r in rows}
    plain, no_ckpt = by["plain lightning"], by["ray train, ckpt at end"]
    ckpt = by["ray train, ckpt every epoch"]
    report_cost = no_ckpt.interval - plain.interval
    ckpt_cost = ckpt.interval - no_ckpt.interval
    print(f"\nper-epoch report cost (ray, no ckpt - plain): {report_cost:+.3f} s")
    print(f"per-checkpoint cost (ckpt every epoch - no ckpt): {ckpt_cost:+.3f} s")
    print(
        f"TorchTrainer start-up (ray first epoch - plain first epoch): "
        f"{no_ckpt.first - plain.first:+.2f} s"
    )


if __name__ == "__main__":
    main()
