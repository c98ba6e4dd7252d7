"""The bounds of a served connection: uvicorn's HTTP protocol (h11's or httptools') with :class:`Bounds` mixed
in: the time a client has to send a request and to read its answer, and the size of a request head."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from edenfake._wire import asgi_headers, encode_error
from edenfake.errors import ApiError, BadRequest, HeadersTooLarge, RequestTimeout, ServiceUnavailable

__all__ = ["MAX_HEAD_BYTES", "Bounds", "bounded", "protocol_class"]

log = logging.getLogger("edenfake")


def protocol_class(http: Any) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class for ``http``: a name uvicorn knows ("auto", "h11", "httptools"), or a class."""
    if not isinstance(http, str):
        return http  # type: ignore[no-any-return]
    from uvicorn.config import HTTP_PROTOCOLS
    from uvicorn.importer import import_from_string

    if http not in HTTP_PROTOCOLS:
        raise ValueError(f"http must be one of {', '.join(HTTP_PROTOCOLS)}, got {http!r}")
    found: type[asyncio.Protocol] = import_from_string(HTTP_PROTOCOLS[http])
    return found


#: the largest request head (request line and headers) a served connection takes: past it, a 431 (httptools
#: alone would take any size); a browser's cookies for localhost and a long token fit many times over
MAX_HEAD_BYTES = 64 * 1024


class Bounds:
    """Mixed into uvicorn's HTTP protocol (h11's or httptools'), bounding each connection.

    Time: a connection has ``request_timeout`` seconds from opening, or from the end of its previous answer, to
    send a whole request, head and body. Past them it is closed, and answered 408 if part of a request came (and
    no answer has started): a client that opens connections and sends nothing, or a byte at a time, cannot hold
    them, and a client idling on a kept-alive connection is sent no answer it did not ask for. Once the request
    is in, the fake takes the time it takes (a hanging fault holds it on purpose). One timer a connection, which
    looks again when it fires: a request costs a clock read, not a timer.

    A client that stops reading its answer is dropped once it has read none of it for ``request_timeout``
    seconds (what is written and unread stays in memory until then).

    Size: a head past MAX_HEAD_BYTES is answered 431 and the connection closed.

    Reads uvicorn's ``cycle`` (``more_body``, ``response_started``, ``response_complete``), ``transport`` and
    ``loop``, which both protocols have."""

    request_timeout: float
    timeout_answer: bytes
    too_large_answer: bytes
    malformed_answer: bytes
    #: bytes received since the last answer ended while the next request's head is not complete
    _head_bytes = 0
    cycle: Any
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    #: when the connection opened, or its last answer ended: the request being sent has until then + timeout
    _since = 0.0
    _timer: asyncio.TimerHandle | None = None
    #: when the timer first found the answer being written waiting for the client to read it
    _unread_since: float | None = None
    #: the client shut its side once its request was in (``shutdown(SHUT_WR)``): answered, then closed
    _shut = False

    #: connections (and requests) served at once: past them a request is answered 503 in the API's shape
    max_connections: int | None = None
    unavailable: tuple[int, list[tuple[bytes, bytes]], bytes]
    connections: set[Any]
    tasks: set[Any]
    app: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn's own bound answers a plain-text 503: its check is made here instead, with the API's error.
        self.limit_concurrency: int | None = None
        if self.max_connections is not None:
            self.app = _limited(self.app, self)

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._since = self.loop.time()
        self._timer = self.loop.call_later(self.request_timeout, self._look)

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        # No body is awaited: these bytes are a request head's (the next one's, pipelined, while one is answered).
        head = before is None or before.response_complete or not before.more_body
        super().data_received(data)  # type: ignore[misc]
        cycle = self.cycle
        if cycle is not before and cycle is not None and not cycle.response_complete:
            # A head just came whole. In reads large enough to hold an oversized one (or a body with it): measured.
            if (
                self._head_bytes + len(data) > MAX_HEAD_BYTES
                and _head_size(cycle.scope) > MAX_HEAD_BYTES
                and not self.transport.is_closing()
            ):
                cycle.disconnected = True  # the request's app reads a disconnect, and answers nobody
                self._close(self.too_large_answer, "sent a request head over %d bytes", MAX_HEAD_BYTES)
        elif head:  # a head still coming
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                self._close(self.too_large_answer, "sent a request head over %d bytes", MAX_HEAD_BYTES)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._since = self.loop.time()  # the next request's time starts now (an idle kept-alive one is uvicorn's)
        self._head_bytes = 0
        if self._shut:
            self.transport.close()

    def eof_received(self) -> bool | None:
        """The client will send nothing more. Once its request is in (an answer worked out in a worker thread
        may still be coming) the transport stays open for the answer, which uvicorn would otherwise lose;
        else it closes, as uvicorn's protocols do."""
        if self._request_in():
            self._shut = True
            return True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)  # type: ignore[misc]

    def _request_in(self) -> bool:
        """The current request has arrived whole and is being answered."""
        cycle = self.cycle
        return cycle is not None and not cycle.response_complete and not cycle.more_body

    def _look(self) -> None:
        self._timer = None
        transport = self.transport
        if transport.is_closing():
            return
        now = self.loop.time()
        unread = transport.get_write_buffer_size() > 0  # the client is not reading what was answered
        if self._request_in():  # being answered: the fake's time, but not the client's to hold by not reading
            if not unread:
                self._unread_since = None
            elif self._unread_since is None:
                self._unread_since = now
            elif now - self._unread_since >= self.request_timeout:
                self._drop_unread()
                return
            self._timer = self.loop.call_later(self.request_timeout, self._look)
            return
        left = self._since + self.request_timeout - now
        if left > 0:
            self._timer = self.loop.call_later(left, self._look)
            return
        if unread:  # answered, and the answer still not read: close() would wait for a reader forever
            self._drop_unread()
            return
        cycle = self.cycle
        if self._head_bytes == 0 and (cycle is None or cycle.response_complete):
            self.transport.close()  # nothing of a request came (a silent or idle kept-alive connection): no answer
            return
        self._close(self.timeout_answer, "did not send a whole request within %g s", self.request_timeout)

    def _drop_unread(self) -> None:
        """Drop the connection at once, with what it holds unread (closing would wait for the client to read)."""
        log.info("edenfake: dropped a connection that did not read its answer within %g s", self.request_timeout)
        self.transport.abort()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes that are not an HTTP/1.1 request (a bad request line, a Content-Length
        twice or negative, no Host, a broken chunk): the API's 400 in JSON, then the connection closes, instead
        of a plain-text line."""
        self.transport.write(self.malformed_answer)
        self.transport.close()

    def _close(self, answer: bytes, why: str, bound: float) -> None:
        """Answer ``answer`` unless an answer has started, close the connection, log one line."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(answer)
        log.info("edenfake: closed a connection that " + why, bound)
        self.transport.close()


