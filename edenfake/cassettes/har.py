"""HAR 1.2 logs read as exchanges, for ``edenfake import``: what Chromium's devtools, playwright's
``record_har_path``, mitmproxy's HAR export and Polly.js write.

A log is strict JSON (the parser every request body goes through: no NaN, nesting at most 64 levels) whose
``log.entries`` are objects; each field read is checked for its type, and a field of the wrong type is one
:class:`SourceError` naming the entry and the field. A request body is ``postData.text`` (sent as UTF-8, with the
request's own Content-Type and so its own multipart boundary), or ``postData.params`` when only they were kept
(an urlencoded form); playwright's ``_file`` (``record_har_content="attach"``) is read from beside the log. A
response body is ``content.text``, base64-decoded when ``content.encoding`` is ``"base64"``, or ``content._file``.
What a log lost is said per entry (:class:`Exchange` ``lost``) and the entry is skipped, never imported wrong.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edenfake._redact import one_line
from edenfake._request import parse_json
from edenfake.cassettes.format import CassetteError, open_regular
from edenfake.errors import ApiError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_ENTRIES",
    "MAX_SOURCE_BYTES",
    "Exchange",
    "SourceError",
    "first_byte",
    "looks_like_har",
    "read_bounded_file",
    "read_har",
]

#: a source file (a HAR log, a vcrpy cassette) larger than this is refused
MAX_SOURCE_BYTES = 256 * 1024 * 1024
#: a source holds at most this many entries (a cassette's own bound)
MAX_ENTRIES = 100_000
#: a body, once decoded (base64, gzip), larger than this is not imported (its entry is skipped)
MAX_BODY_BYTES = 64 * 1024 * 1024
#: a playwright attachment's name: one plain file name beside the log
_ATTACHED = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,199}$")


class SourceError(CassetteError):
    """A source file that cannot be imported at all: not a HAR log or a vcrpy cassette, truncated, too big,
    hostile, or holding a field of the wrong type. One line, naming the file and where."""


@dataclass
class Exchange:
    """One request and its answer as a recording kept them (bodies decoded), or why it cannot be imported."""

    where: str
    method: str
    url: str
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    request_body: bytes = b""
    status: int = 0
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes | None = None
    duration_ms: float = 0.0
    started: str | None = None
    #: why the recording does not hold this exchange whole (the entry is skipped), or None
    lost: str | None = None

    def __post_init__(self) -> None:
        try:
            self._parts = urllib.parse.urlsplit(self.url)
        except ValueError as exc:  # "http://[::1": not a URL, so not a request to any API
            self._parts = urllib.parse.urlsplit("")
            self.lost = self.lost or f"its URL does not parse ({one_line(str(exc), 100)})"

    @property
    def path(self) -> str:
        return self._parts.path or "/"

    @property
    def query(self) -> str:
        return self._parts.query


def read_bounded_file(path: Path) -> bytes:
    """A source file's bytes (a regular file, at most MAX_SOURCE_BYTES); SourceError otherwise."""
    try:
        with open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_SOURCE_BYTES:
                raise SourceError(f"{path}: {size} bytes, more than the {MAX_SOURCE_BYTES} a source may hold")
            data = f.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {one_line(exc.strerror or str(exc))}") from None
    if len(data) > MAX_SOURCE_BYTES:
        raise SourceError(f"{path}: more than the {MAX_SOURCE_BYTES} bytes a source may hold")
    return data


def first_byte(data: bytes) -> bytes:
    """The first byte of ``data`` after a BOM and blanks: ``{`` for a JSON object, ``[`` for a list."""
    return data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]


def looks_like_har(data: bytes) -> bool:
    """Whether ``data`` starts as a JSON object does (a HAR log is one), whatever the file's name."""
    return first_byte(data) == b"{"


class _Fields:
    """Typed reads of one JSON object, each wrong type a SourceError naming the field."""

    def __init__(self, source: Path, where: str, value: Any) -> None:
        self.source, self.where = source, where
        if not isinstance(value, dict):
            raise self.error("", "must be an object")
        self.value: dict[str, Any] = value

    def error(self, name: str, rule: str) -> SourceError:
        return SourceError(f"{self.source}: {one_line(self.where + ('.' + name if name else ''), 120)}: {rule}")

    def get(self, name: str, kind: type | tuple[type, ...], what: str, *, required: bool = False) -> Any:
        value = self.value.get(name)
        if value is None:
            if required:
                raise self.error(name, f"is missing (it must be {what})")
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float, (int, float))):
            raise self.error(name, f"must be {what}")
        return value

    def sub(self, name: str, *, required: bool = False) -> _Fields | None:
        value = self.get(name, dict, "an object", required=required)
        return None if value is None else _Fields(self.source, f"{self.where}.{name}", value)


def _headers(fields: _Fields) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for index, item in enumerate(fields.get("headers", list, "an array") or ()):
        header = _Fields(fields.source, f"{fields.where}.headers[{index}]", item)
        name = header.get("name", str, "a string", required=True)
        value = header.get("value", str, "a string", required=True)
        if not name.startswith(":"):  # HTTP/2 pseudo-headers (devtools writes them) are not headers
            out.append((name.lower(), value))
    return out


