"""What `raytrain train` prints and where it writes, without running Ray."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from raytrain.cli import train as cli
from raytrain.errors import InputError
from raytrain.layout import TrainRunLayout


def test_epoch_line_is_compact_and_sorted() -> None:
    line = cli._metrics_line({"val_loss": 0.123456, "epoch": 3, "train_loss": 1.0, "step": 9})
    assert line == "train_loss 1.0000  val_loss 0.1235"


def test_provenance_value_is_printed_next_to_this_run(capsys: pytest.CaptureFixture[str]) -> None:
    provenance = {"trial_id": "t_0007", "metric": "val_acc", "value": 0.95, "epoch": 2}
    history = [{"epoch": 1, "val_acc": 0.9}, {"epoch": 2, "val_acc": 0.9444}, {"epoch": 3}]
    cli._print_provenance(provenance, history)
    out = capsys.readouterr().out
    assert out.strip() == "trial t_0007 recorded val_acc 0.9500 at epoch 2; this run: 0.9444"


def test_default_run_dir_and_existing_name(tmp_path: Path) -> None:
    args = argparse.Namespace(config="cfgs/best.yaml", storage=str(tmp_path), name=None)
    assert cli._run_name(args).startswith("best-")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "config.yaml").write_text("x")
    args.name = "taken"
    with pytest.raises(InputError, match="exists already"):
        TrainRunLayout(tmp_path / cli._run_name(args)).check_new()
