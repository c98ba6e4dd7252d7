"""``POST /v3/upload`` (multipart), ``GET /v3/upload`` (list), ``DELETE /v3/upload`` (all) and
``POST /v3/upload/delete`` (by id): files that edits then name by ``file_id``.

A file is kept ``expires_in_days`` (default: the catalog's ``upload_retention_days``); an expired one leaves the
listing and can no longer be named. Eden documents no per-file routes (``/v3/upload/{file_id}``): they are 404.
"""

from __future__ import annotations

import math
import urllib.parse
from typing import Any

from edenfake import _media, _redact, contracts
from edenfake._core import UPLOAD_DEFAULTS, Core
from edenfake._request import Exchange
from edenfake._wire import FakeResponse, json_response
from edenfake.errors import RequestValidationError, problem

__all__ = ["HANDLERS", "sniff_mimetype"]


def sniff_mimetype(data: bytes | memoryview, declared: str | None) -> str:
    """The MIME type of ``data`` from its first bytes (the real route detects it), else the declared one."""
    kind = _media.sniff(data)
    if kind is not None:
        return kind.media_type
    media = (declared or "").partition(";")[0].strip().lower()
    return _redact.clip(media, 100) or "application/octet-stream"


def upload_file(core: Core, exchange: Exchange) -> FakeResponse:
    parts = exchange.parts()
    fields = exchange.form()
    files = [p for p in parts if p.filename is not None]
    problems = [v.as_detail() for v in contracts.violations("edit-request#/$defs/UploadForm", fields)]
    named = [p for p in files if p.name == "file"]
    if not named and any(p.name == "file" and p.filename is None for p in parts):
        problems.append(
            problem(("file",), "file_expected", "'file' came as a text field; send it as a file part (with a filename)")
        )
    elif not named:
        problems.append(problem(("file",), "missing", "Field required: send the file as a multipart part named 'file'"))
    problems += [
        problem(
            (_redact.clip(p.name, 60),),
            "unexpected_file",
            f"file part '{_redact.clip(p.name, 60)}' is not read by this route; name it 'file'",
        )
        for p in files
        if p.name != "file"
    ]
    if len(named) > 1:
        problems.append(problem(("file",), "too_many_files", "send one file per upload"))
    elif len(named) == 1 and not named[0].data:
        problems.append(problem(("file",), "file_empty", "the file is empty"))
    if problems:
        raise RequestValidationError(problems)
    part = named[0]
    chosen = {**UPLOAD_DEFAULTS, "expires_in_days": core.catalog.upload_retention_days, **fields}
    upload = core.uploads.put(
        _redact.clip(part.filename or "upload", 255),
        sniff_mimetype(part.data, part.content_type),
        part.data,
        chosen["purpose"],
        ttl=chosen["expires_in_days"] * 86400.0,
    )
    return json_response(200, upload.describe())


def delete_files(core: Core, exchange: Exchange) -> FakeResponse:
    body = exchange.json()
    core.check_contract("edit-request#/$defs/DeleteFiles", body)
    return json_response(200, {"deleted_count": core.uploads.delete(body["file_ids"])})


#: query parameters read at most (a longer query is a 422, not a long parse)
MAX_QUERY_FIELDS = 100


def _query(exchange: Exchange) -> dict[str, Any]:
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


def list_files(core: Core, exchange: Exchange) -> FakeResponse:
    query = _query(exchange)
    page, limit = query["page"], query["limit"]
    files = core.uploads.listing(query["purpose"] or None)
    start = (page - 1) * limit
    return json_response(
        200,
        {
            "items": [f.describe() for f in files[start : start + limit]],
            "total": len(files),
            "page": page,
            "limit": limit,
            "total_pages": math.ceil(len(files) / limit),
        },
    )


def delete_all_files(core: Core, exchange: Exchange) -> FakeResponse:
    return json_response(200, {"deleted_count": core.uploads.delete_all()})


HANDLERS = {
    "uploadFile": upload_file,
    "deleteFiles": delete_files,
    "listFiles": list_files,
    "deleteAllFiles": delete_all_files,
}
