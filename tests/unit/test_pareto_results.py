"""A multi-objective run's results: trials.csv columns, status, and export (--pareto,
--pick, --weights, and the refusal to guess) on a fake run directory (no Ray)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from fixtures.runs import PARETO_TRIALS, make_pareto_run
from rich.console import Console

from raytrain.cli import main
from raytrain.config.loading import load_train_config_with_provenance
from raytrain.errors import InputError
from raytrain.results import load_run
from raytrain.results.export import parse_weights, render_front
from raytrain.results.view import ordered, status_view
from raytrain.space.types import Constraint, Objective


def test_trials_csv_has_each_objective_rank_and_feasibility(tmp_path: Path) -> None:
    run_dir = make_pareto_run(tmp_path)
    with (run_dir / "trials.csv").open() as f:
        rows = {r["trial_id"]: r for r in csv.DictReader(f)}
    assert rows["p0"]["objective.val_recon"] == "0.2" and rows["p0"]["objective.val_kl"] == "9.0"
    ranks = {t: rows[t]["pareto_rank"] for t in rows}
    assert ranks == {
        "p0": "1",
        "p1": "1",
        "p2": "1",
        "p3": "2",
        "p4": "",
        "p5": "3",
        "p6": "2",
        "p7": "4",
    }
    assert rows["p4"]["feasible"] == "False" and rows["p0"]["feasible"] == "True"


def test_load_run_reads_the_goals_and_the_front(tmp_path: Path) -> None:
    run = load_run(make_pareto_run(tmp_path))
    assert run.multi_objective and run.metric == "val_recon"
    assert run.objectives == (Objective("val_recon", "min"), Objective("val_kl", "min"))
    assert run.constraints == (Constraint("val_active_units", ">=", 2.0),)
    assert [t.trial_id for t in run.front()] == ["p0", "p1", "p2"]  # by val_recon
    # status order: front, then the next fronts, infeasible last
    assert [t.trial_id for t in ordered(run)] == ["p0", "p1", "p2", "p6", "p3", "p5", "p7", "p4"]


def test_status_shows_objectives_front_and_feasibility(tmp_path: Path) -> None:
    console = Console(width=200, record=True, color_system=None)
    console.print(status_view(load_run(make_pareto_run(tmp_path))))
    text = console.export_text()
    assert "Pareto search, val_recon ↓, val_kl ↓" in text
    assert "constraints: val_active_units >= 2" in text
    assert "Pareto front: 3 trial(s) (p0, p1, p2) · 1 infeasible" in text
    header = next(line for line in text.splitlines() if "trial" in line and "state" in line)
    assert "val_recon" in header and "val_kl" in header and "front" in header
    p4 = next(line for line in text.splitlines() if "│ p4 " in line)
    assert " no " in p4


def test_export_without_a_choice_exits_2_and_names_the_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = make_pareto_run(tmp_path)
    assert main(["export", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "several objectives" in err and "--pareto" in err
    assert "--pick objective=val_recon" in err and "--weights val_recon=1,val_kl=1" in err
    assert not (run_dir / "best.yaml").exists()


def test_export_pareto_writes_one_runnable_yaml_per_front_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = make_pareto_run(tmp_path)
    assert main(["export", str(run_dir), "--pareto"]) == 0
    files = sorted((run_dir / "pareto").glob("*.yaml"))
    assert [f.name for f in files] == ["front-1-p0.yaml", "front-2-p1.yaml", "front-3-p2.yaml"]
    cfg, provenance = load_train_config_with_provenance(files[1], ())
    assert cfg.model.kwargs["beta"] == PARETO_TRIALS["p1"][0]
    assert provenance["values"] == {"val_recon": 0.4, "val_kl": 4.0}
    assert provenance["pareto_rank"] == 1 and provenance["feasible"] is True
    assert provenance["epoch"] == 4 and provenance["selected_by"] == "pareto front"
    assert provenance["constraints"] == ["val_active_units >= 2"]
    assert "front-1-p0.yaml" in capsys.readouterr().out
    # a second export into the same folder replaces, never mixes
    (run_dir / "pareto" / "front-9-old.yaml").write_text("{}")
    assert main(["export", str(run_dir), "--pareto", "-o", str(run_dir / "pareto")]) == 0
    assert len(list((run_dir / "pareto").glob("*.yaml"))) == 3


def test_export_pick_takes_the_best_feasible_trial_by_one_objective(tmp_path: Path) -> None:
    run_dir = make_pareto_run(tmp_path)
    out = tmp_path / "kl.yaml"
    # p4 has the lowest val_kl but breaks the constraint: p2 it is
    assert main(["export", str(run_dir), "--pick", "objective=val_kl", "-o", str(out)]) == 0
    provenance = yaml.safe_load(out.read_text())["provenance"]
    assert provenance["trial_id"] == "p2" and provenance["selected_by"] == "best val_kl (min)"
    assert main(["export", str(run_dir), "--pick", "val_recon", "-o", str(out)]) == 0
    assert yaml.safe_load(out.read_text())["provenance"]["trial_id"] == "p0"
    assert main(["export", str(run_dir), "--pick", "objective=val_klx"]) == 2


def test_export_weights_minimises_the_weighted_sum(tmp_path: Path) -> None:
    run_dir = make_pareto_run(tmp_path)
    out = tmp_path / "w.yaml"
    # recon + 0.05 * kl: p0 0.65, p1 0.6, p2 0.75, p6 0.725 (p4: infeasible)
    assert (
        main(["export", str(run_dir), "--weights", "val_recon=1,val_kl=0.05", "-o", str(out)]) == 0
    )
    assert yaml.safe_load(out.read_text())["provenance"]["trial_id"] == "p1"
    assert (
        main(
            [
                "export",
                str(run_dir),
                "--weights",
                "val_recon=1,val_kl=1",
                "-o",
                str(out),
                "--top-k",
                "2",
            ]
        )
        == 0
    )
    firsts = [
        yaml.safe_load((tmp_path / f"w-{i}.yaml").read_text())["provenance"]["trial_id"]
        for i in (1, 2)
    ]
    assert firsts == ["p2", "p1"]  # 1.7 and 4.4


def test_parse_weights_rejects_unknown_names_and_all_zero() -> None:
    names = ["a", "b"]
    assert parse_weights("a=1, b=0.5", names) == {"a": 1.0, "b": 0.5}
    for bad in ("c=1", "a", "a=x", "a=0,b=0", ""):
        with pytest.raises(InputError):
            parse_weights(bad, names)


def test_pareto_options_are_refused_on_a_single_objective_run(tmp_path: Path) -> None:
    from fixtures.runs import make_run

    run_dir = make_run(tmp_path, tensorboard=False)
    assert main(["export", str(run_dir), "--pareto"]) == 2


def test_render_front_lists_the_front(tmp_path: Path) -> None:
    text = render_front(load_run(make_pareto_run(tmp_path)))
    assert text.startswith("Pareto front: 3 trial(s) by val_recon (min), val_kl (min):")
    assert "p1  val_recon=0.4, val_kl=4 (epoch 4" in text


def test_analyze_lists_the_front_and_draws_it(tmp_path: Path) -> None:
    from raytrain.results.analysis import analyze, to_json

    run = load_run(make_pareto_run(tmp_path))
    result = analyze(run, top_k=5)
    assert [t.trial_id for t in result.top] == ["p0", "p1", "p2"]
    png = run.path / "plots" / "pareto_front.png"
    assert png in result.plots and png.stat().st_size > 10_000
    data = to_json(result)
    assert data["objectives"] == {"val_recon": "min", "val_kl": "min"}
    assert data["top"][1]["objectives"] == {"val_recon": 0.4, "val_kl": 4.0}
    # importance per objective, each over the 8 trials' last-epoch values
    by_objective = data["importance_by_objective"]
    assert set(by_objective) == {"val_recon", "val_kl"}
    for shares in by_objective.values():
        assert set(shares) == {"model.beta", "model.latent_dim"}
        assert sum(shares.values()) == pytest.approx(1.0)


def test_a_reopened_writer_keeps_the_pareto_columns_and_reranks(tmp_path: Path) -> None:
    """`tune --resume` re-creates the writer over the run: a new trial that dominates p1
    takes its place on the front."""
    from raytrain.results import RunWriter

    run_dir = make_pareto_run(tmp_path)
    writer = RunWriter(
        run_dir,
        metric="val_recon",
        mode="min",
        param_paths=["model.beta", "model.latent_dim"],
        objectives=(Objective("val_recon", "min"), Objective("val_kl", "min")),
        constraints=(Constraint("val_active_units", ">=", 2),),
        tensorboard=False,
    )
    writer.trial_added("p8", {"model.beta": 1.2, "model.latent_dim": 8})
    writer.trial_result("p8", {"epoch": 1, "val_recon": 0.35, "val_kl": 3.5, "val_active_units": 5})
    writer.close()
    run = load_run(run_dir)
    ranks = {t.trial_id: t.pareto_rank for t in run.trials}
    assert ranks["p8"] == 1 and ranks["p1"] == 2 and ranks["p0"] == 1
    assert [t.trial_id for t in run.front()] == ["p0", "p8", "p2"]


def test_live_view_shows_the_objectives_and_the_front(tmp_path: Path) -> None:
    from raytrain.tune.live import LiveState, render, summary_line

    run = load_run(make_pareto_run(tmp_path))
    state = LiveState(
        name=run.name,
        metric=run.metric,
        mode=run.mode,
        budget=8,
        concurrency=2,
        trials=run.trials,
        param_paths=run.param_paths,
        objectives=("val_recon", "val_kl"),
    )
    assert "Pareto front 3" in summary_line(state, 10.0)
    console = Console(width=200, record=True, color_system=None)
    console.print(render(state, 10.0))
    text = console.export_text()
    assert "val_kl" in text and "front" in text
