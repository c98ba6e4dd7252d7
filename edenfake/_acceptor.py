"""A contract compiled to a plain Python predicate that decides "valid" quickly, so that the common case (a
request or document that conforms) never needs jsonschema, whose import and per-call cost are most of a
small request's. For documents of JSON's own types (what the strict parser gives: finite numbers, string
keys, bounded depth) it decides exactly as jsonschema's Draft 2020-12 validator does, keyword by keyword;
anything else it answers False. False means "look closer": the caller then asks jsonschema, which finds
(and words) the violations, or confirms there are none. A contract that uses a keyword the acceptor does not
compile gets no acceptor, and jsonschema alone judges it. Tests check the two agree, with hypothesis.

It reads the same files as the validators (``contracts/*.json``) and follows their ``$ref`` itself, relative
to the document each reference is in.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any

from edenfake._schemas import BASE_URI, load_file

__all__ = ["Acceptor", "acceptor"]

Acceptor = Callable[[Any], bool]

#: keywords that never change whether a document is valid (Draft 2020-12 without a format checker)
_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples", "format"}
    | {"contentEncoding", "contentMediaType", "readOnly", "writeOnly", "deprecated"}
)


#: the longest list of objects or arrays whose items uniqueItems compares pair by pair here
_PAIRWISE_MAX = 64


class _Unsupported(Exception):
    """A schema uses a keyword the acceptor does not compile: jsonschema alone judges that contract."""


def _accept_all(instance: Any) -> bool:
    return True


def _accept_none(instance: Any) -> bool:
    return False


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def _type_check(name: str) -> Callable[[Any], bool]:
    if name == "integer":  # JSON Schema's: 429.0 is the integer 429
        return lambda v: (
            (isinstance(v, int) and not isinstance(v, bool))
            or (isinstance(v, float) and math.isfinite(v) and v.is_integer())
        )
    checks: dict[str, Callable[[Any], bool]] = {
        "string": lambda v: isinstance(v, str),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
        "number": _is_number,
    }
    if name not in checks:
        raise _Unsupported(f"type {name!r}")
    return checks[name]


def _json_equal(one: Any, two: Any) -> bool:
    """Equality as JSON Schema's enum and const see it: true is not 1, 1 is 1.0, containers item by item."""
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    if isinstance(one, str) or isinstance(two, str):
        return isinstance(one, str) and isinstance(two, str) and one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_json_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_json_equal(one[k], two[k]) for k in one)
    if one is None or two is None:
        return one is None and two is None
    if _is_number(one) and _is_number(two):
        return bool(one == two)
    return False


