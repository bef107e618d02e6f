"""Assemble and run (or resume) a Ray Tune experiment for a validated space, on the Ray
session the caller has entered (`raytrain.local_ray.connected_ray`; `raytrain.cli.tune`).

Everything of a run lives in `<storage>/<name>/`: `space.yaml`, `optuna.journal`,
`trials.csv`, and `trials/`, which is Tune's experiment directory (its state files) with one
folder per trial holding our records of that trial and its Ray Train checkpoints. So
`--resume`, `status` and `export` need nothing but that folder.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import ray
from ray import tune
from ray.tune.search import ConcurrencyLimiter

from raytrain.config.schema import checkpoint_keep
from raytrain.errors import InputError, Problem, RunError
from raytrain.executor.pool import pool_name, start_pool
from raytrain.executor.trainable import ExecutorPoolCallback, make_warm_trainable
from raytrain.layout import SearchRunLayout
from raytrain.results import load_run
from raytrain.results.confirm import missing as confirmations_missing
from raytrain.results.confirm import render_finalists
from raytrain.results.export import export_best, export_pareto, render_front, render_top
from raytrain.space import asha_rungs, dump_space, render_plan, trial_config
from raytrain.space.catalogue import SAMPLERS
from raytrain.space.types import Space
from raytrain.trial.scaling import start_train_coordinator
from raytrain.tune.budget import (
    AnyStopper,
    BudgetedSearchGenerator,
    BudgetGate,
    BudgetStopper,
    LedgerCallback,
)
from raytrain.tune.callbacks import LiveViewCallback, full_budget
from raytrain.tune.confirm import ConfirmExempt, ConfirmSearcher, confirm_trials
from raytrain.tune.diskfull import DiskFullCallback, disk_full, disk_full_error
from raytrain.tune.ledger import forget, ledger_for
from raytrain.tune.relocation import resuming_in
from raytrain.tune.resources import nodes_from_ray, plan_resources
from raytrain.tune.schedulers import make_scheduler
from raytrain.tune.searchers import grid_size, journal_storage, make_searcher
from raytrain.tune.state_backup import StateBackup
from raytrain.tune.tracking import TrackingCallback, open_search_tracking
from raytrain.tune.trainable import NonFiniteStopper, make_trainable
from raytrain.tune.warm import WarmStart, write_record


@dataclass(frozen=True)
class TuneOptions:
    resume: bool = False
    dry_run: bool = False
    verbose: bool = False
    live: bool | None = None  # None: a live table when stdout is a terminal
    warm: WarmStart | None = None  # `--warm-from`: earlier trials for a new run's study
    # the run lives in a bucket, written through this machine's working copy
    # (raytrain.storage): trial actors run on the head, beside the driver
    in_bucket: bool = False


@dataclass(frozen=True)
class TuneOutcome:
    run_dir: Path
    complete: bool  # every planned trial finished
    trials: int
    best_file: Path | None


def budget_of(space: Space) -> int:
    """Trials to run: num_samples, or the grid's size when that is smaller."""
    if SAMPLERS[space.search.sampler].finite_only:
        return min(space.search.num_samples, grid_size(space))
    return space.search.num_samples


def trial_dirname(trial: Any) -> str:
    return str(trial.trial_id)


def _fail_orphaned_optuna_trials(space: Space, run_dir: Path) -> int:
    """Trials the journal still has as RUNNING after every Tune trial has ended (their
    driver died between two state saves): mark them failed so they do not count as
    running points for TPE's constant liar on a later extension."""
    study = optuna.load_study(study_name=space.name, storage=journal_storage(run_dir))
    stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for t in stale:
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
    return len(stale)


