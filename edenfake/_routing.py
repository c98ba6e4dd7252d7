"""The route table, compiled once from ``contracts/openapi.json``: each operation's method, path, the
``operationId`` that names its handler, and what its request body may be. ``edenfake.contracts`` re-exports it
as part of the API as data."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from edenfake import _schemas
from edenfake._schemas import CONTRACTS, load_file

__all__ = ["Route", "RouteTable", "contract_name", "route_table"]


@dataclass(frozen=True)
class Route:
    """One operation of the OpenAPI document: its method and path, the ``operationId`` that names its handler,
    and what its request body may be."""

    method: str
    path: str
    operation_id: str
    tags: tuple[str, ...]
    #: the media types its request body may have (empty: it takes no body)
    media_types: tuple[str, ...] = ()
    #: the contract of a JSON body, e.g. "generation-request" or "admin#/$defs/FaultRequest"
    json_contract: str | None = None
    #: the contract of a multipart body's text fields
    form_contract: str | None = None
    #: query parameter name -> its schema
    query: tuple[tuple[str, Any], ...] = ()

    @property
    def takes_files(self) -> bool:
        return "multipart/form-data" in self.media_types

    @property
    def admin(self) -> bool:
        return "admin" in self.tags


def contract_name(ref: str) -> str:
    """The contract name of an OpenAPI ``$ref``: ``admin.schema.json#/$defs/X`` -> ``admin#/$defs/X``."""
    target, _, pointer = ref.partition("#")
    by_file = {fn: name for name, fn in CONTRACTS.items()}
    name = by_file[target.rsplit("/", 1)[-1]]
    return f"{name}#{pointer}" if pointer else name


class RouteTable:
    """Every operation of the OpenAPI document, found by method and path."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes
        self._exact: dict[str, dict[str, Route]] = {}
        self._templates: list[tuple[re.Pattern[str], dict[str, Route]]] = []
        for route in routes:
            if "{" in route.path:
                pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(route.path)) + "$")
                for known, methods in self._templates:
                    if known.pattern == pattern.pattern:
                        methods[route.method] = route
                        break
                else:
                    self._templates.append((pattern, {route.method: route}))
            else:
                self._exact.setdefault(route.path, {})[route.method] = route

    def find(self, method: str, path: str) -> tuple[Route | None, dict[str, Route] | None]:
        """The operation that answers ``method path`` (a HEAD is answered by the path's GET), and the operations
        at ``path`` by method (None when the document has no such path)."""
        methods = self.methods(path)
        if methods is None:
            return None, None
        route = methods.get(method)
        if route is None and method == "HEAD":
            route = methods.get("GET")
        return route, methods

    def methods(self, path: str) -> dict[str, Route] | None:
        """The operations at ``path`` by method, or None when the document has no such path."""
        found = self._exact.get(path)
        if found is not None:
            return found
        for pattern, methods in self._templates:
            if pattern.match(path):
                return methods
        return None


@functools.cache
def route_table() -> RouteTable:
    """The routes of ``contracts/openapi.json`` (built once)."""
    routes = []
    for path, item in load_file("openapi.json")["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            json_ref = content.get("application/json", {}).get("schema", {}).get("$ref")
            form_ref = content.get("multipart/form-data", {}).get("x-fields")
            query = tuple(
                (p["name"], p.get("schema", {})) for p in _schemas.parameters(operation) if p["in"] == "query"
            )
            routes.append(
                Route(
                    method=method.upper(),
                    path=path,
                    operation_id=operation["operationId"],
                    tags=tuple(operation.get("tags", ())),
                    media_types=tuple(content),
                    json_contract=contract_name(json_ref) if json_ref else None,
                    form_contract=contract_name(form_ref) if form_ref else None,
                    query=query,
                )
            )
    return RouteTable(routes)
