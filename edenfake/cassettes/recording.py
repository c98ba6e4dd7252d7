"""Recording: forward /v3 requests to the real service and keep each exchange in a cassette.

One :class:`Recording` serves both doors that record: ``edenfake record`` (a proxy: the fake's own routes
answered locally, every /v3 request forwarded) and the pytest plugin's ``--edenfake-record`` (the in-process mock
forwarding over the network). Requests leave through a bare httpx transport, never through a client, so no mock
(respx's, or edenfake's own patch of httpx2) sees them: the mock cannot answer its own forwarded requests.

Whatever the upstream sends, the recorder reads a bounded amount of it: the answer (after decoding gzip or
deflate) and the images it points at take at most the fake's ``max_upload_bytes`` together, and at most
MAX_FETCHES image URLs are fetched. Past the bound the client gets a 502 PROVIDER_ERROR and nothing is recorded.
An image URL that cannot be fetched (it does not parse, the host refuses) and a header that cannot be sent on
(not Latin-1, or holding CR or LF) are noted: one line on the ``edenfake`` logger, and in the exchange's
``notes``.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
import httpx
from starlette.types import ASGIApp

from edenfake import _options
from edenfake._core import Core
from edenfake._redact import one_line
from edenfake._wire import FakeRequest, FakeResponse, json_response
from edenfake.app import _CoreDoor
from edenfake.cassettes import upstream_base
from edenfake.cassettes.format import Recorded, answer_files, header_problem
from edenfake.cassettes.matching import Described, describe_request
from edenfake.cassettes.replay import Answered, Replay, image_digest, journal_answer, model_of
from edenfake.cassettes.scrub import scrubbed, secret_pattern, strip_urls
from edenfake.cassettes.writing import MAX_FETCHES, TooLarge, Writer, describe_response, note
from edenfake.fake import EdenFake

__all__ = ["DEFAULT_UPSTREAM", "MAX_FETCHES", "Recording", "Upstream", "describe_line", "recording_app"]

log = logging.getLogger("edenfake")

#: the real service (SPEC.md)
DEFAULT_UPSTREAM = _options.EDEN_URL
#: what the error answers of the recorder name as their provider
PROVIDER = "edenfake-recorder"
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
        # the recorder decodes an answer itself; a decoded answer no longer has the encoding it names
        "accept-encoding",
        "content-encoding",
    }
)


class Unreadable(Exception):
    """An upstream answer the recorder cannot decode (an encoding it does not know, a corrupt stream)."""


def _decoder(encoding: str) -> Any:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(zlib.MAX_WBITS | 16)
    if encoding == "deflate":
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib-wrapped (what the RFC says), or gzip
    raise Unreadable(f"the answer's Content-Encoding {one_line(encoding, 40)!r} is not gzip or deflate")


def read_bounded(response: httpx.Response, limit: int, what: str, deadline: float) -> bytes:
    """The body of ``response``, decoded, read chunk by chunk; TooLarge as soon as it passes ``limit`` bytes
    (a compressed answer is stopped while it is decoded, never decoded whole), ReadTimeout past ``deadline``."""
    encodings = [e.strip().lower() for e in response.headers.get("content-encoding", "").split(",") if e.strip()]
    encodings = [e for e in encodings if e != "identity"]
    if len(encodings) > 1:
        raise Unreadable(f"the answer is encoded {len(encodings)} times over ({', '.join(encodings)[:80]})")
    decoder = _decoder(encodings[0]) if encodings else None
    body = bytearray()

    def add(data: bytes) -> None:
        body.extend(data)
        if len(body) > limit:
            raise TooLarge(f"{what} is larger than {limit} bytes")

    try:
        for chunk in response.iter_raw():
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout(f"{what} took longer than the recorder's timeout")
            if decoder is None:
                add(chunk)
                continue
            data = chunk
            while data and not decoder.eof:
                add(decoder.decompress(data, limit - len(body) + 1))
                data = decoder.unconsumed_tail
        if decoder is not None and not decoder.eof and encodings[0] != "deflate":
            raise Unreadable(f"{what} ends before its gzip stream does")
    except zlib.error as exc:
        raise Unreadable(f"{what} is not valid {encodings[0]}: {exc}") from None
    return bytes(body)


class Upstream:
    """The real service (or whatever ``base_url`` names), reached through a bare transport. ``timeout`` bounds
    each exchange with it: the answer, or an image, must be read whole within it."""

    def __init__(self, base_url: str = DEFAULT_UPSTREAM, *, timeout: float = 300.0) -> None:
        self.base_url = upstream_base(base_url)
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

    def send(self, request: FakeRequest, limit: int) -> tuple[int, list[tuple[str, str]], bytes]:
        """Forward ``request`` (method, path, query, body and end-to-end headers, Authorization included); the
        answer's status, headers and body (TooLarge past ``limit`` bytes, Unreadable, httpx.HTTPError)."""
        deadline = time.monotonic() + self.timeout
        url = self.base_url + request.path + (f"?{request.query}" if request.query else "")
        headers = [(k, v) for k, v in request.headers if k not in _HOP_BY_HOP]
        outgoing = httpx.Request(
            request.method, url, headers=headers, content=request.body, extensions=self._timeouts()
        )
        response = self._transport.handle_request(outgoing)
        try:
            what = f"the answer to {request.method} {one_line(request.path, 80)}"
            body = read_bounded(response, limit, what, deadline)
        finally:
            response.close()
        return response.status_code, response.headers.multi_items(), body

    def fetch(self, url: str, limit: int) -> bytes | str:
        """An image URL's bytes, or why they could not be had (TooLarge past ``limit`` bytes). Sent with no
        header of the caller's: a signed URL needs none, and the caller's token is not the image host's
        business."""
        deadline = time.monotonic() + self.timeout
        try:
            target = httpx.URL(url)
            if target.scheme not in ("http", "https") or not target.host:
                return "not an http:// or https:// URL"
            response = self._transport.handle_request(httpx.Request("GET", target, extensions=self._timeouts()))
            try:
                if response.status_code != 200:
                    return f"HTTP {response.status_code}"
                return read_bounded(response, limit, "an image of the answer", deadline)
            finally:
                response.close()
        except (httpx.HTTPError, httpx.InvalidURL, Unreadable, ValueError) as exc:
            return f"{type(exc).__name__}: {one_line(str(exc), 200)}"

    def close(self) -> None:
        self._transport.close()