def run_tune(
    space: Space, run_dir: Path, options: TuneOptions, echo: Callable[[str], None] = print
) -> TuneOutcome:
    """Run (or resume) the search into `run_dir` (checked by `SearchRunLayout` first)."""
    budget = budget_of(space)
    nodes = nodes_from_ray(ray.nodes())
    plan, problems = plan_resources(
        space.resources,
        nodes,
        num_samples=budget,
        source=str(space.source) if space.source else None,
    )
    if plan is None:
        raise InputError(problems)
    echo(render_plan(space))
    echo(plan.describe())
    if options.dry_run:
        echo("dry run: no trials started.")
        return TuneOutcome(run_dir=run_dir, complete=False, trials=0, best_file=None)

    SearchRunLayout(run_dir).write_space(dump_space(space))
    forget(run_dir)  # read the ledger from the run dir (a resumed run continues it)
    ledger_for(run_dir).ledger.stopped = None  # a resume with a raised budget asks again
    if options.warm is not None:
        write_record(run_dir, options.warm)
    echo(f"run directory: {run_dir}")
    # Save Tune's experiment state every couple of seconds (default: adaptive, often
    # tens of seconds), so a killed driver loses at most that much bookkeeping.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
    # Tune's own per-trial loggers (result.json, progress.csv, TensorBoard via tensorboardX)
    # duplicate what RunDirCallback writes, and tensorboardX imports torch into the driver
    # (4 s of CPU here, measured with py-spy).
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    # Without those files Tune's ResultGrid, built at the end of fit() and never read by
    # raytrain (results come from the run directory), warns once per trial.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    # OptunaSearch times the whole ask() as "the define-by-run function": a model-based
    # sampler's fit (GP in particular, ~1-3 s a suggestion) trips its 1 s warning, whose
    # advice (move training into the trainable) does not apply.
    warnings.filterwarnings("ignore", message="Define-by-run function passed", category=UserWarning)
    # Tune warns whenever a checkpoint forces a state snapshot (every epoch of a warm trial
    # with num_to_keep set); that snapshot is what keeps --resume exact, so it stays.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    if not options.verbose:
        # Tune's new console output prints an experiment banner even at verbose=0; the
        # live view replaces it. Optuna's per-trial INFO lines likewise.
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
        optuna.logging.set_verbosity(optuna.logging.WARNING)

    warm = space.resources.executor == "warm"
    if options.in_bucket and not warm and len(nodes) > 1:
        # a fresh trial's Train workers write its checkpoints from their own nodes
        raise InputError(
            Problem(
                "resources.executor",
                "fresh executors on a multi-node cluster need --storage on a file system "
                "every node mounts; with a bucket use the default warm executors",
            )
        )
    start_train_coordinator()
    pool, scratch = None, None
    if warm:
        # The slots' Train runs keep nothing there (they never report to Ray Train).
        scratch = Path(tempfile.mkdtemp(prefix="raytrain-executors-"))
        # The slots' Train runs start now and warm up while Tune starts.
        pool = start_pool(
            space,
            run_dir,
            slots=plan.max_concurrent_trials,
            storage_dir=scratch,
            # one host: the slots' start-ups compete for its cores (ExecutorPool._spawn_rest)
            stagger=len(nodes) == 1,
        )
        trainable = make_warm_trainable(pool_name(run_dir), on_head=options.in_bucket)
    else:
        trainable = make_trainable(space, run_dir)
    # a resumed run may have moved since Tune saved its state (raytrain.tune.relocation)
    relocation = resuming_in(run_dir) if options.resume else contextlib.nullcontext()
    try:
        with relocation:
            tuner = _build_or_restore(
                space,
                run_dir,
                budget,
                plan.max_concurrent_trials,
                options,
                trainable=trainable,
                rungs=asha_rungs(space),
            )
            tuner.fit()
    except Exception as exc:
        full = disk_full(exc)
        if full is not None:  # whichever write met the full disk first
            raise disk_full_error(run_dir, full.filename) from None
        if isinstance(exc, ray.exceptions.RayError):  # pragma: no cover - cluster failures
            raise RunError(f"the search failed: {exc}") from exc
        raise
    finally:
        if pool is not None:
            _stop_pool(pool)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return _finish(space, run_dir, budget, echo)


def _stop_pool(pool: Any) -> None:
    """End the slots' Train runs (each finishes the epoch it is in), then the pool."""
    with contextlib.suppress(ray.exceptions.RayError, TimeoutError):  # already gone
        ray.get(pool.shutdown.remote(), timeout=120)
    ray.kill(pool)


