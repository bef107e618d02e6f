"""`raytrain analyze`: JSON/text output, importance, advice, and decodable PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.runs import make_run
from matplotlib import image

from raytrain.cli import main
from raytrain.results import RunWriter, load_run
from raytrain.results.analysis import analyze, to_json


def test_cli_json_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = make_run(tmp_path, tensorboard=False)
    assert main(["analyze", str(run_dir), "--top-k", "3", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    run = load_run(run_dir)
    assert [t["trial_id"] for t in out["top"]] == [t.trial_id for t in run.best(3)]
    values = [t["best_value"] for t in out["top"]]
    assert values == sorted(values) and out["mode"] == "min" and out["metric"] == "val_loss"
    assert out["counts"] == run.counts()
    assert out["top"][0]["params"] == run.best(1)[0].params
    assert set(out["importance"]) == set(run.param_paths)
    assert out["importance_scope"] == {"optimizer.momentum": "optimizer.name=sgd"}
    assert any("non-finite val_loss" in line for line in out["advice"])

    names = {Path(p).name for p in out["plots"]}
    slices = {f"slice_{p}.png" for p in run.param_paths}
    assert names == {
        "best_so_far.png",
        "learning_curves.png",
        "parallel_coordinates.png",
        "importance.png",
        *slices,
    }
    for p in out["plots"]:
        pixels = image.imread(p)
        assert Path(p).parent == run_dir / "plots"
        assert pixels.shape[0] > 200 and pixels.shape[1] > 300
        assert pixels[..., :3].std() > 0.05  # an actual picture, not a blank canvas


def test_text_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = make_run(tmp_path, tensorboard=False, n_done=10)
    assert main(["analyze", str(run_dir), "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "top 5 by best val_loss" in out and "advice:" in out
    assert load_run(run_dir).best(1)[0].trial_id in out
    assert not (run_dir / "plots").exists()


def test_importance_finds_the_parameter_that_matters(tmp_path: Path) -> None:
    result = analyze(load_run(make_run(tmp_path, n_done=40, tensorboard=False)), plots=False)
    imp = result.importance.values
    assert max(imp, key=imp.__getitem__) == "optimizer.lr"
    assert imp["model.dropout"] < 0.1  # does not enter the synthetic loss at all
    assert abs(sum(imp.values()) - 1.0) < 1e-6


def test_advice_best_at_bound(tmp_path: Path) -> None:
    # the synthetic optimum (lr 0.2) lies above the searched range [1e-5, 0.1]
    run = load_run(make_run(tmp_path, lr_best=0.2, n_done=30, tensorboard=False))
    advice = analyze(run, plots=False).advice
    assert any("optimizer.lr" in a and "high end" in a and "raise `high`" in a for a in advice)


def test_all_failed_and_too_few_trials(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = RunWriter(tmp_path, metric="val_acc", mode="max", param_paths=["lr"], tensorboard=False)
    for i in range(3):
        w.trial_added(f"t{i}", {"lr": 0.1 * (i + 1)})
        w.trial_started(f"t{i}")
        w.trial_finished(f"t{i}", "ERROR", "Traceback ...\nImportError: no module named foo")
    assert main(["analyze", str(tmp_path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["top"] == [] and out["importance"] is None
    assert "needs at least" in out["importance_note"]
    assert any(
        a.startswith("All 3 finished trials failed") and "no module named foo" in a
        for a in out["advice"]
    )
    for p in out["plots"]:  # still drawn (empty axes with titles), and decodable
        assert image.imread(p).size > 0


def test_not_a_run_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(tmp_path)]) == 2
    assert "not a raytrain run directory" in capsys.readouterr().err


def test_json_is_strict(tmp_path: Path) -> None:
    """NaN never leaks into JSON (scripts using strict parsers must not choke)."""
    run = load_run(make_run(tmp_path, tensorboard=False, n_done=6))
    text = json.dumps(to_json(analyze(run, plots=False)), allow_nan=False)
    assert "NaN" not in text


def test_list_valued_categorical(tmp_path: Path) -> None:
    """A categorical whose choices are lists (layer sizes) survives params.json and the
    Optuna study (whose choices must be scalars)."""
    w = RunWriter(tmp_path, metric="loss", mode="min", param_paths=["sizes", "lr"])
    for i in range(10):
        sizes = [[32, 32], [64]][i % 2]
        w.trial_added(f"t{i}", {"sizes": sizes, "lr": 0.001 * (i + 1)})
        w.trial_result(f"t{i}", {"epoch": 1, "loss": 1.0 / (i + 1) + (0.5 if i % 2 else 0.0)})
        w.trial_finished(f"t{i}", "TERMINATED")
    w.close()
    run = load_run(tmp_path)
    assert run.trials[0].params["sizes"] == [32, 32]
    result = analyze(run, plots=False)
    assert set(result.importance.values) == {"sizes", "lr"}
    assert to_json(result)["top"][0]["params"]["sizes"] == [32, 32]


def test_text_output_fits_80_columns(tmp_path: Path) -> None:
    from rich.console import Console

    from raytrain.results.analysis import render_text

    run = load_run(make_run(tmp_path, tensorboard=False))
    console = Console(width=80, record=True, color_system=None)
    console.print(render_text(analyze(run, plots=False)))
    text = console.export_text()
    assert "…" not in text
    top = [line.split() for line in text.splitlines() if line[:4] in (" 1  ", " 2  ")]
    assert [r[1] for r in top] == [t.trial_id for t in run.best(2)]
    assert all(r[2] == "done" for r in top)  # whole state word, on the row's own line
