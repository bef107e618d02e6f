"""The messages between a warm trial (Tune side), the pool and a slot's ranks (Train side).

Commands go into a slot's log, which every rank of the slot reads in order, so all ranks
of a DDP group do the same thing at the same point; replies come from rank 0 (or from the
rank that failed) and go to the lease's inbox, which the trial waits on. Plain dataclasses,
no Ray or torch: the trial actor imports this without either.

A lease is one trial on one slot: `Start` opens it, then the trial sends `Advance` (train
to the next validated epoch, replied to by `EpochDone`) and `Save` (write a checkpoint now,
replied to by `Saved`) until `Stop` ends it. Ranks park at every validated epoch until the
next command, so a trial the scheduler stops trains no further epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# In a result a restored trial reports again instead of training (its final one, when
# Tune's state was older than its checkpoints: raytrain.executor.trainable); the run's
# records and trackers have it already and skip it.
REPLAYED = "raytrain_replayed"


@dataclass(frozen=True)
class Start:
    lease: str
    trial_id: str
    params: dict[str, Any]
    # The Lightning file to resume from, as `[ObjectRef]` of its bytes (a list, so Ray does
    # not resolve it in transit); None: start from scratch.
    resume: list[Any] | None = None


@dataclass(frozen=True)
class Advance:
    lease: str


@dataclass(frozen=True)
class Save:
    lease: str
    target_dir: str  # the trial actor's checkpoint folder
    node_id: str  # the trial actor's node: rank 0 writes straight into target_dir there


@dataclass(frozen=True)
class Stop:
    lease: str


@dataclass(frozen=True)
class Shutdown:
    """The slot's TorchTrainer run ends (search over, or the slot is recycled)."""


Command = Start | Advance | Save | Stop | Shutdown


@dataclass(frozen=True)
class EpochDone:
    metrics: dict[str, Any]
    wants_checkpoint: bool  # the checkpoint policy asks for one at this epoch
    is_last: bool  # max_epochs reached or early stopping: the trial is done


@dataclass(frozen=True)
class Saved:
    written: bool  # True: the file is already in Save.target_dir
    data: list[Any] | None = None  # else [ObjectRef] of the file's bytes


@dataclass(frozen=True)
class Failed:
    text: str  # the failing rank's traceback, or the slot's end as Ray Train reported it
    rank: int | None = None
    # False: only the trial failed, the slot's ranks wait for the next trial (a command
    # that came after its fit had ended); True: the rank raised and the slot ends
    slot_ends: bool = True


Reply = EpochDone | Saved | Failed


@dataclass
class SlotInfo:
    """What the pool tells `raytrain` about a slot (for the plan line and tests)."""

    index: int
    incarnation: int
    state: str  # starting | ready | leased | dead
    served: int = 0
    trials: list[str] = field(default_factory=list)
