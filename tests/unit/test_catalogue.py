"""Contract suite: every sampler and scheduler in the catalogue is built and driven for a
small space, no cluster (Optuna's `SamplerTestCase`, Syne Tune's test_schedulers_api.py)."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

pytest.importorskip("ray.tune.search.optuna")

import optuna
from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

from raytrain.space import load_space
from raytrain.space.catalogue import SAMPLERS, SCHEDULERS, SamplerSpec, SchedulerSpec
from raytrain.space.types import SchedulerSettings, SearchSettings, Space
from raytrain.tune.schedulers import make_scheduler
from raytrain.tune.searchers import grid_size, journal_storage, make_sampler, make_searcher

# the GP sampler's fit takes > 1 s per suggestion here: Ray's define-by-run timing warns
pytestmark = pytest.mark.filterwarnings("ignore:Define-by-run function passed:UserWarning")

REPO = Path(__file__).resolve().parents[2]

# Finite (the grid sampler needs that) and conditional (momentum only for sgd).
SPACE_YAML = """
metric: val_loss
mode: min
config: {trainer: {max_epochs: 4}}
parameters:
  model.hidden: {type: int, low: 8, high: 32, step: 8}
  optimizer.lr: {type: float, low: 0.01, high: 0.04, step: 0.01}
  optimizer.name: {type: categorical, values: [adamw, sgd]}
  optimizer.momentum: {type: categorical, values: [0.0, 0.9], when: {optimizer.name: sgd}}
