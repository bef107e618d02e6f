"""`raytrain train CONFIG.yaml [KEY=VALUE ...]`: one training run of a config on Ray Train.

Local Ray by default (all of this machine's CPUs), or an existing cluster with `--address`.
The run directory is `<storage>/<name>` (default `runs/train/<config stem>-<timestamp>`).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raytrain.cli import add_overrides, add_ray_address
from raytrain.errors import InputError, Problem
from raytrain.layout import TrainRunLayout
from raytrain.space.fidelity import train_key

if TYPE_CHECKING:
    from raytrain.config.schema import TrainConfig
    from raytrain.trial.progress import EpochReport

_SKIP_IN_LINE = {"epoch", "step", "steps", "samples"}
FROM_PROVENANCE = "<provenance>"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Train one config (e.g. an exported best.yaml) on Ray Train and write a run directory "
        "<storage>/<name>/ with config.yaml, metrics.csv, TensorBoard events, best.ckpt "
        "(by checkpoint.metric), best-<metric>.ckpt (checkpoint.extra_metrics) and last.ckpt."
    )
    parser.add_argument("config", help="train config YAML")
    add_overrides(parser, "trainer.max_epochs=5")
    add_ray_address(parser)
    parser.add_argument(
        "--storage",
        default="runs/train",
        help="parent folder of run dirs, or s3://bucket/prefix, gs://... (default: runs/train)",
    )
    parser.add_argument(
        "--from-checkpoint",
        nargs="?",
        const=FROM_PROVENANCE,
        default=None,
        metavar="CKPT",
        help="continue from a trial's checkpoint (its folder or checkpoint.ckpt, a path or an "
        "s3:// URI; alone: the one an exported config names in provenance.checkpoint) up to "
        "trainer.max_epochs, instead of training from scratch",
    )
    parser.add_argument(
        "--name", default=None, help="run dir name (default: <config stem>-<YYYYmmdd-HHMMSS>)"
    )


def _run_name(args: argparse.Namespace) -> str:
    return str(args.name or f"{Path(args.config).stem}-{time.strftime('%Y%m%d-%H%M%S')}")


def _start_from(args: argparse.Namespace, provenance: dict[str, Any] | None) -> str | None:
    """The checkpoint `--from-checkpoint` names: a path or URI of a Lightning `.ckpt`."""
    if args.from_checkpoint is None:
        return None
    if args.from_checkpoint != FROM_PROVENANCE:
        return str(args.from_checkpoint)
    recorded = (provenance or {}).get("checkpoint")
    if not recorded:
        raise InputError(
            Problem(
                "--from-checkpoint",
                f"{args.config} names no checkpoint (provenance.checkpoint): give the .ckpt path",
            )
        )
    return str(recorded)


@contextlib.contextmanager
def _say_where_on_interrupt(run_dir: Path) -> Iterator[None]:
    """On Ctrl-C/SIGTERM: say what the stopped run kept (`train` has no resume)."""
    try:
        yield
    except KeyboardInterrupt:
        layout = TrainRunLayout(run_dir)
        kept = [p.name for p in (layout.metrics_csv, layout.ray_dir) if p.exists()]
        print(
            f"stopped. {run_dir} keeps what was written ({', '.join(kept) or 'nothing yet'}); "
            "`raytrain train` does not resume: run it again with another --name.",
            file=sys.stderr,
            flush=True,
        )
        raise


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _metrics_line(metrics: dict[str, Any]) -> str:
    return "  ".join(f"{k} {_fmt(v)}" for k, v in sorted(metrics.items()) if k not in _SKIP_IN_LINE)


def _print_provenance(
    provenance: dict[str, Any], history: list[dict[str, Any]], key: str = "epoch"
) -> None:
    """The trial's recorded value(s) next to this run's at the same epoch (`key`: or
    step / sample count, as the config reports): one metric, or each objective of a
    multi-objective export (`provenance.values`)."""
    values = provenance.get("values")
    if not isinstance(values, dict):
        metric, recorded = provenance.get("metric"), provenance.get("value")
        if not metric or recorded is None:
            return
        values = {metric: recorded}
    epoch = provenance.get(key)
    same_epoch = [row for row in history if row.get(key) == epoch]
    row = (same_epoch or history or [{}])[-1]
    at = f" at {key.rstrip('s')} {epoch}" if epoch is not None else ""
    trial = provenance.get("trial_id", "?")
    for metric, recorded in values.items():
        ours = row.get(metric)
        print(f"trial {trial} recorded {metric} {_fmt(recorded)}{at}; this run: {_fmt(ours)}")


def run(args: argparse.Namespace) -> int:
    # Imported here (`--help` imports every command module), and Ray-free until the
    # session is entered (the import rule in raytrain/local_ray.py).
    from raytrain.config.loading import load_train_config_with_provenance
    from raytrain.runlock import run_lock
    from raytrain.runtime_env import put_cwd_on_path
    from raytrain.tracking import require_packages

    cwd = Path.cwd()
    put_cwd_on_path(cwd)
    cfg, provenance = load_train_config_with_provenance(args.config, args.overrides)
    require_packages(cfg.logging)  # before Ray's start-up, not after
    from raytrain import storage as objects

    start_from = _start_from(args, provenance)
    remote = None
    if objects.is_remote(args.storage):
        remote = objects.RemoteDir.working_copy(objects.join(args.storage, _run_name(args)))
        if remote.exists():
            raise InputError(Problem("--name", f"{remote.uri} exists already; pick another name"))
        run_dir = remote.local
    else:
        run_dir = Path(args.storage) / _run_name(args)
    layout = TrainRunLayout(run_dir)
    # before Ray starts: a second `train` into the same directory stops at once
    with run_lock(layout.lock):
        layout.check_new()
        if remote is None:
            return _train(args, cfg, provenance, run_dir, cwd, start_from=start_from)
        # Ray Train keeps its own folder (checkpoints, written from every worker's node)
        # in the bucket; the run's own files go through the working copy
        with objects.Mirror(remote):
            return _train(
                args, cfg, provenance, run_dir, cwd, start_from=start_from, remote=remote.uri
            )


def _train(
    args: argparse.Namespace,
    cfg: TrainConfig,
    provenance: dict[str, Any] | None,
    run_dir: Path,
    cwd: Path,
    *,
    start_from: str | None = None,
    remote: str | None = None,
) -> int:
    from raytrain.config.schema import default_metric_note
    from raytrain.local_ray import connected_ray
    from raytrain.runtime_env import user_code_runtime_env
    from raytrain.signals import sigterm_as_sigint

    started = time.monotonic()
    total = cfg.trainer.max_epochs
    first = True
    progress = train_key(cfg.trainer.report_every, cfg.trainer.report_unit)

    def on_epoch(report: EpochReport) -> None:
        nonlocal first
        if first:
            note = default_metric_note(cfg.checkpoint, report.metrics)
            if note:
                print(note, flush=True)
            first = False
        elapsed = time.monotonic() - started
        ckpt = "  [ckpt]" if report.checkpoint_path else ""
        epoch = report.metrics.get("epoch", "?")
        at = f"epoch {epoch:>3}/{total}"
        if progress != "epoch":  # reports inside epochs
            done = report.metrics.get(progress, "?")
            at = f"{progress.rstrip('s')} {done} (epoch {epoch}/{total})"
        print(f"{at}  {_metrics_line(report.metrics)}{ckpt}  ({elapsed:.1f}s)", flush=True)

    runtime_env = user_code_runtime_env(cfg, cwd, remote=args.address is not None)
    # sigterm_as_sigint after ray.init (in connected_ray), which sets its own handler.
    session = connected_ray(args.address, runtime_env, preload=["raytrain.trial.driver"])
    with session as dashboard, sigterm_as_sigint(), _say_where_on_interrupt(run_dir):
        from raytrain.trial.driver import train  # imports Ray: only now

        where = f"Ray at {args.address}" if args.address else "a private local Ray"
        print(f"raytrain train: {args.config} on {where}, {cfg.resources.workers} worker(s)")
        if dashboard:
            print(f"Ray dashboard: {dashboard}")
        where_kept = f"{remote} (working copy {run_dir})" if remote else str(run_dir)
        print(f"run dir: {where_kept}", flush=True)
        if start_from:
            print(f"continuing from checkpoint {start_from}", flush=True)
        outcome = train(
            cfg,
            run_dir,
            on_epoch=on_epoch,
            name=Path(args.config).stem,
            provenance=provenance,
            start_from=start_from,
            ray_storage=remote,
        )
    final = outcome.final_metrics
    print(f"final: {_metrics_line(final)}  (epoch {final.get('epoch')})")
    if outcome.best_metrics is not None:
        metric, best_at = cfg.checkpoint.metric, outcome.best_metrics
        where = f"{progress.rstrip('s')} {best_at.get(progress)}"
        print(f"best {metric}: {_fmt(best_at.get(metric))} at {where}")
    layout = TrainRunLayout(run_dir)
    main_names = (layout.best_ckpt.name, layout.last_ckpt.name)
    best = outcome.checkpoints.get(main_names[0]) or outcome.checkpoints.get(main_names[1])
    for name, path in sorted(outcome.checkpoints.items()):
        if name not in main_names:
            print(f"{name}: {path}")
    print(f"best checkpoint: {best if best else '(none saved)'}")
    if provenance:
        _print_provenance(provenance, outcome.history, progress)
    return 0
