"""A warm trial restored from a checkpoint Tune's (stale) state names but already deleted.

Tune deletes a superseded checkpoint before its next experiment-state snapshot; a driver
killed in between resumes with a state naming the deleted one. `WarmTrial.restore` then
takes the trial's newest checkpoint (its `raytrain_result.json` holds the iteration): a final
one replays its end without a slot, a mid-training one is trained on from. No Ray is
started: `ray.put` is the identity here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ray import tune
from ray.train._internal.session import _TrainingResult
from ray.tune.result import TRAINING_ITERATION

from raytrain.executor import trainable
from raytrain.executor.protocol import REPLAYED
from raytrain.executor.trainable import WarmTrial, _newer_checkpoint
from raytrain.layout import CHECKPOINT_NAME, CHECKPOINT_RESULT_NAME


def checkpoint(trial_dir: Path, index: int, result: dict[str, Any] | None = None) -> Path:
    folder = trial_dir / f"checkpoint_{index:06d}"
    folder.mkdir(parents=True)
    (folder / CHECKPOINT_NAME).write_bytes(f"weights {index}".encode())
    if result is not None:
        (folder / CHECKPOINT_RESULT_NAME).write_text(json.dumps(result))
    return folder


def bare_trial() -> WarmTrial:
    """A WarmTrial as `setup` leaves it, without Ray: its pool is never asked."""
    trial = object.__new__(WarmTrial)
    trial._iteration, trial._time_total, trial._local_ip = 0, 0.0, "127.0.0.1"
    trial._trial_info = None
    trial._pool, trial._lease = None, "lease"
    trial._params, trial._started, trial._resume = {}, False, None
    trial._reported, trial._final = {}, None
    return trial


def test_a_deleted_checkpoint_is_replaced_by_the_newest_later_one(tmp_path: Path) -> None:
    trial_dir = tmp_path / "trials" / "abc"
    checkpoint(trial_dir, 1)
    newest = checkpoint(trial_dir, 4)
    checkpoint(trial_dir, 3).rename(trial_dir / "checkpoint_000003.tmp")  # not Tune's name
    gone = tune.Checkpoint.from_directory(str(trial_dir / "checkpoint_000002"))
    found = _newer_checkpoint(gone)
    assert found is not None and Path(found.path) == newest

    assert _newer_checkpoint(tune.Checkpoint.from_directory(str(newest))) is None  # exists
    later_gone = tune.Checkpoint.from_directory(str(trial_dir / "checkpoint_000007"))
    assert _newer_checkpoint(later_gone) is None  # nothing newer: Tune's own error stands


@pytest.fixture
def no_object_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trainable.ray, "put", lambda data: data)


FINAL = {"metrics": {"epoch": 5, "val_loss": 0.25}, "done": True, TRAINING_ITERATION: 5}


def restored_at_a_final_checkpoint(tmp_path: Path) -> WarmTrial:
    """A trial whose Tune state names checkpoint 4 (deleted) and whose final checkpoint 5
    exists, restored."""
    trial_dir = tmp_path / "trials" / "abc"
    checkpoint(trial_dir, 5, FINAL)
    stale = _TrainingResult(
        tune.Checkpoint.from_directory(str(trial_dir / "checkpoint_000004")),
        {TRAINING_ITERATION: 4, "epoch": 4},
    )
    trial = bare_trial()
    trial.restore(stale)
    return trial


@pytest.mark.usefixtures("no_object_store")
def test_a_trial_whose_newest_checkpoint_is_final_replays_its_end(tmp_path: Path) -> None:
    trial = restored_at_a_final_checkpoint(tmp_path)
    assert trial.iteration == 5 and trial._resume == [b"weights 5"]
    result = trial.step()  # the pool is None: a call to it would raise
    assert result == {
        "epoch": 5,
        "val_loss": 0.25,
        TRAINING_ITERATION: 5,  # Tune keeps it (setdefault): the end's, not one more
        REPLAYED: True,  # the run's records skip it: they have this end already
        "should_checkpoint": False,
        "done": True,
    }


@pytest.mark.usefixtures("no_object_store")
def test_a_replayed_end_saves_its_final_checkpoint_without_a_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tune saves a class trainable at its end (`checkpoint_at_end`, its default): the
    replayed trial writes the checkpoint it was restored from, never asking a slot (which
    has no fit for it)."""
    monkeypatch.setattr(trainable.ray, "get", lambda ref: ref)
    trial = restored_at_a_final_checkpoint(tmp_path)
    trial.step()
    at_end = tmp_path / "at_end"
    at_end.mkdir()
    trial.save_checkpoint(str(at_end))  # the pool is None: a call to it would raise
    assert (at_end / CHECKPOINT_NAME).read_bytes() == b"weights 5"
    assert json.loads((at_end / CHECKPOINT_RESULT_NAME).read_text()) == FINAL


@pytest.mark.usefixtures("no_object_store")
def test_a_trial_caught_mid_training_goes_on_from_its_newest_checkpoint(tmp_path: Path) -> None:
    trial_dir = tmp_path / "trials" / "abc"
    checkpoint(trial_dir, 3, {"metrics": {"epoch": 3}, "done": False, TRAINING_ITERATION: 3})
    stale = _TrainingResult(
        tune.Checkpoint.from_directory(str(trial_dir / "checkpoint_000002")),
        {TRAINING_ITERATION: 2},
    )
    trial = bare_trial()
    trial.restore(stale)
    assert trial.iteration == 3 and trial._resume == [b"weights 3"] and trial._final is None
    # an empty folder where the named one was, for Tune's pruning to delete; still gone
    assert list((trial_dir / "checkpoint_000002").iterdir()) == []
    named = tune.Checkpoint.from_directory(str(trial_dir / "checkpoint_000002"))
    assert _newer_checkpoint(named) is not None


@pytest.mark.usefixtures("no_object_store")
def test_a_newer_checkpoint_without_its_result_keeps_tunes_error(tmp_path: Path) -> None:
    """Saved before `raytrain_result.json` existed: its iteration is unknown, so Tune's own
    error stands."""
    trial_dir = tmp_path / "trials" / "abc"
    checkpoint(trial_dir, 3)
    stale = _TrainingResult(
        tune.Checkpoint.from_directory(str(trial_dir / "checkpoint_000002")),
        {TRAINING_ITERATION: 2},
    )
    with pytest.raises(ValueError, match="does not exist on storage anymore"):
        bare_trial().restore(stale)


@pytest.mark.usefixtures("no_object_store")
def test_a_checkpoint_from_before_result_json_restores_as_before(tmp_path: Path) -> None:
    trial_dir = tmp_path / "trials" / "abc"
    kept = checkpoint(trial_dir, 2)
    trial = bare_trial()
    trial.restore(
        _TrainingResult(tune.Checkpoint.from_directory(str(kept)), {TRAINING_ITERATION: 2})
    )
    assert trial.iteration == 2 and trial._resume == [b"weights 2"] and trial._final is None
