"""A resumed run that moved: what Tune unpickles follows it (raytrain.tune.relocation)."""

from __future__ import annotations

import pickle
from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend

from raytrain.executor.pool import pool_name
from raytrain.executor.trainable import ExecutorPoolCallback
from raytrain.tune.budget import LedgerCallback
from raytrain.tune.relocation import RunDirBound, relocated, resuming_in
from raytrain.tune.searchers import _open_journal_of


class Bound(RunDirBound):
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir


def test_outside_a_resume_a_pickle_keeps_its_run_dir(tmp_path: Path) -> None:
    back = pickle.loads(pickle.dumps(Bound(tmp_path / "a")))
    assert back.run_dir == tmp_path / "a" and back.moved_from is None
    assert relocated(tmp_path / "a") == tmp_path / "a"


def test_during_a_resume_a_pickle_takes_the_resumed_dir(tmp_path: Path) -> None:
    blob = pickle.dumps(Bound(tmp_path / "old"))
    with resuming_in(tmp_path / "new"):
        back = pickle.loads(blob)
        same = pickle.loads(pickle.dumps(Bound(tmp_path / "new")))
    assert back.run_dir == tmp_path / "new" and back.moved_from == tmp_path / "old"
    assert same.moved_from is None  # resumed where it was
    assert pickle.loads(blob).run_dir == tmp_path / "old"  # the context has ended


def test_raytrain_callbacks_follow_a_moved_run(tmp_path: Path) -> None:
    ledger = pickle.dumps(LedgerCallback(tmp_path / "old"))
    pool = pickle.dumps(ExecutorPoolCallback(pool_name(tmp_path / "old")))
    with resuming_in(tmp_path / "new"):
        assert pickle.loads(ledger).run_dir == tmp_path / "new"
        assert pickle.loads(pool).pool == pool_name(tmp_path / "new")
    assert pool_name(tmp_path / "new") != pool_name(tmp_path / "old")


def test_a_restored_study_writes_the_moved_journal(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(old / "optuna.journal")))
    study = optuna.create_study(storage=storage, study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    blob = pickle.dumps({"storage": storage, "study": study})
    new.mkdir()
    (new / "optuna.journal").write_bytes((old / "optuna.journal").read_bytes())
    before = (old / "optuna.journal").read_bytes()

    state = pickle.loads(blob)
    _open_journal_of(state["storage"], new)
    state["study"].optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)

    assert (old / "optuna.journal").read_bytes() == before
    moved = optuna.load_study(
        study_name="s",
        storage=optuna.storages.JournalStorage(JournalFileBackend(str(new / "optuna.journal"))),
    )
    assert len(moved.trials) == 3


@pytest.mark.parametrize("storage", [None, optuna.storages.InMemoryStorage()])
def test_a_study_without_a_journal_file_is_left_alone(tmp_path: Path, storage: object) -> None:
    _open_journal_of(storage, tmp_path)  # nothing to point anywhere: no error
