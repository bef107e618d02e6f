"""A full disk during a search is found in any exception or trial error text and told as
one error naming the run and the way back (no Ray cluster)."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

import pytest

pytest.importorskip("ray.tune")

from raytrain.errors import RunError
from raytrain.tune.diskfull import DiskFullCallback, disk_full, disk_full_error


class FakeTaskError(Exception):
    """Like Ray's RayTaskError: the original exception in `.cause`, no __cause__."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__("task failed")
        self.cause = cause


def enospc(path: str = "/runs/x/trials.csv") -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)


def test_enospc_is_found_behind_causes_contexts_and_ray_task_errors():
    full = enospc()
    try:
        try:
            raise full
        except OSError:
            raise RuntimeError("Tune step failed")  # noqa: B904 - __context__ on purpose
    except RuntimeError as exc:
        assert disk_full(exc) is full
    assert disk_full(FakeTaskError(ValueError("x"))) is None
    assert disk_full(FakeTaskError(full)) is full
    chained = RuntimeError("outer")
    chained.__cause__ = chained  # a cycle does not loop forever
    assert disk_full(chained) is None
    assert disk_full(OSError(errno.EACCES, "Permission denied")) is None


def test_the_error_names_the_run_the_file_and_the_resume_command(tmp_path):
    text = str(disk_full_error(tmp_path, "/x/trials.csv"))
    assert text.startswith("no space left on device under " + str(tmp_path))
    assert "(writing /x/trials.csv)" in text
    assert text.endswith(f"raytrain tune {tmp_path} --resume")


@dataclass
class FakeTrial:
    trial_id: str
    error_file: str | None = None


def test_callback_stops_the_search_only_at_a_full_disk_failure(tmp_path):
    callback = DiskFullCallback(tmp_path / "run")
    other = tmp_path / "other.txt"
    other.write_text("Failure # 1\nRuntimeError: toy failure on purpose\n")
    callback.on_trial_recover(0, [], FakeTrial("a", str(other)))
    callback.on_trial_error(0, [], FakeTrial("a", str(tmp_path / "missing.txt")))
    callback.on_trial_error(0, [], FakeTrial("a", None))
    full = tmp_path / "full.txt"
    full.write_text(f"Failure # 1\nOSError: [Errno 28] {os.strerror(errno.ENOSPC)}: 'x'\n")
    for hook in (callback.on_trial_recover, callback.on_trial_error):
        with pytest.raises(RunError, match=r"no space left on device under .*--resume"):
            hook(0, [], FakeTrial("a", str(full)))
