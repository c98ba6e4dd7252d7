"""Recording: forward /v3 requests to the real service and keep each exchange in a cassette.

One :class:`Recording` serves both doors that record: ``edenfake record`` (a proxy: the fake's own routes
answered locally, every /v3 request forwarded) and the pytest plugin's ``--edenfake-record`` (the in-process mock
forwarding over the network). Requests leave through a bare httpx transport, never through a client, so no mock
(respx's, or edenfake's own patch of httpx2) sees them: the mock cannot answer its own forwarded requests.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
from starlette.types import ASGIApp

from edenfake._cassette import (
    EXCHANGES,
    Cassette,
    CassetteError,
    Described,
    StagedCassette,
    Writer,
    answer_files,
    describe_request,
    describe_response,
)
from edenfake._core import Core
from edenfake._replay import Answered, Replay, Source, image_digest, journal_answer
from edenfake._wire import FakeRequest, FakeResponse, json_response
from edenfake.app import _CoreDoor
from edenfake.fake import EdenFake

__all__ = [
    "DEFAULT_UPSTREAM",
    "RECORD_MODES",
    "CassetteSession",
    "Recording",
    "Upstream",
    "cassette_dir",
    "describe_line",
    "recording_app",
]

#: the real service (SPEC.md)
DEFAULT_UPSTREAM = "https://api.edenai.run"
#: --edenfake-record: replay only / record what is missing / record afresh
RECORD_MODES = ("none", "once", "rewrite")
#: headers that describe one connection, not the request: never forwarded either way
_HOP_BY_HOP = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        # the transport asks for an identity body; an answer it decoded no longer has the encoding it names
        "accept-encoding",
        "content-encoding",
    }
)


class Upstream:
    """The real service (or whatever ``base_url`` names), reached through a bare transport."""

    def __init__(self, base_url: str = DEFAULT_UPSTREAM, *, timeout: float = 300.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the upstream must be an http:// or https:// URL, got {base_url!r}")
        if parts.username or parts.password or parts.query:
            raise ValueError("the upstream URL carries no credentials or query: the caller's Authorization is sent")
        base = base_url.rstrip("/")
        # A base URL as the openai SDK takes it (".../v3") names the same service: requests already carry /v3.
        self.base_url = base[: -len("/v3")] if base.endswith("/v3") else base
        self.timeout = timeout
        self._transport = httpx.HTTPTransport(retries=0)

    def __repr__(self) -> str:
        return f"Upstream({self.base_url!r})"

    def _timeouts(self) -> dict[str, Any]:
        return {
            "timeout": {
                "connect": min(self.timeout, 30.0),
                "read": self.timeout,
                "write": self.timeout,
                "pool": self.timeout,
            }
        }

    def send(self, request: FakeRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        """Forward ``request`` (method, path, query, body and end-to-end headers, Authorization included)."""
        url = self.base_url + request.path + (f"?{request.query}" if request.query else "")
        headers = [(k, v) for k, v in request.headers if k not in _HOP_BY_HOP]
        outgoing = httpx.Request(
            request.method, url, headers=headers, content=request.body, extensions=self._timeouts()
        )
        response = self._transport.handle_request(outgoing)
        try:
            body = response.read()
        finally:
            response.close()
        return response.status_code, response.headers.multi_items(), body

    def fetch(self, url: str) -> bytes | str:
        """An image URL's bytes, or why they could not be had. Sent with no header of the caller's: a signed URL
        needs none, and the caller's token is not the image host's business."""
        try:
            response = self._transport.handle_request(httpx.Request("GET", url, extensions=self._timeouts()))
            try:
                body = response.read()
            finally:
                response.close()
        except (httpx.HTTPError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        return body

    def close(self) -> None:
        self._transport.close()


def forwarded_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """The upstream's answer headers a client gets back (the first of each name; none about the connection)."""
    kept: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        if name not in _HOP_BY_HOP and name not in kept:
            kept[name] = value
    return kept


