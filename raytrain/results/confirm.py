"""Robust finalists: the statistics of a search's confirmation trials (`confirm:`).

After the search, the `top_k` trials by their single best value (the finalists) are re-run
with `seeds` new seeds each (`raytrain.space.confirm`). A finalist's statistic is taken
over those new runs only: the original run is left out because it was chosen for scoring
well (its value is biased upwards: the winner's curse), so counting it would favour the
lucky run the confirmation is there to see through. Each run's value is its best
`metric` over its epochs, the same value that ranks the search.

`pick: mean` ranks finalists by the mean; `pick: lcb` by a pessimistic bound, one sample
standard deviation towards worse (mean - std for mode max, mean + std for mode min), which
prefers a config that is good on every seed over one that is great on some.

Pure functions of `TrialRecord`s: the run writer (trials.csv columns), `status`, `analyze`,
export and the searcher's confirmation plan all use them.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from raytrain.results._records import Run, TrialRecord, best_of, is_finite, sort_key
from raytrain.results.format import fmt_value
from raytrain.space.confirm import confirmation_seeds

PICKS = ("mean", "lcb")


def score(mean: float, std: float | None, mode: str, pick: str) -> float | None:
    """The ranking statistic: the mean, or the mean one std towards worse (`lcb`); None
    when `lcb` has no std (fewer than two values)."""
    if pick not in PICKS:
        raise ValueError(f"pick must be one of {PICKS}, not {pick!r}")
    if pick == "mean":
        return mean
    if std is None:
        return None
    return mean - std if mode == "max" else mean + std


@dataclass(frozen=True)
class Finalist:
    """One confirmed finalist: its original trial and the statistic over its re-runs."""

    trial: TrialRecord  # the original (searched) trial
    runs: tuple[TrialRecord, ...]  # its confirmation trials with a finite value, by seed
    pending: int  # its confirmation trials not finished yet
    rank_single: int  # rank of the original's single best value among the searched trials
    mean: float | None
    std: float | None  # sample std (n - 1); None below two values
    score: float | None  # `pick`'s statistic (see `score`)
    rank_confirmed: int | None = None  # rank by `score` among the finalists (1 = chosen)

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def values(self) -> list[float]:
        return [float(r.best_value) for r in self.runs if r.best_value is not None]

    @property
    def seeds(self) -> list[int]:
        return [int(r.seed) for r in self.runs if r.seed is not None]


def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else None)


def finalists(records: Sequence[TrialRecord], mode: str, pick: str) -> list[Finalist]:
    """Every trial that has confirmation trials, best statistic first (finalists without a
    statistic yet last, by their single rank)."""
    by_single = {t.trial_id: i for i, t in enumerate(best_of(records, mode, len(records)), 1)}
    runs: dict[str, list[TrialRecord]] = {}
    for t in records:
        if t.confirms is not None:
            runs.setdefault(t.confirms, []).append(t)
    originals = {t.trial_id: t for t in records if t.confirms is None}
    out = []
    for of, group in runs.items():
        original = originals.get(of)
        if original is None or of not in by_single:
            continue
        done = sorted(
            (r for r in group if r.finished and is_finite(r.best_value)),
            key=lambda r: (r.seed if r.seed is not None else 0, r.trial_id),
        )
        mean, std = mean_std([float(r.best_value) for r in done if r.best_value is not None])
        out.append(
            Finalist(
                trial=original,
                runs=tuple(done),
                pending=sum(1 for r in group if not r.finished),
                rank_single=by_single[of],
                mean=mean,
                std=std,
                score=None if mean is None else score(mean, std, mode, pick),
            )
        )
    out.sort(key=lambda f: (sort_key(f.score, mode), f.rank_single))
    return [
        dataclasses.replace(f, rank_confirmed=i if f.score is not None else None)
        for i, f in enumerate(out, start=1)
    ]


def chosen(records: Sequence[TrialRecord], mode: str, pick: str) -> Finalist | None:
    """The finalist `best.yaml` is: the best statistic, once every finalist's
    confirmation trials have finished (None before, or without confirmation trials)."""
    ranked = finalists(records, mode, pick)
    if not ranked or any(f.pending for f in ranked) or ranked[0].score is None:
        return None
    return ranked[0]


def plan(
    records: Sequence[TrialRecord], mode: str, top_k: int, seeds: int, base_seed: int | None
) -> list[tuple[str, int]]:
    """The confirmation trials of a search, as (finalist trial id, seed), finalist by
    finalist: the `top_k` searched trials by their single best value, each with the same
    `seeds` new seeds."""
    new = confirmation_seeds(base_seed, seeds)
    return [(t.trial_id, s) for t in best_of(records, mode, top_k) for s in new]


def missing(
    records: Sequence[TrialRecord], mode: str, top_k: int, seeds: int, base_seed: int | None
) -> int:
    """Planned confirmation trials (`plan`) that have not ended yet."""
    ended = {(t.confirms, t.seed) for t in records if t.confirms is not None and t.finished}
    return sum(1 for pair in plan(records, mode, top_k, seeds, base_seed) if pair not in ended)


def export_order(records: Sequence[TrialRecord], mode: str, pick: str) -> list[TrialRecord]:
    """Searched trials best first for export: confirmed finalists by their statistic
    (once all are confirmed), then the rest by their single best value."""
    best = chosen(records, mode, pick)
    if best is None:
        return best_of(records, mode, len(records))
    confirmed = [f.trial for f in finalists(records, mode, pick) if f.score is not None]
    ids = {t.trial_id for t in confirmed}
    return confirmed + [t for t in best_of(records, mode, len(records)) if t.trial_id not in ids]


def fmt_stat(f: Finalist) -> str:
    """`0.9512 ± 0.0042 (n=3)`; `-` before any re-run has finished."""
    if f.mean is None:
        return "-"
    std = f"{f.std:.4g}" if f.std is not None and math.isfinite(f.std) else "-"
    return f"{f.mean:.4g} ± {std} (n={f.n})"


def provenance(f: Finalist, pick: str, metric: str, mode: str) -> dict[str, object]:
    """The `provenance.confirm` block of an exported finalist."""
    return {
        "pick": pick,
        "statistic": f.score,
        "metric": metric,
        "mode": mode,
        "mean": f.mean,
        "std": f.std,
        "n": f.n,
        "seeds": f.seeds,
        "values": f.values,
        "trials": [r.trial_id for r in f.runs],
        "original_value": f.trial.best_value,
        "original_seed_counted": False,
        "rank_single": f.rank_single,
        "rank_confirmed": f.rank_confirmed,
    }


def rank_change(f: Finalist) -> str:
    """`2 -> 1`: the finalist's rank by its single run, then by the statistic."""
    after = "-" if f.rank_confirmed is None else str(f.rank_confirmed)
    return f"{f.rank_single} -> {after}"


def render_finalists(run: Run) -> str:
    """Plain-text finalists (printed when a search with `confirm:` ends, and by
    `status`); empty for a run without confirmation trials."""
    ranked = finalists(run.trials, run.mode, run.confirm_pick)
    if not ranked:
        return ""
    lines = [
        f"confirmed finalists by {run.confirm_pick} of {run.metric} over new seeds "
        "(rank: single run -> statistic):"
    ]
    for f in ranked:
        left = f", {f.pending} to run" if f.pending else ""
        lines.append(
            f"  {rank_change(f):>7}  {f.trial.trial_id}  {fmt_stat(f)}  seeds {f.seeds}{left}"
            f"  (single run {fmt_value(f.trial.best_value)})"
        )
    return "\n".join(lines)
