"""aiohttp in process: a connection to the fake instead of a socket, for the URLs an active mock routes.

How: aiohttp's ``TCPConnector`` opens a connection per request it cannot take from its pool
(``_create_connection``). While a mock is active that method is patched, once, on the class: for a URL a mock
routes it returns aiohttp's own ``ResponseHandler`` over a :class:`_Wire` (an asyncio transport with no
socket). aiohttp writes the request to it as it would to a server; once the request is whole the wire hands it
to the fake (heavy answers in a worker thread, :mod:`edenfake._offload`), waits the latency with
``asyncio.sleep`` and feeds the answer back as HTTP/1.1 bytes, which aiohttp's parser reads. Everything else is
aiohttp's: ``ClientResponse``, ``raise_for_status``, streaming, cookies, its timeouts (a session's or request's
``ClientTimeout`` fires while the fake holds an answer back), its retry of an idempotent request on a dropped
connection. A connection to the fake is never pooled (the next request asks the active mocks again).

Why not ``aioresponses`` (or patching ``ClientSession._request`` as it does): it answers from a ``ClientResponse``
it builds itself, so aiohttp's reading, timeouts and errors would be ours to imitate; and users mock other hosts
with it in the same test. ``aioresponses`` replaces ``ClientSession._request``, so while it is active no request
reaches a connector: for the URLs a mock routes, the session's entry points (``request``, ``get``, ``post``...)
then call aiohttp's own ``_request`` (kept at this module's import), and every other URL goes to aioresponses, in
whichever order the two started. Per call: a look through the active mocks when a connection opens.
"""

from __future__ import annotations

import asyncio
import http
from collections.abc import Callable
from typing import Any

import aiohttp
import aiohttp.client
import aiohttp.client_exceptions
import aiohttp.client_proto
import aiohttp.connector

from edenfake import _offload
from edenfake._transports import RoutedDoor, URLParts
from edenfake._wire import FakeRequest, FakeResponse

__all__ = ["patch"]

#: aiohttp's own ``ClientSession._request``, as it was when this module was imported
_REQUEST: Any = vars(aiohttp.ClientSession)["_request"]
#: the session's entry points, and the default each gives ``allow_redirects``
_ENTRIES = {"get": True, "options": True, "head": False, "post": None, "put": None, "patch": None, "delete": None}


def _parts(url: Any) -> URLParts:
    """A yarl URL as the doors read it (its port only when it names one)."""
    return URLParts(url.scheme, (url.host or "").lower(), url.explicit_port, url.path or "/", url.raw_query_string)


class _Handler(aiohttp.client_proto.ResponseHandler):
    """aiohttp's response reader over a wire to the fake; never kept in the connector's pool."""

    @property
    def should_close(self) -> bool:
        return True


class _Wire(asyncio.Transport):
    """One request's connection to the fake: collects what aiohttp writes until the request is whole, then
    answers it from the fake through the protocol, as a socket would bring the server's bytes."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        protocol: _Handler,
        handle: RoutedDoor,
        url: Any,
        timeout: aiohttp.ClientTimeout,
    ) -> None:
        super().__init__()
        self._loop = loop
        self._protocol = protocol
        self._handle = handle
        self._url = url
        self._timeout = timeout
        self._buffer = bytearray()
        self._closing = False
        self._sent = False
        self._continued = False
        self._task: asyncio.Task[None] | None = None
        self._extra = {"peername": (url.host, url.port), "sockname": ("127.0.0.1", 0), "sslcontext": None}

    # -- asyncio.Transport --------------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._sent:
            return
        self._buffer += data
        whole = _whole_request(self._buffer)
        if whole is None:
            if not self._continued and _expects_continue(self._buffer):
                self._continued = True  # the client waits for it before it sends the body (expect100=True)
                self._protocol.data_received(b"HTTP/1.1 100 Continue\r\n\r\n")
            return
        self._sent = True
        self._buffer = bytearray()
        method, headers, body = whole
        found = self._handle.request_for(method, _parts(self._url), headers, body)
        assert found is not None  # the connector picks a wire only for the URLs the mock routes
        found.oversize = len(body) > self._handle.fake.limit_for(method, found.path)
        if _offload.is_heavy(_offload.read_ahead(self._handle.fake, found)):
            self._task = self._loop.create_task(self._later(found))
            return
        answer = self._handle.fake.answer(found)  # quick: here, as aiohttp's write returns
        if answer.delay or answer.fault is not None:
            self._task = self._loop.create_task(self._deliver(answer))
        else:
            self._protocol.data_received(_wire_bytes(answer))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        if self._task is not None and not self._task.done():
            self._task.cancel()  # the client gave up (its timeout, a cancelled task): nothing more to answer
        if self._loop.is_closed():  # closed after its loop (a session left to the garbage collector)
            self._protocol.connection_lost(None)
        else:
            self._loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def is_reading(self) -> bool:
        return not self._closing

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def can_write_eof(self) -> bool:
        return False

    # -- the exchange -------------------------------------------------------------------------------------

    async def _later(self, found: FakeRequest) -> None:
        """A heavy answer, worked out in a worker thread while the loop goes on."""
        await self._deliver(await _offload.answer(self._handle.fake, found))

    async def _deliver(self, answer: FakeResponse) -> None:
        """The answer after its latency, or the fault, as a server's connection would bring it."""
        if answer.delay:
            await asyncio.sleep(answer.delay)  # aiohttp's own timeouts fire meanwhile, if shorter
        if self._closing:
            return
        if answer.fault == "timeout":
            if self._timeout is not aiohttp.client.DEFAULT_TIMEOUT:
                # Held unanswered, as an overloaded upstream does: the client's own timeout fires first, if it
                # is shorter than the fault's hang. A session left at aiohttp's default (5 minutes) is not
                # made to wait for it: the timeout comes at once.
                await asyncio.sleep(answer.hang)
                if self._closing:
                    return
            self._protocol.set_exception(
                aiohttp.client_exceptions.SocketTimeoutError("edenfake: injected timeout (the fake answered nothing)")
            )
            return
        if answer.fault == "disconnect":
            self._closing = True
            self._protocol.connection_lost(None)  # before any byte of an answer: ServerDisconnectedError
            return
        self._protocol.data_received(_wire_bytes(answer))


