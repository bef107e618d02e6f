"""Errors a user can act on.

`InputError` is bad input (exit code 2): it carries every `Problem` found, each naming the
file, the line (where the YAML has one) and the dotted key path. `RunError` is a runtime
failure (exit code 1) with a message meant for a person, not a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file or override."""

    path: str
    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        key = f" {self.path}:" if self.path else ""
        return f"{where}:{key} {self.message}"


class InputError(Exception):
    """Bad user input; the CLI prints every problem and exits with code 2."""

    exit_code = 2

    def __init__(self, problems: Iterable[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(path="", message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


class RunError(Exception):
    """A runtime failure explained in one message; the CLI exits with code 1."""

    exit_code = 1
