"""The Tune side of the warm executor: a thin, reusable trial that drives a leased slot.

`WarmTrial` imports neither torch nor Lightning and holds no CPU (`TRIAL_BUNDLE`): Tune
starts and caches these actors (`reuse_actors=True`), and everything expensive lives in the
pool's slots. Each `step()` trains exactly one validated epoch on the slot and returns its
metrics, so the scheduler's answer (continue / stop) arrives before the next epoch starts:
a trial ASHA stops at a rung trains no epoch past it. Checkpoints are Tune's own
(`save_checkpoint` / `load_checkpoint`), kept and pruned by `tune.CheckpointConfig` under
`trials/<id>/checkpoint_*/`, and restored trials (retry, `--resume`) continue from them.

Tune deletes a superseded checkpoint when it registers the next one and records that in its
experiment state a moment later (`TuneController.step` -> `checkpoint()`, then a background
sync); a driver killed in between leaves a state that names the deleted one, and Tune's own
restore then fails every retry ("does not exist on storage anymore"; seen in 1 of 4 CI runs
of the kill-loop test, whose third kill comes right after a trial ended). `WarmTrial.restore`
then takes the trial's newest checkpoint (its `raytrain_result.json` holds the result and
iteration it was saved with). When that one is final, the trial reports that final result
again (marked `REPLAYED`) and ends, training nothing; otherwise it trains on from it. Tune's
bookkeeping in the driver is one checkpoint behind, so the trial's next save goes into that
same `checkpoint_N` folder (Tune numbers folders from its own count), replacing the files
the trial was restored from with newer ones; the deleted one is left as an empty folder for
Tune's pruning to delete.

`ExecutorPoolCallback` tells the pool in the driver when Tune ends a trial, so its slot is
free at once even when Tune keeps the trial's actor cached for a later trial.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray
from pyarrow import fs as pafs
from ray import tune
from ray.tune.result import TRAINING_ITERATION

from raytrain.executor.pool import pool_name
from raytrain.executor.protocol import REPLAYED, Advance, EpochDone, Failed, Save, Saved, Start
from raytrain.layout import CHECKPOINT_NAME, CHECKPOINT_RESULT_NAME
from raytrain.tune.relocation import relocating
from raytrain.tune.resources import trial_bundle

if TYPE_CHECKING:
    from ray.train import Checkpoint
    from ray.tune.experiment import Trial


log = logging.getLogger(__name__)

_TUNE_CHECKPOINT = re.compile(r"checkpoint_(\d+)$")  # Tune's `checkpoint_000004` folders


class TrialFailed(RuntimeError):
    """A trial's epoch failed on its slot; the text is the failing rank's traceback."""


class WarmTrial(tune.Trainable):
    def setup(self, config: dict[str, Any], pool_name: str = "") -> None:
        self._pool: Any = ray.get_actor(pool_name)
        self._lease: str | None = None
        self._lease_slot(config)

    def _lease_slot(self, config: dict[str, Any]) -> None:
        self._params = dict(config)
        self._started = False
        self._resume: list[Any] | None = None
        self._reported: dict[str, Any] = {}  # the last step's result, saved with a checkpoint
        self._final: dict[str, Any] | None = None  # restored from the final checkpoint
        self._lease = ray.get(self._pool.lease.remote(self.trial_id))

    def _send(self, command: Any) -> Any:
        reply: Any = ray.get(self._pool.send.remote(self._lease, command))
        if isinstance(reply, Failed):
            raise TrialFailed(reply.text)
        return reply

    def step(self) -> dict[str, Any]:
        assert self._lease is not None
        if self._final is not None:  # its training had ended: report that end again
            return {
                **self._final,
                TRAINING_ITERATION: self.iteration,  # the end's own, not one more
                REPLAYED: True,
                "should_checkpoint": False,
                "done": True,
            }
        if self._started:
            command: Any = Advance(self._lease)
        else:
            command = Start(self._lease, self.trial_id, self._params, self._resume)
            self._started = True
        done: EpochDone = self._send(command)
        self._reported = {"metrics": done.metrics, "done": done.is_last}
        return {**done.metrics, "should_checkpoint": done.wants_checkpoint, "done": done.is_last}

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        assert self._lease is not None
        if self._final is not None and not self._started:
            # A replayed end: no slot holds this trial, so the checkpoint Tune asks for
            # (`checkpoint_at_end`, Tune's default for class trainables) is the final one it
            # was restored from. Asking a slot would find no fit there (seen in a kill-loop
            # run: the trial failed and the search hung).
            assert self._resume is not None
            Path(checkpoint_dir, CHECKPOINT_NAME).write_bytes(ray.get(self._resume[0]))
            self._reported = {"metrics": self._final, "done": True}
        else:
            node = ray.get_runtime_context().get_node_id()
            saved: Saved = self._send(Save(self._lease, checkpoint_dir, node))
            if not saved.written:
                assert saved.data is not None
                Path(checkpoint_dir, CHECKPOINT_NAME).write_bytes(ray.get(saved.data[0]))
        result = {**self._reported, TRAINING_ITERATION: self.iteration}
        Path(checkpoint_dir, CHECKPOINT_RESULT_NAME).write_text(json.dumps(result, default=str))

    def restore(self, checkpoint_path: Any) -> None:
        """Tune's restore, from the trial's newest checkpoint when the one Tune's state
        names was deleted after that one was saved (see the module docstring)."""
        checkpoint: Any = getattr(checkpoint_path, "checkpoint", None)
        newer = _newer_checkpoint(checkpoint) if checkpoint is not None else None
        saved = _saved_result(newer) if newer is not None else {}
        if newer is not None and TRAINING_ITERATION in saved:
            log.warning(
                "trial %s: checkpoint %s is gone (the driver was killed as Tune replaced "
                "it); %s at %s",
                self.trial_id,
                checkpoint.path,
                "the trial had ended" if saved.get("done") else "it goes on from",
                newer.path,
            )
            # Tune prunes the one it names when it registers the next: leave it an empty
            # folder to delete, else `_delete_fs_path` raises, Tune logs an ERROR traceback
            # and skips its own index update (seen by hand). Empty, it still counts as gone.
            with contextlib.suppress(OSError):
                checkpoint.filesystem.create_dir(checkpoint.path.rstrip("/"))
            checkpoint_path.checkpoint = newer
            checkpoint_path.metrics = {
                **checkpoint_path.metrics,
                TRAINING_ITERATION: saved.get(
                    TRAINING_ITERATION, checkpoint_path.metrics.get(TRAINING_ITERATION, 0)
                ),
            }
        super().restore(checkpoint_path)

    def load_checkpoint(self, checkpoint: Any) -> None:
        # Tune may delete a downloaded copy once this returns; the fit starts at step().
        data = Path(str(checkpoint), CHECKPOINT_NAME).read_bytes()
        self._resume = [ray.put(data)]
        saved = _saved_result(tune.Checkpoint.from_directory(str(checkpoint)))
        self._final = dict(saved.get("metrics") or {}) if saved.get("done") else None

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        self._release()
        self._lease_slot(new_config)
        return True

    def cleanup(self) -> None:
        self._release()

    def _release(self) -> None:
        if self._lease is not None:
            ray.get(self._pool.release.remote(self._lease))
            self._lease = None


def _newer_checkpoint(checkpoint: tune.Checkpoint) -> tune.Checkpoint | None:
    """The trial's newest checkpoint when `checkpoint` is gone (no Lightning file in it:
    deleted, or the empty folder `restore` leaves) and a later one exists."""
    filesystem: Any = checkpoint.filesystem
    path = checkpoint.path.rstrip("/")
    if filesystem.get_file_info(f"{path}/{CHECKPOINT_NAME}").type != pafs.FileType.NotFound:
        return None
    gone = _TUNE_CHECKPOINT.search(path)
    parent = path.rsplit("/", 1)[0]
    if gone is None or filesystem.get_file_info(parent).type != pafs.FileType.Directory:
        return None
    later = []
    for info in filesystem.get_file_info(pafs.FileSelector(parent)):
        found = _TUNE_CHECKPOINT.search(info.path.rstrip("/"))
        if info.type == pafs.FileType.Directory and found and int(found[1]) > int(gone[1]):
            later.append((int(found[1]), info.path))
    if not later:
        return None
    return tune.Checkpoint(max(later)[1], filesystem=filesystem)


def _saved_result(checkpoint: Checkpoint) -> dict[str, Any]:
    """The result saved with `checkpoint`, read in place (no download of the weights)."""
    path = f"{checkpoint.path.rstrip('/')}/{CHECKPOINT_RESULT_NAME}"
    filesystem: Any = checkpoint.filesystem
    try:
        with filesystem.open_input_stream(path) as stream:
            parsed = json.loads(stream.read())
    except (OSError, ValueError):  # saved before the file existed, or cut short
        return {}
    return parsed if isinstance(parsed, dict) else {}


def make_warm_trainable(pool: str, *, on_head: bool = False) -> Any:
    """The Tune trainable of a warm search: `WarmTrial` bound to the pool named `pool`
    (`on_head`: its actors run on the head node, `raytrain.tune.resources.ON_HEAD`)."""
    return tune.with_resources(
        tune.with_parameters(WarmTrial, pool_name=pool), trial_bundle(on_head)
    )


class ExecutorPoolCallback(tune.Callback):
    """Driver-side: free a trial's slot as soon as Tune ends the trial."""

    def __init__(self, pool: str) -> None:
        self.pool = pool

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        target = relocating()  # a resumed run that moved: its pool is named after its new path
        if target is not None:
            self.pool = pool_name(target)

    def _release(self, trial: Trial) -> None:
        with contextlib.suppress(ValueError):  # the pool is gone (search shutting down)
            ray.get_actor(self.pool).release_trial.remote(trial.trial_id, time.time())

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._release(trial)

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._release(trial)

    def on_trial_recover(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._release(trial)
