"""raytrain.storage against a real S3 API (moto's server on 127.0.0.1; no Ray): the working
copy's mirror, the download before a resume, the bucket's one-driver rule, read copies."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.s3_server import s3_server

from raytrain import storage
from raytrain.errors import InputError
from raytrain.layout import SYNC_MARKER

BUCKET = "raytrain-unit"


@pytest.fixture(scope="module")
def s3_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with s3_server(tmp_path_factory.mktemp("moto"), BUCKET) as env:
        yield env


@pytest.fixture
def bucket(s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request) -> str:
    for key, value in s3_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RAYTRAIN_CACHE_DIR", str(tmp_path / "cache"))
    return f"s3://{BUCKET}/{request.node.name}"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def remote_text(remote: storage.RemoteDir, rel: str) -> str:
    target = remote.local.parent / f"check-{rel.replace('/', '_')}"
    remote.download(rel, target)
    return target.read_text()


def test_uris_and_where_their_copies_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAYTRAIN_CACHE_DIR", str(tmp_path))
    assert storage.is_remote("s3://b/p") and storage.is_remote("gs://b/p")
    assert not storage.is_remote("runs/x") and not storage.is_remote("file:///tmp/x")
    assert not storage.is_remote(None)
    copy = storage.RemoteDir.working_copy("s3://b/runs/name/")
    assert copy.uri == "s3://b/runs/name"
    assert copy.local == tmp_path / "runs" / "s3" / "b" / "runs" / "name"  # keeps its name
    assert storage.RemoteDir.read_cache("s3://b/runs/name").local.parts[-5] == "read"
    with pytest.raises(InputError, match="bucket/prefix/name"):
        storage.RemoteDir.working_copy("s3://b/../etc")


def test_the_mirror_uploads_changes_deletions_and_a_marker_last(bucket: str) -> None:
    remote = storage.RemoteDir.working_copy(bucket)
    local = remote.local
    write(local / "optuna.journal", "one\n")
    write(local / "trials.csv", "trial_id\n")
    write(local / "trials" / "t1" / "checkpoint_000000" / "checkpoint.ckpt", "weights-1")
    write(local / "driver.lock", "{}")  # who drives it is this host's business
    write(local / ".space.yaml.tmp", "half")
    assert not remote.exists()
    with storage.Mirror(remote, interval=3600) as mirror:
        listed = set(remote.listing())
        assert listed == {
            "optuna.journal",
            "trials.csv",
            "trials/t1/checkpoint_000000/checkpoint.ckpt",
            SYNC_MARKER,
        }
        marker = remote.read_marker()
        assert marker is not None and marker["driving"] and marker["pid"] == os.getpid()
        # an appended journal, a pruned checkpoint, a new one
        write(local / "optuna.journal", "one\ntwo\n")
        (local / "trials" / "t1" / "checkpoint_000000" / "checkpoint.ckpt").unlink()
        write(local / "trials" / "t1" / "checkpoint_000001" / "checkpoint.ckpt", "weights-2")
        assert mirror.push() == 2
        assert remote_text(remote, "optuna.journal") == "one\ntwo\n"
        assert "trials/t1/checkpoint_000000/checkpoint.ckpt" not in remote.listing()
        assert mirror.push() == 0  # nothing changed: nothing uploaded
    marker = remote.read_marker()
    assert marker is not None and marker["driving"] is False  # the driver said it ended
    assert remote.exists()


def test_a_marker_alone_is_no_run(bucket: str) -> None:
    remote = storage.RemoteDir.working_copy(bucket)
    remote.local.mkdir(parents=True)
    with storage.Mirror(remote, interval=3600):
        pass
    assert set(remote.listing()) == {SYNC_MARKER} and not remote.exists()


def test_a_new_machine_downloads_the_run_and_the_uploader_keeps_its_copy(bucket: str) -> None:
    remote = storage.RemoteDir.working_copy(bucket)
    write(remote.local / "space.yaml", "name: x\n")
    write(remote.local / "trials" / "t1" / "metrics.csv", "epoch\n1\n")
    with storage.Mirror(remote, interval=3600):
        pass
    # the machine that uploaded last holds the newest state (changes after its last round
    # included): nothing is downloaded over it
    write(remote.local / "trials" / "t1" / "metrics.csv", "epoch\n1\n2\n")
    assert storage.sync_down(remote) is False
    assert (remote.local / "trials" / "t1" / "metrics.csv").read_text() == "epoch\n1\n2\n"
    # a new head node: no working copy at all
    for path in sorted(remote.local.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    assert storage.sync_down(remote) is True
    assert (remote.local / "space.yaml").read_text() == "name: x\n"
    assert (remote.local / "trials" / "t1" / "metrics.csv").read_text() == "epoch\n1\n"
    assert storage.remote_of(remote.local) is not None  # the copy knows its bucket


def test_a_stale_copy_is_replaced_by_the_bucket(bucket: str) -> None:
    remote = storage.RemoteDir.working_copy(bucket)
    write(remote.local / "trials.csv", "old\n")
    with storage.Mirror(remote, interval=3600):
        pass
    # another machine drove the run on: its uploads differ from what this copy knows
    other = storage.RemoteDir(remote.uri, remote.local.parent / "elsewhere")
    write(other.local / "trials.csv", "newer\n")
    write(other.local / "budget.json", "{}")
    with storage.Mirror(other, interval=3600):
        pass
    write(remote.local / "left-over.txt", "only here")  # not in the bucket: removed
    assert storage.sync_down(remote) is True
    assert (remote.local / "trials.csv").read_text() == "newer\n"
    assert (remote.local / "budget.json").is_file()
    assert not (remote.local / "left-over.txt").exists()


def _marker(remote: storage.RemoteDir, **fields: object) -> None:
    base = {"round": "r", "time": time.time(), "host": "other-host", "pid": 1, "driving": True}
    remote.write_marker({**base, **fields})


def test_a_run_driven_from_elsewhere_is_refused_until_its_driver_is_gone(bucket: str) -> None:
    remote = storage.RemoteDir.working_copy(bucket)
    _marker(remote)
    with pytest.raises(InputError, match="being driven by pid 1 on other-host"):
        storage.check_not_driven(remote)
    _marker(remote, time=time.time() - 3600)  # no upload for an hour: that driver is gone
    storage.check_not_driven(remote)
    _marker(remote, driving=False)  # it said it ended
    storage.check_not_driven(remote)
    # on this host a dead pid tells at once (a SIGKILLed driver, resumed right away)
    dead = 2**22 + 17
    _marker(remote, host=socket.gethostname(), pid=dead)
    storage.check_not_driven(remote)
    _marker(remote, host=socket.gethostname(), pid=os.getppid())  # alive, not us
    with pytest.raises(InputError, match="being driven"):
        storage.check_not_driven(remote)


def test_a_read_copy_skips_checkpoints_and_publishes_what_a_command_wrote(bucket: str) -> None:
    remote = storage.RemoteDir.working_copy(bucket)
    write(remote.local / "space.yaml", "name: x\n")
    ckpt = write(remote.local / "trials" / "t1" / "checkpoint_000002" / "checkpoint.ckpt", "w")
    with storage.Mirror(remote, interval=3600):
        pass
    path, copy = storage.open_run(bucket)
    assert copy is not None and path != remote.local  # never the copy a driver writes
    assert (path / "space.yaml").is_file()
    assert not (path / "trials" / "t1" / "checkpoint_000002" / "checkpoint.ckpt").exists()
    best = write(path / "best.yaml", "seed: 0\n")
    assert copy.publish([best]) == [f"{bucket}/best.yaml"]
    assert "best.yaml" in remote.listing()
    # a checkpoint path as the driver recorded it (its working copy, maybe another machine's)
    recorded = Path("/elsewhere/cache/runs/s3/b/x") / ckpt.relative_to(remote.local).parent
    assert storage.uri_of(recorded, path) == f"{bucket}/trials/t1/checkpoint_000002"
    assert storage.uri_of(path / "best.yaml", path) == f"{bucket}/best.yaml"
    assert storage.open_run("runs/local") == (Path("runs/local"), None)
    with pytest.raises(InputError, match="no run at"):
        storage.open_run(f"{bucket}-missing")


def test_the_sync_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAYTRAIN_SYNC_INTERVAL_S", "2.5")
    assert storage.sync_interval() == 2.5
    monkeypatch.setenv("RAYTRAIN_SYNC_INTERVAL_S", "soon")
    with pytest.raises(InputError, match="RAYTRAIN_SYNC_INTERVAL_S"):
        storage.sync_interval()
    monkeypatch.delenv("RAYTRAIN_SYNC_INTERVAL_S")
    assert storage.sync_interval() == storage.SYNC_INTERVAL_S


def test_the_final_run_starts_from_a_checkpoint_in_the_bucket(bucket: str, tmp_path: Path) -> None:
    """`train best.yaml --from-checkpoint`: the URI the export names becomes a Ray checkpoint
    that a worker downloads (`as_directory`, as raytrain.trial.loop does)."""
    import argparse

    from raytrain.cli.train import FROM_PROVENANCE, _start_from
    from raytrain.trial.driver import checkpoint_of

    remote = storage.RemoteDir.working_copy(bucket)
    folder = remote.local / "trials" / "t1" / "checkpoint_000001"
    write(folder / "checkpoint.ckpt", "weights")
    with storage.Mirror(remote, interval=3600):
        pass
    uri = f"{bucket}/trials/t1/checkpoint_000001"
    args = argparse.Namespace(from_checkpoint=FROM_PROVENANCE, config="best.yaml")
    assert _start_from(args, {"checkpoint": uri}) == uri
    with pytest.raises(InputError, match="names no checkpoint"):
        _start_from(args, {"trial_id": "t1"})
    assert _start_from(argparse.Namespace(from_checkpoint=None), {"checkpoint": uri}) is None
    for given in (uri, f"{uri}/checkpoint.ckpt"):
        checkpoint = checkpoint_of(given)
        assert checkpoint is not None
        with checkpoint.as_directory() as directory:
            assert (Path(directory) / "checkpoint.ckpt").read_text() == "weights"
    local = checkpoint_of(str(folder / "checkpoint.ckpt"))
    assert local is not None and Path(local.path) == folder.resolve()
    with pytest.raises(InputError, match="checkpoint folder"):
        checkpoint_of(str(write(tmp_path / "best.ckpt", "w")))


def test_index_files_go_up_after_the_checkpoints_they_name(
    bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tune's state and trials.csv are read before, and uploaded after, the trials' files:
    a driver killed mid-round leaves no state naming a checkpoint the bucket lacks."""
    remote = storage.RemoteDir.working_copy(bucket)
    local = remote.local
    write(local / "optuna.journal", "study\n")
    write(local / "trials.csv", "trial_id,checkpoint\nt1,trials/t1/checkpoint_000000\n")
    write(local / "trials" / "experiment_state-x.json", "{names checkpoint_000000}")
    write(local / "trials" / "t1" / "checkpoint_000000" / "checkpoint.ckpt", "weights")
    write(local / "trials" / "t1" / "metrics.csv", "epoch\n1\n")
    order: list[str] = []
    real_upload, real_bytes = remote.upload, remote.upload_bytes
    monkeypatch.setattr(remote, "upload", lambda p, rel: order.append(rel) or real_upload(p, rel))
    monkeypatch.setattr(
        remote, "upload_bytes", lambda data, rel: order.append(rel) or real_bytes(data, rel)
    )
    storage.Mirror(remote, interval=3600).push()
    assert order == [
        "trials/t1/checkpoint_000000/checkpoint.ckpt",
        "trials/t1/metrics.csv",
        "optuna.journal",
        "trials/experiment_state-x.json",
        "trials.csv",
    ]
