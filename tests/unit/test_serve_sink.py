"""A warm slot's report sink (`raytrain.trial.serve.PoolSink`) against a fake command log:
every request of the trial gets an answer, also when the fit ends without the report it
was asked for."""

from __future__ import annotations

from typing import Any

from raytrain.executor.protocol import Advance, EpochDone, Failed, Stop
from raytrain.trial.serve import PoolSink, _answer_an_ended_fit


class FakeChannel:
    def __init__(self, commands: list[Any], rank: int = 0) -> None:
        self.commands, self.rank = list(commands), rank
        self.replies: list[tuple[str, Any]] = []

    def next(self) -> Any:
        return self.commands.pop(0)

    def reply(self, lease: str, message: Any) -> None:
        self.replies.append((lease, message))


class FakeTrainer:
    should_stop = False


def test_a_fit_that_ends_after_an_advance_answers_the_waiting_trial() -> None:
    channel = FakeChannel([Advance("L")])
    sink = PoolSink(channel, "L")  # type: ignore[arg-type]
    sink.report(FakeTrainer(), {"epoch": 1}, False, False)  # type: ignore[arg-type]
    assert sink.owing  # the trial sent Advance: it waits for the next EpochDone
    _answer_an_ended_fit(sink, channel)  # type: ignore[arg-type]
    (first, second) = channel.replies
    assert isinstance(first[1], EpochDone)
    assert isinstance(second[1], Failed) and not second[1].slot_ends
    assert "without reporting" in second[1].text


def test_a_stopped_or_saved_trial_is_owed_nothing() -> None:
    channel = FakeChannel([Stop("L")])
    sink = PoolSink(channel, "L")  # type: ignore[arg-type]
    trainer = FakeTrainer()
    sink.report(trainer, {"epoch": 1}, False, False)  # type: ignore[arg-type]
    assert trainer.should_stop and not sink.owing
    _answer_an_ended_fit(sink, channel)  # type: ignore[arg-type]
    assert len(channel.replies) == 1  # only the EpochDone


def test_only_rank_0_answers() -> None:
    channel = FakeChannel([Advance("L")], rank=1)
    sink = PoolSink(channel, "L")  # type: ignore[arg-type]
    sink.report(FakeTrainer(), {"epoch": 1}, False, False)  # type: ignore[arg-type]
    _answer_an_ended_fit(sink, channel)  # type: ignore[arg-type]
    assert channel.replies == []
