"""`StateBackup` copies Tune's staging state after each save, once per save (no Ray)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from types import SimpleNamespace

from raytrain.layout import SearchRunLayout
from raytrain.tune.state_backup import StateBackup

SESSION = "2026-01-01_00-00-00"


def save(staging: Path, trials: int, mtime_ns: int) -> None:
    state = staging / f"experiment_state-{SESSION}.json"
    state.write_text(f'{{"trial_data": {list(range(trials))}}}')
    (staging / f"searcher-state-{SESSION}.pkl").write_bytes(pickle.dumps(trials))
    for path in staging.iterdir():
        os.utime(path, ns=(mtime_ns, mtime_ns))


def test_each_save_is_backed_up_once(tmp_path: Path) -> None:
    staging, run = tmp_path / "staging", SearchRunLayout(tmp_path / "run")
    staging.mkdir()
    run.trials_dir.mkdir(parents=True)
    trial = SimpleNamespace(storage=SimpleNamespace(experiment_driver_staging_path=str(staging)))
    callback = StateBackup(run.root)
    callback.on_step_end(iteration=0, trials=[])  # no trial yet: nothing to find
    callback.on_step_end(iteration=1, trials=[trial])  # nothing saved yet
    assert not run.state_backup_dir.exists()

    save(staging, trials=1, mtime_ns=10**18)
    callback.on_step_end(iteration=2, trials=[trial])
    copy = run.state_backup_dir / f"experiment_state-{SESSION}.json.bak"
    assert copy.read_text() == '{"trial_data": [0]}'

    copy.write_text("kept")  # not rewritten while Tune has not saved again
    callback.on_step_end(iteration=3, trials=[trial])
    assert copy.read_text() == "kept"

    save(staging, trials=2, mtime_ns=2 * 10**18)
    callback.on_step_end(iteration=4, trials=[trial])
    assert copy.read_text() == '{"trial_data": [0, 1]}'
    assert pickle.loads((run.state_backup_dir / f"searcher-state-{SESSION}.pkl.bak").read_bytes())
    assert sorted(p.name for p in run.trials_dir.iterdir()) == ["_state_backup"]


def test_it_pickles_without_the_staging_folder(tmp_path: Path) -> None:
    callback = StateBackup(tmp_path)
    callback._staging = tmp_path / "old-session"
    again = pickle.loads(pickle.dumps(callback))
    assert again.run_dir == tmp_path and again._staging is None