def _whole_request(buffer: bytearray) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """The method, headers and body of the request in ``buffer`` once it is whole (Content-Length or chunked
    framing, as aiohttp writes), else None."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    method = lines[0].split(" ", 1)[0]
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    rest = bytes(buffer[end + 4 :])
    framing = {k.lower(): v.lower() for k, v in headers if k.lower() in ("content-length", "transfer-encoding")}
    if "chunked" in framing.get("transfer-encoding", ""):
        if not rest.endswith(b"0\r\n\r\n"):
            return None
        body = _unchunk(rest)
        return None if body is None else (method, headers, body)
    length = int(framing.get("content-length", "0") or 0)
    if len(rest) < length:
        return None
    return method, headers, rest[:length]


def _expects_continue(buffer: bytearray) -> bool:
    """Whether the request's head is whole and asks for ``100 Continue`` before its body."""
    end = buffer.find(b"\r\n\r\n")
    return end >= 0 and b"\r\nexpect: 100-continue" in bytes(buffer[:end]).lower()


def _unchunk(data: bytes) -> bytes | None:
    """A chunked body decoded, or None while its last chunk has not come."""
    out, at = bytearray(), 0
    while True:
        line_end = data.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(data[at:line_end].split(b";", 1)[0], 16)
        if size == 0:
            return bytes(out)
        start = line_end + 2
        if len(data) < start + size + 2:
            return None
        out += data[start : start + size]
        at = start + size + 2


def _wire_bytes(answer: FakeResponse) -> bytes:
    try:
        reason = http.HTTPStatus(answer.status).phrase
    except ValueError:
        reason = "Unknown"
    headers = dict(answer.headers)
    headers.setdefault("content-length", str(len(answer.body)))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"HTTP/1.1 {answer.status} {reason}\r\n{head}\r\n".encode("latin-1") + answer.body


def patch(pick: Callable[[URLParts], RoutedDoor | None], refuse: Callable[[str], None]) -> Callable[[], None]:
    """Make aiohttp's connectors ask ``pick`` for the URL's mock first (``refuse`` may raise for a URL no mock
    takes), and the session's entry points keep the mocks' URLs on aiohttp's own ``_request``; the function
    that puts everything back."""
    connector_class = aiohttp.connector.TCPConnector
    session_class = aiohttp.ClientSession
    create = connector_class._create_connection
    saved: dict[str, Any] = {name: vars(session_class)[name] for name in ("request", *_ENTRIES)}

    async def _create_connection(self: Any, req: Any, traces: Any, timeout: aiohttp.ClientTimeout) -> Any:
        handle = pick(_parts(req.url))
        if handle is None:
            refuse(str(req.url))
            return await create(self, req, traces, timeout)
        protocol = _Handler(self._loop)
        protocol.connection_made(_Wire(self._loop, protocol, handle, req.url, timeout))
        return protocol

    def request_for(session: Any, url: Any) -> Any:
        """aiohttp's own ``_request`` when something else replaced it (aioresponses) and a mock takes ``url``;
        else None (the session's ``_request``, whatever it is, sends it)."""
        current = type(session)._request
        if current is _REQUEST or current is not session_class._request:
            return None  # not replaced, or a subclass's own
        try:
            built = session._build_url(url)
        except Exception:
            return None  # aiohttp raises its own error for it
        return _REQUEST if pick(_parts(built)) is not None else None

    def entry(name: str, redirects: bool | None) -> Callable[..., Any]:
        original = saved[name]
        verb = name.upper()

        def method(self: Any, url: Any, **kwargs: Any) -> Any:
            own = request_for(self, url)
            if own is None:
                return original(self, url, **kwargs)
            if redirects is not None:
                kwargs.setdefault("allow_redirects", redirects)
            return aiohttp.client._RequestContextManager(own(self, verb, url, **kwargs))

        method.__name__ = method.__qualname__ = name
        return method

    def request(self: Any, method: str, url: Any, **kwargs: Any) -> Any:
        own = request_for(self, url)
        if own is None:
            return saved["request"](self, method, url, **kwargs)
        return aiohttp.client._RequestContextManager(own(self, method, url, **kwargs))

    connector_class._create_connection = _create_connection  # type: ignore[method-assign]
    session_class.request = request  # type: ignore[method-assign]
    for name, redirects in _ENTRIES.items():
        setattr(session_class, name, entry(name, redirects))

    def restore() -> None:
        connector_class._create_connection = create  # type: ignore[method-assign]
        for name, original in saved.items():
            setattr(session_class, name, original)

    return restore