def _build_or_restore(
    space: Space,
    run_dir: Path,
    budget: int,
    concurrency: int,
    options: TuneOptions,
    *,
    trainable: Any,
    rungs: list[int],
) -> Any:
    layout = SearchRunLayout(run_dir)
    tune_dir = str(layout.trials_dir)
    if options.resume and tune.Tuner.can_restore(tune_dir):
        return tune.Tuner.restore(
            tune_dir,
            trainable=trainable,
            resume_unfinished=True,
            resume_errored=False,
        )
    max_epochs = int(space.config["trainer"]["max_epochs"])
    searcher = BudgetedSearchGenerator(
        BudgetGate(
            ConcurrencyLimiter(
                ConfirmSearcher(
                    make_searcher(space, run_dir, options.warm),
                    run_dir=run_dir,
                    cap=grid_size(space) if SAMPLERS[space.search.sampler].finite_only else None,
                ),
                max_concurrent=concurrency,
            ),
            run_dir=run_dir,
        ),
        run_dir=run_dir,
        extra=confirm_trials,
    )
    total = budget + (space.confirm.trials if space.confirm else 0)
    # The full-disk guard first (it stops the search before a record is written), then the
    # ledger (the live view shows what it counted), then one callback that keeps the run
    # directory and shows it (RunDirCallback + live view).
    callbacks: list[tune.Callback] = [
        DiskFullCallback(run_dir),
        LedgerCallback(run_dir),
        LiveViewCallback(
            run_dir,
            name=space.name,
            metric=space.metric,
            mode=space.mode,
            param_paths=[p.path for p in space.parameters],
            rungs=rungs,
            max_epochs=max_epochs,
            budget=total,
            concurrency=concurrency,
            live=options.live,
            tensorboard=trial_config(space, {}).logging.tensorboard,
            objectives=space.objectives,
            constraints=space.constraints,
            time_attr=space.scheduler.time_attr,
            max_t=full_budget(space),
        ),
        StateBackup(run_dir),  # a whole copy of Tune's state, for a resume after a cut-short one
    ]
    warm = space.resources.executor == "warm"
    if warm:
        callbacks.append(ExecutorPoolCallback(pool_name(run_dir)))
    # W&B / MLflow from the driver's results (after the run dir's callback, whose best
    # trial it reads at the end); opened now so a bad tracking URI fails before any trial.
    tracking = open_search_tracking(space, run_dir)
    if tracking is not None:
        callbacks.append(TrackingCallback(space, run_dir, tracking))
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=ConfirmExempt(make_scheduler(space, run_dir)),
            num_samples=total,
            trial_dirname_creator=trial_dirname,
            # warm trials are thin actors worth keeping; a fresh trial's actor sits in
            # TorchTrainer.fit() and cannot be reset (ray/tune/trainable/function_trainable.py)
            reuse_actors=warm,
        ),
        run_config=tune.RunConfig(
            name=layout.TRIALS_DIRNAME,
            storage_path=str(run_dir),
            failure_config=tune.FailureConfig(max_failures=space.failure.max_failures),
            stop=AnyStopper(
                NonFiniteStopper(*(o.name for o in space.objectives)),
                BudgetStopper(
                    run_dir,
                    rungs,
                    space.scheduler.key,
                    space.scheduler.report_every or 1,
                ),
            ),
            callbacks=callbacks,
            # warm trials checkpoint through Tune (a fresh trial's Train run keeps its own)
            checkpoint_config=tune.CheckpointConfig(
                **checkpoint_keep(trial_config(space, {}).checkpoint)
            )
            if warm
            else None,
            verbose=2 if options.verbose else 0,
        ),
    )


def _gpus_per_trial(space: Space) -> float:
    return space.resources.workers_per_trial * space.resources.gpus_per_worker


def _finish(space: Space, run_dir: Path, budget: int, echo: Callable[[str], None]) -> TuneOutcome:
    run = load_run(run_dir)
    ended = ("TERMINATED", "STOPPED", "ERROR")
    finished = [t for t in run.searched if t.state in ended]
    ledger = ledger_for(run_dir).ledger
    # ended by its time budget: as complete as it will get (exit 0; a resume with a
    # raised budget continues it)
    by_time = ledger.stopped is not None and all(t.state in ended for t in run.trials)
    missing = 0
    if space.confirm is not None and not by_time:
        c = space.confirm
        seed = space.config.get("seed")
        missing = confirmations_missing(run.trials, run.mode, c.top_k, c.seeds, seed)
    complete = (len(finished) >= budget or by_time) and not missing
    if complete:
        _fail_orphaned_optuna_trials(space, run_dir)
    best_file: Path | None = None
    if run.multi_objective:
        # no single best: the whole front, one runnable file per point
        echo(render_front(run))
        if run.front():
            paths = export_pareto(run_dir)
            best_file = paths[0]
            echo(f"Pareto front configs: {best_file.parent}/ ({len(paths)} file(s))")
            echo(f"final run:   raytrain train {best_file}")
    else:
        echo(render_top(run, k=5))
        if space.confirm is not None:
            echo(render_finalists(run) or "no confirmation trials yet.")
        if run.best(1):
            best_file = export_best(run_dir, SearchRunLayout(run_dir).best_yaml, top_k=1)[0]
            echo(f"best config: {best_file}")
            echo(f"final run:   raytrain train {best_file}")
    if space.budget.any:
        used = ledger.usage(space.budget, _gpus_per_trial(space))
        echo(f"budget: {', '.join(used)}")
    if by_time and len(finished) < budget:
        echo(
            f"budget reached: no new trials after {len(finished)}/{budget} "
            f"({ledger.stopped}). To go on, raise the budget: "
            f"raytrain tune {run_dir} --resume budget.<key>=<hours>"
        )
    if not complete:
        confirming = f", {missing} confirmation trial(s) to run" if missing else ""
        echo(
            f"{len(finished)}/{budget} trials finished{confirming}. Continue with: "
            f"raytrain tune {run_dir} --resume"
        )
    return TuneOutcome(
        run_dir=run_dir, complete=complete, trials=len(run.trials), best_file=best_file
    )
