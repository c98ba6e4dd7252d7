"""Answers: every image response and error body the contract allows, built from the schemas."""

from __future__ import annotations

import base64
import string
from typing import Any

from hypothesis import strategies as st

from edenfake import contracts
from edenfake.strategies._requests import SAFE_TEXT

JSON = dict[str, Any]


def _from_schema(schema: JSON | bool, base: str, *, extra_fields: bool = True) -> st.SearchStrategy[Any]:
    """A strategy for the JSON values ``schema`` allows (the subset of JSON Schema the contracts use)."""
    if schema is True or schema == {}:
        return st.none() | st.integers() | SAFE_TEXT
    if isinstance(schema, bool):
        return st.nothing()
    if "$ref" in schema:
        name = _ref_name(schema["$ref"], base)
        target = contracts.load(name)
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return _from_schema({**target, **rest} if rest else target, name.partition("#")[0], extra_fields=extra_fields)
    if "allOf" in schema:
        merged: JSON = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = contracts.load(_ref_name(part["$ref"], base)) if "$ref" in part else part
            merged = _merge(part, merged)
        return _from_schema(merged, base, extra_fields=extra_fields)
    if "anyOf" in schema and schema.get("type") == "object":
        plain = {k: v for k, v in schema.items() if k != "anyOf"}
        return st.one_of([_from_schema(_merge(plain, b), base, extra_fields=extra_fields) for b in schema["anyOf"]])
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf") or []
        return st.one_of([_from_schema(o, base, extra_fields=extra_fields) for o in options])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type")
    if kinds is None:
        return st.none() | st.integers() | SAFE_TEXT
    if isinstance(kinds, list):
        return st.one_of([_from_schema({**schema, "type": k}, base, extra_fields=extra_fields) for k in kinds])
    if kinds == "null":
        return st.none()
    if kinds == "boolean":
        return st.booleans()
    if kinds == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kinds == "number":
        return st.floats(
            min_value=schema.get("minimum"), max_value=schema.get("maximum"), allow_nan=False, allow_infinity=False
        ) | st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kinds == "string":
        if schema.get("pattern") == "^[A-Z][A-Z_]*$":
            return st.from_regex(r"\A[A-Z][A-Z_]{0,20}\Z")
        if schema.get("format") == "uri":
            return st.builds(
                lambda p: f"https://images.example/{p}.png", st.text(string.ascii_lowercase, min_size=1, max_size=12)
            )
        if schema.get("contentEncoding") == "base64":
            return st.binary(max_size=48).map(lambda b: base64.b64encode(b).decode())
        if "pattern" in schema:
            raise ValueError(f"no strategy for the string pattern {schema['pattern']!r}")
        shortest = schema.get("minLength", 0)
        longest = max(shortest, min(schema.get("maxLength", 30), 30))
        return st.text(alphabet=st.characters(codec="utf-8"), min_size=shortest, max_size=longest)
    if kinds == "array":
        items = _from_schema(schema.get("items", {}), base, extra_fields=extra_fields)
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 4), 4))
    if kinds == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fixed = {k: _from_schema(v, base, extra_fields=extra_fields) for k, v in props.items() if k in required}
        optional = {k: _from_schema(v, base, extra_fields=extra_fields) for k, v in props.items() if k not in required}
        value = st.fixed_dictionaries(fixed, optional=optional)
        if extra_fields and schema.get("additionalProperties", True) is not False and props:
            extras = st.dictionaries(
                st.text(string.ascii_lowercase, min_size=1, max_size=8).map(lambda k: f"x_{k}"),
                st.integers() | SAFE_TEXT,
                max_size=2,
            )
            value = st.builds(lambda d, e: {**e, **d}, value, extras)
        return value
    raise ValueError(f"no strategy for schema type {kinds!r}")


def _ref_name(ref: str, base: str) -> str:
    """A $ref as a contract name for contracts.load: local refs stay in ``base``'s file."""
    file_part, _, pointer = ref.partition("#")
    if not file_part:
        return f"{base}#{pointer}"
    name = next(c for c, fn in contracts.CONTRACTS.items() if file_part.endswith(fn))
    return f"{name}#{pointer}"


def _merge(a: JSON, b: JSON) -> JSON:
    merged = {**a, **b}
    merged["properties"] = {**a.get("properties", {}), **b.get("properties", {})}
    merged["required"] = sorted({*a.get("required", ()), *b.get("required", ())})
    if "type" in a or "type" in b:
        merged["type"] = b.get("type", a.get("type"))
    return merged


def image_responses(*, extra_fields: bool = True) -> st.SearchStrategy[JSON]:
    """Every successful image answer the contract allows: null cost/provider/created, url-only, b64-only and
    both, empty ``data``, token or empty usage, and (``extra_fields``) fields the contract does not name."""
    return _from_schema(contracts.load("image-response"), "image-response", extra_fields=extra_fields)


def error_bodies(*, status: int | None = None) -> st.SearchStrategy[tuple[int, JSON]]:
    """``(status, body)`` for every error the fake sends (or those of one ``status``), from errors.schema.json."""
    known = sorted(s for s in range(400, 600) if contracts.error_definitions(s))
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
        raise TypeError(f"status must be an int (one of {known}), got {status!r}")
    statuses = [status] if status is not None else known
    if any(s not in known for s in statuses):
        raise ValueError(f"no error body is documented for status {status}; known: {known}")
    return st.one_of(
        [
            st.tuples(st.just(s), _from_schema(contracts.load(f"errors#/$defs/{kind}"), "errors", extra_fields=False))
            for s in statuses
            for kind in contracts.error_definitions(s)
        ]
    )
