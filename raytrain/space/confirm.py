"""How a confirmation trial is told apart from a sampled one (`confirm:` of a space).

A confirmation trial re-runs a finished trial's parameters with a new `seed`. Its Tune
config is the original's parameters plus one reserved key, `CONFIRM_KEY: {of, seed}`:
the trial's train config takes the seed from it (`raytrain.space.materialize`), the run
writer keeps it in the `confirms` and `seed` columns of trials.csv, and the searcher chain
keeps such trials away from Optuna (`raytrain.tune.confirm`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CONFIRM_KEY = "_confirm"  # not a dotted config path: parameters never start with "_"


@dataclass(frozen=True)
class ConfirmTag:
    of: str  # the trial id whose parameters this trial re-runs
    seed: int

    def as_config(self) -> dict[str, Any]:
        return {"of": self.of, "seed": self.seed}


def split_confirm(config: Mapping[str, Any]) -> tuple[dict[str, Any], ConfirmTag | None]:
    """A trial's Tune config -> its parameters and, for a confirmation trial, its tag."""
    params = dict(config)
    raw = params.pop(CONFIRM_KEY, None)
    if not isinstance(raw, Mapping):
        return params, None
    return params, ConfirmTag(of=str(raw["of"]), seed=int(raw["seed"]))


def confirmation_seeds(base_seed: int | None, n: int) -> list[int]:
    """The new seeds of every finalist: the n seeds after the config's own. The same seeds
    for each finalist make the comparison paired (each seed's data split and init is
    shared by all finalists), and are the same again on resume."""
    base = base_seed or 0
    return [base + i for i in range(1, n + 1)]
