"""Damaged state files found before `tune --resume` starts Ray (`raytrain.resume_state`):
repaired where that is safe (the journal's half-written last entry), else a clear error
naming the file, with nothing changed."""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
from pathlib import Path

import optuna
import pytest
from fixtures.runs import make_run

from raytrain.errors import InputError
from raytrain.layout import SearchRunLayout
from raytrain.resume_state import DAMAGED_TAIL_SUFFIX, backup_state, check_resume_state
from raytrain.tune.searchers import journal_storage


@pytest.fixture
def run(tmp_path: Path) -> SearchRunLayout:
    layout = SearchRunLayout(make_run(tmp_path, n_done=3, n_running=1, n_pending=0))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="s", storage=journal_storage(layout.root))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4)
    state = {"trial_data": [], "runner_data": {}, "stats": {}}
    (layout.trials_dir / "experiment_state-2026-01-01_00-00-00.json").write_text(json.dumps(state))
    return layout


def trials_in_journal(layout: SearchRunLayout) -> int:
    return len(optuna.load_study(study_name="s", storage=journal_storage(layout.root)).trials)


def test_whole_state_passes_untouched(run: SearchRunLayout) -> None:
    before = {p: p.read_bytes() for p in run.root.rglob("*") if p.is_file()}
    assert check_resume_state(run) == []
    assert {p: p.read_bytes() for p in run.root.rglob("*") if p.is_file()} == before


def test_half_written_last_journal_entry_is_cut_off_and_the_study_replays(
    run: SearchRunLayout,
) -> None:
    whole = run.journal.read_bytes()
    last_start = whole.rstrip(b"\n").rfind(b"\n") + 1
    cut = whole[: last_start + 10]  # the last entry stopped 10 bytes in
    run.journal.write_bytes(cut)
    (note,) = check_resume_state(run)
    assert "half-written" in note and str(run.journal) in note
    assert run.journal.read_bytes() == whole[:last_start]
    assert (run.root / f"optuna.journal{DAMAGED_TAIL_SUFFIX}").read_bytes() == cut[last_start:]
    # Optuna loads the study, and a new trial appended afterwards keeps it loadable
    study = optuna.load_study(study_name="s", storage=journal_storage(run.root))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert trials_in_journal(run) == 5
    assert check_resume_state(run) == []


def test_the_cut_was_needed(run: SearchRunLayout) -> None:
    """Without the cut, Optuna's next append glues onto the partial line: the journal no
    longer loads (the failure the repair prevents)."""
    whole = run.journal.read_bytes()
    run.journal.write_bytes(whole[: whole.rstrip(b"\n").rfind(b"\n") + 11])
    study = optuna.load_study(study_name="s", storage=journal_storage(run.root))
    with pytest.raises(Exception):  # noqa: B017 - whatever Optuna raises on a glued line
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
        trials_in_journal(run)


