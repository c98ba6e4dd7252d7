"""``POST /v3/upload`` (multipart), ``GET /v3/upload`` (list), ``DELETE /v3/upload`` (all) and
``POST /v3/upload/delete`` (by id): files that edits then name by ``file_id``.

A file is kept ``expires_in_days`` (default: the catalog's ``upload_retention_days``); an expired one leaves the
listing and can no longer be named. Eden documents no per-file routes (``/v3/upload/{file_id}``): they are 404.
"""

from __future__ import annotations

import math

from edenfake import _media, _redact, contracts
from edenfake._core import UPLOAD_DEFAULTS, Core
from edenfake._query import read_query
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
    problems = contracts.refusal_details("edit-request#/$defs/UploadForm", fields)
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


def list_files(core: Core, exchange: Exchange) -> FakeResponse:
    query = read_query(exchange)
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
