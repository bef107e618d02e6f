"""Safe YAML loading that remembers where every key came from.

Space files and train configs are user input, so they are read with PyYAML's *safe*
composer only: the text is turned into a node tree and converted to plain Python here,
node by node. Any tag outside the plain YAML types (``!!python/object/apply:...``, ``!foo``)
is reported as a problem and never constructed, so nothing in a file can execute.
Duplicate keys are problems too (PyYAML silently keeps the last one).

Each key's origin (file and 1-based line) is recorded in a `LineMap` so that validation
messages can say ``space.yaml:12: parameters.optimizer.lr.low: ...``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from raytrain.errors import Problem

KeyPath = tuple[str, ...]

_STD = "tag:yaml.org,2002:"
_TIMESTAMP = f"{_STD}timestamp"
_ALLOWED_TAGS = {f"{_STD}{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-3` as a float (YAML 1.1 would make it a string)."""


class _Dumper(yaml.SafeDumper):
    """SafeDumper that quotes strings our loader would read as floats (e.g. '1e-3')."""


_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
    re.X,
)
for _cls in (_Loader, _Dumper):
    _cls.add_implicit_resolver(f"{_STD}float", _FLOAT, list("-+0123456789."))


@dataclass(frozen=True)
class Origin:
    file: str | None
    line: int | None


@dataclass
class LineMap:
    """Key path -> where it was written. Lookups fall back to the nearest enclosing key."""

    default_file: str | None = None
    origins: dict[KeyPath, Origin] = field(default_factory=dict)

    def set(self, path: KeyPath, origin: Origin) -> None:
        self.origins[path] = origin

    def origin(self, path: Sequence[str]) -> Origin:
        p = tuple(path)
        while True:
            if p in self.origins:
                return self.origins[p]
            if not p:
                return Origin(self.default_file, None)
            p = p[:-1]

    def problem(self, path: Sequence[str], message: str) -> Problem:
        where = self.origin(path)
        return Problem(path=".".join(path), message=message, file=where.file, line=where.line)

    def subtree(self, prefix: KeyPath) -> LineMap:
        """The origins under `prefix`, re-rooted (for a section handled on its own)."""
        n = len(prefix)
        out = LineMap(self.origin(prefix).file or self.default_file)
        out.origins = {p[n:]: o for p, o in self.origins.items() if p[:n] == prefix}
        return out

    def graft(self, prefix: KeyPath, other: LineMap) -> None:
        """Record `other`'s origins under `prefix` (later grafts win, as merges do)."""
        for p, o in other.origins.items():
            self.origins[prefix + p] = o


@dataclass
class Document:
    """A YAML file as plain data plus where each key came from and what was wrong."""

    data: Any
    lines: LineMap
    problems: list[Problem] = field(default_factory=list)


def load_yaml_file(path: str | Path) -> Document:
    """Read a YAML file safely; I/O and syntax errors become problems, not exceptions."""
    name = str(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_FILE_BYTES:  # refused unread: parsing megabytes takes long
            return Document(None, LineMap(name), [Problem("", _too_big(size), name)])
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return Document(None, LineMap(name), [Problem("", f"cannot read file: {exc}", name)])
    except UnicodeDecodeError as exc:
        return Document(None, LineMap(name), [Problem("", f"not UTF-8 text: {exc}", name)])
    return load_yaml_text(text, name)


def load_yaml_text(text: str, file: str | None = None) -> Document:
    lines = LineMap(file)
    if len(text) > MAX_FILE_BYTES:
        return Document(None, lines, [Problem("", _too_big(len(text)), file)])
    if _flow_depth_over(text, MAX_FLOW_DEPTH):  # PyYAML's scanner is quadratic in it
        message = (
            f"the YAML is nested too deeply (more than {MAX_FLOW_DEPTH} levels of [ ] or {{ }})"
        )
        return Document(None, lines, [Problem("", message, file)])
    if _block_depth_over(text, MAX_BLOCK_DEPTH):
        # else refused only by the composer's RecursionError: 0.5 s quiet, 1.16 s in CI for
        # 1200 levels, past the fuzz test's one second
        message = f"the YAML is nested too deeply (more than {MAX_BLOCK_DEPTH} indentation levels)"
        return Document(None, lines, [Problem("", message, file)])
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:  # e.g. control characters, rejected before parsing
        line = None
        if isinstance(exc, yaml.reader.ReaderError):
            line = text.count("\n", 0, exc.position) + 1
            exc = yaml.YAMLError(f"unacceptable character #x{exc.character:04x}")
        return Document(None, lines, [Problem("", f"YAML syntax error: {exc}", file, line)])
    try:
        node = loader.get_single_node()
    except RecursionError:
        return Document(None, lines, [Problem("", "the YAML is nested too deeply", file)])
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        return Document(None, lines, [Problem("", f"YAML syntax error: {what}", file, line)])
    except yaml.YAMLError as exc:
        return Document(None, lines, [Problem("", f"YAML syntax error: {exc}", file)])
    finally:
        loader.dispose()
    if node is None:
        return Document(None, lines)
    size = _expanded_size(node, {}, set())
    if size is None or size > MAX_VALUES:
        what = (
            "refers to itself through an alias"
            if size is None
            else f"has more than {MAX_VALUES} values (counting each alias as what it repeats)"
        )
        return Document(None, lines, [Problem("", f"the YAML {what}", file)])
    builder = _Builder(loader, lines, file)
    try:
        data = builder.build(node, ())
    except RecursionError:
        return Document(None, lines, [Problem("", "the YAML is nested too deeply", file)])
    return Document(data, lines, builder.problems)


MAX_VALUES = 100_000  # a config is a few hundred values; aliases must not blow it up
MAX_FILE_BYTES = 1 << 20  # a space or config file is a few KiB


MAX_FLOW_DEPTH = 100  # a config nests a handful of levels
MAX_BLOCK_DEPTH = 100
_QUOTED_OR_COMMENT = re.compile(
    r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\n]|\'\')*\'|(?:^|(?<=\s))#[^\n]*', re.M
)
_BRACKET = re.compile(r"[\[\]{}]")


