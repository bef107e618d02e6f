"""The human-readable plan `raytrain validate` prints: what a `tune` run would do."""

from __future__ import annotations

from typing import Any

from raytrain.config.components import TARGET_KEY, defines_own_optimizers, import_target
from raytrain.space.asha import asha_rungs
from raytrain.space.catalogue import SAMPLERS, SCHEDULERS
from raytrain.space.types import CategoricalParam, Param, Space


def describe_param(p: Param) -> str:
    if isinstance(p, CategoricalParam):
        text = "categorical {" + ", ".join(_fmt(v) for v in p.values) + "}"
    else:
        text = f"{p.kind:<5} [{_fmt(p.low)}, {_fmt(p.high)}]"
        if p.log:
            text += " log"
        if p.step is not None and not (p.kind == "int" and p.step == 1):
            text += f" step {_fmt(p.step)}"
    if p.when:
        cond = " and ".join(
            f"{k} = {_fmt(v[0])}" if len(v) == 1 else f"{k} in {{{', '.join(map(_fmt, v))}}}"
            for k, v in p.when.items()
        )
        text += f"   when {cond}"
    return text


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def _setting(settings: object, key: str, unit: str = "epochs") -> str:
    """`key value` of a sampler's / scheduler's setting; None = the library's default."""
    value = getattr(settings, key)
    text = "default" if value is None else _fmt(value)
    return f"{key} {text}" + (f" {unit}" if key == "max_t" else "")


def _component(section: dict[str, Any]) -> str:
    return str(section.get("name") or section.get(TARGET_KEY))


def _optimization(cfg: dict[str, Any]) -> str:
    target = cfg["model"].get(TARGET_KEY)
    if target:
        try:
            # already imported by validation: checking its arguments needed the class
            own = defines_own_optimizers(import_target(target))
        except Exception:  # user code: validation has already reported why it fails
            own = False
        if own:
            return "optimizer and lr_scheduler: the model's own configure_optimizers"
    return f"optimizer {cfg['optimizer']['name']}, lr_scheduler {cfg['lr_scheduler']['name']}"


EXECUTORS = {
    "warm": "one long-lived Ray Train worker group per concurrent trial serves trial after "
    "trial (no process start-up per trial)",
    "fresh": "a new Ray Train TorchTrainer (new worker processes) for every trial",
}


def _goal_lines(space: Space) -> list[str]:
    def goal(mode: str) -> str:
        return "maximise" if mode == "max" else "minimise"

    if not space.multi_objective:
        return [f"objective: {goal(space.mode)} {space.metric}"]
    lines = [f"objectives ({len(space.objectives)}, Pareto search):"]
    lines += [f"  {goal(o.mode)} {o.name}" for o in space.objectives]
    if space.constraints:
        steer = SAMPLERS[space.search.sampler].constrained
        note = "the sampler avoids infeasible regions" if steer else "the sampler ignores them"
        lines.append(f"constraints (a feasible trial meets all; {note}):")
        lines += [f"  {c.metric} {c.op} {_fmt(c.threshold)}" for c in space.constraints]
    return lines


def describe_budget(space: Space) -> str:
    b = space.budget
    limits = [
        f"{key} {_fmt(round(value, 4))} h"
        for key, value in (
            ("wall_clock", b.wall_clock),
            ("trial_hours", b.trial_hours),
            ("gpu_hours", b.gpu_hours),
        )
        if value is not None
    ]
    if not limits:
        return "none (the search runs search.num_samples trials)"
    return (
        ", ".join(limits)
        + " - no new trial once the projected use would exceed a limit; running trials end "
        "at their next ASHA rung once one is reached; counted across --resume"
    )


def describe_confirm(space: Space) -> str:
    c = space.confirm
    if c is None:
        return "none (best.yaml is the single best trial)"
    stat = "mean" if c.pick == "mean" else f"mean {'-' if space.mode == 'max' else '+'} 1 std"
    return (
        f"the top {c.top_k} trial(s) re-run with {c.seeds} new seeds each (up to "
        f"{c.trials} more trials, after the {space.search.num_samples}); best.yaml is the "
        f"finalist with the best {stat} of {space.metric} over its new seeds ({c.pick})"
    )


def render_plan(space: Space) -> str:
    cfg = space.config
    lines = [f"space {space.name}" + (f"  ({space.source})" if space.source else "")]
    lines += _goal_lines(space)
    width = max((len(p.path) for p in space.parameters), default=0)
    lines.append(f"parameters ({len(space.parameters)}):")
    lines += [f"  {p.path:<{width}}  {describe_param(p)}" for p in space.parameters]
    if space.constants:
        lines.append("constants:")
        lines += [f"  {k} = {_fmt(v)}" for k, v in space.constants.items()]
    s = space.search
    sampler = SAMPLERS[s.sampler]
    extra = [f"seed {s.seed}" if s.seed is not None else "unseeded"]
    extra += [_setting(s, key) for key in sampler.settings]
    lines.append(f"trials: {s.num_samples}")
    lines.append(f"sampler: {s.sampler} ({', '.join(extra)}) - {sampler.description}")
    sch = space.scheduler
    scheduler = SCHEDULERS[sch.type]
    if scheduler.settings:
        settings = ", ".join(_setting(sch, key, sch.time_attr) for key in scheduler.settings)
        lines.append(f"scheduler: {sch.type} ({settings})")
    else:
        lines.append(f"scheduler: {sch.type} - {scheduler.description}")
    if sch.within_epoch:
        lines.append(
            f"  time unit: {sch.time_attr}; trials report every {sch.report_every} "
            f"{sch.time_attr} (inside epochs), checkpoints at the same cadence"
        )
    if scheduler.rungs:
        rungs = ", ".join(str(r) for r in asha_rungs(space)) or "none"
        lines.append(f"  ASHA rungs ({sch.time_attr} where trials are compared): {rungs}")
        if space.multi_objective:
            lines.append(
                "  multi-objective ASHA: at a rung a trial continues when it is among the "
                f"best 1/{_fmt(sch.reduction_factor)} by feasibility, Pareto front, crowding"
            )
    r = space.resources
    cpus = r.workers_per_trial * r.cpus_per_worker
    gpus = r.workers_per_trial * r.gpus_per_worker
    lines.append(
        f"resources per trial: {r.workers_per_trial} worker(s) x "
        f"({_fmt(r.cpus_per_worker)} CPU, {_fmt(r.gpus_per_worker)} GPU) = "
        f"{_fmt(cpus)} CPU, {_fmt(gpus)} GPU"
    )
    conc = r.max_concurrent_trials
    note = " (as many trials as the cluster fits)" if conc == "auto" else ""
    lines.append(f"max_concurrent_trials: {conc}{note}")
    lines.append(f"executor: {r.executor} - {EXECUTORS[r.executor]}")
    if r.executor == "warm" and r.recycle_after is not None:
        lines.append(f"  worker groups restart after every {r.recycle_after} trial(s)")
    lines.append(f"failures: retry a failed trial up to {space.failure.max_failures} time(s)")
    lines.append(f"budget: {describe_budget(space)}")
    lines.append(f"confirm: {describe_confirm(space)}")
    tr = cfg["trainer"]
    lines.append(
        f"train config: model {_component(cfg['model'])}, data {_component(cfg['data'])}, "
        f"{_optimization(cfg)}, max_epochs {tr['max_epochs']}, seed {cfg['seed']}"
    )
    ck = cfg["checkpoint"]
    lines.append(f"checkpoints: best by {ck['metric']} ({ck['mode']}), keep {ck['num_to_keep']}")
    return "\n".join(lines)
