"""The budget ledger of a search: time used so far, kept in `<run>/budget.json`.

A space's `budget:` (`wall_clock`, `trial_hours`, `gpu_hours`, any subset) limits a search
across all its parts: the ledger lives in the run directory, so `--resume` and a SLURM
requeue continue it where it stopped (Ray's own stoppers count from each restart). It
counts

- `wall_s`: the time the tuner ran (summed over the parts of the run);
- per trial, the seconds it was running (from its start to its end, summed over restarts);
  a trial's GPU time is that times the GPUs of one trial; a trial a resume discards (it
  started after Tune's last saved state) leaves its seconds in `discarded_s`.

Time is added on every tick of the tuner (`tick`), and saved every few seconds, so a
driver killed without warning loses at most that much accounting.

`refusal()` is the admission rule: a new trial is refused when the projected use would
exceed a limit, i.e. what is used, plus what the running trials are expected to use still,
plus one more trial of the expected length (the mean of the finished trials, or, before any
has finished, the mean time per epoch so far times `max_epochs`). `exhausted()` says when a
limit is reached outright; running trials then stop at their next ASHA rung (or run to their
end without rungs). Pure: no Ray import; the Tune pieces are in `raytrain.tune.budget`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raytrain.layout import SearchRunLayout
from raytrain.space.types import BudgetSettings

SAVE_EVERY_S = 5.0
HOUR = 3600.0


@dataclass
class TrialUse:
    seconds: float = 0.0
    # progress: epochs, or steps / samples when the run reports inside epochs (the unit
    # of raytrain.tune.budget.TimeLimits)
    epochs: float = 0
    done: bool = False


@dataclass
class Ledger:
    wall_s: float = 0.0
    trials: dict[str, TrialUse] = field(default_factory=dict)
    stopped: str | None = None  # why admission stopped (the first time it did)
    # seconds of trials a resume discarded (started after Tune's last saved state, before
    # the driver died): used, so still counted, but no longer a trial of the run
    discarded_s: float = 0.0
    # in memory only: what is running now and when time was last added
    running: set[str] = field(default_factory=set)
    last_tick: float | None = None

    # ------------------------------------------------------------ accounting
    def tick(self, now: float) -> None:
        """Add the time since the last tick to the wall clock and every running trial."""
        if self.last_tick is not None and now > self.last_tick:
            dt = now - self.last_tick
            self.wall_s += dt
            for trial_id in self.running:
                self.trials.setdefault(trial_id, TrialUse()).seconds += dt
        self.last_tick = now

    def trial_started(self, trial_id: str, now: float) -> None:
        self.tick(now)
        self.running.add(trial_id)
        self.trials.setdefault(trial_id, TrialUse()).done = False

    def trial_result(self, trial_id: str, epoch: float, now: float) -> None:
        self.tick(now)
        use = self.trials.setdefault(trial_id, TrialUse())
        use.epochs = max(use.epochs, epoch)

    def trial_ended(self, trial_id: str, now: float) -> None:
        self.tick(now)
        self.running.discard(trial_id)
        self.trials.setdefault(trial_id, TrialUse()).done = True

    def discard(self, trial_id: str) -> None:
        """A trial the resumed search will never run again (`raytrain.tune.budget`): its
        seconds move to `discarded_s`, its entry goes (as its row in trials.csv does)."""
        use = self.trials.pop(trial_id, None)
        self.running.discard(trial_id)
        if use is not None:
            self.discarded_s += use.seconds

    def pause(self) -> None:
        """The tuner stops: nothing runs until the next part starts ticking."""
        self.running.clear()
        self.last_tick = None

    # ------------------------------------------------------------ projection
    @property
    def trial_s(self) -> float:
        return sum(use.seconds for use in self.trials.values()) + self.discarded_s

    def expected_trial_s(self, max_epochs: int) -> float | None:
        """The expected length of one trial: the mean of the finished trials, or before
        any has finished the mean time per epoch so far times `max_epochs`."""
        done = [u.seconds for u in self.trials.values() if u.done]
        if done:
            return sum(done) / len(done)
        per_epoch = [u.seconds / u.epochs for u in self.trials.values() if u.epochs > 0]
        if per_epoch:
            return sum(per_epoch) / len(per_epoch) * max_epochs
        return None

    def still_running_s(self, expected: float | None) -> float:
        """What the running trials are expected to use still."""
        if expected is None:
            return 0.0
        return sum(max(0.0, expected - self.trials[t].seconds) for t in self.running)

    def refusal(self, budget: BudgetSettings, gpus_per_trial: float, max_epochs: int) -> str | None:
        """Why a new trial may not start (None: it may)."""
        reached = self.exhausted(budget, gpus_per_trial)
        if reached:
            return reached
        expected = self.expected_trial_s(max_epochs)
        if expected is None:
            return None
        if budget.wall_clock is not None and self.wall_s + expected > budget.wall_clock * HOUR:
            return (
                f"wall_clock: {_h(self.wall_s)} used of {_h(budget.wall_clock * HOUR)}, "
                f"and a new trial takes ~{_h(expected)}"
            )
        projected = self.trial_s + self.still_running_s(expected) + expected
        for key, limit, scale in self._limits(budget, gpus_per_trial):
            if key != "wall_clock" and projected * scale > limit * HOUR:
                return (
                    f"{key}: {_h(self.trial_s * scale)} used of {_h(limit * HOUR)}, "
                    f"~{_h(self.still_running_s(expected) * scale)} still to come from the "
                    f"running trials, and a new trial takes ~{_h(expected * scale)}"
                )
        return None

    def exhausted(self, budget: BudgetSettings, gpus_per_trial: float) -> str | None:
        """The limit already used up, if one is."""
        for key, limit, scale in self._limits(budget, gpus_per_trial):
            used = self.wall_s if key == "wall_clock" else self.trial_s * scale
            if used >= limit * HOUR:
                return f"{key}: {_h(used)} used of {_h(limit * HOUR)}"
        return None

    @staticmethod
    def _limits(budget: BudgetSettings, gpus_per_trial: float) -> list[tuple[str, float, float]]:
        """(key, limit in hours, scale from trial seconds) of every limit set."""
        out = []
        if budget.wall_clock is not None:
            out.append(("wall_clock", budget.wall_clock, 1.0))
        if budget.trial_hours is not None:
            out.append(("trial_hours", budget.trial_hours, 1.0))
        if budget.gpu_hours is not None:
            out.append(("gpu_hours", budget.gpu_hours, gpus_per_trial))
        return out

    def usage(self, budget: BudgetSettings, gpus_per_trial: float) -> list[str]:
        """`trial_hours 1.2 h of 4 h (2.8 h left)` for every limit set."""
        out = []
        for key, limit, scale in self._limits(budget, gpus_per_trial):
            used = self.wall_s if key == "wall_clock" else self.trial_s * scale
            left = max(0.0, limit * HOUR - used)
            out.append(f"{key} {_h(used)} of {_h(limit * HOUR)} ({_h(left)} left)")
        return out

    # ------------------------------------------------------------ file
    def to_json(self) -> dict[str, Any]:
        trials = {
            tid: {"seconds": round(u.seconds, 3), "epochs": u.epochs, "done": u.done}
            for tid, u in sorted(self.trials.items())
        }
        discarded = round(self.discarded_s, 3)
        return {
            "wall_s": round(self.wall_s, 3),
            # the sum of the rounded seconds, so the file adds up (rounding the exact sum
            # differed from it by 1 ms with 3 trials; seen in CI)
            "trial_s": round(sum(u["seconds"] for u in trials.values()) + discarded, 3),
            "discarded_s": discarded,
            "stopped": self.stopped,
            "trials": trials,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ledger:
        trials = {
            str(tid): TrialUse(
                seconds=float(u.get("seconds", 0.0)),
                epochs=float(u.get("epochs", 0)),
                done=bool(u.get("done", False)),
            )
            for tid, u in (data.get("trials") or {}).items()
        }
        return cls(
            wall_s=float(data.get("wall_s", 0.0)),
            trials=trials,
            stopped=data.get("stopped"),
            discarded_s=float(data.get("discarded_s", 0.0)),
        )


def _h(seconds: float) -> str:
    """Hours for people: `0.42 h`, `12.5 h`; under 0.1 h in minutes."""
    if seconds < 0.1 * HOUR:
        return f"{seconds / 60:.1f} min"
    hours = seconds / HOUR
    return f"{hours:.2f} h" if hours < 10 else f"{hours:.1f} h"


def read_ledger(run_dir: Path) -> Ledger:
    path = SearchRunLayout(Path(run_dir)).budget_json
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return Ledger()
    return Ledger.from_json(data) if isinstance(data, dict) else Ledger()


def write_ledger(run_dir: Path, ledger: Ledger) -> None:
    path = SearchRunLayout(Path(run_dir)).budget_json
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(ledger.to_json(), indent=2) + "\n")
    os.replace(tmp, path)


class RunLedger:
    """The ledger of one run in this process, saved every `SAVE_EVERY_S` seconds.

    The tuner's callback, searcher gate and stopper are pickled into Tune's state and come
    back as new objects on resume; they share the ledger through `ledger_for(run_dir)`.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.ledger = read_ledger(self.run_dir)
        self._saved = 0.0

    def save(self, now: float, force: bool = False) -> None:
        if force or now - self._saved >= SAVE_EVERY_S:
            self._saved = now
            write_ledger(self.run_dir, self.ledger)


_OPEN: dict[Path, RunLedger] = {}


def ledger_for(run_dir: Path) -> RunLedger:
    key = Path(run_dir).resolve()
    if key not in _OPEN:
        _OPEN[key] = RunLedger(key)
    return _OPEN[key]


def forget(run_dir: Path) -> None:
    """Drop this process's copy (the next `ledger_for` reads the file again)."""
    _OPEN.pop(Path(run_dir).resolve(), None)
