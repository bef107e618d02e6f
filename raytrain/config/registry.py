"""The one registry of built-in names: models, data modules, optimizers, lr schedulers.

Entries are declared here without importing torch or lightning: each names its
implementation lazily ("module:attribute") and lists the keyword arguments it accepts with
their defaults, so `raytrain validate` can check parameter paths in well under a second.
`tests/unit/test_registry.py` checks every entry against the real signature so the two can
never drift apart. Adding a built-in = one `register(...)` line.
"""

from __future__ import annotations

import difflib
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


class Registry:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, entry: Entry) -> Entry:
        if entry.name in self._entries:
            raise ValueError(f"{self.kind} {entry.name!r} is registered twice")
        self._entries[entry.name] = entry
        return entry

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __getitem__(self, name: str) -> Entry:
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def suggest(self, name: str) -> str:
        """'did you mean' text listing the closest / all valid names."""
        close = difflib.get_close_matches(name, self.names(), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{hint}valid {self.kind} names: {', '.join(self.names())}"


MODELS = Registry("model")
DATA = Registry("data")
OPTIMIZERS = Registry("optimizer")
LR_SCHEDULERS = Registry("lr_scheduler")

# Registrations of the built-ins live in raytrain/config/builtins.py (torch-free).
from raytrain.config import builtins as _builtins  # noqa: E402,F401
