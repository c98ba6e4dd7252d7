"""Replay: answer /v3 requests with what the real service answered when they were recorded.

A request matches a recorded one when its method, path and body fields are the same (images by sha256,
multipart boundaries and headers ignored); identical recorded requests are answered in recorded order, then the
last one repeats. The answer is the recorded one: the upstream's own bytes, images read back from the
cassette's files (URL images served by the fake under ``/_edenfake/images/``). A file that no longer hashes to
its name (changed since the cassette was loaded) is never served: that request gets a 503 naming the file.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

from edenfake import _options, _redact, _sessions
from edenfake._answers import IMAGE_PREFIX
from edenfake._core import Core
from edenfake._redact import one_line
from edenfake._wire import JSON_MEDIA, FakeRequest, FakeResponse, compact_json, json_response
from edenfake.cassettes.format import (
    Cassette,
    CassetteError,
    Recorded,
    media_type,
    restore_body,
    restored_images,
)
from edenfake.cassettes.matching import Described, describe_request, differences, match_key

__all__ = ["UNMATCHED", "Answered", "Replay", "Source", "image_digest", "journal_answer", "source_for"]

#: what ``unmatched`` may be
UNMATCHED = _options.UNMATCHED_CHOICES


@dataclass(frozen=True)
class Answered:
    """An answer that did not come from the fake's own rules: replayed, or forwarded to the real service."""

    response: FakeResponse
    #: what the journal keeps of the answer (JSON bytes, images as digests), or None
    journal: bytes | None
    #: it came from a recording
    replayed: bool
    model: str | None = None


class Source(Protocol):
    """Where answers to /v3 requests come from before the fake's own rules: :class:`Replay`, or a recording
    session. ``answer`` gives None to let the fake answer."""

    def answer(self, core: Core, request: FakeRequest) -> Answered | None: ...

    def rewind(self) -> None: ...


def check_unmatched(unmatched: str) -> None:
    if unmatched not in UNMATCHED:
        raise ValueError(f"unmatched must be 'fake' or 'error', got {_redact.clip(repr(unmatched), 40)}")


def source_for(replay: Any, unmatched: str) -> Source | None:
    """The source the ``replay`` option names: a cassette directory, a loaded Cassette, or a Source itself."""
    check_unmatched(unmatched)
    if replay is None:
        if unmatched != "fake":
            raise ValueError("unmatched='error' needs replay=DIR: without a cassette nothing is recorded")
        return None
    if isinstance(replay, (str, os.PathLike, Cassette)):
        return Replay(replay, unmatched=unmatched)
    if callable(getattr(replay, "answer", None)) and callable(getattr(replay, "rewind", None)):
        found: Source = replay
        return found
    raise TypeError(f"replay takes a cassette directory, got {type(replay).__name__}")


class Replay:
    """The answers of one cassette, by request. Thread-safe."""

    def __init__(self, cassette: Cassette | str | os.PathLike[str], *, unmatched: str = "fake") -> None:
        check_unmatched(unmatched)
        self.cassette = cassette if isinstance(cassette, Cassette) else Cassette.load(cassette)
        self.unmatched = unmatched
        self._by_key: dict[str, list[Recorded]] = defaultdict(list)
        for recorded in self.cassette.exchanges:
            self._by_key[match_key(recorded.request)].append(recorded)
        self._default_used: dict[str, int] = {}
        self._lock = threading.Lock()
        self._digests: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"<Replay of {self.cassette!r}, unmatched={self.unmatched!r}>"

    @property
    def _used(self) -> dict[str, int]:
        """The position of the request's session (edenfake._sessions): each has its own."""
        state = _sessions.CURRENT.get()
        return self._default_used if state is None else state.replay_used

    def rewind(self) -> None:
        """Back to the first of each group of identical recorded requests."""
        with self._lock:
            self._used.clear()

    def find(self, request: Described) -> Recorded | None:
        """The recorded exchange that answers ``request`` (taking it: the next identical request gets the next)."""
        key = match_key(request.record)
        with self._lock:
            found = self._by_key.get(key)
            if not found:
                return None
            used = self._used.get(key, 0)
            self._used[key] = used + 1
        return found[min(used, len(found) - 1)]

    def answer(self, core: Core, request: FakeRequest) -> Answered | None:
        if request.oversize:
            return None  # the body was not read: only the fake's 413 fits
        described = describe_request(request)
        found = self.find(described)
        if found is not None:
            return self.replayed(core, request, found)
        if self.unmatched == "fake":
            return None
        body = not_recorded(self.cassette, described.record)
        return Answered(FakeResponse(404, {"content-type": JSON_MEDIA}, body), body, False, model_of(described.record))

    def replayed(self, core: Core, request: FakeRequest, recorded: Recorded) -> Answered:
        """The answer ``recorded`` holds, its URL images hosted by ``core`` for the host ``request`` came to."""
        names: dict[str, str] = {}

        def url_for(name: str) -> str:
            if name not in names:
                # each answer hands its URLs out afresh, with a fresh expiry, as the fake's own answers do
                core.urls.put(name, self.cassette.read(name), (media_type(name),))
                names[name] = f"{request.base_url}{IMAGE_PREFIX}{name}{_sessions.url_query()}"
            return names[name]

        response = recorded.response
        try:
            body = restore_body(response, self.cassette.read, url_for)
            journal = journal_answer(response, self._digest, url_for)
        except (CassetteError, OSError) as exc:
            detail = f"edenfake replay: exchange {recorded.describe()} cannot be replayed: {one_line(str(exc), 300)}"
            refused = json_response(503, {"detail": detail, "error_code": "SERVICE_UNAVAILABLE"})
            return Answered(refused, refused.body, False, recorded.model)
        answer = FakeResponse(response["status"], dict(response.get("headers", {})), body)
        return Answered(answer, journal, True, recorded.model)

    def _digest(self, name: str) -> dict[str, Any]:
        found = self._digests.get(name)
        if found is None:
            found = image_digest(self.cassette.read(name))
            self._digests[name] = found
        return found