def _is_json(value: Any, depth: int = 0) -> bool:
    """Only JSON's own types (what a strict parser gives), finite numbers, string keys, bounded depth."""
    if value is None or isinstance(value, (bool, str, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if depth > 64:
        return False
    # loops rather than all(generator), here and in the checks below: about 2.5x faster, and every request's body
    # goes through them
    if isinstance(value, list):
        for item in value:  # noqa: SIM110
            if not _is_json(item, depth + 1):
                return False
        return True
    if isinstance(value, dict):
        for key, item in value.items():  # noqa: SIM110
            if not (isinstance(key, str) and _is_json(item, depth + 1)):
                return False
        return True
    return False


class _Compiler:
    def __init__(self) -> None:
        self.compiled: dict[tuple[str, str], Acceptor] = {}

    def reference(self, ref: str, document: str) -> Acceptor:
        target, _, pointer = ref.partition("#")
        if target.startswith(BASE_URI):
            target = target[len(BASE_URI) :]
        filename = target or document
        key = (filename, pointer)
        found = self.compiled.get(key)
        if found is not None:
            return found
        slot: list[Acceptor] = []
        # a recursive reference reaches itself through this indirection before it is compiled
        self.compiled[key] = lambda instance: slot[0](instance)
        node: Any = load_file(filename)
        for part in filter(None, pointer.split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        slot.append(self.schema(node, filename))
        self.compiled[key] = slot[0]
        return slot[0]

    def schema(self, node: Any, document: str) -> Acceptor:
        if node is True:
            return _accept_all
        if node is False:
            return _accept_none
        if not isinstance(node, dict):
            raise _Unsupported(f"schema {type(node).__name__}")
        checks: list[Acceptor] = []
        for keyword, value in node.items():
            if keyword in _ANNOTATIONS or keyword.startswith("x-"):
                continue
            if keyword in ("additionalProperties", "required"):
                continue  # compiled with "properties" below
            checks.append(self.keyword(keyword, value, node, document))
        if "properties" not in node and ("additionalProperties" in node or "required" in node):
            checks.append(self.keyword("properties", {}, node, document))
        if not checks:
            return _accept_all
        if len(checks) == 1:
            return checks[0]
        every = tuple(checks)

        def each(instance: Any) -> bool:
            for check in every:  # noqa: SIM110
                if not check(instance):
                    return False
            return True

        return each

    def keyword(self, keyword: str, value: Any, node: dict[str, Any], document: str) -> Acceptor:
        compile_ = getattr(self, "k_" + keyword.lstrip("$"), None)
        if compile_ is None:
            raise _Unsupported(keyword)
        result: Acceptor = compile_(value, node, document)
        return result

    # -- the keywords the contracts use ---------------------------------------------------------------------

    def k_ref(self, value: str, node: dict[str, Any], document: str) -> Acceptor:
        if not isinstance(value, str):
            raise _Unsupported("$ref")
        return self.reference(value, document)

    def k_type(self, value: Any, node: dict[str, Any], document: str) -> Acceptor:
        names = [value] if isinstance(value, str) else list(value)
        tests = tuple(_type_check(n) for n in names)
        if len(tests) == 1:
            return tests[0]
        return lambda instance: any(t(instance) for t in tests)

    def k_properties(self, value: dict[str, Any], node: dict[str, Any], document: str) -> Acceptor:
        named = {name: self.schema(sub, document) for name, sub in value.items()}
        required = tuple(node.get("required", ()))
        extra = node.get("additionalProperties", True)
        others = None if extra is True else self.schema(extra, document)

        def check(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return True
            for name in required:
                if name not in instance:
                    return False
            for name, item in instance.items():
                rule = named.get(name, others)
                if rule is not None and not rule(item):
                    return False
            return True

        return check

    def k_items(self, value: Any, node: dict[str, Any], document: str) -> Acceptor:
        each = self.schema(value, document)
        return lambda instance: not isinstance(instance, list) or all(each(item) for item in instance)

    def k_allOf(self, value: list[Any], node: dict[str, Any], document: str) -> Acceptor:
        parts = tuple(self.schema(sub, document) for sub in value)
        return lambda instance: all(p(instance) for p in parts)

    def k_anyOf(self, value: list[Any], node: dict[str, Any], document: str) -> Acceptor:
        parts = tuple(self.schema(sub, document) for sub in value)
        return lambda instance: any(p(instance) for p in parts)

    def k_oneOf(self, value: list[Any], node: dict[str, Any], document: str) -> Acceptor:
        parts = tuple(self.schema(sub, document) for sub in value)
        return lambda instance: sum(1 for p in parts if p(instance)) == 1

    def k_not(self, value: Any, node: dict[str, Any], document: str) -> Acceptor:
        refused = self.schema(value, document)
        return lambda instance: not refused(instance)

    def k_const(self, value: Any, node: dict[str, Any], document: str) -> Acceptor:
        return lambda instance: _json_equal(instance, value)

    def k_enum(self, value: list[Any], node: dict[str, Any], document: str) -> Acceptor:
        options = tuple(value)
        return lambda instance: any(_json_equal(instance, o) for o in options)

    def k_minimum(self, value: float, node: dict[str, Any], document: str) -> Acceptor:
        return lambda instance: not _is_number(instance) or instance >= value

    def k_maximum(self, value: float, node: dict[str, Any], document: str) -> Acceptor:
        return lambda instance: not _is_number(instance) or instance <= value

    def k_minLength(self, value: int, node: dict[str, Any], document: str) -> Acceptor:
        return lambda instance: not isinstance(instance, str) or len(instance) >= value

    def k_maxLength(self, value: int, node: dict[str, Any], document: str) -> Acceptor:
        return lambda instance: not isinstance(instance, str) or len(instance) <= value

    def k_pattern(self, value: str, node: dict[str, Any], document: str) -> Acceptor:
        search = re.compile(value).search
        return lambda instance: not isinstance(instance, str) or search(instance) is not None

    def k_minItems(self, value: int, node: dict[str, Any], document: str) -> Acceptor:
        return lambda instance: not isinstance(instance, list) or len(instance) >= value

    def k_maxItems(self, value: int, node: dict[str, Any], document: str) -> Acceptor:
        return lambda instance: not isinstance(instance, list) or len(instance) <= value

    def k_uniqueItems(self, value: bool, node: dict[str, Any], document: str) -> Acceptor:
        if not value:
            return _accept_all

        def check(instance: Any) -> bool:
            if not isinstance(instance, list):
                return True
            if all(not isinstance(item, (list, dict)) for item in instance):  # by key: linear, however long
                keys = {(type(item) is bool, item if type(item) is not bool else int(item)) for item in instance}
                return len(keys) == len(instance)
            if len(instance) > _PAIRWISE_MAX:  # containers compared pair by pair: jsonschema decides long lists
                return False
            return all(not _json_equal(a, b) for i, a in enumerate(instance) for b in instance[i + 1 :])

        return check

    def k_minProperties(self, value: int, node: dict[str, Any], document: str) -> Acceptor:
        return lambda instance: not isinstance(instance, dict) or len(instance) >= value

    def k_maxProperties(self, value: int, node: dict[str, Any], document: str) -> Acceptor:
        return lambda instance: not isinstance(instance, dict) or len(instance) <= value

    def k_propertyNames(self, value: Any, node: dict[str, Any], document: str) -> Acceptor:
        names = self.schema(value, document)
        return lambda instance: not isinstance(instance, dict) or all(names(k) for k in instance)

    def k_dependentSchemas(self, value: dict[str, Any], node: dict[str, Any], document: str) -> Acceptor:
        rules = tuple((name, self.schema(sub, document)) for name, sub in value.items())
        return lambda instance: not isinstance(instance, dict) or all(r(instance) for n, r in rules if n in instance)


@functools.cache
def acceptor(filename: str, pointer: str = "") -> Acceptor | None:
    """The predicate for the schema at ``pointer`` in contract file ``filename``, or None when the schema uses
    a keyword the acceptor does not compile (then jsonschema alone judges). The predicate is true only for
    documents made of JSON's own types that conform."""
    try:
        check = _Compiler().reference(f"{filename}#{pointer}", filename)
    except _Unsupported:
        return None
    return lambda instance: _is_json(instance) and check(instance)
