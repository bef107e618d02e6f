"""The human-readable plan `raytrain validate` prints: what a `tune` run would do."""

from __future__ import annotations

from typing import Any

from raytrain.space.asha import asha_rungs
from raytrain.space.settings import SAMPLERS, SCHEDULERS
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


def _component(section: dict[str, Any]) -> str:
    return str(section.get("name") or section.get("_target_"))


def render_plan(space: Space) -> str:
    cfg = space.config
    lines = [f"space {space.name}" + (f"  ({space.source})" if space.source else "")]
    goal = "maximise" if space.mode == "max" else "minimise"
    lines.append(f"objective: {goal} {space.metric}")
    width = max((len(p.path) for p in space.parameters), default=0)
    lines.append(f"parameters ({len(space.parameters)}):")
    lines += [f"  {p.path:<{width}}  {describe_param(p)}" for p in space.parameters]
    if space.constants:
        lines.append("constants:")
        lines += [f"  {k} = {_fmt(v)}" for k, v in space.constants.items()]
    s = space.search
    extra = [f"seed {s.seed}" if s.seed is not None else "unseeded"]
    if s.sampler in ("tpe", "cmaes"):
        startup = s.n_startup_trials if s.n_startup_trials is not None else "default"
        extra.append(f"n_startup_trials {startup}")
    if s.sampler == "tpe":
        extra.append(f"constant_liar {str(s.constant_liar).lower()}")
    lines.append(f"trials: {s.num_samples}")
    lines.append(f"sampler: {s.sampler} ({', '.join(extra)}) - {SAMPLERS[s.sampler]}")
    sch = space.scheduler
    if sch.type == "asha":
        rungs = ", ".join(str(r) for r in asha_rungs(space)) or "none"
        lines.append(
            f"scheduler: asha (max_t {sch.max_t} epochs, grace_period {sch.grace_period}, "
            f"reduction_factor {_fmt(sch.reduction_factor)})"
        )
        lines.append(f"  ASHA rungs (epochs where trials are compared): {rungs}")
    else:
        lines.append(f"scheduler: {sch.type} - {SCHEDULERS[sch.type]}")
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
    lines.append(f"failures: retry a failed trial up to {space.failure.max_failures} time(s)")
    tr = cfg["trainer"]
    lines.append(
        f"train config: model {_component(cfg['model'])}, data {_component(cfg['data'])}, "
        f"optimizer {cfg['optimizer']['name']}, lr_scheduler {cfg['lr_scheduler']['name']}, "
        f"max_epochs {tr['max_epochs']}, seed {cfg['seed']}"
    )
    ck = cfg["checkpoint"]
    lines.append(f"checkpoints: best by {ck['metric']} ({ck['mode']}), keep {ck['num_to_keep']}")
    return "\n".join(lines)
