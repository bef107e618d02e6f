"""raytrain's own modules import each other without circles.

Every import of a raytrain module counts, at module top or inside a function (a circle
hidden in a function body is still one), except those under `if TYPE_CHECKING:`, which
never run. Importing `a.b.c` also imports the packages `a` and `a.b`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import raytrain

PACKAGE = Path(raytrain.__file__).parent


def module_files() -> dict[str, Path]:
    files = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under an `if TYPE_CHECKING:` block."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for branch in node.orelse:
                yield branch
                yield from _runtime_nodes(branch)
            continue
        yield node
        yield from _runtime_nodes(node)


def imported_names(name: str, path: Path) -> set[str]:
    """Dotted names `name` imports: modules, and `from` targets that may be modules."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets: set[str] = set()
        for imported in imported_names(name, path):
            parts = imported.split(".")
            # `a.b.c` runs a/__init__ and a/b/__init__ first.
            targets.update(".".join(parts[:k]) for k in range(1, len(parts) + 1))
        # A module's own packages are already being imported when it runs: no edge.
        graph[name] = {
            t for t in targets if t in files and t != name and not name.startswith(t + ".")
        }
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph[node]):
            if cycle := visit(target):
                return cycle
        path.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        if cycle := visit(node):
            return cycle
    return None


def test_raytrain_imports_have_no_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_check_sees_a_cycle_and_function_local_imports() -> None:
    graph = import_graph()
    assert "raytrain.config.registry" in graph["raytrain.config.parse"]
    assert "raytrain.tune.runner" in graph["raytrain.cli.tune"]  # imported inside run()
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
