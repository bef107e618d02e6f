"""Where everything of a run lives: the one owner of every run-directory file name.

Two kinds of run directory, each answered by one frozen layout object (after submitit's
`JobPaths`: ask it "where is X", never join a file name yourself):

`raytrain tune` -> `SearchRunLayout`      `raytrain train` -> `TrainRunLayout`
  space.yaml         resolved space         config.yaml       resolved train config
  optuna.journal     the Optuna study       state.json        RUNNING | TERMINATED | ERROR
  trials.csv         one row per trial      metrics.csv       one row per epoch
  best.yaml          exported best config   events.out.tfevents.*  TensorBoard scalars
  warm_start.json    --warm-from sources
  budget.json        time used (the ledger)
  plots/             `raytrain analyze`     plots/            `raytrain analyze`
  trials/            Tune's experiment dir  error.txt         full error of a failed run
    _meta.json       metric, mode, params   best.ckpt, best-<metric>.ckpt, last.ckpt
    <trial_id>/      one `TrialLayout`      ray/              Ray Train's own folder
      checkpoint_*/checkpoint.ckpt  Tune's checkpoints of the trial (Lightning files)
  driver.lock        who drives the run now (`raytrain.runlock`), in both kinds of run
  _sync.json         in a bucket only: the last upload round of its driver (`raytrain.storage`)
  ../_slurm/<name>/  `SlurmJobLayout`: job.sbatch (train.sbatch with --then-train) and
                     slurm-<job id>.out, outside the run dir, which the tuner must
                     create itself

A trial folder and a train run hold the same per-epoch files (`EpochFiles`), so the same
writer and reader serve both. Pure paths and small checks; no ray/torch/optuna import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import yaml

from raytrain.errors import InputError, Problem

SEARCH, TRAIN = "search", "train"
# The Lightning file inside every checkpoint folder (Tune's `checkpoint_*/` of a trial, Ray
# Train's of a train run); the same name on both paths, so `export`/`train` read either.
CHECKPOINT_NAME = "checkpoint.ckpt"
# Beside it in a warm trial's checkpoint: the result the trial reported when it was saved
# (raytrain.executor.trainable), so a trial restored from its final checkpoint ends there.
CHECKPOINT_RESULT_NAME = "raytrain_result.json"  # not Tune's per-trial `result.json`
# may change on --resume: the trial count, and the budget (the ledger keeps what was used)
RESUMABLE_KEYS = {
    ("search", "num_samples"),
    ("budget", "wall_clock"),
    ("budget", "trial_hours"),
    ("budget", "gpu_hours"),
    # `raytrain confirm` adds confirmation trials to a run (raytrain.tune.confirm)
    ("confirm", "top_k"),
    ("confirm", "seeds"),
    ("confirm", "pick"),
}
LOCK_NAME = "driver.lock"  # raytrain.runlock; its `.takeover` guard sits beside it
# In a bucket (raytrain.storage): written last in every upload round of a driver's mirror.
SYNC_MARKER = "_sync.json"
# In its local working copy: what was last uploaded or downloaded (never uploaded itself).
SYNC_STATE = ".raytrain-sync-state.json"


def _has_content(root: Path) -> bool:
    """Anything in `root` but the driver's own lock (taken before the new-run check) and
    the sync state of a working copy (written when its mirror starts)."""
    return root.exists() and any(
        not p.name.startswith(LOCK_NAME) and p.name != SYNC_STATE for p in root.iterdir()
    )


class Child:
    """A fixed name inside a layout: `space = Child("space.yaml")` reads as `<root>/space.yaml`
    (`under="trials_dir"`: inside that folder of the layout instead). Every run-directory file
    name is spelled once, in one of these lines."""

    def __init__(self, name: str, under: str | None = None) -> None:
        self.name, self.under = name, under

    @overload
    def __get__(self, obj: None, owner: type) -> Child: ...
    @overload
    def __get__(self, obj: object, owner: type) -> Path: ...
    def __get__(self, obj: object | None, owner: type) -> Child | Path:
        if obj is None:
            return self
        base: Path = getattr(obj, self.under or "root")
        return base / self.name


def safe_dirname(trial_id: str) -> str:
    """Trial ids from Tune are already safe; anything else is made so (no path tricks)."""
    name = re.sub(r"[^A-Za-z0-9_.=-]", "_", trial_id).lstrip(".")
    return name or "_"


@dataclass(frozen=True)
class EpochFiles:
    """The per-epoch files of one training: a search trial's folder or a train run dir."""

    root: Path

    metrics_csv = Child("metrics.csv")
    error_txt = Child("error.txt")

    @property
    def tensorboard_dir(self) -> Path:
        """Where the TensorBoard event files go (the folder is one TensorBoard run)."""
        return self.root


