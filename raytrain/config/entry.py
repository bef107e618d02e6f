"""`Entry`: one built-in name, its lazy implementation and the keyword arguments it accepts.

A leaf module so that `raytrain.config.builtins` (the data) and `raytrain.config.registry`
(the lookup) can both use it without importing each other.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "package.module:Attribute"
    params: Mapping[str, Any] = field(default_factory=dict)  # accepted kwargs -> default
    # Built-in models get the data module's `input_dim` / `num_classes` (etc.) injected.
    data_injected: tuple[str, ...] = ()
    description: str = ""

    def load(self) -> Any:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)
