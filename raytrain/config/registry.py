"""The one registry of built-in names: models, data modules, optimizers, lr schedulers.

Entries are declared (in `raytrain/config/builtins.py`) without importing torch or
lightning: each names its implementation lazily ("module:attribute") and lists the keyword
arguments it accepts with their defaults, so `raytrain validate` can check parameter paths
in well under a second.
`tests/unit/test_registry.py` checks every entry against the real signature so the two can
never drift apart. Adding a built-in = one `Entry(...)` in `raytrain/config/builtins.py`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from raytrain.config import builtins
from raytrain.config.entry import Entry

__all__ = ["DATA", "LR_SCHEDULERS", "MODELS", "OPTIMIZERS", "Entry", "Registry"]


class Registry:
    def __init__(self, kind: str, entries: Iterable[Entry] = ()) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        for entry in entries:
            self.register(entry)

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


MODELS = Registry("model", builtins.MODELS)
DATA = Registry("data", builtins.DATA)
OPTIMIZERS = Registry("optimizer", builtins.OPTIMIZERS)
LR_SCHEDULERS = Registry("lr_scheduler", builtins.LR_SCHEDULERS)
