"""Requests as a cassette keeps them, and how replay matches them.

A request keeps its method, path, allowlisted headers, and its ``json`` or its multipart ``form`` and ``files``
(``{part, filename, content_type, sha256, size, file}``); a data: URL image becomes ``{"$file": NAME,
"data_url": HEAD}``. Nothing that authenticates is kept: credential headers and credential ``extra_headers``
are left out or "***", URLs lose their query string and user info; what was left out is kept aside in
``Described.secrets``, to be scrubbed wherever an upstream echoes it. Replay compares the match key: method, path
and the body's fields (images by sha256), never a boundary or a header.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets as _secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from edenfake import _redact
from edenfake._request import MULTIPART, is_json_media, parse_json, parse_multipart
from edenfake._tags import HEADER as TAGS_HEADER
from edenfake._wire import FakeRequest
from edenfake.cassettes.format import REQUEST_HEADERS, file_name, header_problem
from edenfake.cassettes.scrub import MIN_SECRET, add_query_secrets, strip_urls
from edenfake.errors import ApiError

__all__ = ["Described", "add_named_secrets", "describe_request", "differences", "match_key", "rebuild_request"]

#: the multipart parts that are files even without a file name
_FILE_PARTS = ("image", "image[]", "mask", "file")
#: the most values of one body looked through for secret-named fields (a body is bounded; so is this walk)
_MAX_WALK = 100_000


@dataclass
class Described:
    """A request or an answer as a cassette keeps it: the JSON ``record``, the ``files`` it refers to (name ->
    bytes) and the ``secrets`` left out of it, to be scrubbed wherever else they turn up."""

    record: dict[str, Any]
    files: dict[str, bytes | memoryview] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    #: what could not be kept as it came (an image URL that could not be fetched, a header dropped)
    notes: list[str] = field(default_factory=list)


def describe_request(request: FakeRequest) -> Described:
    """``request`` as a cassette keeps it (and as replay matches it)."""
    out = Described({"method": request.method, "path": request.path})
    headers: dict[str, str] = {}
    for name, value in request.headers:
        if _redact.is_secret_header(name):
            out.secrets.add(value)
            out.secrets.add(value.partition(" ")[2].strip())
        elif name == TAGS_HEADER:  # sent twice, the service reads both: kept joined, as it joins them
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        elif name in REQUEST_HEADERS and name not in headers:
            headers[name] = value
    for name, value in list(headers.items()):
        problem = header_problem(name, value)
        if problem is not None:  # a cassette line must load again: the header is left out, and said so
            del headers[name]
            out.notes.append(f"the request's {name} header was not kept: {problem}")
    # never kept (an API key may travel there), but scrubbed if an upstream repeats it
    add_query_secrets(request.query, out.secrets)
    content_type = headers.get("content-type")
    media = content_type.partition(";")[0].strip().lower() if content_type is not None else "application/json"
    if media == MULTIPART:
        headers["content-type"] = MULTIPART  # the boundary is chosen afresh by each client: not part of a request
    out.record["headers"] = headers
    body = request.body
    if not body:
        return out
    try:
        if media == MULTIPART:
            _describe_form(out, content_type or "", body)
        elif is_json_media(media):
            out.record["json"] = _kept_json(parse_json(body), out, top=True)
        else:
            raise ValueError(media)
    except (ApiError, ValueError):
        # Not readable as what it says it is: kept as a digest only (it may hold anything, secrets included).
        out.record.pop("form", None)
        out.record.pop("files", None)
        out.record["body"] = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
    return out


def _describe_form(out: Described, content_type: str, body: bytes) -> None:
    form: dict[str, Any] = {}
    files: list[dict[str, Any]] = []
    for part in parse_multipart(content_type, body):
        if part.filename is None and part.name not in _FILE_PARTS:
            form[part.name] = _kept_form_field(part.name, part.text, out)
            continue
        name = file_name(part.data)
        out.files[name] = part.data
        files.append(
            {
                "part": part.name,
                "filename": part.filename,
                "content_type": part.content_type,
                "sha256": name.partition(".")[0],
                "size": len(part.data),
                "file": name,
            }
        )
    out.record["form"] = form
    out.record["files"] = files


def _kept_form_field(name: str, text: str, out: Described) -> str:
    if name != "extra_headers":
        kept = _kept_string(text, out)
        return kept if isinstance(kept, str) else text
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    _credential_values(value, out)
    return json.dumps(_redact.redact_extra_headers(value), separators=(",", ":"))


def _credential_values(headers: Any, out: Described) -> None:
    # The values redact_extra_headers hides: kept aside, to be scrubbed from anything an upstream echoes.
    if not isinstance(headers, dict):
        out.secrets.update(_strings(headers))
        return
    redacted = _redact.redact_extra_headers(headers)
    for (name, value), (shown_name, shown) in zip(headers.items(), redacted.items(), strict=True):
        if shown == _redact.REDACTED:
            out.secrets.update(_strings(value))
            if shown_name != name:  # a name that is not a header name was hidden too: it may hold a secret
                out.secrets.add(name)


def add_named_secrets(value: Any, secrets: set[str]) -> None:
    """Add to ``secrets`` every string of ``value`` (decoded JSON) held by a key named like a secret (``api_key``,
    ``token``, ``password``...: :func:`edenfake._redact.is_secret_header`'s names), long enough to scrub."""
    stack, seen = [value], 0
    while stack and seen < _MAX_WALK:
        item = stack.pop()
        seen += 1
        if isinstance(item, dict):
            for key, inner in item.items():
                if isinstance(inner, str) and len(inner) >= MIN_SECRET and _redact.is_secret_header(str(key)):
                    secrets.add(inner)
                elif isinstance(inner, (dict, list)):
                    stack.append(inner)
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, (dict, list)))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _kept_json(value: Any, out: Described, *, top: bool = False) -> Any:
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        for key, item in value.items():
            if top and key == "extra_headers" and item is not None:
                _credential_values(item, out)
                kept[key] = _redact.redact_extra_headers(item)
            elif isinstance(item, str) and _redact.is_secret_header(str(key)):
                # A field named like a secret (metadata's api_key, a token): "***" here, and at replay, so that
                # requests still match; scrubbed from anything else of the exchange that spells it.
                if len(item) >= MIN_SECRET:  # shorter ones would wreck the exchange's other strings
                    out.secrets.add(item)
                kept[key] = _redact.REDACTED
            else:
                kept[key] = _kept_json(item, out)
        return kept
    if isinstance(value, list):
        return [_kept_json(v, out) for v in value]
    if isinstance(value, str):
        return _kept_string(value, out)
    return value


