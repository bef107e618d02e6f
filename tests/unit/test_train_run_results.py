"""A `raytrain train` run dir reads as a run of one trial: `status` and `analyze` on it.

The run dirs are written with the same writer the driver uses (no Ray); the driver itself
runs with a stand-in trainer and report relay.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

from raytrain.cli import main
from raytrain.config.schema import TrainConfig
from raytrain.layout import TrainRunLayout
from raytrain.results import ERROR, RUNNING, TERMINATED, TrainRunWriter, load_run

CONFIG = {"checkpoint": {"metric": "val_acc", "mode": "max"}, "trainer": {"max_epochs": 3}}


def write_train_run(root: Path, accs: list[float], finish: bool = True) -> TrainRunLayout:
    """A train run as the driver writes it; `finish=False`: one still running."""
    layout = TrainRunLayout(root)
    clock = iter(range(1_700_000_000, 1_700_000_100))
    writer = TrainRunWriter(layout, clock=lambda: float(next(clock)))
    layout.config.write_text(yaml.safe_dump(CONFIG))
    for epoch, acc in enumerate(accs, start=1):
        writer.epoch({"epoch": epoch, "val_acc": acc, "train_loss": 1 - acc})
    writer.log.flush()
    if finish:
        writer.finished(TERMINATED)
    return layout


def test_train_run_is_one_trial_with_its_best_epoch(tmp_path: Path) -> None:
    layout = write_train_run(tmp_path / "r1", [0.5, 0.8, 0.7])
    run = load_run(layout.root)
    assert (run.name, run.metric, run.mode, run.kind) == ("r1", "val_acc", "max", "train")
    (trial,) = run.trials
    assert (trial.trial_id, trial.state, trial.epochs) == ("r1", TERMINATED, 3)
    assert (trial.best_value, trial.best_epoch, trial.value) == (0.8, 2, 0.7)
    assert [r["val_acc"] for r in trial.metrics()] == [0.5, 0.8, 0.7]
    assert trial.started_at is not None and trial.updated_at is not None
    assert run.finished and run.best(1) == [trial]

    mux = EventMultiplexer()
    mux.AddRunsFromDirectory(str(layout.tensorboard_dir))
    mux.Reload()
    (tb_run,) = mux.Runs()
    assert [e.value for e in mux.Scalars(tb_run, "val_acc")] == pytest.approx([0.5, 0.8, 0.7])


def test_status_and_analyze_on_a_train_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_train_run(tmp_path / "final", [0.5, 0.8, 0.7]).root
    assert main(["status", str(root)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # unwrapped: rich folds at its width
    assert "final" in out and "best val_acc 0.8 (final, epoch 2)" in out and "finished" in out
    assert main(["analyze", str(root), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["metric"] == "val_acc" and result["finished"] is True
    assert [(t["trial_id"], t["best_value"], t["best_epoch"]) for t in result["top"]] == [
        ("final", 0.8, 2)
    ]
    assert all(Path(p).is_file() for p in result["plots"])


def test_running_and_failed_train_runs(tmp_path: Path) -> None:
    running = load_run(write_train_run(tmp_path / "live", [0.4], finish=False).root)
    assert running.trials[0].state == RUNNING and not running.finished

    layout = TrainRunLayout(tmp_path / "failed")
    with pytest.raises(RuntimeError), TrainRunWriter(layout, tensorboard=False) as writer:
        layout.config.write_text(yaml.safe_dump(CONFIG))
        writer.epoch({"epoch": 1, "val_acc": 0.3})
        raise RuntimeError("CUDA out of memory")
    run = load_run(layout.root)
    (trial,) = run.trials
    assert trial.state == ERROR and trial.error == "RuntimeError: CUDA out of memory"
    assert "Traceback" in layout.error_txt.read_text()
    assert run.finished  # `status --watch` on it ends


def test_train_run_from_before_state_json(tmp_path: Path) -> None:
    """Older train runs have no state.json: their checkpoints say they ended."""
    layout = write_train_run(tmp_path / "old", [0.6, 0.9])
    layout.state_json.unlink()
    assert load_run(layout.root).trials[0].state == RUNNING
    layout.best_ckpt.write_bytes(b"")
    (trial,) = load_run(layout.root).trials
    assert trial.state == TERMINATED and trial.checkpoint == str(layout.best_ckpt)


class _Relay:
    """Stand-in for ProgressRelay: the fake trainer hands reports straight to the handler."""

    handler: Any = None

    def __init__(self) -> None:
        from ray.train import UserCallback

        self.callback = UserCallback()

    def start(self, handler: Any) -> None:
        _Relay.handler = handler

    def stop(self) -> None:
        pass


class _Result:
    def __init__(self) -> None:
        self.best_checkpoints: list[Any] = []
        self.checkpoint = None
        self.metrics: dict[str, Any] = {}


class _Trainer:
    def fit(self) -> _Result:
        from raytrain.trial.progress import EpochReport

        for epoch, loss in enumerate([0.9, 0.4, 0.6], start=1):
            _Relay.handler(EpochReport({"epoch": epoch, "val_loss": loss}, None))
        return _Result()


def test_driver_writes_a_run_that_status_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import raytrain.trial.driver
    import raytrain.trial.progress
    import raytrain.trial.trainer
    from raytrain.trial.driver import train

    # patched where they are defined and in the driver, however the driver imports them
    for module in (raytrain.trial.progress, raytrain.trial.driver):
        monkeypatch.setattr(module, "ProgressRelay", _Relay, raising=False)
    for module in (raytrain.trial.trainer, raytrain.trial.driver):
        monkeypatch.setattr(
            module, "build_torch_trainer", lambda *a, **k: _Trainer(), raising=False
        )
    monkeypatch.setattr(raytrain.trial.driver, "start_train_coordinator", lambda: None)
    seen: list[int] = []
    outcome = train(
        TrainConfig(), tmp_path / "run", on_epoch=lambda r: seen.append(r.metrics["epoch"])
    )
    assert seen == [1, 2, 3] and outcome.final_metrics == {"epoch": 3, "val_loss": 0.6}
    layout = TrainRunLayout(tmp_path / "run")
    assert yaml.safe_load(layout.config.read_text())["checkpoint"]["metric"] == "val_loss"
    (trial,) = load_run(layout.root).trials
    assert (trial.state, trial.best_value, trial.best_epoch) == (TERMINATED, 0.4, 2)
