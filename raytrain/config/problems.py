"""Collect every problem in a file before failing, each with its file, line and key path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from raytrain.config.tree import KeyPath
from raytrain.config.yaml_io import LineMap
from raytrain.errors import InputError, Problem


@dataclass
class Problems:
    """A sink for problems; `prefix` places a section (e.g. `config`) inside its file."""

    lines: LineMap = field(default_factory=LineMap)
    prefix: KeyPath = ()
    items: list[Problem] = field(default_factory=list)

    def add(self, path: Sequence[str], message: str) -> None:
        self.items.append(self.lines.problem((*self.prefix, *path), message))

    def extend(self, problems: Sequence[Problem]) -> None:
        self.items.extend(problems)

    def under(self, *path: str) -> Problems:
        """The same sink, with paths relative to `path` (problems land in the same list)."""
        return Problems(self.lines, (*self.prefix, *path), self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise InputError(_dedupe(self.items))


def _dedupe(problems: Sequence[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    out = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out
