"""`KEY=VALUE` overrides are accepted anywhere on the command line, for every command."""

from __future__ import annotations

import pytest

from raytrain.cli import COMMANDS, parse_command_line

# An option (with its value, if any) each command taking overrides accepts.
OPTION = {
    "tune": ["--storage", "runs"],
    "train": ["--name", "n"],
    "validate": ["--config", "base.yaml"],
    "slurm": ["--nodes", "2"],
    "confirm": ["--top-k", "2"],
}


def takes_overrides(command: str) -> bool:
    return hasattr(parse_command_line([command, "target"])[1], "overrides")


def test_the_commands_with_overrides_are_the_known_ones() -> None:
    assert {name for name in COMMANDS if takes_overrides(name)} == set(OPTION)


@pytest.mark.parametrize("command", sorted(OPTION))
@pytest.mark.parametrize(
    "where",
    ["before options", "after options", "both sides", "before the target"],
)
def test_overrides_anywhere(command: str, where: str) -> None:
    option = OPTION[command]
    lines = {
        "before options": [command, "target", "a=1", "b.c=2", *option],
        "after options": [command, "target", *option, "a=1", "b.c=2"],
        "both sides": [command, "target", "a=1", *option, "b.c=2"],
        "before the target": [command, *option, "target", "a=1", "b.c=2"],
    }
    args = parse_command_line(lines[where])[1]
    assert args.overrides == ["a=1", "b.c=2"]
    target = ("space", "config", "run_dir")
    assert any(getattr(args, name, None) for name in target)


def test_the_readme_resume_line_parses() -> None:
    args = parse_command_line(["tune", "runs/quickstart", "--resume", "search.num_samples=20"])[1]
    assert (args.space, args.resume, args.overrides) == (
        "runs/quickstart",
        True,
        ["search.num_samples=20"],
    )


def test_unknown_options_are_still_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_command_line(["tune", "s.yaml", "--bogus", "a=1"])
    assert info.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_commands_without_overrides_still_reject_extra_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parse_command_line(["status", "runs/x", "--watch", "a=1"])
    assert "unrecognized arguments: a=1" in capsys.readouterr().err