def forwarded_headers(headers: list[tuple[str, str]], out: Described) -> dict[str, str]:
    """The upstream's answer headers a client gets back (the first of each name; none about the connection,
    none that cannot be sent on, each of those noted)."""
    kept: dict[str, str] = {}
    for name, value in headers:
        name = name.lower()
        if name in _HOP_BY_HOP or name in kept:
            continue
        problem = header_problem(name, value)
        if problem is None:
            kept[name] = value
        else:
            note(out, f"header {one_line(name, 60)} not sent on: {problem}")
    return kept


class Recording:
    """A :class:`~edenfake.cassettes.replay.Source` that forwards each /v3 request upstream, answers with the
    upstream's answer unchanged, and appends the exchange to a cassette before the client gets it (so a client
    that has its answer can count on the cassette holding it). With ``replay``, requests it holds are replayed
    instead (recording only what is missing). Thread-safe."""

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
        where = f"{request.method} {one_line(request.path, 80)}"
        model = model_of(described.record)
        limit = core.max_upload_bytes
        started = time.perf_counter()
        try:
            status, headers, body = self.upstream.send(request, limit)
            if not 200 <= status <= 599:
                raise Unreadable(f"the upstream answered {where} with status {status}, which is not an answer")
            kept = describe_response(status, headers, body, self.upstream.fetch, budget=limit - len(body))
        except httpx.HTTPError as exc:
            # Not the upstream's answer: nothing to record. A 503 (not a 500) says "try again".
            problem = f"the upstream {self.upstream.base_url} did not answer {where}: {type(exc).__name__}: {exc}"
            return self._refused(503, "SERVICE_UNAVAILABLE", problem, described, model)
        except TooLarge:
            problem = (
                f"the answer to {where}, with the images it points at, is larger than {limit} bytes (the fake's "
                "max_upload_bytes): not forwarded, not recorded"
            )
            return self._refused(502, "PROVIDER_ERROR", problem, described, model)
        except Unreadable as exc:
            return self._refused(502, "PROVIDER_ERROR", f"{exc}: not forwarded, not recorded", described, model)
        elapsed = time.perf_counter() - started
        forwarded = forwarded_headers(headers, kept)
        self._log_notes(where, described, kept)
        try:
            number = self.writer.append(described, kept, duration_ms=elapsed * 1000)
        except (OSError, ValueError) as exc:
            self._error(f"could not record {where} in {self.writer.directory}: {one_line(str(exc))}")
        else:
            if self.on_record is not None:
                self.on_record(number, described, kept, elapsed)
        files = kept.files
        journal = journal_answer(kept.record, lambda name: image_digest(bytes(files[name])), stripped_urls=True)
        return Answered(FakeResponse(status, forwarded, body), journal, False, model)

    def replayed(self, core: Core, request: FakeRequest, recorded: Recorded) -> Answered:
        assert self.replay is not None
        return self.replay.replayed(core, request, recorded)

    def _refused(self, status: int, code: str, problem: str, described: Described, model: str | None) -> Answered:
        pattern = secret_pattern(described.secrets)
        problem = one_line(scrubbed(strip_urls(problem, set()), pattern), 1000)
        self._error(problem)
        body: dict[str, Any] = {"detail": f"edenfake record: {problem}", "error_code": code}
        if code == "PROVIDER_ERROR":
            body["provider"] = PROVIDER
        response = json_response(status, body)
        return Answered(response, response.body, False, model)

    def _log_notes(self, where: str, request: Described, response: Described) -> None:
        if response.notes:
            pattern = secret_pattern(request.secrets | response.secrets)
            for note in response.notes:
                log.warning("edenfake record: %s: %s", where, scrubbed(note, pattern))

    def _error(self, problem: str) -> None:
        with self._lock:
            self.errors.append(problem)
        if self.on_error is not None:
            self.on_error(problem)


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
    model = model_of(request.record)
    images = len(answer_files(response.record))
    shown = (one_line(model, 80) if model else None, f"{images} image(s)" if images else None)
    extra = ", ".join(x for x in shown if x)
    return (
        f"recorded #{number} {request.record['method']} {one_line(request.record['path'], 120)} -> "
        f"{response.record['status']} in {elapsed * 1000:.0f} ms" + (f" ({extra})" if extra else "")
    )
