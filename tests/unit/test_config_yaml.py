"""Safe YAML loading: line numbers, duplicate keys, tags that must never run."""

from __future__ import annotations

from pathlib import Path

import pytest

from raytrain.config.yaml_io import dump_yaml, load_yaml_file, load_yaml_text


def test_lines_are_recorded_per_key_path() -> None:
    doc = load_yaml_text("a:\n  b: 1\n  c:\n    - x\n    - {d: 2}\n", "f.yaml")
    assert doc.problems == []
    assert doc.data == {"a": {"b": 1, "c": ["x", {"d": 2}]}}
    assert doc.lines.origin(("a", "b")).line == 2
    assert doc.lines.origin(("a", "c", "1", "d")).line == 5
    assert doc.lines.origin(("a", "missing", "deeper")).line == 1  # nearest enclosing key


def test_duplicate_key_is_a_problem_with_both_lines() -> None:
    doc = load_yaml_text("x: 1\ny: 2\nx: 3\n", "f.yaml")
    (p,) = doc.problems
    assert (p.path, p.line, p.file) == ("x", 3, "f.yaml")
    assert "first at line 1" in p.message
    assert doc.data["x"] == 1


def test_nested_duplicate_key() -> None:
    doc = load_yaml_text("a:\n  b: 1\n  b: 2\n")
    assert [(p.path, p.line) for p in doc.problems] == [("a.b", 3)]


def test_syntax_error_has_a_line() -> None:
    doc = load_yaml_text("a: [1, 2\nb: 3\n", "f.yaml")
    (p,) = doc.problems
    assert p.message.startswith("YAML syntax error")
    assert p.line is not None and p.file == "f.yaml"
    assert doc.data is None


@pytest.mark.parametrize(
    "tagged",
    [
        "!!python/object/apply:os.system ['touch {m}']",
        "!!python/object/new:pathlib.Path ['{m}']",
        "!!python/name:os.system",
        "!!python/tuple [1, 2]",
        "!!binary aGVsbG8=",
        "!shell touch {m}",
    ],
)
def test_tags_are_rejected_and_never_constructed(tmp_path: Path, tagged: str) -> None:
    marker = tmp_path / "created"
    doc = load_yaml_text(f"ok: 1\nbad: {tagged.format(m=marker)}\n", "f.yaml")
    (p,) = doc.problems
    assert (p.path, p.line) == ("bad", 2)
    assert "not allowed" in p.message
    assert not marker.exists()


def test_tag_on_a_mapping_is_rejected() -> None:
    doc = load_yaml_text("a: !!python/object:os.PathLike {x: 1}\n")
    assert [p.path for p in doc.problems] == ["a"]


def test_plain_explicit_tags_are_fine() -> None:
    doc = load_yaml_text("a: !!str 12\nb: !!float 3\n")
    assert doc.problems == [] and doc.data == {"a": "12", "b": 3.0}


def test_scientific_floats_dates_and_merge_keys() -> None:
    doc = load_yaml_text("lr: 1e-3\nday: 2024-01-02\nbase: &b {x: 1}\nmore: {<<: *b, y: 2}\n")
    assert doc.problems == []
    assert doc.data["lr"] == 0.001
    assert doc.data["day"] == "2024-01-02"
    assert doc.data["more"] == {"x": 1, "y": 2}


def test_dump_quotes_strings_that_look_like_numbers() -> None:
    data = {"a": "1e-3", "b": 1e-3, "c": "yes", "d": "2024-01-02", "e": None, "f": [1, "2"]}
    assert load_yaml_text(dump_yaml(data)).data == data


def test_missing_and_empty_files(tmp_path: Path) -> None:
    (p,) = load_yaml_file(tmp_path / "nope.yaml").problems
    assert "cannot read file" in p.message
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    doc = load_yaml_file(empty)
    assert doc.data is None and doc.problems == []


def test_control_characters_are_a_problem_with_a_line() -> None:
    (p,) = load_yaml_text("a: 1\nb: \x1b\n", "f.yaml").problems
    assert (p.line, p.file) == (2, "f.yaml") and "#x001b" in p.message


def test_alias_bombs_and_self_reference_are_refused() -> None:
    bomb = "a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
    )
    (p,) = load_yaml_text(bomb).problems
    assert "has more than" in p.message
    (p,) = load_yaml_text("a: &x [*x]\n").problems
    assert "refers to itself" in p.message


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    (p,) = load_yaml_text("a: " + "[" * 5000 + "]" * 5000 + "\n").problems
    assert "nested too deeply" in p.message


def test_merge_keys_explicit_keys_win_and_are_not_duplicates() -> None:
    doc = load_yaml_text("b: &b {x: 1, z: 0}\nm: {<<: *b, x: 2}\nn: {x: 5, <<: *b}\n")
    assert doc.problems == []
    assert doc.data["m"] == {"x": 2, "z": 0} and doc.data["n"] == {"x": 5, "z": 0}


def test_block_nesting_is_refused_past_its_limit_before_parsing() -> None:
    from raytrain.config.yaml_io import MAX_BLOCK_DEPTH

    def nested(levels: int) -> str:
        return "".join(" " * i + f"k{i}:\n" for i in range(levels))

    fine = load_yaml_text(nested(MAX_BLOCK_DEPTH) + "# a comment\n\n  back: 1\n")
    assert not fine.problems and "k0" in fine.data
    (p,) = load_yaml_text(nested(MAX_BLOCK_DEPTH + 1)).problems
    assert "nested too deeply" in p.message and "indentation levels" in p.message
