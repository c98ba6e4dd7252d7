"""Where the contract files are and how they are read: each file once, each name resolved to its schema.

The public face of the contracts is :mod:`edenfake.contracts`; this module is what everything below it (the
redaction rules, the validators) needs to read a contract without importing the validators.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

__all__ = ["BASE_URI", "CONTRACTS", "contracts_dir", "json_types", "load", "load_file", "resolve"]

BASE_URI = "https://edenfake.dev/contracts/"

#: contract name -> file in contracts/
CONTRACTS: dict[str, str] = {
    "generation-request": "generation-request.schema.json",
    "edit-request": "edit-request.schema.json",
    "image-response": "image-response.schema.json",
    "models-list": "models-list.schema.json",
    "errors": "errors.schema.json",
    "catalog": "catalog.schema.json",
    "admin": "admin.schema.json",
    "cassette": "cassette.schema.json",
    "uploads": "uploads.schema.json",
}


@functools.cache
def contracts_dir() -> Path:
    """Where the contract files are: inside the installed package, else beside it in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_contracts", here.parent / "contracts"):
        if (candidate / "openapi.json").is_file():
            return candidate
    raise FileNotFoundError(f"edenfake's contracts/ folder is missing (looked in {here / '_contracts'})")


@functools.cache
def load_file(filename: str) -> dict[str, Any]:
    with open(contracts_dir() / filename, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def load(name: str) -> dict[str, Any]:
    """A deep copy of contract ``name`` (a key of CONTRACTS, ``"openapi"``, or a ``#/$defs/...`` path of one)."""
    return copy.deepcopy(resolve(name))


def resolve(name: str) -> dict[str, Any]:
    file_part, _, pointer = name.partition("#")
    if file_part == "openapi":
        doc = load_file("openapi.json")
    elif file_part in CONTRACTS:
        doc = load_file(CONTRACTS[file_part])
    else:
        raise KeyError(f"unknown contract {name!r}; known: {', '.join(sorted([*CONTRACTS, 'openapi']))}")
    node: Any = doc
    for part in filter(None, pointer.split("/")):
        node = node[part]
    if not isinstance(node, dict):
        raise KeyError(f"{name!r} is not a schema")
    return node


def parameters(operation: dict[str, Any]) -> list[dict[str, Any]]:
    """An OpenAPI operation's parameters, each shared one (``#/components/parameters/NAME``, stated once in
    openapi.json) read from the document's components."""
    found = []
    for parameter in operation.get("parameters", ()):
        ref = parameter.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/parameters/"):
            parameter = load_file("openapi.json")["components"]["parameters"][ref.rsplit("/", 1)[1]]
        found.append(parameter)
    return found


def json_types(schema: Any, contract: str) -> set[str]:
    """Every JSON type ``schema`` (a part of ``contract``, a key of CONTRACTS) lets a value take: its own
    ``type``, its forms' (``oneOf``, ``anyOf``) and its items', and those of what its references point at, in
    its own file (``#/$defs/X``) or another (``generation-request.schema.json#/$defs/X``)."""
    if not isinstance(schema, dict):
        return set()
    kind = schema.get("type")
    found = {kind} if isinstance(kind, str) else set(kind or ())
    for form in (*schema.get("oneOf", ()), *schema.get("anyOf", ()), schema.get("items")):
        found |= json_types(form, contract)
    ref = schema.get("$ref")
    if isinstance(ref, str) and "#" in ref:
        filename, _, pointer = ref.partition("#")
        target = next((name for name, f in CONTRACTS.items() if f == filename), contract) if filename else contract
        found |= json_types(resolve(f"{target}#{pointer}"), target)
    return found