def test_journal_damaged_in_the_middle_is_an_error_naming_the_line(run: SearchRunLayout) -> None:
    lines = run.journal.read_bytes().split(b"\n")
    lines[2] = lines[2][:5]
    run.journal.write_bytes(b"\n".join(lines))
    before = run.journal.read_bytes()
    with pytest.raises(InputError) as exc:
        check_resume_state(run)
    (problem,) = exc.value.problems
    assert problem.file == str(run.journal) and problem.line == 3
    assert "Restore optuna.journal from a copy" in problem.message
    assert run.journal.read_bytes() == before


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_damaged_experiment_state_is_an_error_naming_the_file(
    run: SearchRunLayout, damage: str
) -> None:
    (state,) = run.trials_dir.glob("experiment_state-*.json")
    text = state.read_text()
    state.write_text(text[: len(text) // 2] if damage == "truncated" else "")
    with pytest.raises(InputError) as exc:
        check_resume_state(run)
    (problem,) = exc.value.problems
    assert problem.file == str(state) and "--name" in problem.message


def test_only_the_newest_experiment_state_counts(run: SearchRunLayout) -> None:
    (run.trials_dir / "experiment_state-2025-01-01_00-00-00.json").write_text("{cut")
    assert check_resume_state(run) == []  # Tune restores the newest, which is whole


def test_truncated_trials_csv_is_an_error_naming_the_file(run: SearchRunLayout) -> None:
    text = run.trials_csv.read_text()
    run.trials_csv.write_text(text[: len(text) - 40])
    with pytest.raises(InputError) as exc:
        check_resume_state(run)
    (problem,) = exc.value.problems
    assert problem.file == str(run.trials_csv) and "line" in problem.message


def test_every_damaged_file_is_reported_at_once(run: SearchRunLayout) -> None:
    run.trials_csv.write_bytes(b"\xff\xfe garbage")
    (state,) = run.trials_dir.glob("experiment_state-*.json")
    state.write_text("{")
    with pytest.raises(InputError) as exc:
        check_resume_state(run)
    assert {p.file for p in exc.value.problems} == {str(run.trials_csv), str(state)}


# ---------------------------------------------------------------- the whole copy (StateBackup)

SESSION = "2026-01-01_00-00-00"


def tune_state(folder: Path, session: str, trials: int) -> dict[str, bytes]:
    """What Tune's save writes (an experiment state naming `trials` trials, the searcher's
    and the callbacks' pickles) into `folder`; returns name -> bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {"trial_data": [f"trial-{i}" for i in range(trials)], "runner_data": {}}
    files = {
        f"experiment_state-{session}.json": json.dumps(state).encode(),
        f"searcher-state-{session}.pkl": pickle.dumps({"trials": list(range(trials))}),
        # a pickle too, despite its name (Tune's _atomic_save)
        f"search_gen_state-{session}.json": pickle.dumps({"counter": trials}),
        f"callback-states-{session}.pkl": pickle.dumps({0: {"n": trials}}),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def test_a_cut_short_state_is_restored_from_the_last_whole_copy(
    run: SearchRunLayout, tmp_path: Path
) -> None:
    staging = tmp_path / "staging"
    saved = tune_state(staging, SESSION, trials=3)
    assert backup_state(staging, run.state_backup_dir)
    tune_state(staging, SESSION, trials=4)  # Tune's next save, copied into trials/ ...
    shutil.copytree(staging, run.trials_dir, dirs_exist_ok=True)
    state = run.trials_dir / f"experiment_state-{SESSION}.json"
    state.write_bytes(state.read_bytes()[:20])  # ... and cut short there (full disk)

    (note,) = check_resume_state(run)
    assert "cut short" in note and str(run.state_backup_dir) in note
    for name, data in saved.items():  # the backup's set, under Tune's own names
        assert (run.trials_dir / name).read_bytes() == data
    assert (run.trials_dir / f"{state.name}.damaged").stat().st_size == 20
    assert check_resume_state(run) == []  # whole now


def test_a_cut_short_searcher_pickle_is_restored_too(run: SearchRunLayout, tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    saved = tune_state(staging, SESSION, trials=2)
    assert backup_state(staging, run.state_backup_dir)
    shutil.copytree(staging, run.trials_dir, dirs_exist_ok=True)
    searcher = run.trials_dir / f"searcher-state-{SESSION}.pkl"
    searcher.write_bytes(searcher.read_bytes()[:-3])
    (note,) = check_resume_state(run)
    assert str(searcher) in note and "pickle" in note
    assert searcher.read_bytes() == saved[searcher.name]


def test_a_later_session_cut_short_falls_back_to_the_earlier_sessions_copy(
    run: SearchRunLayout, tmp_path: Path
) -> None:
    """A resumed driver whose first sync was cut short before it could back anything up:
    Tune takes the newest file of each kind, so the later session's files must go aside."""
    staging = tmp_path / "staging"
    saved = tune_state(staging, SESSION, trials=2)
    assert backup_state(staging, run.state_backup_dir)
    later = tune_state(run.trials_dir, "2026-01-02_00-00-00", trials=3)
    state = run.trials_dir / "experiment_state-2026-01-02_00-00-00.json"
    state.write_text("{")
    check_resume_state(run)
    assert sorted(run.trials_dir.glob("experiment_state-*.json"))[-1].name == (
        f"experiment_state-{SESSION}.json"
    )
    assert (
        max(run.trials_dir.glob("searcher-state-*.pkl")).read_bytes()
        == (saved[f"searcher-state-{SESSION}.pkl"])
    )
    for name, data in later.items():  # kept aside, the damaged one as it was
        kept = (run.trials_dir / f"{name}.damaged").read_bytes()
        assert kept == (b"{" if name == state.name else data)


def test_a_backup_that_does_not_fit_keeps_the_previous_one(
    run: SearchRunLayout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staging = tmp_path / "staging"
    saved = tune_state(staging, SESSION, trials=2)
    assert backup_state(staging, run.state_backup_dir)
    tune_state(staging, SESSION, trials=5)
    written = Path.write_bytes

    def full_after_one(self: Path, data: bytes) -> int:
        if any(self.parent.glob("*.bak")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return written(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_after_one)
    assert not backup_state(staging, run.state_backup_dir)
    monkeypatch.undo()
    kept = {p.name.removesuffix(".bak"): p.read_bytes() for p in run.state_backup_dir.iterdir()}
    assert kept == saved
    assert not run.state_backup_dir.with_name("_state_backup.new").exists()


def test_a_damaged_staging_set_is_not_backed_up(run: SearchRunLayout, tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    tune_state(staging, SESSION, trials=2)
    (staging / f"experiment_state-{SESSION}.json").write_text('{"trial_data": [')
    assert not backup_state(staging, run.state_backup_dir)
    assert not run.state_backup_dir.exists()


def test_without_a_whole_copy_a_damaged_state_is_still_an_error(
    run: SearchRunLayout, tmp_path: Path
) -> None:
    staging = tmp_path / "staging"
    tune_state(staging, SESSION, trials=2)
    assert backup_state(staging, run.state_backup_dir)
    for copy in run.state_backup_dir.iterdir():  # the copy itself damaged from outside
        copy.write_bytes(copy.read_bytes()[:5])
    (state,) = run.trials_dir.glob("experiment_state-*.json")
    state.write_text("{")
    with pytest.raises(InputError) as exc:
        check_resume_state(run)
    (problem,) = exc.value.problems
    assert problem.file == str(state) and "no whole copy" in problem.message
    assert state.read_text() == "{"  # nothing moved
