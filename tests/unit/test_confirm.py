"""Robust finalists (`confirm:`): the statistic, ranking and choice (raytrain.results.confirm),
the space key, the trial table columns, export, status, and the searcher/scheduler wrappers
driven without a Ray cluster (raytrain.tune.confirm)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from raytrain.cli import main
from raytrain.cli.confirm import has_confirm_step
from raytrain.errors import InputError
from raytrain.layout import SearchRunLayout
from raytrain.results import RunWriter, load_run
from raytrain.results._records import TrialRecord
from raytrain.results.analysis import analyze, render_text, to_json
from raytrain.results.confirm import chosen, export_order, finalists, missing, plan, score
from raytrain.results.export import export_best, export_confirmed
from raytrain.results.view import ordered, status_view
from raytrain.space import dump_space, load_space, materialize, render_plan
from raytrain.space.confirm import CONFIRM_KEY, confirmation_seeds, split_confirm
from raytrain.tune.live import LiveState, LiveView

SPACE: dict[str, Any] = {
    "name": "conf",
    "config": {
        "seed": 0,
        "model": {"name": "mlp", "hidden": 16, "depth": 1},
        "data": {"name": "digits", "batch_size": 64},
        "optimizer": {"name": "adamw", "lr": 1e-3},
        "trainer": {"max_epochs": 2},
    },
    "metric": "val_acc",
    "mode": "max",
    "parameters": {"optimizer.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}},
    "search": {"sampler": "random", "num_samples": 4, "seed": 0},
    "scheduler": {"type": "fifo"},
    "confirm": {"top_k": 2, "seeds": 3},
}


def rec(tid: str, value: float | None, confirms: str | None = None, seed: int | None = None,
        state: str = "TERMINATED") -> TrialRecord:  # fmt: skip
    return TrialRecord(trial_id=tid, state=state, best_value=value, confirms=confirms, seed=seed)


# ---------------------------------------------------------------- the statistic
def test_score_is_the_mean_or_one_std_towards_worse():
    assert score(0.9, 0.05, "max", "mean") == 0.9
    assert score(0.9, 0.05, "max", "lcb") == pytest.approx(0.85)
    assert score(0.3, 0.05, "min", "lcb") == pytest.approx(0.35)  # worse for min is higher
    assert score(0.9, None, "max", "lcb") is None
    with pytest.raises(ValueError, match="pick"):
        score(0.9, 0.1, "max", "median")


def lucky_run() -> list[TrialRecord]:
    """a: the single best (0.99) but poor on new seeds; b: steady; c: noisy but high."""
    return [
        rec("a", 0.99),
        rec("b", 0.95),
        rec("c", 0.94),
        rec("d", 0.50),
        *(rec(f"a{s}", v, "a", s) for s, v in zip((1, 2, 3), (0.80, 0.82, 0.84), strict=True)),
        *(rec(f"b{s}", v, "b", s) for s, v in zip((1, 2, 3), (0.93, 0.94, 0.95), strict=True)),
        *(rec(f"c{s}", v, "c", s) for s, v in zip((1, 2, 3), (0.99, 0.80, 0.99), strict=True)),
    ]


def test_finalists_carry_mean_std_seeds_and_both_ranks():
    ranked = finalists(lucky_run(), "max", "mean")
    assert [f.trial.trial_id for f in ranked] == ["b", "c", "a"]
    b = ranked[0]
    assert b.mean == pytest.approx(0.94)
    assert b.std == pytest.approx(statistics.stdev([0.93, 0.94, 0.95]))
    assert (b.n, b.seeds, b.pending) == (3, [1, 2, 3], 0)
    assert b.values == [0.93, 0.94, 0.95]
    assert [(f.rank_single, f.rank_confirmed) for f in ranked] == [(2, 1), (3, 2), (1, 3)]


def test_lcb_prefers_the_steady_finalist_over_the_noisy_one():
    records = lucky_run()
    # make c's mean the best: 0.99, 0.90, 0.99 -> mean 0.96 > b's 0.94, std 0.052
    for r in records:
        if r.trial_id == "c2":
            r.best_value = 0.90
    assert chosen(records, "max", "mean").trial.trial_id == "c"
    assert chosen(records, "max", "lcb").trial.trial_id == "b"


def test_min_mode_ranks_low_means_first():
    records = [
        rec("x", 0.10),
        rec("y", 0.20),
        *(rec(f"x{s}", 0.30, "x", s) for s in (1, 2)),
        *(rec(f"y{s}", 0.21, "y", s) for s in (1, 2)),
    ]
    assert chosen(records, "min", "mean").trial.trial_id == "y"


def test_nothing_is_chosen_while_a_rerun_is_pending_or_without_reruns():
    records = lucky_run()
    assert chosen(records[:4], "max", "mean") is None
    records[-1].state, records[-1].best_value = "RUNNING", None
    assert chosen(records, "max", "mean") is None
    c = next(f for f in finalists(records, "max", "mean") if f.trial.trial_id == "c")
    assert (c.n, c.pending) == (2, 1)


def test_export_order_puts_confirmed_finalists_first_then_the_rest():
    ids = [t.trial_id for t in export_order(lucky_run(), "max", "mean")]
    assert ids == ["b", "c", "a", "d"]
    assert [t.trial_id for t in export_order(lucky_run()[:4], "max", "mean")] == list("abcd")


def test_plan_takes_the_top_k_searched_trials_with_the_same_new_seeds():
    assert confirmation_seeds(0, 3) == [1, 2, 3]
    assert confirmation_seeds(41, 2) == [42, 43]
    assert confirmation_seeds(None, 2) == [1, 2]
    pairs = plan(lucky_run(), "max", top_k=2, seeds=2, base_seed=10)
    assert pairs == [("a", 11), ("a", 12), ("b", 11), ("b", 12)]  # re-runs never finalists
    assert missing(lucky_run(), "max", top_k=2, seeds=3, base_seed=0) == 0
    assert missing(lucky_run(), "max", top_k=3, seeds=4, base_seed=0) == 3  # seed 4 of a/b/c
    running = lucky_run()
    running[-1].state = "RUNNING"
    assert missing(running, "max", top_k=3, seeds=3, base_seed=0) == 1


# ---------------------------------------------------------------- the space key
def write_space(tmp_path: Path, **changes: Any) -> Path:
    data = {**SPACE, **changes}
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_confirm_key_parses_dumps_and_shows_in_the_plan(tmp_path):
    space = load_space(write_space(tmp_path))
    assert space.confirm is not None
    assert (space.confirm.top_k, space.confirm.seeds, space.confirm.pick) == (2, 3, "mean")
    assert dump_space(space)["confirm"] == {"top_k": 2, "seeds": 3, "pick": "mean"}
    assert "confirm: the top 2 trial(s) re-run with 3 new seeds" in render_plan(space)
    plain = load_space(write_space(tmp_path, confirm=None))
    assert plain.confirm is None and "confirm" not in dump_space(plain)


@pytest.mark.parametrize(
    ("confirm", "message"),
    [
        ({"top_k": 0}, "confirm.top_k: must be >= 1"),
        ({"seeds": 1}, "confirm.seeds: must be >= 2"),
        ({"pick": "median"}, "confirm.pick: expected mean | lcb, got 'median'"),
        ({"top_n": 2}, "confirm.top_n: unknown key"),
        ("yes", "confirm: expected a mapping"),
    ],
)
def test_bad_confirm_values_name_file_line_and_key(tmp_path, confirm, message):
    path = write_space(tmp_path, confirm=confirm)
    with pytest.raises(InputError) as exc:
        load_space(path)
    text = exc.value.render()
    assert message in text
    line = next(i for i, s in enumerate(path.read_text().splitlines(), 1) if "confirm" in s)
    assert f"{path}:{line}" in text or f"{path}:{line + 1}" in text


def test_confirm_is_refused_for_several_objectives_and_a_searched_seed(tmp_path):
    multi = {k: v for k, v in SPACE.items() if k not in ("metric", "mode")}
    multi["objectives"] = {"val_acc": "max", "val_loss": "min"}
    multi["search"] = {"sampler": "nsga2", "num_samples": 4}
    path = tmp_path / "multi.yaml"
    path.write_text(yaml.safe_dump(multi))
    with pytest.raises(InputError, match="several `objectives`"):
        load_space(path)
    seeded = {**SPACE["parameters"], "seed": {"type": "int", "low": 0, "high": 9}}
    with pytest.raises(InputError, match="`seed` cannot also"):
        load_space(write_space(tmp_path, parameters=seeded))


def test_a_confirmation_point_sets_the_seed_and_nothing_else(tmp_path):
    space = load_space(write_space(tmp_path))
    point = {"optimizer.lr": 0.01, CONFIRM_KEY: {"of": "t1", "seed": 7}}
    params, tag = split_confirm(point)
    assert params == {"optimizer.lr": 0.01} and (tag.of, tag.seed) == ("t1", 7)
    config = materialize(space, point)
    assert config["seed"] == 7 and config["optimizer"]["lr"] == 0.01
    assert materialize(space, params)["seed"] == 0
    with pytest.raises(ValueError, match="not parameters"):
        materialize(space, {**point, "model.width": 3})


# ---------------------------------------------------------------- run directory
def finished_run(tmp_path: Path, values: dict[str, float], reruns: dict[str, list[float]]) -> Path:
    """A run dir written by the real RunWriter: searched trials, then re-runs by seed."""
    root = tmp_path / "run"
    space = load_space(write_space(tmp_path))
    SearchRunLayout(root).write_space(dump_space(space))
    w = RunWriter(root, metric="val_acc", mode="max", param_paths=["optimizer.lr"])
    for i, (tid, value) in enumerate(values.items()):
        w.trial_added(tid, {"optimizer.lr": 0.001 * (i + 1)})
        w.trial_result(tid, {"epoch": 1, "val_acc": value})
        w.trial_finished(tid, "TERMINATED")
    for of, vals in reruns.items():
        lr = 0.001 * (list(values).index(of) + 1)
        for seed, value in enumerate(vals, start=1):
            tid = f"{of}_s{seed}"
            w.trial_added(tid, {"optimizer.lr": lr, CONFIRM_KEY: {"of": of, "seed": seed}})
            w.trial_result(tid, {"epoch": 1, "val_acc": value})
            w.trial_finished(tid, "TERMINATED")
    w.close()
    return root


def test_trials_csv_has_the_confirmation_columns_and_reads_back(tmp_path):
    root = finished_run(
        tmp_path, {"a": 0.99, "b": 0.95, "c": 0.5}, {"a": [0.8, 0.82, 0.84], "b": [0.93, 0.95]}
    )
    text = (root / "trials.csv").read_text()
    header = text.splitlines()[0].split(",")
    for col in ("confirms", "seed", "confirm_mean", "confirm_std", "rank_single", "rank_confirmed"):
        assert col in header
    rows = {
        r.split(",")[0]: dict(zip(header, r.split(","), strict=True)) for r in text.splitlines()[1:]
    }
    assert rows["a_s2"]["confirms"] == "a" and rows["a_s2"]["seed"] == "2"
    assert float(rows["a"]["confirm_mean"]) == pytest.approx(0.82)
    assert (rows["a"]["rank_single"], rows["a"]["rank_confirmed"]) == ("1", "2")
    assert (rows["b"]["rank_single"], rows["b"]["rank_confirmed"]) == ("2", "1")
    run = load_run(root)
    assert [t.trial_id for t in run.searched] == ["a", "b", "c"]
    assert run.best(1)[0].trial_id == "a"  # the single best; re-runs never rank here
    params = SearchRunLayout(root).trial("a_s1").params_json.read_text()
    assert CONFIRM_KEY not in params  # the tag is the record's, params.json stays a point


def test_best_yaml_is_the_best_statistic_with_its_provenance(tmp_path):
    root = finished_run(
        tmp_path, {"a": 0.99, "b": 0.95, "c": 0.5}, {"a": [0.8, 0.82, 0.84], "b": [0.93, 0.95]}
    )
    [best] = export_best(root)
    data = yaml.safe_load(best.read_text())
    prov = data["provenance"]
    assert prov["trial_id"] == "b" and data["seed"] == 0  # the original trial's config
    c = prov["confirm"]
    assert c["mean"] == pytest.approx(0.94) and c["std"] == pytest.approx(math.sqrt(2e-4))
    assert (c["n"], c["seeds"], c["pick"]) == (2, [1, 2], "mean")
    assert (c["rank_single"], c["rank_confirmed"], c["original_seed_counted"]) == (2, 1, False)
    paths = export_confirmed(root)
    assert [p.name for p in paths] == ["rank-1-b.yaml", "rank-2-a.yaml"]
    assert yaml.safe_load(paths[1].read_text())["provenance"]["confirm"]["mean"] == pytest.approx(
        0.82
    )


def test_export_confirmed_explains_a_run_without_reruns(tmp_path):
    root = finished_run(tmp_path, {"a": 0.9, "b": 0.8}, {})
    with pytest.raises(InputError, match="raytrain confirm"):
        export_confirmed(root)


def test_status_and_analyze_show_reruns_mean_std_and_rank_change(tmp_path):
    root = finished_run(
        tmp_path, {"a": 0.99, "b": 0.95, "c": 0.5}, {"a": [0.8, 0.82, 0.84], "b": [0.93, 0.95]}
    )
    run = load_run(root)
    assert [t.trial_id for t in ordered(run)] == [
        "a", "a_s1", "a_s2", "a_s3", "b", "b_s1", "b_s2", "c"
    ]  # fmt: skip
    console = Console(width=160, record=True)
    console.print(status_view(run))
    out = console.export_text()
    assert "↳ a seed 2" in out
    assert "1 -> 2  a  0.82 ± 0.02 (n=3)" in out
    assert "2 -> 1  b  0.94 ± 0.01414 (n=2)" in out
    result = analyze(run, plots=False)
    [first, second] = to_json(result)["confirmed"]
    assert (first["trial_id"], first["rank_single"], first["rank_confirmed"]) == ("b", 2, 1)
    assert second["mean"] == pytest.approx(0.82) and second["seeds"] == [1, 2, 3]
    console = Console(width=160, record=True)
    console.print(render_text(result))
    assert "confirmed finalists by mean" in console.export_text()


def test_the_live_view_says_which_trial_a_rerun_repeats(tmp_path, capsys):
    root = finished_run(tmp_path, {"a": 0.9, "b": 0.8}, {"a": [0.85, 0.87]})
    run = load_run(root)
    state = LiveState(name="conf", metric="val_acc", mode="max", budget=6, concurrency=1,
                      trials=run.trials, param_paths=run.param_paths)  # fmt: skip
    view = LiveView(live=False)
    view.start(0.0)
    view.event(state, "a_s2", 1.0)
    out = capsys.readouterr().out
    assert "[4/6] a_s2 (re-run of a, seed 2) done at epoch 1: val_acc=0.87" in out


def test_confirm_command_refuses_a_run_without_the_confirmation_step(tmp_path, capsys):
    root = finished_run(tmp_path, {"a": 0.9, "b": 0.8}, {})
    assert main(["confirm", str(root), "--top-k", "2", "--seeds", "2"]) == 2
    assert "no confirmation step" in capsys.readouterr().err
    # the state file of a run started with it names the step (raytrain.cli.confirm)
    (root / "trials" / "search_gen_state-x.json").write_bytes(b"..name:ConfirmSearcher..")
    assert has_confirm_step(SearchRunLayout(root))
    assert main(["confirm", str(tmp_path / "nope")]) == 2
