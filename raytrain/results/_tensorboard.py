"""TensorBoard events for one trial: scalars per epoch and the HParams session records.

Each trial folder is one TensorBoard "run". Its HParams `session_start_info` carries the
trial's parameters and its `session_end_info` the final status; no experiment summary is
written, so TensorBoard builds the HPARAMS table from all trials' sessions (union of
parameters, every scalar tag as a metric column) -- trials added later, conditional
parameters and a resumed run all show up without rewriting anything.

Written with TensorBoard's own event writer and protos (no torch or TensorFlow needed).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from google.protobuf import struct_pb2
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

# Our trial states -> the HParams plugin's session status.
SESSION_STATUS = {
    "TERMINATED": api_pb2.STATUS_SUCCESS,
    "STOPPED": api_pb2.STATUS_SUCCESS,  # stopped early by the scheduler: a normal end
    "ERROR": api_pb2.STATUS_FAILURE,
}


def hparam_value(value: Any) -> struct_pb2.Value | None:
    """The protobuf Value TensorBoard accepts for a parameter (None: not representable)."""
    if isinstance(value, bool):
        return struct_pb2.Value(bool_value=value)
    if isinstance(value, int | float):
        return struct_pb2.Value(number_value=float(value))
    if isinstance(value, str):
        return struct_pb2.Value(string_value=value)
    if value is None:
        return None
    return struct_pb2.Value(string_value=str(value))


def _plugin_summary(tag: str, data: plugin_data_pb2.HParamsPluginData) -> summary_pb2.Summary:
    data.version = metadata.PLUGIN_DATA_VERSION
    return summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(data))]
    )


class TrialEvents:
    """Open event file of one trial; opened lazily, closed when the trial finishes."""

    def __init__(self, trial_dir: Path) -> None:
        self.trial_dir = trial_dir
        self._writer: EventFileWriter | None = None

    def _event(self, summary: summary_pb2.Summary, step: int = 0) -> None:
        if self._writer is None:
            self._writer = EventFileWriter(str(self.trial_dir), flush_secs=10)
        self._writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

    def session_start(self, params: Mapping[str, Any], group: str = "") -> None:
        info = plugin_data_pb2.SessionStartInfo(group_name=group, start_time_secs=time.time())
        for name, value in params.items():
            pv = hparam_value(value)
            if pv is not None:
                info.hparams[name].CopyFrom(pv)
        self._event(
            _plugin_summary(
                metadata.SESSION_START_INFO_TAG,
                plugin_data_pb2.HParamsPluginData(session_start_info=info),
            )
        )

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        finite = {k: float(v) for k, v in values.items() if math.isfinite(float(v))}
        if finite:
            summary = summary_pb2.Summary(
                value=[summary_pb2.Summary.Value(tag=k, simple_value=v) for k, v in finite.items()]
            )
            self._event(summary, step=step)

    def session_end(self, state: str) -> None:
        info = plugin_data_pb2.SessionEndInfo(
            status=SESSION_STATUS.get(state, api_pb2.STATUS_UNKNOWN), end_time_secs=time.time()
        )
        self._event(
            _plugin_summary(
                metadata.SESSION_END_INFO_TAG,
                plugin_data_pb2.HParamsPluginData(session_end_info=info),
            )
        )
        self.close()

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
