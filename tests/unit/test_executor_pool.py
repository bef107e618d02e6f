"""The executor pool's bookkeeping, without Ray: leases, the command log every rank reads,
replies, releases, recycling, a slot that fails and one that cannot start.

`ExecutorPool` takes a `launch` function that stands in for a slot's TorchTrainer.fit():
here a fake rank 0 that runs in the slot's thread and talks to the pool through its event
loop, as the real ranks do through Ray.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from raytrain.executor.pool import REROUTES, START_ATTEMPTS, ExecutorPool
from raytrain.executor.protocol import (
    Advance,
    EpochDone,
    Failed,
    Save,
    Saved,
    Shutdown,
    Start,
    Stop,
)
from raytrain.space.types import ResourceSettings, Space


def space(recycle_after: int | None = None) -> Space:
    return Space(
        name="t",
        config={},
        metric="val_loss",
        mode="min",
        parameters=(),
        resources=ResourceSettings(recycle_after=recycle_after),
    )


class FakeSlots:
    """`launch` for the pool: a rank 0 that trains `epochs` epochs per trial, records every
    command it read, and raises in a trial whose params say `raise`."""

    def __init__(self, epochs: int = 2, never_start: bool = False) -> None:
        self.epochs, self.never_start = epochs, never_start
        self.seen: dict[tuple[int, int], list[Any]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None

    def call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def __call__(self, *, pool: ExecutorPool, index: int, incarnation: int, **_: Any) -> None:
        if self.never_start:
            raise RuntimeError("cannot import the user's module")
        seen = self.seen.setdefault((index, incarnation), [])
        seq = 0

        def next_command() -> Any:
            nonlocal seq
            command = self.call(pool.next_command(index, incarnation, 0, seq))
            seq += 1
            seen.append(command)
            return command

        while True:
            command = next_command()
            if isinstance(command, Shutdown):
                return
            if isinstance(command, (Advance, Save)):  # no fit holds it: as serve_trials
                ended = Failed("the trial's fit has already ended", slot_ends=False)
                self.call(pool.reply(index, incarnation, command.lease, ended))
                continue
            if not isinstance(command, Start):
                continue
            if command.params.get("vanish", 0) >= incarnation:  # its node dies, no reply
                raise RuntimeError("a worker of this slot died")
            if command.params.get("raise"):
                self.call(pool.reply(index, incarnation, command.lease, Failed("boom", 0)))
                raise RuntimeError("boom")
            for epoch in range(1, self.epochs + 1):
                done = EpochDone({"epoch": epoch}, True, epoch == self.epochs)
                self.call(pool.reply(index, incarnation, command.lease, done))
                while True:  # parked until the trial says how to go on
                    after = next_command()
                    if isinstance(after, Save):
                        self.call(pool.reply(index, incarnation, command.lease, Saved(True)))
                        continue
                    break
                if isinstance(after, (Stop, Shutdown)):
                    break
                assert isinstance(after, Advance)
            if isinstance(after, Shutdown):
                return


def run_pool(
    slots: int,
    fake: FakeSlots,
    body: Callable[[ExecutorPool], Coroutine[Any, Any, None]],
    recycle_after: int | None = None,
    stagger: bool = False,
) -> None:
    async def main() -> None:
        fake.loop = asyncio.get_running_loop()
        pool = ExecutorPool(
            space=space(recycle_after),
            slots=slots,
            storage_dir="/unused",
            stagger=stagger,
            launch=fake,
        )
        await pool.start()
        try:
            await asyncio.wait_for(body(pool), timeout=30)
        finally:
            await pool.shutdown(timeout_s=10)

    asyncio.run(main())


async def trial(pool: ExecutorPool, trial_id: str, params: dict[str, Any] | None = None) -> list:
    """What a WarmTrial does: lease, Start, Advance to the end, Save each epoch, release."""
    lease = await pool.lease(trial_id)
    replies = [await pool.send(lease, Start(lease, trial_id, params or {}))]
    while isinstance(replies[-1], EpochDone):
        replies.append(await pool.send(lease, Save(lease, "/ckpt", "node")))
        if replies[-2].is_last:
            break
        replies.append(await pool.send(lease, Advance(lease)))
    await pool.release(lease)
    return replies


def test_trials_run_one_after_another_on_one_slot() -> None:
    fake = FakeSlots(epochs=2)

    async def body(pool: ExecutorPool) -> None:
        first = await trial(pool, "a")
        second = await trial(pool, "b")
        assert [type(r) for r in first] == [EpochDone, Saved, EpochDone, Saved]
        assert [r.metrics["epoch"] for r in second if isinstance(r, EpochDone)] == [1, 2]
        (info,) = await pool.slots()
        assert info.incarnation == 1 and info.trials == ["a", "b"] and info.served == 2

    run_pool(1, fake, body)
    log = fake.seen[(0, 1)]
    starts = [c.trial_id for c in log if isinstance(c, Start)]
    assert starts == ["a", "b"]
    # the first trial's Stop comes before the second trial's Start: no overlap on a slot
    second = next(i for i, c in enumerate(log) if isinstance(c, Start) and c.trial_id == "b")
    assert isinstance(log[second - 1], Stop)


def test_a_stopped_trial_trains_no_further_epoch() -> None:
    fake = FakeSlots(epochs=5)

    async def body(pool: ExecutorPool) -> None:
        lease = await pool.lease("a")
        done = await pool.send(lease, Start(lease, "a", {}))
        assert done.metrics["epoch"] == 1
        await pool.release(lease)  # e.g. ASHA stopped it at the rung
        await trial(pool, "b")

    run_pool(1, fake, body)
    log = fake.seen[(0, 1)]
    # one Start, then the Stop at the first park: no Advance was ever sent for "a"
    assert [type(c) for c in log[:2]] == [Start, Stop]


def test_a_failing_trial_fails_its_lease_and_the_slot_starts_again() -> None:
    fake = FakeSlots(epochs=1)

    async def body(pool: ExecutorPool) -> None:
        good = asyncio.ensure_future(trial(pool, "good"))
        lease = await pool.lease("bad")
        reply = await pool.send(lease, Start(lease, "bad", {"raise": True}))
        assert isinstance(reply, Failed) and "boom" in reply.text
        assert isinstance(await pool.send(lease, Advance(lease)), Failed)  # ended for good
        await pool.release(lease)  # what Tune's cleanup does: harmless
        await good
        for _ in range(100):
            infos = await pool.slots()
            if all(i.state != "dead" for i in infos) and max(i.incarnation for i in infos) == 2:
                break
            await asyncio.sleep(0.05)
        assert sorted(i.incarnation for i in infos) == [1, 2]
        await trial(pool, "after")  # the restarted slot serves again

    run_pool(2, fake, body)


def test_a_command_to_no_fit_fails_the_trial_and_the_slot_serves_the_next() -> None:
    """A Save with no fit on the slot (a trial that replayed its end asked for its
    checkpoint there): that trial fails, the slot is neither marked dead nor restarted, and
    the next trial trains on it. Marked dead while its fit() went on, it was never leased
    again and the search hung."""
    fake = FakeSlots(epochs=1)

    async def body(pool: ExecutorPool) -> None:
        lease = await pool.lease("replayed")
        reply = await pool.send(lease, Save(lease, "/ckpt", "node"))
        assert isinstance(reply, Failed) and "already ended" in reply.text
        await pool.release(lease)
        replies = await trial(pool, "next")
        assert [type(r) for r in replies] == [EpochDone, Saved]
        (info,) = await pool.slots()
        assert (info.incarnation, info.trials) == (1, ["replayed", "next"])

    run_pool(1, fake, body)


def test_a_slot_that_ends_before_answering_a_trial_hands_it_to_another_slot() -> None:
    """A node died under an idle slot and a trial's lease landed on it: the trial trained
    nothing there, so it moves (up to REROUTES times) instead of failing; one more such end
    fails it."""
    fake = FakeSlots(epochs=2)

    async def body(pool: ExecutorPool) -> None:
        moved = await trial(pool, "moved", {"vanish": 1})
        assert [type(r) for r in moved] == [EpochDone, Saved, EpochDone, Saved]
        lease = await pool.lease("unlucky")
        # the slot is at incarnation 2: it vanishes REROUTES + 1 times in a row
        vanish = 2 + REROUTES
        reply = await pool.send(lease, Start(lease, "unlucky", {"vanish": vanish}))
        assert isinstance(reply, Failed) and "died" in reply.text
        await pool.release(lease)

    run_pool(1, fake, body)
    starts = {
        key: [c.trial_id for c in log if isinstance(c, Start)] for key, log in fake.seen.items()
    }
    assert starts[(0, 1)] == ["moved"] and starts[(0, 2)][0] == "moved"


def test_recycle_after_restarts_the_slot_between_trials() -> None:
    fake = FakeSlots(epochs=1)

    async def body(pool: ExecutorPool) -> None:
        for name in "abc":
            await trial(pool, name)
        (info,) = await pool.slots()
        assert info.incarnation == 2 and info.trials == ["a", "b", "c"]

    run_pool(1, fake, body, recycle_after=2)
    assert [c.trial_id for c in fake.seen[(0, 1)] if isinstance(c, Start)] == ["a", "b"]
    assert [c.trial_id for c in fake.seen[(0, 2)] if isinstance(c, Start)] == ["c"]


def test_a_slot_that_cannot_start_fails_leases_with_its_error() -> None:
    fake = FakeSlots(never_start=True)

    async def body(pool: ExecutorPool) -> None:
        # a trial's first command waits for a slot that is starting (no retry is spent on a
        # start that fails); after START_ATTEMPTS failed starts in a row it fails with the
        # slot's error, and leasing raises it at once from then on
        lease = await pool.lease("a")
        reply = await pool.send(lease, Start(lease, "a", {}))
        assert isinstance(reply, Failed) and "cannot import the user's module" in reply.text
        assert f"({START_ATTEMPTS} attempts)" in reply.text
        (slot,) = await pool.slots()
        assert slot.incarnation == START_ATTEMPTS and slot.trials == []
        with pytest.raises(RuntimeError, match=f"{START_ATTEMPTS} attempts"):
            await pool.lease("b")

    run_pool(1, fake, body)


def test_release_by_trial_id_spares_a_later_lease_of_the_same_trial() -> None:
    fake = FakeSlots(epochs=1)

    async def body(pool: ExecutorPool) -> None:
        old = await pool.lease("a")
        await pool.send(old, Start(old, "a", {}))
        cutoff = time.time()
        await pool.release(old)
        await asyncio.sleep(0.01)
        new = await pool.lease("a")  # the retried trial
        await pool.release_trial("a", cutoff)  # the driver's late call about the old one
        reply = await pool.send(new, Start(new, "a", {}))
        assert isinstance(reply, EpochDone)
        await pool.release(new)

    run_pool(1, fake, body)


def test_fake_slots_run_in_their_own_threads() -> None:
    names: list[str] = []
    fake = FakeSlots(epochs=1)
    original = fake.__call__

    def launch(**kwargs: Any) -> None:
        names.append(threading.current_thread().name)
        original(**kwargs)

    async def body(pool: ExecutorPool) -> None:
        await trial(pool, "a")

    async def main() -> None:
        fake.loop = asyncio.get_running_loop()
        pool = ExecutorPool(space=space(), slots=2, storage_dir="/unused", launch=launch)
        await pool.start()
        await body(pool)
        await pool.shutdown(timeout_s=10)

    asyncio.run(main())
    assert sorted(names) == ["raytrain-slot-0-1", "raytrain-slot-1-1"]


class RecordingSlots(FakeSlots):
    """FakeSlots that note, in order, each slot's launch and rank 0's first command."""

    def __init__(self, epochs: int) -> None:
        super().__init__(epochs=epochs)
        self.events: list[str] = []

    def __call__(self, *, pool: ExecutorPool, index: int, incarnation: int, **kw: Any) -> None:
        self.events.append(f"launch {index}")
        first = pool.next_command

        async def noting(i: int, inc: int, rank: int, seq: int) -> Any:
            if seq == 0 and i == index:
                self.events.append(f"ready {index}")
            return await first(i, inc, rank, seq)

        pool.next_command = noting  # type: ignore[method-assign]
        super().__call__(pool=pool, index=index, incarnation=incarnation, **kw)


def test_staggered_slots_start_after_the_first_serves_and_take_no_lease_before() -> None:
    """On one host the other slots start once the first one's ranks ask for work; a trial
    that asks for a slot meanwhile waits for a started one (its Start is never lost)."""
    fake = RecordingSlots(epochs=1)

    async def body(pool: ExecutorPool) -> None:
        first, second = await asyncio.gather(trial(pool, "a"), trial(pool, "b"))
        assert first[0].metrics == second[0].metrics == {"epoch": 1}
        infos = await pool.slots()
        assert [s.incarnation for s in infos] == [1, 1]
        assert sorted(t for s in infos for t in s.trials) == ["a", "b"]

    run_pool(2, fake, body, stagger=True)
    assert fake.events[:2] == ["launch 0", "ready 0"]
    assert "launch 1" in fake.events
