"""The request journal: every call the fake answered, credentials redacted, and assertions over them.

The journal keeps each call as bytes (its request and answer as JSON, images as their digest and size, never
their base64), bounded in count and in bytes; a :class:`Call` is built afresh from them at every read, so a
caller may change what it reads without changing the journal or the fake. What it keeps is strict JSON, always
(checked as it is recorded): an answer that is not (a recorded upstream's NaN, its HTML error page, JSON nested
past 64 levels) is kept as ``{"not_json": {"bytes": N, "sha256": HEX}}``, so reading the journal never fails.

An edit's input images are kept as ``inputs``: for each of the first MAX_INPUT_IMAGES images (then the mask),
its role, sha256, format, size in pixels and bytes, and whether the fake hosts it: the edit route puts each
input up to ``routes.edits.MAX_HOSTED_INPUT_BYTES`` in the fake's byte-bounded image store, by the name a base64
answer's image has there (``/_edenfake/images/{sha256}.{ext}``), where the console reads it. That is the
cheapest sound way to show inputs: no pixel decoded again or encoded, no image bytes in the journal, one copy
of an input edited many times; the store's bound and expiry bound what it costs, as for answered images.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from edenfake import _har
from edenfake._options import EDEN_URL
from edenfake._redact import redact_body, redact_headers
from edenfake._request import MAX_DEPTH, STRICT_DECODER, parse_json
from edenfake._wire import compact_json
from edenfake.errors import ApiError

__all__ = ["MAX_INPUT_IMAGES", "Call", "CallList", "Journal"]

#: an edit's input images the journal lists (its mask comes after them)
MAX_INPUT_IMAGES = 16

#: what a journal entry costs beyond its bytes: the tuple, the strings and the deque slot
_ENTRY_OVERHEAD = 512


@dataclass(frozen=True)
class Call:
    """One request the fake answered."""

    method: str
    path: str
    headers: dict[str, str]
    #: the parsed JSON body, or None when the body was not JSON
    json: Any
    status: int
    #: the JSON answer, or None for binary answers; each image's base64 is replaced by
    #: ``{"sha256", "bytes", "format", "width", "height"}`` (the journal keeps no image data); an answer said to
    #: be JSON that is not strict JSON is ``{"not_json": {"bytes": N, "sha256": HEX}}``
    response: Any
    #: multipart text fields (image edits), or None
    form: dict[str, Any] | None = None
    #: uploaded files: part name, file name, content type, size and sha256 (never the bytes)
    files: list[dict[str, Any]] = field(default_factory=list)
    #: the injected fault that answered, e.g. "429", "timeout", "disconnect", or None
    fault: str | None = None
    #: the fake clock's time when the call came in
    at: float = 0.0
    #: seconds the core took, injected latency excluded
    duration: float = 0.0
    #: the answer came from a cassette (``replay=``), not from the fake's own rules
    replayed: bool = False
    #: an edit's input images (the mask last): ``{"role": "image" | "mask", "sha256", "format", "width",
    #: "height", "bytes", "hosted"}`` each (format, size and bytes None for a remote URL the fake does not fetch)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    #: the call's tags (the X-EdenAI-Tags header and a JSON body's ``tags``, merged; keys lower-case); {} when
    #: it had none, or when they were refused (a 400 INVALID_TAGS)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def fields(self) -> dict[str, Any]:
        """The request's fields: the JSON body, or the multipart text fields."""
        if isinstance(self.json, dict):
            return self.json
        return self.form or {}

    @property
    def model(self) -> Any:
        return self.fields.get("model")

    @property
    def prompt(self) -> Any:
        return self.fields.get("prompt")

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str | None:
        """An error answer's ``error_code`` (``"INVALID_MODEL"``, ``"RATE_LIMITED"``...), else None."""
        answer = self.response
        code = answer.get("error_code") if isinstance(answer, dict) and not self.ok else None
        return code if isinstance(code, str) else None

    def as_dict(self) -> dict[str, Any]:
        """The call as plain JSON-ready data (what ``GET /_edenfake/calls`` answers)."""
        return asdict(self)

    def summary(self) -> str:
        shown = {k: _short(v) for k, v in self.fields.items()}
        fault = f" [fault {self.fault}]" if self.fault else ""
        return f"{self.method} {self.path} -> {self.status}{fault} {shown}"


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 60:
        return value[:57] + "..."
    return value


_MISSING = object()
_Entry = tuple[
    str,
    str,
    tuple[tuple[str, str], ...],
    bytes | None,
    int,
    bytes | None,
    bytes | None,
    bytes,
    str | None,
    float,
    float,
    bool,
    bytes,
    bytes,
    int,
]


def _loads(data: bytes | None) -> Any:
    return None if data is None else json.loads(data)


