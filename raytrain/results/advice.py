"""Plain advice read off a run's records: one rule per function, each returning the
sentences it has to say (none when the data does not show the pattern).

Rules look only at what the data supports (bounds hit by the best trials, parameters with
no influence, values that never do well, failures, divergence, trials still improving),
and say what to change in the space file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from raytrain.results._records import Run, TrialRecord, is_finite
from raytrain.results.format import fmt_param
from raytrain.results.importance import Importance
from raytrain.results.specs import position
from raytrain.results.states import ERROR
from raytrain.space.types import CategoricalParam, Param

EDGE = 0.05  # within 5% of a range end (log-aware) counts as "at the bound"
LOW_IMPORTANCE = 0.03
DOMINANT = 0.8  # one parameter explains most: the others look small only by comparison
MIN_TRIALS_FOR_IMPORTANCE_ADVICE = 12


@dataclass(frozen=True)
class Facts:
    run: Run
    params: Mapping[str, Param]
    importance: Importance
    top_k: int


def _scored(run: Run) -> list[TrialRecord]:
    return [t for t in run.searched if is_finite(t.best_value)]


def no_trials(f: Facts) -> list[str]:
    if f.run.trials:
        return []
    return ["The run has no trials yet: start it with `raytrain tune` (or wait for it)."]


def failures(f: Facts) -> list[str]:
    failed = [t for t in f.run.trials if t.state == ERROR]
    finished = [t for t in f.run.trials if t.finished]
    if not failed:
        return []
    common, count = Counter(t.error or "unknown error" for t in failed).most_common(1)[0]
    where = f"see {f.run.files_of(failed[0].trial_id).error_txt}"
    if len(failed) == len(finished):
        return [
            f"All {len(failed)} finished trials failed; fix that first. Most common error "
            f"({count}x): {common} ({where}, or Ray Tune's error.txt in the trial folder)."
        ]
    if len(failed) / max(1, len(finished)) >= 0.2:
        return [
            f"{len(failed)} of {len(finished)} finished trials failed (most common: {common}); "
            f"check whether certain parameter values cause it ({where})."
        ]
    return []


def diverged(f: Facts) -> list[str]:
    bad = [
        t
        for t in f.run.trials
        if t.epochs > 0 and (not is_finite(t.value) or not is_finite(t.best_value))
    ]
    if not bad:
        return []
    out = f"{len(bad)} trial(s) reported a non-finite {f.run.metric} (training diverged)."
    for path, p in f.params.items():
        pos = [position(p, t.params.get(path)) for t in bad]
        if len(bad) >= 2 and all(x is not None and x >= 0.7 for x in pos):
            high = min(t.params[path] for t in bad)
            out += f" All had {path} >= {fmt_param(high)}: consider lowering its `high`."
    return [out]


def at_bounds(f: Facts) -> list[str]:
    best = f.run.best(1)
    if not best:
        return []
    top = f.run.best(max(3, min(f.top_k, 5)))
    out = []
    for path, p in f.params.items():
        value = best[0].params.get(path)
        pos = position(p, value)
        if pos is None or isinstance(p, CategoricalParam):
            continue
        for end, near in (("low", pos <= EDGE), ("high", pos >= 1 - EDGE)):
            if not near:
                continue
            same = sum(
                1
                for t in top
                if (x := position(p, t.params.get(path))) is not None
                and (x <= EDGE if end == "low" else x >= 1 - EDGE)
            )
            bound = p.low if end == "low" else p.high
            if end == "low" and bound == 0 and not p.log:
                out.append(
                    f"The best trial has {path} = {fmt_param(value)}, the lower bound 0 "
                    f"({same} of the top {len(top)} near it): the search prefers none of it; "
                    "consider fixing it at 0."
                )
                continue
            direction = "lower `low`" if end == "low" else "raise `high`"
            hint = ""
            if p.log:
                hint = f" (e.g. to {fmt_param(bound / 10 if end == 'low' else bound * 10)})"
            out.append(
                f"The best trial's {path} = {fmt_param(value)} sits at the {end} end of its "
                f"range [{fmt_param(p.low)}, {fmt_param(p.high)}] ({same} of the top "
                f"{len(top)} there too): "
                f"widen the range, {direction}{hint}."
            )
    return out


def unimportant(f: Facts) -> list[str]:
    imp = f.importance
    if imp.trials_used < MIN_TRIALS_FOR_IMPORTANCE_ADVICE or not imp.values:
        return []
    best = f.run.best(1)
    low = [p for p, share in imp.values.items() if share < LOW_IMPORTANCE]
    top_path, top_share = max(imp.values.items(), key=lambda kv: kv[1])
    if top_share >= DOMINANT and len(low) > 1:
        return [
            f"{top_path} dominates {f.run.metric} (importance {top_share:.2f}); next to it "
            f"{', '.join(low)} matter little: fixing some of them lets the search refine "
            f"{top_path}."
        ]
    out = []
    for path in low:
        value = best[0].params.get(path) if best else None
        at = f" (the best trial used {fmt_param(value)})" if value is not None else ""
        out.append(
            f"{path} barely matters for {f.run.metric} (importance {imp.values[path]:.2f}): "
            f"consider fixing it{at} to search the others harder."
        )
    return out


def losing_choices(f: Facts) -> list[str]:
    scored = _scored(f.run)
    if len(scored) < 10:
        return []
    top_n = max(3, len(scored) // 4)
    top_ids = {t.trial_id for t in f.run.best(top_n)}
    out = []
    for path, p in f.params.items():
        if not isinstance(p, CategoricalParam):
            continue
        for value in p.values:
            tried = [t for t in scored if t.params.get(path) == value]
            if len(tried) >= 3 and not any(t.trial_id in top_ids for t in tried):
                out.append(
                    f"{path} = {value} never reached the top {top_n} in {len(tried)} trials: "
                    "consider dropping it from `values`."
                )
    return out


def still_improving(f: Facts) -> list[str]:
    best = f.run.best(1)
    if not best:
        return []
    t = best[0]
    max_epochs = max(x.epochs for x in f.run.trials)
    rows = [r for r in t.metrics() if is_finite(r.get(f.run.metric))]
    if t.best_epoch != t.epochs or t.epochs < max(4, max_epochs) or len(rows) < 4:
        return []
    earlier = rows[int(len(rows) * 0.8) - 1][f.run.metric]
    last = rows[-1][f.run.metric]
    gain = abs(earlier - last) / max(abs(earlier), 1e-12)
    if gain < 0.01:
        return []
    return [
        f"The best trial was still improving at its last report "
        f"({f.run.time_attr.rstrip('s')} {t.epochs}; {gain:.0%} better over the last fifth): "
        "more epochs "
        "(config.trainer.max_epochs, scheduler.max_t) may pay off."
    ]


def few_trials(f: Facts) -> list[str]:
    n = len(_scored(f.run))
    if 0 < n < 10:
        return [
            f"Only {n} trials have a finite {f.run.metric}: treat this analysis as rough; "
            "more samples (search.num_samples) give firmer conclusions."
        ]
    return []


RULES: tuple[Callable[[Facts], list[str]], ...] = (
    no_trials,
    failures,
    diverged,
    at_bounds,
    unimportant,
    losing_choices,
    still_improving,
    few_trials,
)


def advise(facts: Facts) -> list[str]:
    return [line for rule in RULES for line in rule(facts)]
