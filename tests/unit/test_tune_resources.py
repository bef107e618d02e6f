"""Concurrency and bundles from what the cluster can place (no Ray started)."""

from __future__ import annotations

import pytest

from raytrain.space.types import ResourceSettings
from raytrain.tune.resources import TRIAL_BUNDLE, NodeResources, nodes_from_ray, plan_resources

TWO_CPU = [NodeResources("n1", cpus=2, gpus=0)]


def plan(nodes=TWO_CPU, num_samples=10, **kw):
    return plan_resources(ResourceSettings(**kw), nodes, num_samples=num_samples)


def test_two_single_worker_trials_fit_on_two_cpus():
    p, problems = plan(workers_per_trial=1, cpus_per_worker=1)
    assert problems == [] and p is not None
    assert p.max_concurrent_trials == 2
    assert p.trial_bundle == TRIAL_BUNDLE and p.trial_bundle["CPU"] == 0
    assert p.worker_bundle == {"CPU": 1.0}


def test_one_two_worker_trial_fits_on_two_cpus():
    p, _ = plan(workers_per_trial=2, cpus_per_worker=1)
    assert p is not None and p.max_concurrent_trials == 1


def test_concurrency_capped_by_num_samples():
    p, _ = plan(nodes=[NodeResources("n", 16, 0)], num_samples=3)
    assert p is not None and p.max_concurrent_trials == 3


def test_workers_are_placed_per_node_not_by_cluster_sum():
    # 3 CPUs in total, but a 2-CPU worker fits only on the 2-CPU node.
    nodes = [NodeResources("a", 2, 0), NodeResources("b", 1, 0)]
    p, _ = plan(nodes=nodes, cpus_per_worker=2)
    assert p is not None and p.max_concurrent_trials == 1


def test_gpu_limits_concurrency():
    nodes = [NodeResources("a", 16, 2), NodeResources("b", 16, 2)]
    p, _ = plan(nodes=nodes, cpus_per_worker=2, gpus_per_worker=1)
    assert p is not None and p.max_concurrent_trials == 4
    assert p.worker_bundle == {"CPU": 2.0, "GPU": 1.0}


def test_worker_bigger_than_any_node_is_an_error():
    p, problems = plan(cpus_per_worker=4)
    assert p is None
    assert problems and "no trial can ever start" in problems[0].message


def test_gpu_trial_on_cpu_cluster_is_an_error():
    p, problems = plan(gpus_per_worker=1)
    assert p is None and problems[0].path == "resources"


def test_more_workers_than_cluster_slots_is_an_error():
    p, problems = plan(workers_per_trial=3, cpus_per_worker=1)
    assert p is None and problems[0].path == "resources.workers_per_trial"


def test_explicit_concurrency_is_kept_and_explained():
    p, _ = plan(max_concurrent_trials=5)
    assert p is not None and p.max_concurrent_trials == 5
    assert "only 2 fit" in p.limited_by


def test_nodes_from_ray_skips_dead_nodes():
    raw = [
        {"NodeID": "a", "Alive": True, "Resources": {"CPU": 4.0, "GPU": 1.0}},
        {"NodeID": "b", "Alive": False, "Resources": {"CPU": 8.0}},
    ]
    assert nodes_from_ray(raw) == [NodeResources("a", 4.0, 1.0)]


@pytest.mark.parametrize("cpus", [0.5, 1, 2])
def test_describe_mentions_bundles(cpus):
    p, _ = plan(cpus_per_worker=cpus)
    assert p is not None
    text = p.describe()
    assert f"{cpus:g} CPU" in text and "concurrency" in text
