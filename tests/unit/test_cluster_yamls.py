"""The `ray up` cluster files in cluster/, checked offline with Ray's own validation.

`prepare_config` merges the provider's defaults the way `ray up` does and
`validate_config` applies Ray's JSON schema (misspelt keys, wrong types, unknown node
types). AWS node configs are also checked against botocore's RunInstances model, which
is what EC2 would reject them with. No cloud credentials are needed or used.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "cluster"
RAY_UP_FILES = ["aws-gpu.yaml", "gcp-gpu.yaml", "onprem.yaml"]


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((CLUSTER / name).read_text())


def prepared(config: dict[str, Any]) -> dict[str, Any]:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(copy.deepcopy(config))
    validate_config(config)
    return config


@pytest.mark.parametrize("name", RAY_UP_FILES)
def test_ray_accepts_the_cluster_file(name: str) -> None:
    config = prepared(load(name))
    assert config["head_node_type"] in config["available_node_types"]


def test_fake_multinode_file_is_valid_for_ray() -> None:
    # prepare_config would merge a defaults file Ray does not ship for this provider.
    from ray.autoscaler._private.util import validate_config

    config = load("fake-multinode.yaml")
    validate_config(config)
    workers = config["available_node_types"]["ray.worker.cpu"]
    assert workers["min_workers"] == workers["max_workers"] >= 2


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.update(max_worker=3), "max_worker"),
        (lambda c: c.update(head_node_type="hed"), "head_node_type"),
        (lambda c: c["available_node_types"]["gpu_spot"].update(min_workers="2"), "'2'"),
    ],
)
def test_validation_catches_mistakes(mutate: Any, message: str) -> None:
    config = load("aws-gpu.yaml")
    mutate(config)
    with pytest.raises(Exception, match=message):
        prepared(config)


@pytest.mark.parametrize("name", RAY_UP_FILES)
def test_token_auth_and_local_dashboard(name: str) -> None:
    config = load(name)
    head = " ".join(config["head_start_ray_commands"])
    worker = " ".join(config["worker_start_ray_commands"])
    for commands in (head, worker):
        starts = commands.count("ray start")
        assert starts == commands.count("RAY_AUTH_MODE=token ray start") == 1
    assert "--dashboard-host=127.0.0.1" in head and "0.0.0.0" not in head
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    setup = config["setup_commands"]
    assert any("export RAY_AUTH_MODE=token" in line and ".bashrc" in line for line in setup)
    assert any("source ~/venv/bin/activate" in line and ".bashrc" in line for line in setup)
    assert config["file_mounts"]["~/project"] == "."
    assert any("pip install" in line and "~/project" in line for line in setup)


@pytest.mark.parametrize("name", ["aws-gpu.yaml", "gcp-gpu.yaml"])
def test_cloud_files_autoscale_gpu_workers_with_spot_and_on_demand(name: str) -> None:
    config = prepared(load(name))
    types = config["available_node_types"]
    head = types.pop(config["head_node_type"])
    assert head["max_workers"] == 0
    for node_type in types.values():
        assert 0 <= node_type["min_workers"] < node_type["max_workers"]
    configs = yaml.safe_dump([t["node_config"] for t in types.values()])
    spot = "MarketType: spot" in configs or "provisioningModel: SPOT" in configs
    assert spot and len(types) >= 2


def test_aws_node_configs_match_the_ec2_api() -> None:
    botocore_session = pytest.importorskip("botocore.session")
    from botocore.validate import ParamValidator

    model = botocore_session.get_session().get_service_model("ec2")
    shape = model.operation_model("RunInstances").input_shape
    for name, node_type in load("aws-gpu.yaml")["available_node_types"].items():
        # Ray adds the counts (and tags, subnets) when it calls RunInstances.
        params = {**node_type["node_config"], "MinCount": 1, "MaxCount": 1}
        report = ParamValidator().validate(params, shape)
        assert not report.has_errors(), f"{name}: {report.generate_report()}"
    broken = {
        "InstanceType": "g5.xlarge",
        "InstanceMarketOptions": {"MarketTyp": "spot"},
        "MinCount": 1,
        "MaxCount": 1,
    }
    assert ParamValidator().validate(broken, shape).has_errors()


def test_gcp_gpu_nodes_can_be_scheduled() -> None:
    # GCE refuses GPU VMs that would live-migrate: they must terminate on maintenance.
    for name, node_type in load("gcp-gpu.yaml")["available_node_types"].items():
        node = node_type["node_config"]
        if node.get("guestAccelerators"):
            scheduling = node["scheduling"]
            assert scheduling["onHostMaintenance"] == "TERMINATE", name


def test_onprem_workers_come_from_the_host_list() -> None:
    raw = load("onprem.yaml")
    config = prepared(raw)
    assert config["provider"]["type"] == "local"
    # The local provider has one node type; every listed worker host is started.
    (node_type,) = config["available_node_types"].values()
    hosts = len(raw["provider"]["worker_ips"])
    assert node_type["min_workers"] == node_type["max_workers"] == config["max_workers"] == hosts
