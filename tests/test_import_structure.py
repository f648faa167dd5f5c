"""The package's modules import one another in one direction only (no cycles), at the top of
each module: no import of a layerwise module hidden inside a function to dodge a cycle. The
only function-level imports of layerwise modules are the lazy loaders of optional parts
(``__getattr__`` of the package face and of ``layerwise.export``)."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "src" / "layerwise"
LAZY_LOADERS = {("layerwise", "__getattr__"), ("layerwise.export", "__getattr__")}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(module: str, node: ast.ImportFrom | ast.Import, is_package: bool) -> list[str]:
    """The layerwise modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "layerwise"]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "layerwise":
        return []
    found = []
    for alias in node.names:
        candidate = f"{target}.{alias.name}"
        found.append(candidate if candidate in MODULES else target)
    return found


def _imports():
    """(module, imported module, inside which function or None) for every import."""
    edges = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        is_package = path.name == "__init__.py"

        stack = [(tree, None)]
        while stack:
            node, function = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    stack.append((child, child.name))
                elif isinstance(child, (ast.Import, ast.ImportFrom)):
                    for target in _resolve(module, child, is_package):
                        edges.append((module, target, function))
                else:
                    stack.append((child, function))
    return edges


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def walk(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = walk(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = walk(node)
            if found:
                return found
    return None


def _graph(edges):
    graph: dict[str, set[str]] = {}
    for source, target, _ in edges:
        # A module importing its own package's face (``from . import registry`` resolves to the
        # submodule; the face itself imports everything) is not an edge back up.
        if target != source and not (target == "layerwise" and source != "layerwise"):
            graph.setdefault(source, set()).add(target)
    return graph


def test_there_is_no_import_cycle_between_modules():
    assert _cycle(_graph(_imports())) is None


def test_the_cycle_check_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_layerwise_import_is_hidden_inside_a_function():
    hidden = [
        (source, target, function)
        for source, target, function in _imports()
        if function is not None and (source, function) not in LAZY_LOADERS
    ]
    assert hidden == []


@pytest.mark.parametrize(
    "module", ["checkpoints", "saving", "model_file", "callbacks", "training", "model", "graph"]
)
def test_each_core_module_can_be_imported_first(module):
    subprocess.run([sys.executable, "-c", f"import layerwise.{module}"], check=True)
