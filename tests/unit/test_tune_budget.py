"""Time budgets (`budget:`): parsing, the ledger's accounting and admission rule, and its
Tune pieces (gate, stopper, callback) driven by hand with a fake clock; no Ray cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from raytrain.errors import InputError
from raytrain.layout import SearchRunLayout, resume_conflicts
from raytrain.space import dump_space, load_space, render_plan
from raytrain.space.settings import hours
from raytrain.space.types import BudgetSettings
from raytrain.tune.ledger import HOUR, Ledger, forget, ledger_for, read_ledger, write_ledger
from raytrain.tune.live import LiveState, summary_line

SPACE: dict[str, Any] = {
    "name": "budgeted",
    "config": {
        "model": {"name": "mlp", "hidden": 16, "depth": 1},
        "data": {"name": "digits", "batch_size": 64},
        "optimizer": {"name": "adamw", "lr": 1.0e-3},
        "trainer": {"max_epochs": 9},
    },
    "metric": "val_loss",
    "mode": "min",
    "parameters": {"optimizer.lr": {"type": "float", "low": 1.0e-4, "high": 1.0e-1, "log": True}},
    "search": {"num_samples": 50},
    "budget": {"wall_clock": "1h30m", "trial_hours": 2},
}


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# ------------------------------------------------------------------ parsing
@pytest.mark.parametrize(
    ("text", "expected"),
    [(8, 8.0), (0.5, 0.5), ("8h", 8.0), ("90m", 1.5), ("1h30m", 1.5), ("2d", 48.0), ("36s", 0.01)],
)
def test_durations_are_hours(text: Any, expected: float) -> None:
    assert hours(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["soon", "8 hours", "", True, [1]])
def test_what_is_not_a_duration(text: Any) -> None:
    assert hours(text) is None


def test_budget_is_parsed_validated_shown_and_dumped(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, SPACE))
    assert space.budget == BudgetSettings(wall_clock=1.5, trial_hours=2.0)
    assert "budget: wall_clock 1.5 h, trial_hours 2 h" in render_plan(space)
    dumped = dump_space(space)
    assert dumped["budget"] == {"wall_clock": 1.5, "trial_hours": 2.0}
    again = load_space(write(tmp_path, dumped))
    assert again.budget == space.budget


def test_no_budget_says_so(tmp_path: Path) -> None:
    data = {k: v for k, v in SPACE.items() if k != "budget"}
    space = load_space(write(tmp_path, data))
    assert not space.budget.any
    assert "budget: none" in render_plan(space)


def test_bad_budget_values_are_reported_with_their_lines(tmp_path: Path) -> None:
    data = {**SPACE, "budget": {"wall_clock": "soon", "trial_hours": -1, "gpu_hours": 3, "x": 1}}
    path = write(tmp_path, data)
    with pytest.raises(InputError) as info:
        load_space(path)
    found = {p.path: p for p in info.value.problems}
    assert set(found) == {
        "budget.wall_clock",
        "budget.trial_hours",
        "budget.gpu_hours",
        "budget.x",
    }
    assert "no GPU" in found["budget.gpu_hours"].message
    assert all(p.line is not None for p in found.values())


def test_the_budget_may_change_on_resume_but_not_the_space() -> None:
    old = {"budget": {"trial_hours": 2.0}, "search": {"num_samples": 5}, "metric": "a"}
    new = {"budget": {"trial_hours": 4.0, "wall_clock": 1.0}, "search": {"num_samples": 5}}
    assert resume_conflicts(old, {**new, "metric": "a"}) == []
    assert resume_conflicts(old, {**new, "metric": "b"}) == ["metric"]


def test_a_space_stored_before_step_fidelity_resumes(tmp_path: Path) -> None:
    """A run's space.yaml from before `scheduler.time_attr` / `trainer.report_unit`
    existed lacks them: missing means their defaults, not a changed space."""
    fresh = dump_space(load_space(write(tmp_path, SPACE)))
    scheduler = {k: v for k, v in fresh["scheduler"].items() if k != "time_attr"}
    trainer = {k: v for k, v in fresh["config"]["trainer"].items() if k != "report_unit"}
    old = {**fresh, "scheduler": scheduler, "config": {**fresh["config"], "trainer": trainer}}
    assert resume_conflicts(old, fresh) == []
    steps = {**fresh, "scheduler": {**fresh["scheduler"], "time_attr": "steps"}}
    assert resume_conflicts(old, steps) == ["scheduler.time_attr"]


# ------------------------------------------------------------------ the ledger
def test_time_is_added_to_the_wall_clock_and_to_every_running_trial() -> None:
    ledger = Ledger()
    ledger.tick(100.0)
    ledger.trial_started("a", 100.0)
    ledger.trial_started("b", 110.0)
    ledger.trial_result("a", 1, 130.0)
    ledger.trial_ended("a", 160.0)
    ledger.tick(200.0)
    assert ledger.wall_s == pytest.approx(100.0)
    assert ledger.trials["a"].seconds == pytest.approx(60.0) and ledger.trials["a"].done
    assert ledger.trials["b"].seconds == pytest.approx(90.0) and not ledger.trials["b"].done
    assert ledger.trial_s == pytest.approx(150.0)


def test_a_pause_is_not_counted_and_the_file_keeps_the_sums(tmp_path: Path) -> None:
    ledger = Ledger()
    ledger.tick(0.0)
    ledger.trial_started("a", 0.0)
    ledger.tick(50.0)
    ledger.pause()  # the driver stops (or dies after its last save)
    ledger.tick(10_000.0)  # the next part starts much later
    ledger.trial_started("a", 10_000.0)  # Tune restarts the trial
    ledger.tick(10_030.0)
    assert ledger.wall_s == pytest.approx(80.0)
    assert ledger.trials["a"].seconds == pytest.approx(80.0)
    SearchRunLayout(tmp_path).root.mkdir(exist_ok=True)
    write_ledger(tmp_path, ledger)
    back = read_ledger(tmp_path)
    assert back.wall_s == pytest.approx(80.0) and back.trial_s == pytest.approx(80.0)
    assert back.running == set(), "what runs is not carried over: the next part says"


def test_expected_trial_length_from_finished_trials_else_from_epochs() -> None:
    ledger = Ledger()
    assert ledger.expected_trial_s(max_epochs=10) is None
    ledger.tick(0.0)
    ledger.trial_started("a", 0.0)
    ledger.trial_result("a", 2, 40.0)  # 20 s an epoch so far
    assert ledger.expected_trial_s(max_epochs=10) == pytest.approx(200.0)
    ledger.trial_ended("a", 60.0)  # stopped early at 60 s
    ledger.trial_started("b", 60.0)
    ledger.trial_ended("b", 160.0)
    assert ledger.expected_trial_s(max_epochs=10) == pytest.approx(80.0)


def hour_trials(n_done: int, n_running: int, *, hours_each: float, running_for: float) -> Ledger:
    """A ledger with `n_done` finished trials of `hours_each` and `n_running` trials
    running for `running_for` hours, one after the other on one clock."""
    ledger = Ledger()
    now = 0.0
    ledger.tick(now)
    for i in range(n_done):
        ledger.trial_started(f"d{i}", now)
        now += hours_each * HOUR
        ledger.trial_ended(f"d{i}", now)
    for i in range(n_running):
        ledger.trial_started(f"r{i}", now)
    ledger.tick(now + running_for * HOUR)
    return ledger


def test_admission_stops_when_the_projection_would_exceed_trial_hours() -> None:
    budget = BudgetSettings(trial_hours=10.0)
    # 7 h done + 2 running for 0.5 h = 8 h used, 2 x 0.5 h still to come from them, a new
    # trial ~1 h (the mean of the finished ones): 8 + 1 + 1 = 10, just fits
    ledger = hour_trials(7, 2, hours_each=1.0, running_for=0.5)
    assert ledger.refusal(budget, gpus_per_trial=0, max_epochs=5) is None
    # one more finished trial: 9 + 1 + 1 = 11 > 10
    ledger = hour_trials(8, 2, hours_each=1.0, running_for=0.5)
    why = ledger.refusal(budget, gpus_per_trial=0, max_epochs=5)
    assert why is not None and why.startswith("trial_hours: 9.00 h used of 10.0 h")
    assert ledger.exhausted(budget, gpus_per_trial=0) is None, "refused, but not used up"


def test_gpu_hours_scale_with_the_gpus_of_a_trial() -> None:
    ledger = hour_trials(3, 0, hours_each=1.0, running_for=0.0)
    assert ledger.refusal(BudgetSettings(gpu_hours=16.0), 4, 5) is None  # 12 + 4 = 16
    assert ledger.refusal(BudgetSettings(gpu_hours=15.0), 4, 5) is not None
    assert ledger.exhausted(BudgetSettings(gpu_hours=12.0), 4) == "gpu_hours: 12.0 h used of 12.0 h"
    assert ledger.usage(BudgetSettings(gpu_hours=16.0), 4) == [
        "gpu_hours 12.0 h of 16.0 h (4.00 h left)"
    ]


def test_wall_clock_refuses_a_trial_that_could_not_finish_in_time() -> None:
    ledger = hour_trials(2, 0, hours_each=1.0, running_for=0.0)  # 2 h of wall clock
    assert ledger.refusal(BudgetSettings(wall_clock=3.0), 0, 5) is None
    why = ledger.refusal(BudgetSettings(wall_clock=2.5), 0, 5)
    assert why is not None and why.startswith("wall_clock: 2.00 h used of 2.50 h")


def test_without_any_estimate_only_a_used_up_limit_refuses() -> None:
    ledger = Ledger()
    assert ledger.refusal(BudgetSettings(trial_hours=0.01), 0, 5) is None
    ledger.tick(0.0)
    ledger.trial_started("a", 0.0)
    ledger.tick(0.02 * HOUR)  # no epoch reported yet, but the limit is used up
    assert ledger.refusal(BudgetSettings(trial_hours=0.01), 0, 5) is not None


# ------------------------------------------------------------------ the live view
def test_live_summary_shows_used_and_left() -> None:
    ledger = hour_trials(1, 0, hours_each=0.5, running_for=0.0)
    state = LiveState(
        name="n",
        metric="val_loss",
        mode="min",
        budget=4,
        concurrency=1,
        time_budget=tuple(ledger.usage(BudgetSettings(trial_hours=2.0), 0)),
    )
    assert "| budget: trial_hours 0.50 h of 2.00 h (1.50 h left)" in summary_line(state, 1.0)


# ------------------------------------------------------------------ the Tune pieces
pytest.importorskip("ray.tune.search")


class FakeSearcher:
    metric, mode = "val_loss", "min"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def suggest(self, trial_id: str) -> dict:
        self.asked.append(trial_id)
        return {"optimizer.lr": 0.01}


@pytest.fixture
def run_dir(tmp_path: Path) -> Any:
    space = load_space(write(tmp_path, {**SPACE, "budget": {"trial_hours": 2}}))
    run = tmp_path / "runs" / "budgeted"
    SearchRunLayout(run).write_space(dump_space(space))
    forget(run)
    yield run
    forget(run)


def test_gate_ends_the_search_once_a_trial_would_not_fit(run_dir: Path) -> None:
    from ray.tune.search import Searcher

    from raytrain.tune.budget import BudgetGate

    inner = FakeSearcher()
    gate = BudgetGate(inner, run_dir)  # type: ignore[arg-type]
    assert gate.suggest("t1") == {"optimizer.lr": 0.01}
    ledger = ledger_for(run_dir).ledger
    ledger.trials.update(hour_trials(2, 0, hours_each=0.75, running_for=0.0).trials)
    assert gate.suggest("t2") is Searcher.FINISHED  # 1.5 h used + 0.75 h > 2 h
    assert inner.asked == ["t1"]
    assert ledger.stopped is not None and ledger.stopped.startswith("trial_hours")
    assert read_ledger(run_dir).stopped == ledger.stopped, "saved for the end-of-run message"


def test_stopper_ends_running_trials_at_their_next_rung_once_used_up(run_dir: Path) -> None:
    from raytrain.tune.budget import BudgetStopper

    stop = BudgetStopper(run_dir, rungs=[1, 3, 9])
    ledger = ledger_for(run_dir).ledger
    assert not stop("t", {"epoch": 3})
    ledger.trials.update(hour_trials(3, 0, hours_each=1.0, running_for=0.0).trials)
    assert not stop("t", {"epoch": 2}), "between rungs: go on to the next rung"
    assert stop("t", {"epoch": 3}) and stop("t", {"epoch": 3.0})
    assert not BudgetStopper(run_dir, rungs=[])("t", {"epoch": 3}), "no rungs: run to the end"


def test_stopper_in_steps_stops_at_the_first_report_past_a_rung(run_dir: Path) -> None:
    from raytrain.tune.budget import BudgetStopper

    stop = BudgetStopper(run_dir, rungs=[50, 150], key="steps", every=40)
    ledger_for(run_dir).ledger.trials.update(
        hour_trials(3, 0, hours_each=1.0, running_for=0.0).trials
    )
    assert [stop("t", {"steps": s, "epoch": 0.5}) for s in (40, 80, 120, 160)] == [
        False,
        True,  # 80 is the first report past rung 50
        False,
        True,
    ]
    assert not stop("u", {"epoch": 2}), "no progress key in the result"


def test_callback_counts_trials_and_saves_the_ledger(run_dir: Path, monkeypatch: Any) -> None:
    from raytrain.tune import budget as budget_mod

    clock = iter([0.0, 0.0, 30.0, 60.0, 60.0, 90.0])  # one reading per call below
    monkeypatch.setattr(budget_mod.time, "time", lambda: next(clock))

    class T:
        trial_id = "t1"

    cb = budget_mod.LedgerCallback(run_dir)
    cb.setup()
    cb.on_trial_start(0, [], T())
    cb.on_trial_result(0, [], T(), {"epoch": 1})
    cb.on_trial_complete(0, [], T())
    cb.on_step_end(1, [])
    cb.on_experiment_end([])
    saved = read_ledger(run_dir)
    assert saved.trials["t1"].seconds == pytest.approx(60.0)
    assert saved.trials["t1"].epochs == 1 and saved.trials["t1"].done
    assert saved.wall_s == pytest.approx(90.0)


def test_a_resume_discards_the_unfinished_trials_tune_does_not_know(
    run_dir: Path, monkeypatch: Any
) -> None:
    """Started after Tune's last saved state, before the driver died: RunDirCallback drops
    their rows, so the ledger drops their entries and keeps their seconds as used."""
    from raytrain.tune import budget as budget_mod

    monkeypatch.setattr(budget_mod.time, "time", lambda: 100.0)
    first = Ledger(wall_s=50.0, trials=hour_trials(1, 2, hours_each=0.01, running_for=6.0).trials)
    write_ledger(run_dir, first)
    forget(run_dir)
    known, lost = sorted(t for t, u in first.trials.items() if not u.done)
    done = next(t for t, u in first.trials.items() if u.done)

    class T:
        def __init__(self, trial_id: str) -> None:
            self.trial_id = trial_id

    cb = budget_mod.LedgerCallback(run_dir)
    cb.setup()
    cb.on_step_end(0, [T(known)])  # Tune restored `known` only; `done` had finished
    cb.on_step_end(1, [T(known), T("new")])  # reconciled once: a later trial is not touched
    cb.on_experiment_end([])
    saved = read_ledger(run_dir)
    assert set(saved.trials) == {known, done}
    assert saved.discarded_s == pytest.approx(first.trials[lost].seconds)
    assert saved.trial_s == pytest.approx(first.trial_s)  # its time still counts
    data = json.loads(SearchRunLayout(run_dir).budget_json.read_text())
    assert data["trial_s"] == pytest.approx(
        sum(u["seconds"] for u in data["trials"].values()) + data["discarded_s"], abs=1e-9
    )


def test_inside_epochs_a_trial_is_projected_over_max_t_steps(tmp_path: Path) -> None:
    """A steps run's trial lasts max_t steps, not max_epochs: the ledger counts its
    progress in steps and projects over max_t (a fractional first epoch times max_epochs
    would end the search at its first reports)."""
    from raytrain.tune.budget import TimeLimits

    sched = {"type": "asha", "time_attr": "steps", "report_every": 10, "max_t": 40}
    space = load_space(write(tmp_path, {**SPACE, "scheduler": sched}))
    run = tmp_path / "runs" / "steps"
    SearchRunLayout(run).write_space(dump_space(space))
    limits = TimeLimits.of_run(run)
    assert (limits.progress_key, limits.max_epochs) == ("steps", 40)
    ledger = Ledger()
    ledger.trial_started("a", 0.0)
    ledger.trial_result("a", 10, 5.0)  # 10 of 40 steps in 5 s
    assert ledger.expected_trial_s(limits.max_epochs) == pytest.approx(20.0)
    fifo = {**sched, "type": "fifo"}
    (tmp_path / "fifo").mkdir()
    space = load_space(write(tmp_path / "fifo", {**SPACE, "scheduler": fifo}))
    SearchRunLayout(run).write_space(dump_space(space))
    epochs = SPACE["config"]["trainer"]["max_epochs"]
    assert TimeLimits.of_run(run) == TimeLimits(limits.budget, 0.0, epochs, "epoch")
