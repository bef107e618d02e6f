"""What every rank of a warm slot runs: serve trials one after another until told to stop.

The Ray Train entry point `serve_trials` loops `next trial -> prepare (cached) -> seed ->
build module + Lightning Trainer -> fit -> clean up`, reading the slot's command log in the
pool (`raytrain.executor.protocol`). The torch process group Ray Train set up stays for the
slot's whole life (Lightning's DDP strategy reuses an initialised group and does not destroy
it at teardown), so a DDP trial after the first one costs no rendezvous.

Isolation: a warm process must give what a fresh one gives. Each trial reseeds (inside
`fit`), builds a new model and Trainer, and afterwards the torch global state a trial may
change (threads, default dtype, deterministic algorithms, cuDNN and matmul flags, grad mode)
is put back and memory freed. The data module is cached per data config for the life of
the process (`raytrain.trial.loop.prepare`), as the fresh executor does within one trial:
a user data module must therefore not carry state from one `fit` to the next besides its
loaded data (dataloaders are built per fit and shuffled from the reseeded generator).
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import ray
import ray.train
import torch

from raytrain.executor.protocol import (
    Advance,
    Command,
    EpochDone,
    Failed,
    Reply,
    Save,
    Saved,
    Shutdown,
    Start,
    Stop,
)
from raytrain.layout import CHECKPOINT_NAME
from raytrain.space import trial_train_config
from raytrain.space.types import Space
from raytrain.trial.loop import fit, prepare, quiet_worker_logs


class SlotChannel:
    """This rank's view of the slot's command log in the pool."""

    def __init__(self, pool: Any, slot: int, incarnation: int, rank: int) -> None:
        self.pool, self.slot, self.incarnation, self.rank = pool, slot, incarnation, rank
        self._seq = 0
        self.shutdown = False

    def next(self) -> Command:
        command: Command = ray.get(
            self.pool.next_command.remote(self.slot, self.incarnation, self.rank, self._seq)
        )
        self._seq += 1
        if isinstance(command, Shutdown):
            self.shutdown = True
        return command

    def reply(self, lease: str, message: Reply) -> None:
        ray.get(self.pool.reply.remote(self.slot, self.incarnation, lease, message))


@dataclass
class TorchGlobals:
    """Process-wide torch settings a trial (or Lightning for it) may change."""

    threads: int
    dtype: torch.dtype
    deterministic: bool
    deterministic_warn_only: bool
    cudnn_benchmark: bool
    cudnn_deterministic: bool
    matmul_precision: str
    grad: bool
    cublas_workspace: str | None

    @classmethod
    def capture(cls) -> TorchGlobals:
        return cls(
            threads=torch.get_num_threads(),
            dtype=torch.get_default_dtype(),
            deterministic=torch.are_deterministic_algorithms_enabled(),
            deterministic_warn_only=torch.is_deterministic_algorithms_warn_only_enabled(),
            cudnn_benchmark=torch.backends.cudnn.benchmark,
            cudnn_deterministic=torch.backends.cudnn.deterministic,
            matmul_precision=torch.get_float32_matmul_precision(),
            grad=torch.is_grad_enabled(),
            cublas_workspace=os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        )

    def restore(self) -> None:
        torch.set_num_threads(self.threads)
        torch.set_default_dtype(self.dtype)
        torch.use_deterministic_algorithms(
            self.deterministic, warn_only=self.deterministic_warn_only
        )
        torch.backends.cudnn.benchmark = self.cudnn_benchmark
        torch.backends.cudnn.deterministic = self.cudnn_deterministic
        torch.set_float32_matmul_precision(self.matmul_precision)
        torch.set_grad_enabled(self.grad)
        if self.cublas_workspace is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        else:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = self.cublas_workspace


class PoolSink:
    """Report sink of a warm trial: rank 0 answers the trial, then every rank parks until
    the trial says how to go on (`Advance`, `Save`, `Stop`)."""

    def __init__(self, channel: SlotChannel, lease: str) -> None:
        self.channel, self.lease = channel, lease
        self.reported = False
        self.owing = False  # the trial sent Advance and waits for the next EpochDone

    def report(
        self, trainer: pl.Trainer, metrics: dict[str, Any], wants_checkpoint: bool, is_last: bool
    ) -> None:
        self.reported, self.owing = True, False
        if self.channel.rank == 0:
            self.channel.reply(self.lease, EpochDone(metrics, wants_checkpoint, is_last))
        while True:
            command = self.channel.next()
            if isinstance(command, Save):
                self._save(trainer, command)
            elif isinstance(command, Advance):
                self.owing = True
                return
            elif isinstance(command, (Stop, Shutdown)):
                trainer.should_stop = True  # Lightning ends the fit after this epoch
                return
            else:
                raise RuntimeError(f"slot got {command!r} while a trial was running")

    def _save(self, trainer: pl.Trainer, command: Save) -> None:
        """Rank 0 writes straight into the trial's checkpoint folder when the trial actor is
        on its node; otherwise the file's bytes travel through the object store."""
        direct = ray.get_runtime_context().get_node_id() == command.node_id
        folder = command.target_dir if direct else tempfile.mkdtemp(prefix="raytrain-ckpt-")
        try:
            # every rank calls it (a strategy may gather state); Lightning writes on rank 0
            trainer.save_checkpoint(os.path.join(folder, CHECKPOINT_NAME))
            if self.channel.rank != 0:
                return
            if direct:
                self.channel.reply(self.lease, Saved(written=True))
            else:
                data = Path(folder, CHECKPOINT_NAME).read_bytes()
                self.channel.reply(self.lease, Saved(written=False, data=[ray.put(data)]))
        finally:
            if not direct:
                shutil.rmtree(folder, ignore_errors=True)


