"""Export the best trial(s) of a run as runnable `raytrain train` configs.

A run with several objectives has no single best: `export_pareto` writes every trial on
the Pareto front, `export_choice` the best by one objective or by a weighted sum.

An exported file is the space's `config` with the trial's values merged in (plus the
space's per-trial resources), and a `provenance:` block that `raytrain train` ignores for
training but prints next to its own result, so a final run can be checked against the
trial it reproduces.
"""

from __future__ import annotations

import math
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from raytrain.config.parse import train_config_to_dict
from raytrain.config.tree import suggest
from raytrain.errors import InputError, Problem
from raytrain.layout import SearchRunLayout
from raytrain.redaction import redact
from raytrain.results import load_run
from raytrain.results.confirm import Finalist, export_order, finalists, fmt_stat, provenance
from raytrain.results.format import fmt_params, fmt_value
from raytrain.results.states import state_label
from raytrain.space import load_space, trial_train_config
from raytrain.storage import uri_of

VERSIONED = ("raytrain", "ray", "optuna", "torch", "lightning")


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(cwd: Path | None = None) -> str | None:
    """The commit of the project the search ran from, if it is a git checkout."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    ).stdout.strip()
    return proc.stdout.strip() + ("-dirty" if dirty else "")


def _plain(value: Any) -> Any:
    """YAML-safe scalars (numpy scalars and tuples become plain Python)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def exported_config(
    run: Any, record: Any, space: Any, selected_by: str | None = None
) -> dict[str, Any]:
    """The trial's train config plus `provenance:`. A multi-objective run's provenance
    names every objective's value at the trial's last epoch, its Pareto rank and
    feasibility, and how it was chosen (`selected_by`), instead of one metric."""
    cfg = train_config_to_dict(trial_train_config(space, record.params))
    if run.multi_objective:
        result: dict[str, Any] = {
            "objectives": {o.name: o.mode for o in run.objectives},
            "values": {o.name: record.objectives.get(o.name) for o in run.objectives},
            run.time_key: record.epochs,
            "pareto_rank": record.pareto_rank,
            "feasible": record.feasible,
            "constraints": [f"{c.metric} {c.op} {c.threshold:g}" for c in run.constraints],
            "selected_by": selected_by,
        }
    else:
        result = {
            "metric": run.metric,
            "mode": run.mode,
            "value": record.best_value,
            run.time_key: record.best_epoch,  # `epoch`, or `steps` / `samples`
        }
        confirmed = _finalist_of(run, record)
        if confirmed is not None:
            # chosen by the statistic over new seeds, not by this one run's value
            result["confirm"] = provenance(confirmed, run.confirm_pick, run.metric, run.mode)
    cfg["provenance"] = {
        "experiment": run.name,
        # a run in a bucket is named by its URI (raytrain.storage), wherever it was read
        "run_dir": uri_of(Path(run.path).resolve(), run.path),
        "trial_id": record.trial_id,
        **result,
        "epochs_run": record.epochs,
        "state": record.state,
        "checkpoint": uri_of(record.checkpoint, run.path) if record.checkpoint else None,
        # which "best" the checkpoint is: the run's metric (extra metrics keep their own)
        "checkpoint_selected_by": f"best {run.metric} ({run.mode})",
        "params": dict(record.params),
        **({"warm_from": run.warm_start["sources"]} if run.warm_start else {}),
        "git_commit": git_commit(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
    }
    return _plain(redact(cfg))  # secrets as written (raytrain.redaction)


def _finalist_of(run: Any, record: Any) -> Finalist | None:
    for f in finalists(run.trials, run.mode, run.confirm_pick):
        if f.trial.trial_id == record.trial_id and f.score is not None:
            return f
    return None


def export_best(run_dir: Path, out: Path | None = None, *, top_k: int = 1) -> list[Path]:
    """Write the best `top_k` trials; with k > 1 files are named `<stem>-<rank>.yaml`.
    A run whose confirmation trials have all finished ranks its confirmed finalists first,
    by their statistic (`confirm.pick`), then the other trials by their single best."""
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    if run.multi_objective:
        names = ", ".join(o.name for o in run.objectives)
        raise InputError(
            Problem(
                "--pareto",
                f"run {run.name} has several objectives ({names}): there is no single best "
                "trial. Export the whole Pareto front with --pareto, or choose one: "
                f"--pick objective={run.objectives[0].name} (the best feasible trial by "
                f"that objective) or --weights {'=1,'.join(o.name for o in run.objectives)}=1 "
                "(the lowest weighted sum; max objectives count negated)",
                file=str(run_dir),
            )
        )
    best = [
        r
        for r in export_order(run.trials, run.mode, run.confirm_pick)[:top_k]
        if r.best_value is not None and math.isfinite(r.best_value)
    ]
    if not best:
        raise InputError(
            Problem(
                "trials",
                f"run {run_dir} has no trial with a finite {run.metric}: nothing to export "
                f"({len(run.trials)} trial(s): "
                + ", ".join(sorted({t.state for t in run.trials}) or ["none"])
                + "). See `raytrain status` for their errors.",
                file=str(run_dir),
            )
        )
    layout = SearchRunLayout(run_dir)
    space = load_space(layout.space)
    out = Path(out) if out is not None else layout.best_yaml
    paths = []
    for rank, record in enumerate(best, start=1):
        path = out if top_k == 1 else out.with_name(f"{out.stem}-{rank}{out.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        config = exported_config(run, record, space)
        text = yaml.safe_dump(config, sort_keys=False)
        confirmed = _finalist_of(run, record)
        how = f"; over new seeds {fmt_stat(confirmed)}" if confirmed is not None else ""
        header = (
            f"# raytrain export of run '{run.name}', rank {rank}: trial {record.trial_id}, "
            f"{run.metric}={record.best_value:.6g} at epoch {record.best_epoch}{how}\n"
            f"# final run: raytrain train {path}\n"
        )
        path.write_text(header + text)
        paths.append(path)
    return paths


def render_top(run: Any, k: int = 5) -> str:
    """Plain-text table of the best k trials (printed when a search ends)."""
    rows = run.best(k)
    if not rows:
        return f"no trial reported a finite {run.metric} yet."
    lines = [f"top {len(rows)} trial(s) by {run.metric} ({run.mode}):"]
    for rank, r in enumerate(rows, start=1):
        lines.append(
            f"  {rank}. {r.trial_id}  {run.metric}={fmt_value(r.best_value)} "
            f"(epoch {r.best_epoch}/{r.epochs}, {state_label(r.state)})  "
            f"{fmt_params(r.params, limit=8)}"
        )
    return "\n".join(lines)


def export_confirmed(run_dir: Path, out_dir: Path | None = None) -> list[Path]:
    """One runnable YAML per confirmed finalist, `rank-<i>-<trial>.yaml` in `out_dir`
    (default RUN/confirmed/), best statistic first; stale files of an earlier export of
    the same folder are replaced. InputError while re-runs are missing or unfinished."""
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    ranked = [f for f in finalists(run.trials, run.mode, run.confirm_pick) if f.score is not None]
    pending = sum(f.pending for f in finalists(run.trials, run.mode, run.confirm_pick))
    if not ranked or pending:
        why = f"{pending} confirmation trial(s) still to finish" if ranked else "none finished"
        raise InputError(
            Problem(
                "--confirmed",
                f"run {run.name} has no confirmed finalists ({why}). Add them with "
                f"`raytrain confirm {run_dir} --top-k K --seeds S`, or finish them with "
                f"`raytrain tune {run_dir} --resume`",
                file=str(run_dir),
            )
        )
    layout = SearchRunLayout(run_dir)
    space = load_space(layout.space)
    folder = Path(out_dir) if out_dir is not None else layout.confirmed_dir
    for old in folder.glob("rank-*.yaml"):
        old.unlink()
    paths = []
    for f in ranked:
        header = (
            f"# raytrain export of run '{run.name}', confirmed finalist {f.rank_confirmed}/"
            f"{len(ranked)} by {run.confirm_pick}: trial {f.trial.trial_id}, {run.metric} "
            f"{fmt_stat(f)} over new seeds (single run {fmt_value(f.trial.best_value)}, "
            f"rank {f.rank_single})\n"
        )
        config = exported_config(run, f.trial, space)
        name = f"rank-{f.rank_confirmed}-{f.trial.trial_id}.yaml"
        paths.append(_write(folder / name, config, header))
    return paths


# ------------------------------------------------------------------ several objectives
def _scored(run: Any) -> list[Any]:
    """Feasible trials whose every objective is finite (those with a Pareto rank)."""
    return [t for t in run.trials if t.pareto_rank is not None]


def _nothing_to_export(run: Any, run_dir: Path) -> InputError:
    states = ", ".join(sorted({t.state for t in run.trials}) or ["none"])
    infeasible = sum(1 for t in run.trials if t.feasible is False)
    return InputError(
        Problem(
            "trials",
            f"run {run_dir} has no feasible trial with finite "
            f"{', '.join(o.name for o in run.objectives)} ({len(run.trials)} trial(s): "
            f"{states}; {infeasible} infeasible). See `raytrain status`.",
            file=str(run_dir),
        )
    )


def _multi_run(run_dir: Path, option: str) -> Any:
    run = load_run(run_dir)
    if not run.multi_objective:
        raise InputError(
            Problem(
                option,
                f"run {run.name} has one objective ({run.metric}); {option} is for runs with "
                "several `objectives` (export its best trial without it)",
                file=str(run_dir),
            )
        )
    return run


def _write(path: Path, config: dict[str, Any], header: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(config, sort_keys=False)
    path.write_text(header + f"# final run: raytrain train {path}\n" + text)
    return path


def _values_text(run: Any, record: Any) -> str:
    return ", ".join(f"{o.name}={fmt_value(record.objectives.get(o.name))}" for o in run.objectives)


def export_pareto(run_dir: Path, out_dir: Path | None = None) -> list[Path]:
    """One runnable YAML per Pareto-front trial, `front-<i>-<trial>.yaml` in `out_dir`
    (default RUN/pareto/), ordered by the first objective; stale files from an earlier
    export of the same folder are replaced."""
    run_dir = Path(run_dir)
    run = _multi_run(run_dir, "--pareto")
    front = run.front()
    if not front:
        raise _nothing_to_export(run, run_dir)
    space = load_space(SearchRunLayout(run_dir).space)
    folder = Path(out_dir) if out_dir is not None else SearchRunLayout(run_dir).pareto_dir
    for old in folder.glob("front-*.yaml"):
        old.unlink()
    paths = []
    for i, record in enumerate(front, start=1):
        header = (
            f"# raytrain export of run '{run.name}', Pareto front point {i}/{len(front)}: "
            f"trial {record.trial_id}, {_values_text(run, record)} at epoch {record.epochs}\n"
        )
        config = exported_config(run, record, space, selected_by="pareto front")
        paths.append(_write(folder / f"front-{i}-{record.trial_id}.yaml", config, header))
    return paths


def parse_weights(text: str, names: list[str]) -> dict[str, float]:
    """`a=1,b=0.1` -> {a: 1.0, b: 0.1}; every name must be an objective, the objectives
    left out weigh 0."""
    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = part.partition("=")
        name = name.strip()
        if not eq or name not in names:
            raise InputError(
                Problem(
                    "--weights",
                    f"{part!r}: expected OBJECTIVE=NUMBER with OBJECTIVE one of {', '.join(names)}",
                )
            )
        try:
            weights[name] = float(value)
        except ValueError:
            raise InputError(Problem("--weights", f"{part!r}: {value!r} is not a number")) from None
    if not weights or not any(weights.values()):
        raise InputError(Problem("--weights", "give at least one non-zero weight, e.g. a=1,b=0.1"))
    return weights


def choose(
    run: Any, *, pick: str | None = None, weights: dict[str, float] | None = None
) -> tuple[list[Any], str]:
    """A multi-objective run's feasible trials, best first, by one objective (`pick`) or by
    the weighted sum of the objectives in "lower is better" form (max objectives negated),
    with the text that says so. Ties go to the better Pareto rank."""
    modes = {o.name: o.mode for o in run.objectives}
    if pick is not None:
        name = pick.removeprefix("objective=")
        if name not in modes:
            raise InputError(
                Problem(
                    "--pick",
                    f"{pick!r} names no objective of run {run.name}; "
                    + suggest(name, modes, "its objectives"),
                )
            )

        def score(t: Any) -> float:
            v = t.objectives[name]
            return v if modes[name] == "min" else -v

        label = f"best {name} ({modes[name]})"
    else:
        assert weights is not None
        w = weights

        def score(t: Any) -> float:
            return sum(
                k * (t.objectives[n] if modes[n] == "min" else -t.objectives[n])
                for n, k in w.items()
            )

        label = "lowest " + " + ".join(
            f"{k:g}*{'' if modes[n] == 'min' else '-'}{n}" for n, k in w.items()
        )
    ranked = sorted(_scored(run), key=lambda t: (score(t), t.pareto_rank, t.trial_id))
    return ranked, label


def export_choice(
    run_dir: Path,
    out: Path | None = None,
    *,
    pick: str | None = None,
    weights: str | None = None,
    top_k: int = 1,
) -> list[Path]:
    """The best `top_k` trials of a multi-objective run by `--pick` or `--weights`."""
    run_dir = Path(run_dir)
    run = _multi_run(run_dir, "--pick" if pick is not None else "--weights")
    parsed = None if weights is None else parse_weights(weights, [o.name for o in run.objectives])
    ranked, label = choose(run, pick=pick, weights=parsed)
    if not ranked:
        raise _nothing_to_export(run, run_dir)
    layout = SearchRunLayout(run_dir)
    space = load_space(layout.space)
    out = Path(out) if out is not None else layout.best_yaml
    paths = []
    for rank, record in enumerate(ranked[:top_k], start=1):
        path = out if top_k == 1 else out.with_name(f"{out.stem}-{rank}{out.suffix}")
        header = (
            f"# raytrain export of run '{run.name}', rank {rank} by {label}: trial "
            f"{record.trial_id}, {_values_text(run, record)} at epoch {record.epochs} "
            f"(Pareto rank {record.pareto_rank})\n"
        )
        paths.append(_write(path, exported_config(run, record, space, selected_by=label), header))
    return paths


def render_front(run: Any, limit: int = 10) -> str:
    """Plain-text Pareto front (printed when a multi-objective search ends)."""
    front = run.front()
    if not front:
        return "no feasible trial with finite objectives yet: the Pareto front is empty."
    goals = ", ".join(f"{o.name} ({o.mode})" for o in run.objectives)
    lines = [f"Pareto front: {len(front)} trial(s) by {goals}:"]
    for r in front[:limit]:
        lines.append(
            f"  {r.trial_id}  {_values_text(run, r)} (epoch {r.epochs}, "
            f"{state_label(r.state)})  {fmt_params(r.params, limit=8)}"
        )
    if len(front) > limit:
        lines.append(f"  ... and {len(front) - limit} more (raytrain status)")
    return "\n".join(lines)