@dataclass(frozen=True)
class TrialLayout(EpochFiles):
    """`<run>/trials/<trial_id>/`: our records of one trial beside Ray Train's folders."""

    params_json = Child("params.json")
    checkpoints_csv = Child("checkpoints.csv")


@dataclass(frozen=True)
class SlurmJobLayout:
    """The folder of a `raytrain slurm` job: its batch script and SLURM's log."""

    root: Path

    script = Child("job.sbatch")
    train_script = Child("train.sbatch")  # the final run of `--then-train`

    def log(self, job_id: str) -> Path:
        """SLURM's output file of job `job_id` (`%j`: the pattern sbatch fills in)."""
        return self.root / f"slurm-{job_id}.out"


@dataclass(frozen=True)
class SearchRunLayout:
    """`<storage>/<name>/` of `raytrain tune` (see the module doc)."""

    root: Path
    kind = SEARCH
    TRIALS_DIRNAME = "trials"  # also Tune's experiment name (RunConfig.name)

    @classmethod
    def at(cls, storage: Path, name: str) -> SearchRunLayout:
        """The run `name` under `storage`, as an absolute path (Tune wants one)."""
        return cls((Path(storage) / name).resolve())

    space = Child("space.yaml")
    journal = Child("optuna.journal")
    trials_csv = Child("trials.csv")
    best_yaml = Child("best.yaml")
    pareto_dir = Child("pareto")  # export --pareto: one YAML per Pareto-front trial
    confirmed_dir = Child("confirmed")  # export --confirmed: one YAML per confirmed finalist
    warm_json = Child("warm_start.json")  # `tune --warm-from`: the earlier runs used
    budget_json = Child("budget.json")  # the budget ledger (raytrain.tune.ledger)
    lock = Child(LOCK_NAME)
    trials_dir = Child(TRIALS_DIRNAME)
    meta_json = Child("_meta.json", under="trials_dir")
    # Folders of trials a resumed run no longer knows (moved aside, not deleted).
    discarded_dir = Child("_discarded", under="trials_dir")
    # The last whole copy of Tune's experiment state (raytrain.tune.state_backup).
    state_backup_dir = Child("_state_backup", under="trials_dir")
    plots_dir = Child("plots")

    @property
    def slurm_job(self) -> SlurmJobLayout:
        return SlurmJobLayout(self.root.parent / "_slurm" / self.root.name)

    def trial(self, trial_id: str) -> TrialLayout:
        return TrialLayout(self.trials_dir / safe_dirname(trial_id))

    def markers(self) -> tuple[Path, ...]:
        """Any one of these makes a search run: space.yaml is written before the first
        trial, trials.csv and trials/ once the tuner runs (or in a partial copy)."""
        return (self.space, self.trials_csv, self.trials_dir)

    # ---------------------------------------------------------- new vs resume
    def check_new(self) -> None:
        """A new run never overwrites an existing directory."""
        if _has_content(self.root):
            raise InputError(
                Problem(
                    "name",
                    f"run directory {self.root} already exists. Continue it with --resume, "
                    "or pick another --name / --storage (nothing was overwritten).",
                )
            )

    def check_resume(self, space_dump: dict[str, Any]) -> dict[str, Any]:
        """The stored space dump; raise if the run is missing or its space changed (the
        Optuna study and Tune's state are tied to it; only the budget may change)."""
        if not self.space.is_file():
            raise InputError(
                Problem("--resume", f"no run to resume at {self.root} (no {self.space.name} there)")
            )
        old = yaml.safe_load(self.space.read_text()) or {}
        conflicts = resume_conflicts(old, space_dump)
        if conflicts:
            raise InputError(
                [
                    Problem(
                        key,
                        "differs from the run being resumed; only search.num_samples, confirm and "
                        "budget may change on --resume (start a new run with --name for a "
                        "different space)",
                        file=str(self.space),
                    )
                    for key in conflicts[:20]
                ]
            )
        return old

    def write_space(self, space_dump: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{self.space.name}.tmp"
        tmp.write_text(yaml.safe_dump(space_dump, sort_keys=False))
        tmp.replace(self.space)


@dataclass(frozen=True)
class TrainRunLayout(EpochFiles):
    """`<storage>/<name>/` of `raytrain train` (see the module doc)."""

    kind = TRAIN
    RAY_DIRNAME = "ray"  # Ray Train's run name (RunConfig.name) under the run dir

    config = Child("config.yaml")
    state_json = Child("state.json")
    lock = Child(LOCK_NAME)
    ray_dir = Child(RAY_DIRNAME)
    plots_dir = Child("plots")
    best_ckpt = Child("best.ckpt")
    last_ckpt = Child("last.ckpt")

    def best_ckpt_for(self, metric: str) -> Path:
        """The extra best checkpoint of `checkpoint.extra_metrics[metric]`."""
        return self.root / f"best-{metric.replace('/', '_')}.ckpt"

    def markers(self) -> tuple[Path, ...]:
        """config.yaml alone could be any project folder: with it, one of these."""
        return (self.state_json, self.metrics_csv, self.ray_dir)

    def check_new(self) -> None:
        if _has_content(self.root):
            raise InputError(
                Problem("--name", f"run dir {self.root} exists already; pick another name")
            )


RunLayout = SearchRunLayout | TrainRunLayout


def run_layout(path: Path) -> RunLayout | None:
    """The layout of the run at `path` (search runs first), or None when it is none.

    The one rule of "is this a run directory", for status, analyze, export, dashboard
    and `tune --resume` alike. A search run whose driver died before trials.csv existed
    (only space.yaml) or a copy of only its trials/ still counts.
    """
    path = Path(path)
    if not path.is_dir():
        return None
    search = SearchRunLayout(path)
    if any(p.exists() for p in search.markers()):
        return search
    train = TrainRunLayout(path)
    if train.config.is_file() and any(p.exists() for p in train.markers()):
        return train
    return None


def is_run_dir(path: Path) -> bool:
    return run_layout(path) is not None


def _flatten(d: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(d, dict):
        out: dict[tuple[str, ...], Any] = {}
        for k, v in d.items():
            out.update(_flatten(v, (*prefix, str(k))))
        return out
    return {prefix: d}


# Keys added to the dumped space after runs were stored without them, with the value a
# missing one means (a field whose default is null needs no entry: missing == null).
ADDED_KEYS: dict[tuple[str, ...], Any] = {
    ("scheduler", "time_attr"): "epochs",  # step fidelity (raytrain.space.fidelity)
    ("config", "trainer", "report_unit"): "steps",
}


def resume_conflicts(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two dumped spaces, except the budget."""
    a, b = _flatten(old), _flatten(new)
    keys = sorted(set(a) | set(b))
    return [
        ".".join(k)
        for k in keys
        if k not in RESUMABLE_KEYS and a.get(k, ADDED_KEYS.get(k)) != b.get(k, ADDED_KEYS.get(k))
    ]