def _kept_string(value: str, out: Described) -> Any:
    """A data: URL becomes a file reference; a URL (alone, or inside a text) loses its query and user info."""
    if value.startswith("data:") and ";base64," in value[:200]:
        head, _, payload = value.partition(",")
        try:
            data = base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            return value
        name = file_name(data)
        out.files[name] = data
        return {"$file": name, "data_url": head}
    return strip_urls(value, out.secrets)


def match_key(record: dict[str, Any]) -> str:
    """What replay compares: method, path, the body's fields (images by sha256) and the tags header (it decides
    the answer as the body's tags do); never a boundary or another header."""
    files = [(f.get("part"), f.get("sha256")) for f in record.get("files") or ()]
    body = record.get("body")
    parts = [
        record.get("method"),
        record.get("path"),
        _tags_of(record),
        ["json", record["json"]] if "json" in record else None,
        record.get("form"),
        files,
        body.get("sha256") if isinstance(body, dict) else None,
    ]
    return json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _tags_of(record: dict[str, Any]) -> Any:
    headers = record.get("headers")
    return headers.get(TAGS_HEADER) if isinstance(headers, dict) else None


def differences(recorded: dict[str, Any], sent: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """What differs between two requests as a cassette keeps them: (field, recorded value, sent value)."""
    found: list[tuple[str, Any, Any]] = []
    for name in ("method", "path"):
        if recorded.get(name) != sent.get(name):
            found.append((name, recorded.get(name), sent.get(name)))
    tags = [_tags_of(r) for r in (recorded, sent)]
    if tags[0] != tags[1]:
        found.append((TAGS_HEADER, _ABSENT if tags[0] is None else tags[0], _ABSENT if tags[1] is None else tags[1]))
    kinds = [
        ("json" if "json" in r else "form" if "form" in r else "body" if "body" in r else None)
        for r in (recorded, sent)
    ]
    if kinds[0] != kinds[1]:
        return [*found, ("body", kinds[0] or "no body", kinds[1] or "no body")]
    kind = kinds[0]
    if kind in ("json", "form"):
        a, b = recorded.get(kind), sent.get(kind)
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted({*a, *b}, key=lambda k: (k not in a, k)):
                if a.get(key, _ABSENT) != b.get(key, _ABSENT):
                    found.append((key, a.get(key, _ABSENT), b.get(key, _ABSENT)))
        elif a != b:
            found.append(("body", a, b))
    elif kind == "body" and recorded["body"].get("sha256") != sent["body"].get("sha256"):
        found.append(("body", "another body", "this body"))
    files_a = [(f.get("part"), f.get("sha256")) for f in recorded.get("files") or ()]
    files_b = [(f.get("part"), f.get("sha256")) for f in sent.get("files") or ()]
    if files_a != files_b:  # each file as its part and the start of its sha256: which bytes differ shows
        found.append(("files", [f"{p} {str(h)[:12]}" for p, h in files_a], [f"{p} {str(h)[:12]}" for p, h in files_b]))
    return found


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT: Any = _Absent()


def rebuild_request(record: dict[str, Any], read: Callable[[str], bytes], *, token: str) -> FakeRequest | None:
    """The request a recorded one stands for, with ``token`` as its bearer token (None when its body was not
    kept). Images come back from their files; a multipart body gets a boundary of its own."""
    headers = [(k, v) for k, v in record.get("headers", {}).items() if k != "content-type"]
    headers.append(("authorization", f"Bearer {token}"))
    request = FakeRequest(record["method"], record["path"], headers)
    if "body" in record:
        return None
    if "json" in record:
        body = json.dumps(_inputs_restored(record["json"], read), separators=(",", ":"), ensure_ascii=False)
        request.body = body.encode("utf-8", "surrogatepass")
        request.headers.append(("content-type", record.get("headers", {}).get("content-type", "application/json")))
    elif "form" in record or "files" in record:
        boundary = "edenfake-" + _secrets.token_hex(8)
        chunks: list[bytes] = []
        for name, value in (record.get("form") or {}).items():
            chunks.append(_part(boundary, f'name="{name}"', None, str(value).encode("utf-8", "surrogatepass")))
        for f in record.get("files") or ():
            disposition = f'name="{f["part"]}"; filename="{f.get("filename") or "file"}"'
            chunks.append(_part(boundary, disposition, f.get("content_type"), read(f["file"])))
        request.body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
        request.headers.append(("content-type", f"{MULTIPART}; boundary={boundary}"))
    return request


def _part(boundary: str, disposition: str, content_type: str | None, data: bytes) -> bytes:
    head = f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode("utf-8", "surrogatepass") + b"\r\n" + data + b"\r\n"


def _inputs_restored(value: Any, read: Callable[[str], bytes]) -> Any:
    if isinstance(value, dict):
        if "$file" in value and "data_url" in value:
            return f"{value['data_url']},{base64.b64encode(read(value['$file'])).decode('ascii')}"
        return {k: _inputs_restored(v, read) for k, v in value.items()}
    if isinstance(value, list):
        return [_inputs_restored(v, read) for v in value]
    return value