def strict(data: bytes | None) -> bytes | None:
    """``data`` when it is strict JSON (what the fake's strict parser takes: no NaN, no number that overflows,
    no nesting past 64 levels), else ``{"not_json": {"bytes": N, "sha256": HEX}}``; empty is None."""
    if not data:
        return None
    try:
        if data.count(b"[") + data.count(b"{") > MAX_DEPTH:
            parse_json(data)  # it might nest too deeply: the strict parser, which bounds depth
        else:
            STRICT_DECODER.decode(data.decode("utf-8"))
    except (ApiError, ValueError):
        return compact_json({"not_json": {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}}).encode()
    return data


def _utf8(data: bytes | None) -> bool:
    """``data`` is ASCII without a NUL byte, so a JSON reader takes it as UTF-8. (The strict parser also reads
    UTF-16 and UTF-32 bodies, which :func:`strict` summarizes: the journal keeps UTF-8.)"""
    return not data or (data.isascii() and b"\x00" not in data)


class _Queries:
    """What a journal answers of its calls, oldest first: the live :class:`Journal`, and :class:`CallList`, the
    calls a session of a server elsewhere read back."""

    if TYPE_CHECKING:

        def __iter__(self) -> Iterator[Call]: ...
        def __len__(self) -> int: ...

    def _newest(self) -> Call | None:
        raise NotImplementedError

    @property
    def count(self) -> int:
        return len(self)

    @property
    def last(self) -> Call:
        """The newest call; AssertionError when there is none."""
        newest = self._newest()
        if newest is None:
            raise AssertionError("edenfake received no request")
        return newest

    def filter(
        self, *, path: str | None = None, status: int | None = None, tags: dict[str, str] | None = None, **fields: Any
    ) -> list[Call]:
        """The calls to ``path`` (and with ``status``) whose request fields equal ``fields`` and that carry each
        of ``tags`` (the call's merged tags; keys compared in lower case, as they are kept)."""
        wanted = {str(k).lower(): v for k, v in (tags or {}).items()}
        return [
            c
            for c in self
            if (path is None or c.path == path)
            and (status is None or c.status == status)
            and all(c.tags.get(k, _MISSING) == v for k, v in wanted.items())
            and all(c.fields.get(k, _MISSING) == v for k, v in fields.items())
        ]

    def assert_called(self, *, times: int | None = None, path: str | None = None) -> None:
        calls = self.filter(path=path)
        where = f" to {path}" if path else ""
        if times is None and not calls:
            raise AssertionError(f"edenfake received no request{where}")
        if times is not None and len(calls) != times:
            raise AssertionError(f"expected {times} request(s){where}, got {len(calls)}:\n{self._listing(calls)}")

    def assert_not_called(self) -> None:
        if len(self):
            raise AssertionError(f"expected no request, got {len(self)}:\n{self._listing(list(self))}")

    def assert_called_with(self, **fields: Any) -> None:
        """The newest call's request fields equal ``fields`` (other fields are not compared)."""
        last = self.last
        diffs = [
            f"  {k}: expected {v!r}, sent {last.fields.get(k, '<missing>')!r}"
            for k, v in fields.items()
            if last.fields.get(k, _MISSING) != v
        ]
        if diffs:
            raise AssertionError("the last request differs:\n" + "\n".join(diffs) + f"\nit was: {last.summary()}")

    def assert_any_call(self, **fields: Any) -> None:
        """Some call's request fields equal ``fields``."""
        if not self.filter(**fields):
            raise AssertionError(f"no request had {fields!r}; received:\n{self._listing(list(self))}")

    def _listing(self, calls: list[Call]) -> str:
        if not calls:
            return "  (none)"
        return "\n".join(f"  {i}: {c.summary()}" for i, c in enumerate(calls))