class Recording:
    """A :class:`~edenfake._replay.Source` that forwards each /v3 request upstream, answers with the upstream's
    answer unchanged, and appends the exchange to a cassette before the client gets it (so a client that has
    its answer can count on the cassette holding it). With ``replay``, requests it holds are replayed instead
    (recording only what is missing). Thread-safe."""

    def __init__(
        self,
        upstream: Upstream,
        writer: Writer,
        *,
        replay: Replay | None = None,
        on_record: Callable[[int, Described, Described, float], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.upstream = upstream
        self.writer = writer
        self.replay = replay
        self.on_record = on_record
        self.on_error = on_error
        #: what went wrong while recording (the answers still reached the client)
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def rewind(self) -> None:
        if self.replay is not None:
            self.replay.rewind()

    def answer(self, core: Core, request: FakeRequest) -> Answered | None:
        if request.oversize:
            return None  # the door stopped reading: the fake's 413 is the only honest answer
        described = describe_request(request)
        if self.replay is not None:
            found = self.replay.find(described)
            if found is not None:
                return self.replayed(core, request, found)
        where = f"{request.method} {request.path}"
        started = time.perf_counter()
        try:
            status, headers, body = self.upstream.send(request)
        except httpx.HTTPError as exc:
            # Not the upstream's answer: nothing to record. A 503 (not a 500) says "try again".
            problem = f"the upstream {self.upstream.base_url} did not answer {where}: {type(exc).__name__}: {exc}"
            self._error(problem)
            detail = {"detail": f"edenfake record: {problem}", "error_code": "SERVICE_UNAVAILABLE"}
            response = json_response(503, detail)
            return Answered(response, response.body, False, _model(described))
        elapsed = time.perf_counter() - started
        kept = describe_response(status, headers, body, self.upstream.fetch)
        try:
            number = self.writer.append(described, kept, duration_ms=elapsed * 1000)
        except (OSError, ValueError) as exc:
            self._error(f"could not record {where} in {self.writer.directory}: {exc}")
        else:
            if self.on_record is not None:
                self.on_record(number, described, kept, elapsed)
        files = kept.files
        journal = journal_answer(kept.record, lambda name: image_digest(bytes(files[name])), stripped_urls=True)
        return Answered(FakeResponse(status, forwarded_headers(headers), body), journal, False, _model(described))

    def replayed(self, core: Core, request: FakeRequest, recorded: Any) -> Answered:
        assert self.replay is not None
        return self.replay.replayed(core, request, recorded)

    def _error(self, problem: str) -> None:
        with self._lock:
            self.errors.append(problem)
        if self.on_error is not None:
            self.on_error(problem)


def _model(described: Described) -> str | None:
    record = described.record
    fields = record.get("json") if "json" in record else record.get("form")
    model = fields.get("model") if isinstance(fields, dict) else None
    return model if isinstance(model, str) else None


# -- pytest: one cassette per test --------------------------------------------------------------------------------


def cassette_dir(test_file: str | os.PathLike[str], test_name: str, cassette: object) -> Path:
    """``cassettes/<module>/<test>/`` beside the test file (``cassette`` True), or ``.../<module>/<name>/``."""
    if isinstance(cassette, str):
        name = cassette
    elif cassette is True:
        name = test_name
    else:
        raise TypeError(f"cassette= takes True or a name, got {cassette!r}")
    safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in name).strip(".") or "_"
    path = Path(test_file)
    return path.parent / "cassettes" / path.stem / safe


class CassetteSession:
    """One test's cassette: replayed (mode "none"), extended with what is missing ("once") or recorded afresh
    ("rewrite"). What is recorded is staged beside the cassette and moved into place only when the test
    passes: a test that fails while recording leaves the old cassette (or none), never half of one."""

    def __init__(self, directory: Path, mode: str, upstream: str, *, unmatched: str = "error") -> None:
        if mode not in RECORD_MODES:
            raise ValueError(f"--edenfake-record takes {', '.join(RECORD_MODES)}, got {mode!r}")
        self.directory = directory
        self.mode = mode
        self.upstream_url = upstream
        self.unmatched = unmatched
        self.staged: StagedCassette | None = None
        self.recording: Recording | None = None

    def source(self) -> Source:
        exists = (self.directory / EXCHANGES).is_file()
        if self.mode == "none":
            if not exists:
                raise CassetteError(
                    f"no cassette at {self.directory}; record it with pytest --edenfake-record=once "
                    "(--edenfake-upstream URL for another service than the real one)"
                )
            return Replay(self.directory, unmatched=self.unmatched)
        old = Cassette.load(self.directory) if exists and self.mode == "once" else None
        self.staged = StagedCassette(self.directory, keep=old)
        replay = Replay(old, unmatched="fake") if old is not None else None
        self.recording = Recording(Upstream(self.upstream_url), self.staged.writer, replay=replay)
        return self.recording

    def finish(self, *, passed: bool) -> None:
        """Keep what was recorded if the test passed and something new was recorded; else leave things as
        they were. A recording that could not be written fails the test."""
        if self.staged is None or self.recording is None:
            return
        self.recording.upstream.close()
        errors = self.recording.errors
        if passed and not errors and self.staged.writer.count:
            self.staged.commit()
        else:
            self.staged.discard()
        if passed and errors:
            raise CassetteError(f"the cassette {self.directory} was not saved:\n  " + "\n  ".join(errors))


# -- the proxy: `edenfake record` ---------------------------------------------------------------------------------


def recording_app(fake: EdenFake) -> ASGIApp:
    """The fake's ASGI door, with /v3 requests answered in a worker thread: each waits for the upstream
    (seconds, for an image) without holding up the others or the fake's own routes."""
    return _RecordingDoor(fake)


class _RecordingDoor(_CoreDoor):
    async def answer(self, request: FakeRequest) -> FakeResponse:
        if not request.path.startswith("/v3/"):
            return await super().answer(request)
        # A /v3 request waits on the upstream: in a worker thread, so the event loop serves the others.
        return await anyio.to_thread.run_sync(self.fake.answer, request)


def describe_line(number: int, request: Described, response: Described, elapsed: float) -> str:
    """The line ``edenfake record`` prints for a recorded exchange."""
    model = _model(request)
    images = len(answer_files(response.record))
    extra = ", ".join(x for x in (model, f"{images} image(s)" if images else None) if x)
    return (
        f"recorded #{number} {request.record['method']} {request.record['path']} -> {response.record['status']} "
        f"in {elapsed * 1000:.0f} ms" + (f" ({extra})" if extra else "")
    )
