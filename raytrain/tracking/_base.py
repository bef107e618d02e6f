"""What every tracker gets: the scope it logs under and the runs in it.

A tracker mirrors what the run directory records, from the same driver-side events: a
search's Tune callback (`raytrain.tune.tracking`) or `raytrain train`'s report handler
(`raytrain.trial.driver`). Nothing is logged from Ray workers, so warm and fresh executors
are covered alike, each trial is logged once (whatever its number of workers), and neither
credentials nor network access are needed on worker nodes.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ScopeKind = Literal["search", "train"]


@dataclass(frozen=True)
class Scope:
    """A search (runs = its trials, under one W&B group / MLflow parent run) or one
    `raytrain train` run (`reproduces`: the trial id its config was exported from)."""

    kind: ScopeKind
    name: str  # the search's (space's) name; a train run's config name or search name
    run_dir: Path
    metric: str
    mode: str
    group: str  # default W&B group / what links a train run to its search
    reproduces: str | None = None
    resume: bool = False  # `tune --resume`: carry on with the runs the search started


@dataclass(frozen=True)
class RunStart:
    """One tracked run: a trial (key = trial id) or the train run (key = run dir name)."""

    key: str
    params: Mapping[str, Any]  # sampled values by dotted path ({} for a train run)
    config: Mapping[str, Any]  # the resolved train config (train_config_to_dict)


@dataclass(frozen=True)
class RunEnd:
    key: str
    state: str  # TERMINATED | STOPPED | ERROR
    best_value: float | None
    best_epoch: int | None
    checkpoint: Path | None = None  # uploaded where the tracker is asked to (train runs)
    extra: Mapping[str, Any] = field(default_factory=dict)


class Tracker(abc.ABC):
    """One backend. `open` runs at once (so a bad URI fails the command before training);
    the rest runs on the tracking thread, in event order."""

    name = "tracker"

    def open(self, scope: Scope) -> None:  # noqa: B027 - optional hook, no-op by default
        """Connect and set the scope up (W&B group, MLflow experiment and parent run)."""

    @abc.abstractmethod
    def start(self, run: RunStart) -> None: ...

    @abc.abstractmethod
    def epoch(self, key: str, metrics: Mapping[str, float]) -> None: ...

    @abc.abstractmethod
    def end(self, run: RunEnd) -> None: ...

    def close(self, best_checkpoint: Path | None) -> None:  # noqa: B027 - optional hook
        """End of the scope; a search's best trial's checkpoint comes here."""


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"optimizer": {"lr": 0.1}} -> {"optimizer.lr": 0.1}; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{path}."))
        else:
            out[path] = value
    return out