def _attached(fields: _Fields, name: str) -> bytes | str:
    # playwright's record_har_content="attach": the body in a file beside the log
    if not _ATTACHED.match(name):
        raise fields.error("_file", "must be a plain file name beside the log")
    target = fields.source.parent / name
    try:
        with open_regular(target) as f:
            data = f.read(MAX_BODY_BYTES + 1)
    except OSError as exc:
        return f"its attached file {one_line(name, 80)} cannot be read ({one_line(exc.strerror or str(exc), 80)})"
    if len(data) > MAX_BODY_BYTES:
        return f"its attached body is larger than {MAX_BODY_BYTES} bytes"
    return data


def _request_body(request: _Fields, headers: list[tuple[str, str]]) -> bytes | str:
    post = request.sub("postData")
    if post is None:
        # Chromium reports no body it built from a Blob or a File (a FormData upload): the headers still say
        # there was one
        length = next((v.strip() for k, v in headers if k == "content-length"), "0")
        if length not in ("", "0") or any(k == "content-type" for k, _ in headers):
            return "its request body was not kept (Chromium leaves out a body built from a Blob or File)"
        return b""
    attached = post.get("_file", str, "a string")
    if attached is not None:
        return _attached(post, attached)
    text = post.get("text", str, "a string")
    params = post.get("params", list, "an array")
    if text:
        # mitmproxy and playwright write a binary body as text, replacing what is not UTF-8: gone for good
        if "\ufffd" in text:
            return "its request body was written as text, replacing the bytes that are not UTF-8 (lossy)"
        return bytes(text.encode("utf-8", "surrogatepass"))
    if params:
        pairs = []
        for index, item in enumerate(params):
            param = _Fields(post.source, f"{post.where}.params[{index}]", item)
            if param.get("fileName", str, "a string") is not None:
                return "its multipart body was kept as params without the files' bytes"
            pairs.append((param.get("name", str, "a string", required=True), param.get("value", str, "a string") or ""))
        return urllib.parse.urlencode(pairs).encode("ascii")
    size = request.get("bodySize", int, "an integer")
    return "its request body was not kept" if size is not None and size > 0 else b""


def _response_body(response: _Fields) -> bytes | str:
    content = response.sub("content", required=True)
    assert content is not None
    attached = content.get("_file", str, "a string")
    if attached is not None:
        return _attached(content, attached)
    text = content.get("text", str, "a string")
    encoding = content.get("encoding", str, "a string")
    if text is None:
        size = content.get("size", int, "an integer")
        return (
            b""
            if size is None or size <= 0
            else "its answer's body was not kept (devtools leaves out large or binary bodies)"
        )
    if encoding is None:
        if content.get("_isBinary", bool, "a boolean"):
            return "its answer is marked binary (_isBinary) without an encoding this reader knows (base64)"
        return bytes(text.encode("utf-8", "surrogatepass"))
    if encoding.lower() != "base64":
        raise content.error("encoding", f"{one_line(repr(encoding), 40)} is not an encoding HAR readers know (base64)")
    if len(text) > MAX_BODY_BYTES * 4 // 3 + 4:
        return f"its answer's body is larger than {MAX_BODY_BYTES} bytes"
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise content.error("text", 'is not base64, though its "encoding" says it is') from None


def read_har(source: Path, data: bytes) -> Iterator[Exchange]:
    """The entries of a HAR log, in order, each an :class:`Exchange` (``lost`` saying what it lacks)."""
    try:
        document = parse_json(data)
    except ApiError as exc:
        problem = one_line(exc.detail.removeprefix("Invalid JSON body: "), 200)
        raise SourceError(f"{source}: not a HAR log: not JSON ({problem}); truncated?") from None
    top = _Fields(source, "$", document)
    log = top.sub("log")
    if log is None:
        raise SourceError(f'{source}: not a HAR log: no "log" object (HAR 1.2 keeps its entries in log.entries)')
    entries = log.get("entries", list, "an array", required=True)
    if len(entries) > MAX_ENTRIES:
        raise SourceError(f"{source}: {len(entries)} entries, more than the {MAX_ENTRIES} an import takes")
    for index, item in enumerate(entries):
        entry = _Fields(source, f"$.log.entries[{index}]", item)
        request = entry.sub("request", required=True)
        response = entry.sub("response", required=True)
        assert request is not None and response is not None
        exchange = Exchange(
            where=f"{source.name} entry {index}",
            method=request.get("method", str, "a string", required=True).upper(),
            url=request.get("url", str, "a string", required=True),
            request_headers=_headers(request),
            status=response.get("status", int, "an integer", required=True),
            response_headers=_headers(response),
            duration_ms=float(entry.get("time", (int, float), "a number") or 0.0),
            started=entry.get("startedDateTime", str, "a string"),
        )
        body = _request_body(request, exchange.request_headers)
        answer = _response_body(response)
        if isinstance(body, str):
            exchange.lost = body
        elif isinstance(answer, str):
            exchange.lost = answer
        else:
            exchange.request_body, exchange.response_body = body, answer
        if exchange.status == 0 and exchange.lost is None:
            exchange.lost = "it has no answer (status 0: the request failed or was blocked)"
        # a HAR keeps bodies decoded: the encoding its headers name no longer applies
        exchange.response_headers = [(k, v) for k, v in exchange.response_headers if k != "content-encoding"]
        yield exchange
