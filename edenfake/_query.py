"""A route's query parameters, read against their schemas in ``contracts/openapi.json`` (FastAPI's refusals)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from edenfake import _redact
from edenfake._request import Exchange
from edenfake.errors import RequestValidationError

__all__ = ["MAX_QUERY_FIELDS", "read_query"]

#: query parameters read at most (a longer query is a 422, not a long parse)
MAX_QUERY_FIELDS = 100


def read_query(exchange: Exchange) -> dict[str, Any]:
    """The route's query parameters checked against their schemas in the OpenAPI document (integers within
    their bounds, strings within their length), each its default when absent. A repeated parameter counts by
    its last value, as FastAPI reads it; unknown ones are ignored."""
    assert exchange.route is not None
    try:
        given = dict(
            urllib.parse.parse_qsl(exchange.request.query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
        )
    except ValueError:
        too_many = f"send at most {MAX_QUERY_FIELDS} query parameters"
        raise RequestValidationError([{"type": "too_many_parameters", "loc": ["query"], "msg": too_many}]) from None
    values: dict[str, Any] = {}
    problems: list[dict[str, Any]] = []
    for name, schema in exchange.route.query:
        raw = given.get(name)
        if raw is None:
            values[name] = schema.get("default")
            continue
        found = _query_problem(name, raw, schema)
        if found is not None:
            problems.append(found)
        else:
            values[name] = _as_int(raw) if schema.get("type") == "integer" else raw
    if problems:
        raise RequestValidationError(problems)
    return values


def _as_int(raw: str) -> int:
    """A query's signed ASCII integer; one of more than 18 digits as +-10**19, past every bound the contract
    states (int() of a long string costs its length squared, and refuses more than 4,300 digits)."""
    digits = (raw[1:] if raw[:1] in "+-" else raw).lstrip("0") or "0"
    value = int(digits) if len(digits) <= 18 else 10**19
    return -value if raw.startswith("-") else value


def _query_problem(name: str, raw: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    shown = _redact.clip(raw, 40)

    def refused(kind: str, msg: str) -> dict[str, Any]:
        return {"type": kind, "loc": ["query", name], "msg": msg, "input": shown}

    if schema.get("type") == "string":
        longest = schema.get("maxLength")
        if longest is not None and len(raw) > longest:
            return refused("string_too_long", f"String should have at most {longest} characters")
        return None
    digits = raw[1:] if raw[:1] in "+-" else raw
    if not (digits.isascii() and digits.isdigit()):
        return refused("int_parsing", "Input should be a valid integer, unable to parse string as an integer")
    low, high = schema.get("minimum"), schema.get("maximum")
    value = _as_int(raw)
    if low is not None and value < low:
        return refused("greater_than_equal", f"Input should be greater than or equal to {low}")
    if high is not None and value > high:
        return refused("less_than_equal", f"Input should be less than or equal to {high}")
    return None
