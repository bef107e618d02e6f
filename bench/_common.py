"""Shared pieces of the tune benchmarks: the benchmark space, running `raytrain tune` in a
subprocess with timestamps, and reading a finished run's per-epoch timeline.

Benchmarks print tables; they are not tests. Numbers on a shared 2-core machine are noisy,
so each script prints what it ran (sizes, CPUs) next to its results.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from raytrain.results import Run, load_run

# The quickstart search (search_spaces/quickstart.yaml) kept here, so that editing the
# quickstart does not silently change what the benchmarks measure.
BENCH_SPACE: dict[str, Any] = {
    "name": "bench",
    "config": {
        "seed": 0,
        "model": {"name": "mlp", "hidden": 128, "depth": 2, "dropout": 0.1},
        "data": {"name": "digits", "batch_size": 64, "val_fraction": 0.2},
        "optimizer": {"name": "adamw", "lr": 3.0e-3, "weight_decay": 1.0e-4},
        "trainer": {"max_epochs": 8},
    },
    "metric": "val_acc",
    "mode": "max",
    "parameters": {
        "optimizer.lr": {"type": "float", "low": 1.0e-3, "high": 5.0e-2, "log": True},
        "model.hidden": {"type": "int", "low": 32, "high": 256, "log": True},
        "model.depth": {"type": "int", "low": 1, "high": 3},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.3, "step": 0.05},
        "data.batch_size": {"type": "categorical", "values": [32, 64, 128]},
    },
    "search": {"sampler": "tpe", "num_samples": 16, "seed": 0},
    "scheduler": {"type": "asha", "grace_period": 1, "reduction_factor": 2},
    "resources": {
        "workers_per_trial": 1,
        "cpus_per_worker": 1,
        "gpus_per_worker": 0,
        "max_concurrent_trials": "auto",
    },
    "failure": {"max_failures": 1},
}


def make_space(
    *,
    trials: int,
    epochs: int,
    sampler: str,
    scheduler: str,
    seed: int,
    concurrency: int | str,
    grace: int = 1,
    reduction_factor: float = 2,
    executor: str = "warm",
) -> dict[str, Any]:
    """BENCH_SPACE with the benchmark's sizes and search settings filled in."""
    space = copy.deepcopy(BENCH_SPACE)
    space["config"]["trainer"]["max_epochs"] = epochs
    space["search"] = {"sampler": sampler, "num_samples": trials, "seed": seed}
    if scheduler == "asha":
        space["scheduler"] = {
            "type": "asha",
            "grace_period": grace,
            "reduction_factor": reduction_factor,
        }
    else:
        space["scheduler"] = {"type": scheduler}
    space["resources"]["max_concurrent_trials"] = concurrency
    space["resources"]["executor"] = executor
    return space


def bench_parser(description: str | None, *, executor: bool = True) -> argparse.ArgumentParser:
    """The options every benchmark takes (`--storage`, and `--executor` unless the script
    compares executors itself); each script adds its own."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--storage", type=Path, default=None, help="keep run directories here (default: temp dir)"
    )
    if executor:
        parser.add_argument(
            "--executor", choices=["warm", "fresh"], default="warm", help="resources.executor"
        )
    return parser


@contextlib.contextmanager
def storage_dir(keep: Path | None) -> Iterator[Path]:
    """`keep` (created) when given, else a temporary directory removed afterwards."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="raytrain-bench-") as tmp:
        yield Path(tmp)


def write_space(space: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path


# Lines `raytrain tune` prints, by what they mark.
MARKS = {"ray": "Ray dashboard:", "done": "final run:"}


@dataclass
class TuneRun:
    """A finished `raytrain tune` subprocess: timestamps (unix s) and the run it wrote."""

    started: float  # just before the subprocess was started
    stamps: dict[str, float]  # MARKS key -> when the CLI first printed that line
    ended: float  # the subprocess exited
    run: Run
    rows: list[EpochRow]  # read while the run directory still exists
    first_epoch: list[float]  # per trial: started -> first epoch reported (s)

    @property
    def ray_up_s(self) -> float | None:
        """Command start -> Ray started and connected (the dashboard line is printed)."""
        up = self.stamps.get("ray")
        return up - self.started if up is not None else None

    @property
    def shutdown_s(self) -> float | None:
        """Final summary printed -> command exited (ray.shutdown + stopping the head)."""
        done = self.stamps.get("done")
        return self.ended - done if done is not None else None

    @property
    def wall_s(self) -> float:
        return self.ended - self.started

    @property
    def first_trial_start(self) -> float | None:
        stamps = [t.started_at.timestamp() for t in self.run.trials if t.started_at]
        return min(stamps) if stamps else None


def raytrain_tune(
    space_file: Path, storage: Path, name: str, overrides: Sequence[str] = ()
) -> TuneRun:
    """Run `raytrain tune` in a subprocess (its own private local Ray), stamping its output."""
    exe = Path(sys.executable).parent / "raytrain"
    cmd = [str(exe), "tune", str(space_file), *overrides]
    cmd += ["--storage", str(storage), "--name", name, "--no-live"]
    log: list[str] = []
    stamps: dict[str, float] = {}
    started = time.time()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        for key, prefix in MARKS.items():
            if key not in stamps and line.startswith(prefix):
                stamps[key] = time.time()
        log.append(line)
    code = proc.wait()
    ended = time.time()
    if code != 0:
        sys.stderr.write("".join(log[-40:]))
        raise SystemExit(f"`{' '.join(cmd)}` exited with {code}")
    run = load_run(storage / name)
    return TuneRun(started, stamps, ended, run, timeline(run), first_epoch_delays(run))


@dataclass(frozen=True)
class EpochRow:
    """One reported epoch of one trial, at the driver's wall time."""

    wall_time: float
    trial_id: str
    epoch: int
    metrics: dict[str, float]


def timeline(run: Run) -> list[EpochRow]:
    """Every epoch every trial reported, in wall-time order (metrics.csv `wall_time`)."""
    rows = [
        EpochRow(float(m["wall_time"]), t.trial_id, int(m["epoch"]), m)
        for t in run.trials
        for m in t.metrics()
        if "wall_time" in m
    ]
    return sorted(rows, key=lambda r: r.wall_time)


def first_epoch_delays(run: Run) -> list[float]:
    """Per trial: first epoch reported - trial started (s); `started_at` is kept to the
    millisecond in trials.csv."""
    out = []
    for t in run.trials:
        rows = t.metrics()
        if t.started_at is not None and rows and "wall_time" in rows[0]:
            out.append(float(rows[0]["wall_time"]) - t.started_at.timestamp())
    return out


def epoch_intervals(rows: Iterable[EpochRow]) -> list[float]:
    """Gaps between consecutive epochs of the same trial (s)."""
    last: dict[str, float] = {}
    gaps = []
    for r in rows:
        if r.trial_id in last:
            gaps.append(r.wall_time - last[r.trial_id])
        last[r.trial_id] = r.wall_time
    return gaps


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def mean(values: Sequence[float]) -> float:
    return statistics.mean(values) if values else float("nan")


def fmt(value: float | int | str | None, spec: str = ".2f") -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value != value:  # NaN
        return "-"
    return format(value, spec)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A Markdown table with right-aligned columns sized to their contents."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |")
