"""The executor pool: one actor that owns the search's warm slots and leases them to trials.

A slot is one long-lived Ray Train `TorchTrainer.fit()` (`raytrain.executor.slot`) whose
ranks serve trial after trial (`raytrain.trial.serve`). The pool runs each slot's `fit()` in
a thread of its own process, keeps one command log per slot that every rank reads in order,
and routes rank 0's replies to the trial that holds the lease. A slot whose `fit()` ends
(a rank raised, a node died, or it was recycled) is started again in the background; the
trial it was serving fails and Tune retries it from its last checkpoint.

The pool holds no CPU (its slots' Train workers hold them) and lives on the driver's node;
it is owned by the driver, so a killed driver takes it and every slot with it. Its name is
derived from the run directory, so Tune callbacks restored from the experiment state on
`--resume` find the new driver's pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from raytrain.executor.protocol import (
    Command,
    Failed,
    Reply,
    Shutdown,
    SlotInfo,
    Stop,
)
from raytrain.space.types import Space

log = logging.getLogger(__name__)

# A slot that dies this many times in a row before its ranks ever ask for work cannot start
# (bad runtime env, a worker that cannot import the user's module): fail trials instead of
# restarting it forever.
START_ATTEMPTS = 3

# With `stagger`, the other slots start once the first one serves, or after this long.
STAGGER_S = 120.0

# A lease whose slot ends before it answered the lease's first command (nothing trained,
# nothing reported) moves to another slot this many times before its trial fails. The case:
# a node dies under an idle slot, Tune retries the trial whose actor died with the node, and
# the retry's lease lands on that slot before Ray Train has noticed its dead workers (~10 s
# here); failing it would spend a retry on a slot, not on the trial (seen in CI: the retry
# failed too and the trial ended in ERROR with max_failures: 1). A few, not one: right
# after a node died more than one slot may still end (not measured; a move costs nothing
# trained, and a slot that cannot start at all ends the pool after START_ATTEMPTS).
REROUTES = 3


def pool_name(run_dir: Path) -> str:
    digest = hashlib.sha1(str(Path(run_dir).resolve()).encode()).hexdigest()[:12]
    return f"raytrain-executors-{digest}"


@dataclass
class _Lease:
    id: str
    trial_id: str
    slot: int | None = None  # bound by the lease's first command
    incarnation: int = 0
    created: float = field(default_factory=time.time)
    inbox: asyncio.Queue[Reply] = field(default_factory=asyncio.Queue)
    ended: bool = False
    first: Command | None = None  # its first command, until the slot answers it
    reroutes: int = 0


@dataclass
class _Slot:
    index: int
    incarnation: int = 0
    log: list[Command] = field(default_factory=list)
    state: str = "starting"  # starting | ready | dead
    lease: _Lease | None = None
    served: int = 0  # trials released by this incarnation
    retiring: bool = False  # Shutdown queued to recycle it
    failed_starts: int = 0
    trials: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None


class ExecutorPool:
    """The actor class; create it with `start_pool` (placement, name, concurrency)."""

    def __init__(
        self,
        *,
        space: Space,
        slots: int,
        storage_dir: str,
        stagger: bool = False,
        launch: Callable[..., None] | None = None,
    ) -> None:
        """`launch(pool=, index=, incarnation=, space=, storage_dir=)` runs one slot and
        returns when it ends; None: a Ray Train run (`fit_slot`, which gets the actor's
        handle as `pool`). Tests pass their own, which gets this object."""
        self._space = space
        self._storage_dir = storage_dir
        self._launch = launch  # tests pass a fake; None: raytrain.executor.slot.fit_slot
        self._slots = [_Slot(index=k) for k in range(slots)]
        self._stagger = stagger
        self._leases: dict[str, _Lease] = {}
        self._changed = asyncio.Condition()
        self._closing = False
        self._broken: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._staggered: asyncio.Task[None] | None = None  # held: the loop keeps tasks weakly
        self._rerouting: set[asyncio.Task[None]] = set()

    # ---- life cycle --------------------------------------------------------------------
    async def start(self) -> int:
        """Start every slot's Train run (in the background); returns the number of slots."""
        self._loop = asyncio.get_running_loop()
        # The slots' threads block in TorchTrainer.fit() by design, never the event loop;
        # Ray's warning about blocking gets in async actors (ray/_private/worker.py) does not
        # tell threads apart.
        os.environ["RAY_WARN_BLOCKING_GET_INSIDE_ASYNC"] = "0"
        async with self._changed:
            for slot in self._slots[: 1 if self._stagger else None]:
                self._spawn(slot)
        if self._stagger and len(self._slots) > 1:
            self._staggered = asyncio.create_task(self._spawn_rest())
        return len(self._slots)

    async def _spawn_rest(self) -> None:
        """Start the other slots once the first one serves (or ended, or after STAGGER_S).

        A slot's start-up is CPU-bound: ~6 Ray processes (Train controller, placement-group
        cleaner, sync actor, dataset manager, workers) that import Ray, torch and Lightning,
        ~30 CPU-s here. Started together on one host, C slots share its cores and the first
        trial's first epoch waits for all of them; started after the first, the search
        trains on the first slot meanwhile."""
        first = self._slots[0]
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(
                        lambda: first.state != "starting" or first.incarnation > 1 or self._gone()
                    ),
                    STAGGER_S,
                )
            if self._closing:
                return
            for slot in self._slots[1:]:
                if slot.incarnation == 0:  # not started: a lease only lands on a started one
                    self._spawn(slot)
            self._changed.notify_all()

    def _spawn(self, slot: _Slot) -> None:
        """A new incarnation of `slot`: an empty log and a thread running its `fit()`."""
        slot.incarnation += 1
        slot.log = []
        slot.state, slot.lease, slot.served, slot.retiring = "starting", None, 0, False
        incarnation = slot.incarnation
        thread = threading.Thread(
            target=self._run_fit,
            args=(slot.index, incarnation),
            name=f"raytrain-slot-{slot.index}-{incarnation}",
            daemon=True,
        )
        slot.thread = thread
        thread.start()

    def _run_fit(self, index: int, incarnation: int) -> None:
        """Thread body: the slot's TorchTrainer.fit(), then tell the event loop it ended."""
        error: str | None = None
        try:
            launch, pool = self._launch, self
            if launch is None:
                # Imported in this actor only: the driver that creates the pool never loads
                # torch (the Ray import rule in raytrain/local_ray.py).
                from raytrain.executor.slot import fit_slot

                launch, pool = fit_slot, ray.get_runtime_context().current_actor
            launch(
                pool=pool,
                index=index,
                incarnation=incarnation,
                space=self._space,
                storage_dir=self._storage_dir,
            )
        except BaseException as exc:  # any end of fit() is reported
            error = _describe(exc)
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._slot_ended(index, incarnation, error), self._loop)

    async def _slot_ended(self, index: int, incarnation: int, error: str | None) -> None:
        async with self._changed:
            slot = self._slots[index]
            if slot.incarnation != incarnation:
                return
            never_ready = slot.state == "starting"
            slot.state = "dead"
            lease = slot.lease
            if lease is not None and lease.first is not None and lease.reroutes < REROUTES:
                lease.reroutes += 1
                lease.slot, slot.lease = None, None
                log.warning(
                    "executor slot %d ended before trial %s started on it; it moves "
                    "to another slot",
                    index,
                    lease.trial_id,
                )
                self._rerouting.add(asyncio.create_task(self._reroute(lease)))
            elif lease is not None:
                self._end_lease(lease, Failed(error or "the trial's worker group ended"))
            if error is not None:
                log.warning("executor slot %d ended: %s", index, error.splitlines()[-1])
            slot.failed_starts = slot.failed_starts + 1 if (error and never_ready) else 0
            if slot.failed_starts >= START_ATTEMPTS and error is not None:
                self._broken = (
                    f"the trial worker group could not start ({START_ATTEMPTS} attempts):\n{error}"
                )
            if not self._closing and self._broken is None:
                self._spawn(slot)
            self._changed.notify_all()

    async def _reroute(self, lease: _Lease) -> None:
        """Bind `lease` to another slot and queue its first command there again."""
        async with self._changed:
            why = await self._bind(lease)
            if why is not None:
                self._end_lease(lease, Failed(why))
            elif lease.first is not None:
                assert lease.slot is not None
                self._slots[lease.slot].log.append(lease.first)
            self._changed.notify_all()
        task = asyncio.current_task()
        if task is not None:
            self._rerouting.discard(task)

    async def shutdown(self, timeout_s: float = 60.0) -> None:
        """End every slot's Train run (ranks finish their trial's epoch first).

        Waits for the slots that serve, not for one still starting: its ranks would first
        import torch and Lightning only to exit (~15 s here at the end of a short search).
        Its Train run goes with the pool actor, which owns its controller."""
        async with self._changed:
            self._closing = True
            serving = [s for s in self._slots if s.state == "ready"]
            for slot in self._slots:
                if slot.state != "dead":
                    slot.log.append(Shutdown())
            self._changed.notify_all()
        deadline = time.monotonic() + timeout_s
        for slot in serving:
            thread = slot.thread
            if thread is not None:
                left = max(0.0, deadline - time.monotonic())
                await asyncio.get_running_loop().run_in_executor(None, thread.join, left)

    # ---- the trial side (raytrain.executor.trainable.WarmTrial) ------------------------
    async def lease(self, trial_id: str) -> str:
        """A lease for `trial_id`, bound to a slot by its first command (`send`); returns
        its id at once, so a Tune trial actor never blocks in `setup` (Tune then starts a
        new actor for the next trial instead of reusing one: ~4 CPU-s each here).

        Raises RuntimeError when the slots cannot start at all."""
        async with self._changed:
            if self._broken:
                raise RuntimeError(self._broken)
            if self._closing:
                raise RuntimeError("the search is shutting down")
            lease = _Lease(id=uuid.uuid4().hex, trial_id=trial_id)
            self._leases[lease.id] = lease
            return lease.id

    async def _bind(self, lease: _Lease) -> str | None:
        """Wait for a free slot whose ranks wait for work and give it to `lease`; or the
        reason there will be none. Called with the condition held."""
        await self._changed.wait_for(
            lambda: self._free() is not None or self._gone() or lease.ended
        )
        if lease.ended:
            return "the trial's lease has ended"
        if self._gone():
            return self._broken or "the search is shutting down"
        slot = self._free()
        assert slot is not None
        lease.slot, lease.incarnation = slot.index, slot.incarnation
        slot.lease = lease
        slot.trials.append(lease.trial_id)
        return None

    def _free(self) -> _Slot | None:
        # Only a slot whose ranks already wait for work: a trial bound to a starting slot
        # would wait out its start-up (~25 s here) even when another slot frees sooner.
        free = [s for s in self._slots if s.state == "ready" and s.lease is None and not s.retiring]
        return free[0] if free else None

    def _gone(self) -> bool:
        return self._closing or self._broken is not None

    async def send(self, lease_id: str, command: Command) -> Reply:
        """Queue `command` for the lease's slot and wait for the reply it asks for."""
        async with self._changed:
            lease = self._leases.get(lease_id)
            if lease is None or lease.ended:
                return Failed("the trial's lease has ended (its worker group stopped)")
            if lease.slot is None:
                lease.first = command
                why = await self._bind(lease)
                if why is not None:
                    return Failed(why)
            assert lease.slot is not None
            slot = self._slots[lease.slot]
            slot.log.append(command)
            self._changed.notify_all()
        return await lease.inbox.get()

    async def release(self, lease_id: str) -> None:
        """The trial is over: its slot finishes the current epoch's park and serves the next.
        Idempotent; also called for trials whose slot already died."""
        async with self._changed:
            lease = self._leases.get(lease_id)
            if lease is not None:
                self._release(lease)

    async def release_trial(self, trial_id: str, before: float) -> None:
        """`release` by trial id, of the leases taken before `before` (unix time; a retried
        trial's next lease is not this call's): the driver's Tune callback, when Tune ends
        or retries a trial, also one whose actor died without releasing its slot."""
        async with self._changed:
            for lease in list(self._leases.values()):
                if lease.trial_id == trial_id and lease.created < before:
                    self._release(lease)

    def _release(self, lease: _Lease) -> None:
        self._leases.pop(lease.id, None)
        if lease.slot is None:  # never bound: no slot to free
            lease.ended = True
            self._changed.notify_all()
            return
        slot = self._slots[lease.slot]
        if lease.ended or slot.lease is not lease:
            return
        lease.ended = True
        slot.lease = None
        slot.log.append(Stop(lease.id))
        slot.served += 1
        recycle = self._space.resources.recycle_after
        if recycle is not None and slot.served >= recycle and not self._closing:
            slot.log.append(Shutdown())  # its fit() ends; _slot_ended starts a new one
            slot.retiring = True
        self._changed.notify_all()

    def _end_lease(self, lease: _Lease, failure: Failed) -> None:
        if not lease.ended:
            lease.ended = True
            lease.inbox.put_nowait(failure)
        if lease.slot is not None:
            self._slots[lease.slot].lease = None

    # ---- the rank side (raytrain.trial.serve) -------------------------------------------
    async def next_command(self, index: int, incarnation: int, rank: int, seq: int) -> Command:
        """Command number `seq` of the slot's log (waits for it); Shutdown to a stale rank."""
        async with self._changed:
            slot = self._slots[index]
            if rank == 0 and slot.incarnation == incarnation and slot.state == "starting":
                slot.state = "ready"
                slot.failed_starts = 0
                self._changed.notify_all()
            await self._changed.wait_for(
                lambda: slot.incarnation != incarnation or len(slot.log) > seq
            )
            if slot.incarnation != incarnation:
                return Shutdown()
            return slot.log[seq]

    async def reply(self, index: int, incarnation: int, lease_id: str, message: Reply) -> None:
        async with self._changed:
            lease = self._leases.get(lease_id)
            if lease is None or lease.ended or lease.incarnation != incarnation:
                return  # a trial that was released meanwhile: nobody waits for this
            if isinstance(message, Failed):
                if message.slot_ends:
                    # a rank raised: Ray Train is tearing this slot down, so it takes no
                    # new lease (a retried trial would only meet the dead group). Only
                    # then: a slot marked dead whose fit() goes on is never started again
                    # and never leased, and every later trial waits for it (seen in a
                    # kill-loop run).
                    self._slots[index].state = "dead"
                self._end_lease(lease, message)
                self._changed.notify_all()  # a slot that goes on is free for the next
            else:
                lease.first = None  # it trains here now: a slot ending fails the trial
                lease.inbox.put_nowait(message)

    # ---- introspection ----------------------------------------------------------------
    async def slots(self) -> list[SlotInfo]:
        return [
            SlotInfo(
                index=s.index,
                incarnation=s.incarnation,
                state="leased" if s.lease is not None else s.state,
                served=s.served,
                trials=list(s.trials),
            )
            for s in self._slots
        ]


