"""Damaged state files found before `tune --resume` starts Ray (`raytrain.resume_state`):
repaired where that is safe (the journal's half-written last entry), else a clear error
naming the file, with nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from fixtures.runs import make_run

from raytrain.errors import InputError
from raytrain.layout import SearchRunLayout
from raytrain.resume_state import DAMAGED_TAIL_SUFFIX, check_resume_state
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
