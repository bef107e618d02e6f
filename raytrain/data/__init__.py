"""Built-in LightningDataModules. Register new ones in `raytrain/config/builtins.py`."""

from raytrain.data.digits import DigitsDataModule
from raytrain.data.synthetic import SyntheticDataModule

__all__ = ["DigitsDataModule", "SyntheticDataModule"]