def _head_size(scope: dict[str, Any]) -> int:
    """About how many bytes a request's head took: its target and headers, as the ASGI scope holds them."""
    target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    return 16 + target + sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))


def _limited(app: Any, protocol: Bounds) -> Any:
    """``app``, answering 503 SERVICE_UNAVAILABLE instead while ``protocol``'s server holds ``max_connections``
    connections or is answering more requests than that: uvicorn's own test, made as the request is answered."""

    async def limited(scope: Any, receive: Any, send: Any) -> None:
        most = protocol.max_connections
        assert most is not None
        # this connection is counted, and this request's task too (uvicorn counts the tasks before adding it)
        if len(protocol.connections) >= most or len(protocol.tasks) > most:
            log.warning("edenfake: answered 503: %d connections at once is the most served (max_connections)", most)
            status, headers, body = protocol.unavailable
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return limited


def bounded(base: type[asyncio.Protocol], seconds: float, max_connections: int | None = None) -> type[asyncio.Protocol]:
    """``base`` with :class:`Bounds` mixed in, at ``seconds`` and ``max_connections``."""
    busy = encode_error(
        ServiceUnavailable(f"The server is serving {max_connections} connections, the most it takes; try again")
    )
    attributes = {
        "max_connections": max_connections,
        "unavailable": (
            busy.status,
            [*asgi_headers(busy.headers, busy.body), (b"connection", b"close")],
            busy.body,
        ),
        "request_timeout": seconds,
        "timeout_answer": _closing_answer(RequestTimeout(seconds), "Request Timeout"),
        "too_large_answer": _closing_answer(HeadersTooLarge(MAX_HEAD_BYTES), "Request Header Fields Too Large"),
        "malformed_answer": _closing_answer(MALFORMED, "Bad Request"),
    }
    return type(f"Bounded{base.__name__}", (Bounds, base), attributes)


#: what a request that is not HTTP/1.1 gets (the parser says no more than that it is not)
MALFORMED = BadRequest(
    "The request is not valid HTTP/1.1 (its request line, its headers or its body's framing)",
    error_code="INVALID_REQUEST",
)


def _closing_answer(error: ApiError, reason: str) -> bytes:
    """``error`` as the raw HTTP answer of a connection about to close."""
    body = encode_error(error).response().body
    head = (
        f"HTTP/1.1 {error.status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body
