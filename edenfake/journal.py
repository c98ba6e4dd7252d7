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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

from edenfake import _har
from edenfake._calls import Call, CallList, Queries
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
        return _digest("not_json", data)
    return data


def _digest(kind: str, data: bytes) -> bytes:
    """What the journal keeps of bytes it does not keep: ``{kind: {"bytes": N, "sha256": HEX}}``."""
    return compact_json({kind: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}}).encode()


def _not_kept(data: bytes | None) -> bytes | None:
    """A body of an entry too large for the journal's whole bound: ``{"not_kept": {"bytes": N, "sha256": HEX}}``
    where it is larger than such a summary."""
    return data if data is None or len(data) <= 160 else _digest("not_kept", data)


def _utf8(data: bytes | None) -> bool:
    """``data`` is ASCII without a NUL byte, so a JSON reader takes it as UTF-8. (The strict parser also reads
    UTF-16 and UTF-32 bodies, which :func:`strict` summarizes: the journal keeps UTF-8.)"""
    return not data or (data.isascii() and b"\x00" not in data)


class Journal(Queries):
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
        if cost > self.max_bytes:  # alone past the bound: its bodies are kept as their size and digest
            before = len(body or b"") + len(answer or b"") + len(form or b"")
            body, answer, form = (_not_kept(piece) for piece in (body, answer, form))
            cost += len(body or b"") + len(answer or b"") + len(form or b"") - before
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
        for name, value in (("offset", offset), ("limit", limit)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise ValueError(f"calls.page(): {name} is a whole number (0 or more), got {value!r}")
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
