"""The package's shape: imports flow one way (contracts and data -> core -> routes -> doors), the core never
imports a route or a door, every operation of the OpenAPI document has a handler, and no public name is
shadowed by a module."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import edenfake
from edenfake import contracts
from edenfake.routes import HANDLERS

PACKAGE = Path(edenfake.__file__).parent
#: modules below the routes: none of them may import a route, EdenFake or a door
CORE = {
    "edenfake._core",
    "edenfake._request",
    "edenfake._store",
    "edenfake._wire",
    "edenfake._png",
    "edenfake._options",
    "edenfake._answers",
    "edenfake.contracts",
    "edenfake.catalog",
    "edenfake.images",
    "edenfake.journal",
    "edenfake.faults",
    "edenfake.errors",
}
DOORS = {"edenfake.fake", "edenfake.app", "edenfake._mock", "edenfake.server", "edenfake.cli", "edenfake.plugin"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the edenfake modules it imports, anywhere in its source (function-level imports too)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("edenfake"):
                for alias in node.names:
                    child = f"{node.module}.{alias.name}"
                    found.add(child if child in modules else node.module)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("edenfake"))
        found.discard(name)
        found.discard("edenfake")  # the package itself: its __init__ imports nothing eagerly
        graph[name] = {m for m in found if m in modules}
    return graph


def test_there_is_no_import_cycle() -> None:
    graph = import_graph()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for child in sorted(graph[name]):
            visit(child, [*path, name])
        done.add(name)

    for module in sorted(graph):
        visit(module, [])
    assert len(done) == len(graph) >= 20


def test_the_core_imports_no_route_and_no_door() -> None:
    graph = import_graph()
    for module in CORE:
        reached = _reachable(graph, module)
        assert not {m for m in reached if m.startswith("edenfake.routes")}, (module, reached)
        assert not reached & DOORS, (module, reached & DOORS)


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for child in graph[todo.pop()]:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def test_every_operation_of_the_openapi_document_has_exactly_one_handler() -> None:
    operations = {r.operation_id for r in contracts.route_table().routes}
    assert operations == set(HANDLERS)


def test_public_functions_are_never_shadowed_by_modules() -> None:
    for info in pkgutil.walk_packages(edenfake.__path__, "edenfake."):
        if info.name != "edenfake.__main__":
            importlib.import_module(info.name)
    assert callable(edenfake.mock) and callable(edenfake.serve)
    assert not any(m.name in edenfake.__all__ for m in pkgutil.iter_modules(edenfake.__path__))
