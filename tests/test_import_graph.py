"""Imports inside a package go one way: no module imports, directly or through others, one that imports it.

A cycle works in Python only while every edge of it but one stays a function-level (lazy) import, so it
breaks the day someone moves an import to the top, and it hides which module is the lower layer. The check
reads the source (nothing is imported): every ``import``/``from ... import`` anywhere in a module, lazy
ones included, except those under ``if TYPE_CHECKING:``. A package's ``__init__`` importing its own
submodules is an edge like any other; the implicit import of a parent package is not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module name ``module`` imports (``from a import b`` also names ``a.b``, in case it is one)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(folder: Path, root: Path = REPO) -> dict[str, set[str]]:
    """Module → the modules under ``folder`` it imports (``.py`` files read, not imported; names from ``root``)."""
    files = {_module_name(p, root.resolve()): p for p in sorted(folder.resolve().rglob("*.py"))}
    graph = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[module] = {m for m in _imported(tree, module, path.name == "__init__.py") if m in files} - {
            module
        }
    return graph


def import_cycles(folder: Path, root: Path = REPO) -> list[list[str]]:
    """The import cycles among the modules under ``folder``, each as the modules it runs through."""
    graph = import_graph(folder, root)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def strongconnect(node: str) -> None:  # Tarjan: each strongly connected component of 2+ is a cycle
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                strongconnect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strongconnect(node)
    return cycles


#: package folders whose imports must go one way (add yours once its cycles are undone)
ACYCLIC = ["hmtir/data", "hmtir/degrade"]


@pytest.mark.parametrize("folder", ACYCLIC)
def test_imports_go_one_way(folder: str) -> None:
    cycles = import_cycles(REPO / folder)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_check_finds_a_lazy_cycle_and_ignores_type_checking(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import f\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n")
    (pkg / "d.py").write_text("import pkg.c\n")
    assert import_cycles(pkg, tmp_path) == [["pkg.a", "pkg.b"]]
    (pkg / "b.py").write_text("def f():\n    pass\n")
    (pkg / "c.py").write_text("import pkg.d\n")
    assert import_cycles(pkg, tmp_path) == [["pkg.c", "pkg.d"]]