def run_trial(command: Start, channel: SlotChannel, space: Space) -> None:
    cfg = trial_train_config(space, command.params)
    prepared = prepare(cfg)
    sink = PoolSink(channel, command.lease)
    if command.resume is None:
        fit(cfg, prepared, metrics_hint=space.watched_metrics, sink=sink)
    else:
        with tempfile.TemporaryDirectory(prefix="raytrain-resume-") as tmp:
            path = os.path.join(tmp, CHECKPOINT_NAME)
            Path(path).write_bytes(ray.get(command.resume[0]))
            fit(cfg, prepared, metrics_hint=space.watched_metrics, ckpt_path=path, sink=sink)
    _answer_an_ended_fit(sink, channel)
    if command.resume is not None and not sink.reported:
        # resumed from a checkpoint at its last epoch (one saved before `raytrain_result.json` was):
        # Lightning trains and reports nothing, and the trial would wait for an answer
        raise RuntimeError("the checkpoint it resumed from is at the end of its training")


def _answer_an_ended_fit(sink: PoolSink, channel: SlotChannel) -> None:
    """A fit that ended after the trial asked for another epoch, without reporting it
    (a callback stopped it after the last report said it would go on): the trial fails
    with that, instead of waiting for an answer forever; the slot serves the next."""
    if sink.owing and channel.rank == 0:
        channel.reply(
            sink.lease,
            Failed(
                "the trial's fit ended without reporting the epoch it was asked for "
                "(a callback stopped Lightning after the last report)",
                slot_ends=False,
            ),
        )


def serve_trials(loop_config: dict[str, Any]) -> None:
    """Ray Train entry point of a warm slot; `loop_config` = {pool, slot, incarnation, space}.

    An exception in a trial is sent to the trial (with its traceback) and then raised, so Ray
    Train tears the worker group down (a failed DDP peer cannot be trusted to be in step)
    and the pool starts the slot again."""
    quiet_worker_logs()
    channel = SlotChannel(
        loop_config["pool"],
        loop_config["slot"],
        loop_config["incarnation"],
        ray.train.get_context().get_world_rank(),
    )
    space: Space = loop_config["space"]
    clean = TorchGlobals.capture()
    while not channel.shutdown:
        command = channel.next()
        if isinstance(command, Start):
            try:
                run_trial(command, channel, space)
            except BaseException:
                text = traceback.format_exc()
                channel.reply(command.lease, Failed(text.strip(), rank=channel.rank))
                raise
            finally:
                clean.restore()
                gc.collect()
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
        elif isinstance(command, (Advance, Save)) and channel.rank == 0:
            # only a trial whose fit already ended sends these: answer, never hang it
            channel.reply(
                command.lease, Failed("the trial's fit has already ended", slot_ends=False)
            )
