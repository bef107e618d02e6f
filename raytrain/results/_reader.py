"""load_run: a run directory on disk -> `Run` (works while the run goes on, after it
ends, and on a copy from a cluster: only relative paths inside the directory are used).

A `raytrain train` run reads as a one-trial run: its per-epoch metrics, the best value of
its `checkpoint.metric`, and the state its driver recorded."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from raytrain.errors import InputError, Problem
from raytrain.layout import TRAIN, SearchRunLayout, TrainRunLayout, run_layout
from raytrain.results import _files
from raytrain.results._records import Run, TrialRecord, summarise_history
from raytrain.results._table import read_table
from raytrain.results.states import RUNNING, TERMINATED
from raytrain.space.asha import rung_epochs
from raytrain.space.catalogue import SCHEDULERS
from raytrain.space.fidelity import time_key, train_time_attr


def _load_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError(Problem("", f"not valid YAML: {exc}", str(path), line)) from exc
    return data if isinstance(data, dict) else {}


def space_rungs(space: dict[str, Any]) -> list[int]:
    """ASHA rungs implied by a space's scheduler block (empty for FIFO or when unknown)."""
    sched = space.get("scheduler") or {}
    if not isinstance(sched, dict):
        return []
    spec = SCHEDULERS.get(str(sched.get("type", "asha")))
    if spec is None or not spec.rungs:
        return []
    max_t = sched.get("max_t") or ((space.get("config") or {}).get("trainer") or {}).get(
        "max_epochs"
    )
    if max_t is None:
        return []
    try:
        return rung_epochs(
            int(max_t), int(sched.get("grace_period", 1)), float(sched.get("reduction_factor", 3))
        )
    except (TypeError, ValueError):
        return []


def load_run(run_dir: Path) -> Run:
    """Read a run directory; InputError (exit 2) when it is not one."""
    run_dir = Path(run_dir)
    layout = run_layout(run_dir)
    if layout is None:
        raise InputError(
            Problem(
                "",
                "not a raytrain run directory (expected trials.csv, space.yaml or trials/ "
                "of a search, or config.yaml with metrics.csv of a train run, in it)",
                str(run_dir),
            )
        )
    if isinstance(layout, TrainRunLayout):
        return _load_train_run(layout)
    return _load_search_run(layout)


def _load_search_run(layout: SearchRunLayout) -> Run:
    run_dir = layout.root
    space = _load_yaml(layout.space)
    meta = _files.read_meta(layout)
    objectives, constraints = _files.goals_of(meta)
    if not objectives:
        objectives, constraints = _files.goals_of(space)
    first = objectives[0] if objectives else None
    metric = meta.get("metric") or space.get("metric") or (first and first.name)
    mode = meta.get("mode") or space.get("mode") or (first and first.mode) or "min"
    if not metric:
        raise InputError(
            Problem("metric", "the run names no metric (space.yaml has no `metric:`)", str(run_dir))
        )
    records, table_params = read_table(layout.trials_csv)
    for record in records:
        trial = layout.trial(record.trial_id)
        record.trial_dir = trial.root
        params = _files.read_params(trial)
        if params is not None:
            record.params = params  # typed values; the table only has text
    space_params = space.get("parameters") or {}
    declared = [p for p, spec in space_params.items() if isinstance(spec, dict)]
    param_paths = list(dict.fromkeys([*(meta.get("param_paths") or []), *declared, *table_params]))
    rungs = [int(r) for r in meta.get("rungs") or []] or space_rungs(space)
    return Run(
        path=run_dir,
        name=str(space.get("name") or run_dir.name),
        metric=str(metric),
        mode=str(mode),
        space=space,
        trials=records,
        param_paths=param_paths,
        rungs=rungs,
        objectives=objectives,
        constraints=constraints,
        warm_start=_files.read_warm_start(layout),
        time_attr=str((space.get("scheduler") or {}).get("time_attr") or "epochs"),
    )


def _time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def _load_train_run(layout: TrainRunLayout) -> Run:
    """One trial named after the run dir; metric and mode from config.yaml's checkpoint
    section (what "best" means for that run's best.ckpt)."""
    config = _load_yaml(layout.config)
    checkpoint = config.get("checkpoint") or {}
    metric = str(checkpoint.get("metric") or "val_loss")
    mode = str(checkpoint.get("mode") or "min")
    state = _files.read_state(layout)
    checkpoints = [p for p in (layout.best_ckpt, layout.last_ckpt) if p.is_file()]
    # run dirs written before state.json existed: checkpoints are placed when a run ends
    recorded = state.get("state") or (TERMINATED if checkpoints else RUNNING)
    record = TrialRecord(trial_id=layout.root.name, state=str(recorded))
    record.trial_dir = layout.root
    trainer = config.get("trainer") or {}
    time_attr = train_time_attr(trainer.get("report_every"), trainer.get("report_unit"))
    rows, _header = _files.read_metrics(layout)
    summarise_history(record, rows, metric, mode, time_key(time_attr))
    record.started_at = _time(state.get("started_at"))
    record.updated_at = _time(state.get("updated_at"))
    record.error = state.get("error") or None
    record.checkpoint = str(checkpoints[0]) if checkpoints else None
    return Run(
        path=layout.root,
        name=layout.root.name,
        metric=metric,
        mode=mode,
        space={},
        trials=[record],
        kind=TRAIN,
        time_attr=time_attr,
    )