def _flow_depth_over(text: str, limit: int) -> bool:
    """Whether `[`/`{` nest deeper than `limit` anywhere (outside quotes and comments;
    a bracket inside a plain scalar may count, which only matters past `limit`)."""
    depth = 0
    for match in _BRACKET.finditer(_QUOTED_OR_COMMENT.sub("", text)):
        depth = depth + 1 if match.group() in "[{" else max(0, depth - 1)
        if depth > limit:
            return True
    return False


def _block_depth_over(text: str, limit: int) -> bool:
    """Whether more than `limit` ever deeper indentations are open at once (a line's
    indentation closes the deeper ones). Lines of a block scalar count as well, which only
    matters past `limit` levels."""
    open_indents: list[int] = []
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        while open_indents and open_indents[-1] > indent:
            open_indents.pop()
        if not open_indents or open_indents[-1] < indent:
            open_indents.append(indent)
            if len(open_indents) > limit:
                return True
    return False


def _too_big(size: int) -> str:
    return (
        f"the file is {size / (1 << 20):.1f} MiB; a space or config file may be at most "
        f"{MAX_FILE_BYTES >> 20} MiB (refused without parsing it)"
    )


def _expanded_size(node: yaml.Node, memo: dict[int, int], active: set[int]) -> int | None:
    """How many values the document has once aliases are expanded (None: a cycle)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        return None
    active.add(key)
    total = 1
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    for child in children:
        size = _expanded_size(child, memo, active)
        if size is None:
            return None
        total += size
        if total > MAX_VALUES:
            break
    active.discard(key)
    memo[key] = total
    return total


class _Builder:
    """Node tree -> plain data, checking tags and duplicate keys, recording lines."""

    def __init__(self, loader: _Loader, lines: LineMap, file: str | None) -> None:
        self.loader = loader
        self.lines = lines
        self.file = file
        self.problems: list[Problem] = []

    def _problem(self, path: KeyPath, node: yaml.Node, message: str) -> None:
        line = node.start_mark.line + 1
        self.problems.append(Problem(".".join(path), message, self.file, line))

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        if node.tag == _TIMESTAMP and isinstance(node, yaml.ScalarNode):
            return node.value  # a date stays the text the user wrote
        if node.tag not in _ALLOWED_TAGS:
            self._problem(
                path,
                node,
                f"YAML tag {_short(node.tag)!r} is not allowed (only plain YAML values; "
                "raytrain never constructs Python objects from a file)",
            )
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, str(i))) for i, item in enumerate(node.value)]
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self._problem(path, node, f"bad value: {exc}")
            return None

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        own = {id(k) for k, _ in node.value if k.tag != f"{_STD}merge"}
        try:
            pairs = _flattened(self.loader, node)
        except yaml.YAMLError as exc:
            self._problem(path, node, f"bad merge key: {exc}")
            return {}
        out: dict[str, Any] = {}
        merged: set[str] = set()  # keys that came from `<<:` (own keys may override them)
        for key_node, value_node in pairs:
            key = self.build(key_node, path)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                self._problem(path, key_node, f"keys must be plain scalars, got {key!r}")
                continue
            key = key if isinstance(key, str) else str(key)
            sub = (*path, key)
            if key in merged and id(key_node) in own:
                merged.discard(key)  # an explicit key overrides a merged one (YAML merge)
            elif key in out and id(key_node) not in own:
                continue  # the first merged mapping wins
            elif key in out:
                first = self.lines.origins.get(sub)
                at = f" (first at line {first.line})" if first and first.line else ""
                self._problem(sub, key_node, f"duplicate key {key!r}{at}")
                continue
            if id(key_node) not in own:
                merged.add(key)
            self.lines.set(sub, Origin(self.file, key_node.start_mark.line + 1))
            out[key] = self.build(value_node, sub)
        return out


def _flattened(loader: _Loader, node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
    """The mapping's pairs with `<<:` merges expanded, leaving the node itself untouched."""
    flat = yaml.MappingNode(node.tag, list(node.value), node.start_mark, node.end_mark)
    loader.flatten_mapping(flat)
    return list(flat.value)


def _short(tag: str) -> str:
    return "!!" + tag[len(_STD) :] if tag.startswith(_STD) else tag


def dump_yaml(data: Any) -> str:
    """Plain YAML text, keys in the given order (used for space.yaml / best.yaml)."""
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )


def parse_scalar(text: str, where: str) -> tuple[Any, list[Problem]]:
    """One override value, read with the same safe rules as a file."""
    doc = load_yaml_text(text if text.strip() else "''", where)
    return doc.data, [Problem(p.path, p.message, where) for p in doc.problems]


def iter_paths(data: Any, prefix: KeyPath = ()) -> Iterable[KeyPath]:
    """Every key path of nested mappings (leaves and inner nodes)."""
    if isinstance(data, dict):
        for k, v in data.items():
            yield (*prefix, k)
            yield from iter_paths(v, (*prefix, k))
