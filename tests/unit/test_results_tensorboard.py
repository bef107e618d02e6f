"""TensorBoard events written by RunWriter, read back with TensorBoard's own reader."""

from __future__ import annotations

import math
from pathlib import Path

from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
from tensorboard.plugins.hparams import api_pb2, metadata

from raytrain.results import RunWriter


def test_events_hold_scalars_and_hparams_for_every_trial(tmp_path: Path) -> None:
    w = RunWriter(
        tmp_path,
        metric="val_acc",
        mode="max",
        param_paths=["optimizer.lr", "optimizer.name", "optimizer.momentum", "model.hidden"],
    )
    trials = {
        "a": {"optimizer.lr": 1e-3, "optimizer.name": "adamw", "model.hidden": 64},
        "b": {"optimizer.lr": 1e-2, "optimizer.name": "sgd", "optimizer.momentum": 0.9},
        "c": {"optimizer.lr": 1e-1, "optimizer.name": "adamw", "model.hidden": 32},
    }
    for tid, params in trials.items():
        w.trial_added(tid, params)
        w.trial_started(tid)
    for epoch, acc in enumerate([0.5, 0.7, 0.6], start=1):
        w.trial_result("a", {"epoch": epoch, "val_acc": acc, "val_loss": 1 - acc})
    w.trial_result("b", {"epoch": 1, "val_acc": math.nan})
    w.trial_finished("a", "TERMINATED")
    w.trial_finished("b", "STOPPED")
    w.trial_finished("c", "ERROR", "boom")
    w.close()

    mux = EventMultiplexer()
    mux.AddRunsFromDirectory(str(tmp_path))
    mux.Reload()
    hp = mux.PluginRunToTagToContent(metadata.PLUGIN_NAME)
    assert set(hp) == {"trials/a", "trials/b", "trials/c"}
    for tid, params in trials.items():
        tags = hp[f"trials/{tid}"]
        start = metadata.parse_session_start_info_plugin_data(tags[metadata.SESSION_START_INFO_TAG])
        assert set(start.hparams) == set(params)
        for name, value in params.items():
            got = start.hparams[name]
            assert (got.string_value if isinstance(value, str) else got.number_value) == value
    ends = {
        tid: metadata.parse_session_end_info_plugin_data(
            hp[f"trials/{tid}"][metadata.SESSION_END_INFO_TAG]
        ).status
        for tid in trials
    }
    assert ends == {
        "a": api_pb2.STATUS_SUCCESS,
        "b": api_pb2.STATUS_SUCCESS,
        "c": api_pb2.STATUS_FAILURE,
    }
    acc = mux.Scalars("trials/a", "val_acc")
    assert [(s.step, round(s.value, 5)) for s in acc] == [(1, 0.5), (2, 0.7), (3, 0.6)]
    best = mux.Scalars("trials/a", "best_val_acc")
    assert [round(s.value, 5) for s in best] == [0.5, 0.7, 0.7]
    assert "val_acc" in mux.Runs()["trials/a"]["scalars"]
    assert "val_acc" not in mux.Runs()["trials/b"]["scalars"]  # NaN is not plotted
