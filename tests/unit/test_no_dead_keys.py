"""No dead keys: every field of the train-config schema and the space-file schema is read
somewhere outside the code that parses, validates or writes it back (issue 13: a key that
is parsed and does nothing is worse than a missing one).

"Read" is an attribute load `x.<field>` or a string key `x["<field>"]` / `x.get("<field>")`
in a consumer module. A field name also used for something else passes too: the check
catches keys nobody reads, which is how `logging.wandb` went unnoticed.
"""

from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path

from raytrain.config import schema
from raytrain.space import types as space_types

PACKAGE = Path(schema.__file__).resolve().parent.parent

# Parse, validate, convert or write back; they do not count as consumers. (schema.py does
# count: `checkpoint_keep` and `default_metric_note` act on the config; its field
# declarations are not reads.)
NOT_CONSUMERS = {
    "config/parse.py",
    "config/types_check.py",
    "config/components.py",
    "config/loading.py",
    "config/overrides.py",
    "space/parse.py",
    "space/param_entry.py",
    "space/param_section.py",
    "space/settings.py",
    "space/loading.py",
    "space/types.py",
    "space/dump.py",
    "space/wandb.py",
    "space/wandb_io.py",
    "space/wandb_params.py",
    "space/wandb_paths.py",
    "space/wandb_settings.py",
}

# (class, field) -> why it is only validated / only there for the parser.
VALIDATION_ONLY: dict[tuple[type, str], str] = {
    (space_types.FloatParam, "kind"): "the parser's tag; consumers dispatch on the class",
    (space_types.IntParam, "kind"): "the parser's tag; consumers dispatch on the class",
    (space_types.CategoricalParam, "kind"): "the parser's tag; consumers dispatch on the class",
}

ROOTS = (schema.TrainConfig, space_types.Space)


def schema_fields() -> set[tuple[type, str]]:
    """Every (dataclass, field) reachable from the two schemas' roots."""
    seen: set[type] = set()
    out: set[tuple[type, str]] = set()

    def walk(cls: type) -> None:
        if cls in seen or not dataclasses.is_dataclass(cls):
            return
        seen.add(cls)
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            out.add((cls, f.name))
            for arg in _types_in(hints[f.name]):
                walk(arg)

    for root in ROOTS:
        walk(root)
    for param in typing.get_args(space_types.Param):
        walk(param)
    return out


def _types_in(hint: object) -> list[type]:
    found = [hint] if isinstance(hint, type) else []
    for arg in typing.get_args(hint):
        found.extend(_types_in(arg))
    return found


def names_read(modules: list[Path]) -> set[str]:
    names: set[str] = set()
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                names.add(node.attr)
            elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
                names.add(str(node.slice.value))
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("get", "pop", "setdefault")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names.add(str(node.args[0].value))
    return names


def consumer_modules() -> list[Path]:
    return [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.relative_to(PACKAGE).as_posix() not in NOT_CONSUMERS
    ]


def dead_keys(fields: set[tuple[type, str]], read: set[str]) -> list[str]:
    return sorted(
        f"{cls.__name__}.{name}"
        for cls, name in fields
        if name not in read and (cls, name) not in VALIDATION_ONLY
    )


def test_every_schema_key_is_consumed():
    assert dead_keys(schema_fields(), names_read(consumer_modules())) == []


def test_the_validation_only_list_has_no_stale_entries():
    fields = schema_fields()
    assert set(VALIDATION_ONLY) <= fields


def test_a_key_nobody_reads_is_reported(tmp_path):
    @dataclasses.dataclass
    class WithDeadKey:
        used: int = 0
        nobody_reads_this: int = 0

    consumer = tmp_path / "consumer.py"
    consumer.write_text("def f(cfg):\n    return cfg.used\n")
    fields = {(WithDeadKey, "used"), (WithDeadKey, "nobody_reads_this")}
    assert dead_keys(fields, names_read([consumer])) == ["WithDeadKey.nobody_reads_this"]