def _describe(exc: BaseException) -> str:
    """A slot's end as text for the trial it was serving (`fit_slot` has already turned Ray
    Train's error into the worker's own message); the rank's own traceback, when a rank
    raised, reached the trial first."""
    return "".join(traceback.format_exception_only(exc)).strip()


def start_pool(
    space: Space, run_dir: Path, *, slots: int, storage_dir: Path, stagger: bool = False
) -> Any:
    """Create the pool actor on this (the driver's) node and start its slots' Train runs
    (with `stagger`, the first one alone, then the others: `ExecutorPool._spawn_rest`).

    Returns the actor handle at once (a named actor's name is taken by `.remote()`, so
    trials find it by name even before its process is up): its process start (~3 s here)
    and its slots' start-up overlap Tune's set-up in the driver. A trial's first command
    waits for a slot; a pool that cannot start fails the trials with its error."""
    actor_cls: Any = ray.remote(ExecutorPool)
    pool = actor_cls.options(
        name=pool_name(run_dir),
        num_cpus=0,
        max_concurrency=1000,  # every rank and trial waits in it at once
        # On the driver's node, never elsewhere (it holds nothing, so it always fits): a
        # soft affinity once placed it on a worker node, and removing that node took every
        # slot and trial with it (seen in CI, fake multi-node cluster).
        scheduling_strategy=NodeAffinitySchedulingStrategy(
            node_id=ray.get_runtime_context().get_node_id(), soft=False
        ),
    ).remote(space=space, slots=slots, storage_dir=str(storage_dir), stagger=stagger)
    pool.start.remote()
    return pool


__all__ = ["ExecutorPool", "pool_name", "start_pool"]
