"""How many trials fit on the cluster, and the bundles they ask for (pure, no Ray).

A Tune trial that launches a TorchTrainer must itself hold no CPU: the Train workers take
the real CPUs/GPUs in their own placement group. If the trial held a whole CPU, trials
would occupy every CPU and their workers would wait forever (ray-project/ray#54305). Even
a token `{"CPU": 0.01}` costs a worker slot on small machines: on 2 CPUs, two 1-CPU
trials need 2.02 CPUs, so the second trial's workers never start (measured here).
`{"CPU": 0}` alone is rejected (a bundle must ask for something), so the trial asks for
1 MiB of Ray's `memory` resource instead, which every node has and nothing else counts.
Concurrency is then computed from what the *workers* need.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from raytrain.errors import Problem
from raytrain.space.types import ResourceSettings

TRIAL_BUNDLE: dict[str, float] = {"CPU": 0.0, "memory": float(2**20)}
# A run stored in a bucket is written through the driver's working copy (raytrain.storage),
# and Tune persists a trial's checkpoints from the node its trial actor runs on: so those
# actors (which hold no CPU) run on the head, where the driver is. Ray's own name for the
# head's resource, the same on every cluster, so a resume elsewhere still finds it.
ON_HEAD: dict[str, float] = {"node:__internal_head__": 0.001}


def trial_bundle(on_head: bool) -> dict[str, float]:
    return {**TRIAL_BUNDLE, **(ON_HEAD if on_head else {})}


@dataclass(frozen=True)
class NodeResources:
    node_id: str
    cpus: float
    gpus: float


@dataclass(frozen=True)
class ResourcePlan:
    trial_bundle: dict[str, float]
    worker_bundle: dict[str, float]
    workers_per_trial: int
    max_concurrent_trials: int
    cluster_cpus: float
    cluster_gpus: float
    nodes: int
    limited_by: str  # human-readable reason for the concurrency

    def describe(self) -> str:
        w = self.worker_bundle
        worker = f"{w.get('CPU', 0):g} CPU" + (f" + {w['GPU']:g} GPU" if w.get("GPU") else "")
        return "\n".join(
            [
                f"cluster:        {self.cluster_cpus:g} CPUs, {self.cluster_gpus:g} GPUs "
                f"on {self.nodes} node(s)",
                "trial bundle:   0 CPU, 1 MiB memory (the Tune trial; its workers hold the CPUs)",
                f"train workers:  {self.workers_per_trial} x ({worker}) per trial",
                f"concurrency:    {self.max_concurrent_trials} trial(s) at once "
                f"({self.limited_by})",
            ]
        )


def nodes_from_ray(ray_nodes: Sequence[Mapping[str, object]]) -> list[NodeResources]:
    """Turn `ray.nodes()` output into NodeResources (alive nodes only)."""
    out = []
    for node in ray_nodes:
        if not node.get("Alive", False):
            continue
        res = node.get("Resources", {})
        if not isinstance(res, Mapping):
            continue
        out.append(
            NodeResources(
                node_id=str(node.get("NodeID", "?")),
                cpus=float(res.get("CPU", 0.0)),
                gpus=float(res.get("GPU", 0.0)),
            )
        )
    return out


def _workers_fitting(node: NodeResources, cpus: float, gpus: float) -> int:
    fits = [math.floor(node.cpus / cpus + 1e-9)] if cpus > 0 else []
    if gpus > 0:
        fits.append(math.floor(node.gpus / gpus + 1e-9))
    return min(fits) if fits else 10**6


def plan_resources(
    settings: ResourceSettings,
    nodes: Sequence[NodeResources],
    *,
    num_samples: int,
    source: str | None = None,
) -> tuple[ResourcePlan | None, list[Problem]]:
    """Compute bundles and the number of trials the cluster can run at once.

    Returns problems (and no plan) when a single trial can never be placed: a worker
    bigger than every node, or more workers than the whole cluster holds.
    """
    cpus, gpus, workers = (
        settings.cpus_per_worker,
        settings.gpus_per_worker,
        settings.workers_per_trial,
    )
    worker_bundle = {"CPU": float(cpus)}
    if gpus > 0:
        worker_bundle["GPU"] = float(gpus)
    total_cpus = sum(n.cpus for n in nodes)
    total_gpus = sum(n.gpus for n in nodes)
    # Workers are placed node by node; the trial's tiny bundle is not the bottleneck.
    slots = sum(_workers_fitting(n, cpus, gpus) for n in nodes)
    problems: list[Problem] = []
    if slots == 0:
        biggest = max(nodes, key=lambda n: (n.cpus, n.gpus), default=None)
        have = f"{biggest.cpus:g} CPUs / {biggest.gpus:g} GPUs" if biggest else "no nodes"
        problems.append(
            Problem(
                "resources",
                f"one Train worker needs {cpus:g} CPU(s) and {gpus:g} GPU(s), but the largest "
                f"node has {have}: no trial can ever start. Lower cpus_per_worker/"
                "gpus_per_worker or add bigger nodes.",
                file=source,
            )
        )
    elif slots < workers:
        problems.append(
            Problem(
                "resources.workers_per_trial",
                f"a trial needs {workers} workers of {cpus:g} CPU/{gpus:g} GPU, but the "
                f"cluster can place only {slots} such worker(s) in total "
                f"({total_cpus:g} CPUs, {total_gpus:g} GPUs): no trial can ever start.",
                file=source,
            )
        )
    if problems:
        return None, problems
    fit = slots // workers
    if settings.max_concurrent_trials == "auto":
        concurrent = min(fit, num_samples)
        why = f"auto: {slots} worker slot(s) / {workers} worker(s) per trial" + (
            f", capped at num_samples={num_samples}" if num_samples < fit else ""
        )
    else:
        concurrent = int(settings.max_concurrent_trials)
        why = "set in the space file"
        if concurrent > fit:
            why += f"; only {fit} fit at once now, the rest wait (or the autoscaler adds nodes)"
    plan = ResourcePlan(
        trial_bundle=dict(TRIAL_BUNDLE),
        worker_bundle=worker_bundle,
        workers_per_trial=workers,
        max_concurrent_trials=max(1, concurrent),
        cluster_cpus=total_cpus,
        cluster_gpus=total_gpus,
        nodes=len(nodes),
        limited_by=why,
    )
    return plan, []