class Journal(_Queries):
    """The calls a fake answered, oldest first. Thread-safe; at most ``max_calls`` calls and ``max_bytes`` bytes
    (the oldest are dropped first, and counted in ``dropped``)."""

    def __init__(self, *, max_calls: int = 10_000, max_bytes: int = 64 * 1024 * 1024) -> None:
        if max_calls < 1 or max_bytes < 1:
            raise ValueError("a journal keeps at least one call and one byte")
        self.max_calls = max_calls
        self.max_bytes = max_bytes
        self._calls: deque[_Entry] = deque()
        self._bytes = 0
        self._lock = threading.Lock()
        self.dropped = 0

    def record(
        self,
        method: str,
        path: str,
        headers: Sequence[tuple[str, str]],
        body: bytes | None,
        status: int,
        answer: bytes | None,
        *,
        form: bytes | None = None,
        files: bytes = b"[]",
        fault: str | None = None,
        at: float = 0.0,
        duration: float = 0.0,
        replayed: bool = False,
        inputs: bytes = b"[]",
        tags: bytes = b"{}",
        own_request: bool = False,
        own_answer: bool = False,
    ) -> None:
        """Record a call: its request ``body``, ``answer``, multipart ``form`` and ``files`` and an edit's
        ``inputs`` as JSON bytes (each kept as :func:`strict` gives it back). ``own_request``: the body, form,
        files, inputs and tags were read by the fake's strict parser or written by its encoder (``own_answer``:
        the answer was written by it); such pieces are strict JSON already and, when :func:`_utf8` (the
        encoder's output, and nearly every body), are not parsed again. Credentials are redacted when a call is
        read."""
        kept = tuple(headers)
        if own_request and _utf8(body) and _utf8(form):
            body, form = body or None, form or None
        else:
            body, form = strict(body), strict(form)
            if files != b"[]" and strict(files) is not files:
                files = b"[]"
            if inputs != b"[]" and strict(inputs) is not inputs:
                inputs = b"[]"
            if tags != b"{}" and strict(tags) is not tags:
                tags = b"{}"
        answer = (answer or None) if own_answer else strict(answer)
        cost = (
            _ENTRY_OVERHEAD
            + len(method)
            + len(path)
            + sum(map(len, itertools.chain.from_iterable(kept)))
            + len(body or b"")
            + len(answer or b"")
            + len(form or b"")
            + len(files)
            + len(inputs)
            + len(tags)
        )
        entry = (
            method,
            path,
            kept,
            body,
            status,
            answer,
            form,
            files,
            fault,
            at,
            duration,
            replayed,
            inputs,
            tags,
            cost,
        )
        with self._lock:
            self._calls.append(entry)
            self._bytes += cost
            while len(self._calls) > 1 and (len(self._calls) > self.max_calls or self._bytes > self.max_bytes):
                self._bytes -= self._calls.popleft()[-1]
                self.dropped += 1

    @staticmethod
    def _build(entry: _Entry) -> Call:
        method, path, headers, body, status, answer, form, files, fault, at, duration, replayed, inputs, tags, _ = entry
        form_fields = _loads(form)
        return Call(
            method=method,
            path=path,
            headers=redact_headers(headers),
            json=redact_body(_loads(body)),
            status=status,
            response=_loads(answer),
            form=redact_body(form_fields) if form_fields is not None else None,
            files=json.loads(files),
            fault=fault,
            at=at,
            duration=duration,
            replayed=replayed,
            inputs=json.loads(inputs),
            tags=json.loads(tags),
        )

    def page(self, offset: int = 0, limit: int | None = None) -> list[Call]:
        """Calls ``offset`` to ``offset + limit``, oldest first (only those are built)."""
        with self._lock:
            end = len(self._calls) if limit is None else min(len(self._calls), offset + limit)
            entries = [self._calls[i] for i in range(offset, end)] if offset < end else []
        return [self._build(e) for e in entries]

    def to_har(self, *, base_url: str = EDEN_URL, offset: int = 0, limit: int | None = None) -> dict[str, Any]:
        """The calls (all, or ``limit`` from ``offset``) as a HAR 1.2 log, their URLs under ``base_url``: what
        ``GET /_edenfake/calls.har`` answers (``edenfake._har`` says what an entry holds)."""
        calls = [c.as_dict() for c in self.page(offset, limit)]
        return _har.har_log(calls, base_url=base_url, held=len(self), dropped=self.dropped, offset=offset)

    def save_har(
        self, path: str | os.PathLike[str], *, base_url: str = EDEN_URL, offset: int = 0, limit: int | None = None
    ) -> Path:
        """Write :meth:`to_har` to ``path`` (strict JSON, UTF-8); the path written."""
        target = Path(path)
        har = self.to_har(base_url=base_url, offset=offset, limit=limit)
        target.write_text(json.dumps(har, ensure_ascii=False, allow_nan=False), "utf-8")
        return target

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._bytes = 0
            self.dropped = 0

    @overload
    def __getitem__(self, index: int) -> Call: ...
    @overload
    def __getitem__(self, index: slice) -> list[Call]: ...
    def __getitem__(self, index: int | slice) -> Call | list[Call]:
        with self._lock:
            entries = list(self._calls)
        if isinstance(index, slice):
            return [self._build(e) for e in entries[index]]
        return self._build(entries[index])

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[Call]:
        with self._lock:
            entries = list(self._calls)
        return (self._build(e) for e in entries)

    def __repr__(self) -> str:
        return f"<Journal of {len(self)} call(s)>"

    @property
    def size_bytes(self) -> int:
        """What the kept calls cost: their bytes and a fixed overhead each."""
        return self._bytes

    def _newest(self) -> Call | None:
        with self._lock:
            entry = self._calls[-1] if self._calls else None
        return None if entry is None else self._build(entry)


class CallList(_Queries):
    """Calls read back from a server (a session's journal, oldest first), with the journal's questions:
    ``count``, ``last``, ``filter()``, ``assert_called()`` and the rest. It is what it was when read."""

    def __init__(self, calls: Iterable[Call]) -> None:
        self._list = list(calls)

    @overload
    def __getitem__(self, index: int) -> Call: ...
    @overload
    def __getitem__(self, index: slice) -> list[Call]: ...
    def __getitem__(self, index: int | slice) -> Call | list[Call]:
        return self._list[index]

    def __iter__(self) -> Iterator[Call]:
        return iter(self._list)

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, CallList)):
            return self._list == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<CallList of {len(self)} call(s)>"

    def _newest(self) -> Call | None:
        return self._list[-1] if self._list else None