search: {sampler: SAMPLER, num_samples: 8, seed: 0, n_startup_trials: 2, population_size: 3}
scheduler: {type: SCHEDULER, max_t: 4, grace_period: 1, reduction_factor: 2}
"""


def small_space(tmp_path: Path, sampler: str = "tpe", scheduler: str = "asha") -> Space:
    path = tmp_path / "space.yaml"
    path.write_text(SPACE_YAML.replace("SAMPLER", sampler).replace("SCHEDULER", scheduler))
    return load_space(path)


def test_entries_are_keyed_by_their_names() -> None:
    assert all(name == spec.name for name, spec in SAMPLERS.items())
    assert all(name == spec.name for name, spec in SCHEDULERS.items())


@pytest.mark.parametrize("spec", SAMPLERS.values(), ids=list(SAMPLERS))
def test_sampler_settings_are_search_fields(spec: SamplerSpec) -> None:
    fields = {f.name for f in dataclasses.fields(SearchSettings)}
    assert set(spec.settings) <= fields and spec.description


@pytest.mark.parametrize("spec", SCHEDULERS.values(), ids=list(SCHEDULERS))
def test_scheduler_settings_are_scheduler_fields(spec: SchedulerSpec) -> None:
    fields = {f.name for f in dataclasses.fields(SchedulerSettings)}
    assert set(spec.settings) <= fields and spec.description


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_sampler_builds_pickles_and_drives_the_searcher_chain(tmp_path: Path, name: str) -> None:
    space = small_space(tmp_path, sampler=name)
    sampler = make_sampler(space)
    assert isinstance(sampler, optuna.samplers.BaseSampler)
    pickle.loads(pickle.dumps(sampler))  # Tune pickles the searcher, and the sampler in it

    searcher = make_searcher(space, tmp_path)
    assert grid_size(space) >= space.search.num_samples  # the grid has points for all
    for i in range(space.search.num_samples):
        config = searcher.suggest(f"t{i}")
        assert isinstance(config, dict), f"{name}: no suggestion for trial {i}"
        # the define-by-run space: a conditional parameter exists exactly when it applies
        assert ("optimizer.momentum" in config) == (config["optimizer.name"] == "sgd")
        assert config["model.hidden"] in (8, 16, 24, 32)
        assert round(config["optimizer.lr"] * 100) in (1, 2, 3, 4)
        searcher.on_trial_complete(f"t{i}", {"val_loss": float(i % 3), "epoch": 1})
    pickle.loads(pickle.dumps(searcher.get_state()))  # what Tune keeps of the chain


def test_space_loads_for_every_entry(tmp_path: Path) -> None:
    for sampler in SAMPLERS:
        for scheduler in SCHEDULERS:
            space = small_space(tmp_path, sampler, scheduler)
            assert (space.search.sampler, space.scheduler.type) == (sampler, scheduler)


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_builds_drives_and_pickles(tmp_path: Path, name: str) -> None:
    space = small_space(tmp_path, scheduler=name)
    scheduler = make_scheduler(space)
    assert isinstance(scheduler, TrialScheduler)
    trials = [Trial("__fake", trial_id=f"t{i}", stub=True) for i in range(4)]
    for t in trials:
        scheduler.on_trial_add(None, t)
    decisions = set()
    for epoch in range(1, space.scheduler.max_t + 1):
        for i, t in enumerate(trials):
            decision = scheduler.on_trial_result(None, t, {"epoch": epoch, "val_loss": float(i)})
            assert decision in (TrialScheduler.CONTINUE, TrialScheduler.STOP)
            decisions.add(decision)
    for t in trials:
        scheduler.on_trial_complete(None, t, {"epoch": space.scheduler.max_t, "val_loss": 0.0})
    # a scheduler with rungs stops the worse trials at them; one without never stops any
    assert (TrialScheduler.STOP in decisions) == SCHEDULERS[name].rungs
    restored = pickle.loads(pickle.dumps(scheduler))
    assert type(restored) is type(scheduler)


def test_readme_lists_every_sampler_and_scheduler() -> None:
    readme = (REPO / "README.md").read_text()
    for name in [*SAMPLERS, *SCHEDULERS]:
        assert f"| `{name}` |" in readme, f"README's sampler/scheduler table lacks {name}"


def multi_space(tmp_path: Path, sampler: str, scheduler: str = "asha") -> Space:
    text = SPACE_YAML.replace("SAMPLER", sampler).replace("SCHEDULER", scheduler)
    text = text.replace(
        "metric: val_loss\nmode: min\n",
        'objectives: {val_loss: min, val_acc: max}\nconstraints: [{metric: val_acc, ">=": 0.5}]\n',
    )
    path = tmp_path / "multi.yaml"
    path.write_text(text)
    return load_space(path)


MULTI_SAMPLERS = [n for n, s in SAMPLERS.items() if s.multi_objective]


@pytest.mark.parametrize("name", MULTI_SAMPLERS)
def test_multi_objective_sampler_runs_a_constrained_study(tmp_path: Path, name: str) -> None:
    """Every sampler marked multi_objective drives a two-objective study; the constraint
    reaches each completed trial in the journal (what the constrained samplers read)."""
    space = multi_space(tmp_path, name)
    searcher = make_searcher(space, tmp_path)
    for i in range(space.search.num_samples):
        config = searcher.suggest(f"t{i}")
        assert isinstance(config, dict), f"{name}: no suggestion for trial {i}"
        acc = 0.3 + 0.1 * i
        searcher.on_trial_complete(f"t{i}", {"val_loss": 1.0 / (i + 1), "val_acc": acc})
    pickle.loads(pickle.dumps(searcher.get_state()))
    study = optuna.load_study(study_name=space.name, storage=journal_storage(tmp_path))
    assert [d.name for d in study.directions] == ["MINIMIZE", "MAXIMIZE"]
    assert study.metric_names == ["val_loss", "val_acc"]
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(done) == space.search.num_samples
    for t in done:
        (value,) = t.constraints.values()
        assert value == pytest.approx(0.5 - t.values[1])  # val_acc >= 0.5: > 0 = broken


def test_multi_objective_asha_is_the_asha_of_a_multi_objective_space(tmp_path: Path) -> None:
    from raytrain.tune.pareto_asha import ParetoASHA

    scheduler = make_scheduler(multi_space(tmp_path, "tpe"))
    assert isinstance(scheduler, ParetoASHA) and scheduler.max_t == 4
    assert sorted(scheduler.rungs.recorded) == [1, 2, 4]
    assert type(make_scheduler(multi_space(tmp_path, "tpe", "fifo"))).__name__ == "FIFOScheduler"
