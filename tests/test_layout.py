"""The package's shape: every module has a layer and imports flow one way through them (contracts and data ->
requests and state -> core -> answers and routes -> the fake -> doors and tools), there is no import cycle,
no route imports another, no module is over the line limit, every operation of the OpenAPI document has a
handler, and no public name is shadowed by a module."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import edenfake
from edenfake import contracts
from edenfake.routes import HANDLERS

PACKAGE = Path(edenfake.__file__).parent
#: every module of the package, by layer, lowest first: a module imports only modules of its own layer or below
LAYERS: dict[str, set[str]] = {
    "contracts and data": {
        "edenfake._schemas",
        "edenfake._acceptor",
        "edenfake._routing",
        "edenfake._redact",
        "edenfake._media",
        "edenfake._files",
        "edenfake._png",
        "edenfake._inspect",
        "edenfake._glyphs",
        "edenfake._store",
        "edenfake._kwargs",
        "edenfake._options",
        "edenfake.errors",
        "edenfake.contracts",
        "edenfake._regions",
        "edenfake.catalog",
    },
    "requests, state and cassette files": {
        "edenfake._calls",
        "edenfake._wire",
        "edenfake._multipart",
        "edenfake._summaries",
        "edenfake._request",
        "edenfake._query",
        "edenfake._tags",
        "edenfake._ratelimit",
        "edenfake._sessions",
        "edenfake.images",
        "edenfake.journal",
        "edenfake._har",
        "edenfake.faults",
        "edenfake.cassettes",
        "edenfake.cassettes.scrub",
        "edenfake.cassettes.format",
        "edenfake.cassettes.matching",
        "edenfake.cassettes.writing",
        "edenfake.cassettes.har",
        "edenfake.cassettes.vcr",
        "edenfake.cassettes.importing",
    },
    "core": {"edenfake._core"},
    "answers": {
        "edenfake._answers",
        "edenfake._guard",
        "edenfake.routes",
        "edenfake.routes.admin",
        "edenfake.routes.console",
        "edenfake.routes.edits",
        "edenfake.routes.generations",
        "edenfake.routes.images",
        "edenfake.routes.models",
        "edenfake.routes.service",
        "edenfake.routes.uploads",
        "edenfake.cassettes.replay",
    },
    "the fake": {"edenfake.fake"},
    "doors and tools": {
        "edenfake",
        "edenfake.__main__",
        "edenfake._handle",
        "edenfake._failures",
        "edenfake._offload",
        "edenfake._mock",
        "edenfake._mock_requests",
        "edenfake._mock_aiohttp",
        "edenfake._transports",
        "edenfake.app",
        "edenfake.server",
        "edenfake._bounds",
        "edenfake.plugin",
        "edenfake.cli",
        "edenfake._arguments",
        "edenfake._docs",
        "edenfake._validate",
        "edenfake.cassettes.recording",
        "edenfake.cassettes.session",
        "edenfake.drift",
        "edenfake.drift.command",
        "edenfake.drift.checking",
        "edenfake.drift.comparison",
        "edenfake.drift.kinds",
        "edenfake.drift.report",
        "edenfake.drift.suggestion",
        "edenfake.strategies",
        "edenfake.strategies._answers",
        "edenfake.strategies._files",
        "edenfake.strategies._requests",
    },
}
LEVEL = {module: level for level, modules in enumerate(LAYERS.values()) for module in modules}
#: a module over this many lines is two modules
MAX_LINES = 450


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


def test_every_module_has_a_layer_and_imports_only_its_own_layer_or_below() -> None:
    graph = import_graph()
    assert set(graph) == set(LEVEL), {"without a layer": set(graph) - set(LEVEL), "gone": set(LEVEL) - set(graph)}
    names = list(LAYERS)
    upward = [
        f"{module} ({names[LEVEL[module]]}) imports {target} ({names[LEVEL[target]]})"
        for module, targets in graph.items()
        for target in targets
        if LEVEL[target] > LEVEL[module]
    ]
    assert not upward, "\n".join(upward)


def test_routes_import_no_other_route() -> None:
    graph = import_graph()
    for module, targets in graph.items():
        if module.startswith("edenfake.routes."):
            assert not {t for t in targets if t.startswith("edenfake.routes")}, (module, targets)


def test_no_module_is_over_the_line_limit() -> None:
    long = {
        str(path.relative_to(PACKAGE.parent)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_every_operation_of_the_openapi_document_has_exactly_one_handler() -> None:
    operations = {r.operation_id for r in contracts.route_table().routes}
    assert operations == set(HANDLERS)


def test_public_functions_are_never_shadowed_by_modules() -> None:
    for info in pkgutil.walk_packages(edenfake.__path__, "edenfake."):
        if info.name != "edenfake.__main__":
            importlib.import_module(info.name)
    assert callable(edenfake.mock) and callable(edenfake.serve)
    assert not any(m.name in edenfake.__all__ for m in pkgutil.iter_modules(edenfake.__path__))