def image_digest(data: bytes) -> dict[str, Any]:
    """What the journal keeps of an image: its sha256, size in bytes, and format and pixel size where readable."""
    digest: dict[str, Any] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:  # the header only: nothing is decoded
            digest.update(format=(image.format or "").lower(), width=image.width, height=image.height)
    except Exception:  # not an image Pillow reads: the digest and size say enough
        pass
    return digest


def journal_answer(
    response: dict[str, Any], digest: Any, url_for: Any = None, *, stripped_urls: bool = False
) -> bytes | None:
    """What the journal keeps of a recorded answer: its JSON with each image's base64 replaced by its digest
    (the journal never keeps image data) and each URL image by the URL the client got."""
    if "json" not in response:
        return None
    value = restored_images(
        response["json"],
        digest,
        lambda ref: ref["url"] if stripped_urls or url_for is None else url_for(ref["$file"]),
    )
    return compact_json(value).encode()


def model_of(record: dict[str, Any]) -> str | None:
    """The ``model`` field of a request as a cassette keeps it (JSON or multipart), or None."""
    fields = record.get("json") if "json" in record else record.get("form")
    model = fields.get("model") if isinstance(fields, dict) else None
    return model if isinstance(model, str) else None


def not_recorded(cassette: Cassette, sent: dict[str, Any]) -> bytes:
    """The 404 NOT_RECORDED body: the closest recorded request and the fields that differ from it."""
    where = f"{sent['method']} {_redact.clip(sent['path'], 80)}"
    closest: tuple[int, Recorded, list[tuple[str, Any, Any]]] | None = None
    for recorded in cassette.exchanges:
        found = differences(recorded.request, sent)
        # another method or path is farther than anything else; another kind of body (form for JSON) than a field
        score = len(found) + sum(100 if n in ("method", "path") else 10 if n == "body" else 0 for n, _, _ in found)
        if closest is None or score < closest[0]:
            closest = (score, recorded, found)
    body: dict[str, Any] = {
        "detail": f"edenfake replay: no exchange recorded in {cassette.path} matches {where}",
        "error_code": "NOT_RECORDED",
        "cassette": str(cassette.path),
        "closest": None,
    }
    if closest is not None:
        _, recorded, found = closest
        shown = ", ".join(f"{name} (recorded {_short(a)}, sent {_short(b)})" for name, a, b in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        body["detail"] += f"; the closest, {recorded.describe()}, differs in {shown}{more}"
        body["closest"] = {
            "exchange": recorded.number,
            "method": recorded.request["method"],
            "path": recorded.request["path"],
            "differences": [name for name, _, _ in found],
        }
    else:
        body["detail"] += " (the cassette is empty)"
    body["detail"] += ". Record it (edenfake record, or pytest --edenfake-record=once) or fix the request."
    return compact_json(body).encode()


def _short(value: Any) -> str:
    if isinstance(value, dict) and "$file" in value:
        return f"file {value['$file'][:12]}..."
    text = repr(value) if not isinstance(value, (dict, list)) else compact_json(value)
    return _redact.clip(text, 40)
