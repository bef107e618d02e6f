"""Every `raytrain ...` command README.md shows parses, as written, with the real parser.

Running them all is the e2e suites' job; this catches a README line (or a parser change)
that a new user would meet as "unrecognized arguments". Commands come from ``bash`` /
``console`` blocks (``$ `` lines) and from inline code; synopses with ``[OPTIONS]`` and
bare command names (`raytrain train`) are not commands to run.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from raytrain.cli import parse_command_line

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
_INLINE = re.compile(r"`(raytrain [^`]+)`")
_OVERRIDE = re.compile(r"^[A-Za-z_][\w\-]*(\.[\w\-]+)*=")
_SEPARATORS = {"&&", "||", ";", "|"}


def _shell_lines(text: str) -> list[str]:
    """Blocks' command lines, continuation lines joined; `$ ` lines only in console blocks."""
    lines = []
    for language, body in _BLOCK.findall(text):
        if language not in ("bash", "sh", "console"):
            continue
        body = body.replace("\\\n", " ")
        for line in body.splitlines():
            if language == "console":
                if line.startswith("$ "):
                    lines.append(line[2:])
            else:
                lines.append(line)
    return lines


def _commands(line: str) -> list[list[str]]:
    """The `raytrain` argv lists in one shell line (also inside `bash -c '...'`)."""
    words = shlex.split(line, comments=True)
    found, current = [], []
    for word in [*words, ";"]:
        if word in _SEPARATORS or word.startswith(">"):
            if current and current[0] == "raytrain":
                found.append(current[1:])
            current = [] if word in _SEPARATORS else ["redirected"]
            continue
        if current[:1] == ["redirected"]:
            continue
        if current[-1:] == ["-c"] and current[:1] == ["bash"]:
            found += _commands(word)
        current.append(word)
    return found


def readme_commands() -> list[list[str]]:
    text = README.read_text()
    commands = [argv for line in _shell_lines(text) for argv in _commands(line)]
    for span in _INLINE.findall(text):
        span = " ".join(span.split())
        if len(span.split()) >= 3:  # not just the name of a command
            commands.append(shlex.split(span)[1:])
    return [argv for argv in commands if not _is_synopsis(argv)]


def _is_synopsis(argv: list[str]) -> bool:
    return any(word.startswith("[") or word == "COMMAND" for word in argv)


def test_readme_shows_the_commands_this_test_is_about() -> None:
    shown = {" ".join(argv) for argv in readme_commands()}
    assert "tune runs/quickstart --resume search.num_samples=40" in shown
    assert "tune search_spaces/quickstart.yaml" in shown
    assert any(argv[0] == "slurm" for argv in readme_commands())


@pytest.mark.parametrize("argv", readme_commands(), ids=" ".join)
def test_readme_command_parses(argv: list[str]) -> None:
    try:
        args = parse_command_line(argv)[1]
    except SystemExit as exc:  # --help / --version exit 0; a parse error exits 2
        assert exc.code == 0, f"README command does not parse: raytrain {' '.join(argv)}"
        return
    assert args.command == argv[0]
    # Every KEY=VALUE word that is not an option's value reached the overrides.
    values = {str(v) for k, v in vars(args).items() if k != "overrides" and not isinstance(v, list)}
    values |= {
        str(x) for k, v in vars(args).items() if k != "overrides" and isinstance(v, list) for x in v
    }
    expected = [word for word in argv if _OVERRIDE.match(word) and word not in values]
    assert getattr(args, "overrides", []) == expected
