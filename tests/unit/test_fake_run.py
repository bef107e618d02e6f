"""The shared fake run directory (`fixtures.runs.make_run`) holds what its tests rely on."""

from __future__ import annotations

from pathlib import Path

from fixtures.runs import make_run

from raytrain.results import load_run


def test_fake_run_has_every_state(tmp_path: Path) -> None:
    run = load_run(make_run(tmp_path))
    counts = run.counts()
    assert counts["ERROR"] == 1 and counts["RUNNING"] == 2 and counts["PENDING"] == 2
    assert counts["STOPPED"] >= 5 and counts["TERMINATED"] >= 2
    assert len(run.trials) == 22
