"""`raytrain train` end to end: a user's own module + data module from their directory."""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.ray]

RAYTRAIN = str(Path(sys.executable).parent / "raytrain")  # the console script, as a user runs it

MODEL = '''
import lightning.pytorch as pl
import torch
import torch.nn.functional as F


class TinyNet(pl.LightningModule):
    """No configure_optimizers: raytrain supplies it from the config."""

    def __init__(self, in_features: int = 6, hidden: int = 16, num_classes: int = 3):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(in_features, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, num_classes),
        )

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_epoch=True, on_step=False, sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", F.cross_entropy(logits, y), sync_dist=True)
        self.log("val_acc", (logits.argmax(-1) == y).float().mean(), sync_dist=True)
        self.log("world_size", float(self.trainer.world_size))
'''

DATA = """
import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset


class BlobData(pl.LightningDataModule):
    def __init__(self, n: int = 240, batch_size: int = 32):
        super().__init__()
        self.n, self.batch_size = n, batch_size

    def setup(self, stage=None):
        g = torch.Generator().manual_seed(0)
        y = torch.arange(self.n) % 3
        x = torch.randn(3, 6, generator=g)[y] * 3 + torch.randn(self.n, 6, generator=g)
        cut = self.n * 3 // 4
        self.train, self.val = TensorDataset(x[:cut], y[:cut]), TensorDataset(x[cut:], y[cut:])

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=self.batch_size)
"""

CONFIG = """
seed: 0
model: {_target_: userpkg.model.TinyNet, hidden: 16}
data: {_target_: userpkg.data.BlobData, n: 240}
optimizer: {name: adam, lr: 0.01}
trainer: {max_epochs: 2}
checkpoint: {metric: val_loss, mode: min, every_n_epochs: 1, extra_metrics: {val_acc: max}}
"""


@pytest.fixture()
def user_dir(tmp_path: Path) -> Path:
    pkg = tmp_path / "userpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "model.py").write_text(textwrap.dedent(MODEL))
    (pkg / "data.py").write_text(textwrap.dedent(DATA))
    (tmp_path / "train.yaml").write_text(CONFIG)
    return tmp_path


def _train(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAYTRAIN, "train", "train.yaml", *args, "--storage", "runs", "--name", "r"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=400,
    )


def test_user_module_trains_with_two_ddp_workers(
    user_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = _train(user_dir, "resources.workers=2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "epoch   2/2" in proc.stdout and "val_acc" in proc.stdout
    run = user_dir / "runs" / "r"
    assert f"best checkpoint: {Path('runs/r/best.ckpt')}" in proc.stdout
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert {float(r["world_size"]) for r in rows} == {2.0}  # really DDP over 2 workers
    for name in ("config.yaml", "best.ckpt", "best-val_acc.ckpt", "last.ckpt"):
        assert (run / name).is_file(), name
    assert list(run.glob("events.out.tfevents.*"))
    assert "workers: 2" in (run / "config.yaml").read_text()

    monkeypatch.syspath_prepend(str(user_dir))
    from userpkg.model import TinyNet  # type: ignore[import-not-found]

    model = TinyNet.load_from_checkpoint(run / "best.ckpt", map_location="cpu")
    assert model.hparams.hidden == 16
