"""A real HTTP server for the fake: uvicorn on a loopback socket, in the foreground or a background thread."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import uvicorn
from starlette.types import ASGIApp

from edenfake import _options
from edenfake._handle import Handle
from edenfake._wire import encode_error
from edenfake.app import asgi_door, cut_holds
from edenfake.errors import ApiError, HeadersTooLarge, RequestTimeout
from edenfake.fake import EdenFake

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["LiveServer", "bind", "make_server", "serve"]

log = logging.getLogger("edenfake")


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one), ready to hand to uvicorn."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when their protocol says TCP.
    # Without it every answer on a kept-alive connection waits for the client's delayed ACK (~40 ms) unless
    # uvloop is installed.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except BaseException:  # OSError, and a host or port bind() cannot take at all (ValueError, OverflowError)
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


#: seconds a stopping server waits for the requests in flight (hanging faults are cut at once) before it
#: cancels them
GRACEFUL_SHUTDOWN = 5.0


class _Server(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        on_started: Callable[[], None] | None,
        on_stopped: Callable[[], None] | None = None,
        on_cut: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(config)
        self._on_started = on_started
        self._on_stopped = on_stopped
        self._on_cut = on_cut

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn waits for the requests in flight: a hanging fault (or a long latency) would hold it for as long
        # as it hangs. Cut them first; their connections are dropped as a hang's end drops them.
        cut = cut_holds()
        if cut:
            (self._on_cut or _log_cut)(cut)
        await super().shutdown(sockets=sockets)
        # Before uvicorn re-raises the signal that stopped it: SIGTERM's default action ends the process at once.
        if self._on_stopped is not None:
            self._on_stopped()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        # Announce only once listening, with uvicorn's signal handlers in place: a Ctrl-C from then on
        # always stops the server cleanly.
        if self._on_started is not None and not self.should_exit:
            self._on_started()


def make_server(
    fake: EdenFake,
    *,
    app: ASGIApp | None = None,
    log_level: str = "warning",
    on_started: Callable[[], None] | None = None,
    on_stopped: Callable[[], None] | None = None,
    on_cut: Callable[[int], None] | None = None,
    request_timeout: float = _options.REQUEST_TIMEOUT,
    max_connections: int = _options.MAX_CONNECTIONS,
    http: Any = "auto",
    **config: Any,
) -> uvicorn.Server:
    """A uvicorn server for ``fake`` (or for ``app``, an app built on it), without access logs (the fake logs its
    own one line per request). As it stops it cuts the holds in flight (hanging faults, latency) short and tells
    ``on_cut`` how many (by default an INFO line of the ``edenfake`` logger).

    Each connection has ``request_timeout`` seconds, from opening or from the end of its previous answer, to
    send a whole request (see :class:`_Bounds`); at most ``max_connections`` are served at once (a request on
    one more is answered 503 by uvicorn). ``http``: uvicorn's HTTP protocol ("auto", "h11", "httptools")."""
    cfg = uvicorn.Config(
        app if app is not None else asgi_door(fake),
        log_level=log_level,
        access_log=False,
        lifespan="off",
        server_header=False,
        http=_bounded(_protocol_class(http), request_timeout),
        **{
            "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN,
            "limit_concurrency": max_connections,
            "h11_max_incomplete_event_size": 2 * MAX_HEAD_BYTES,  # h11's own bound (16 KiB) behind this one
            "ws": "none",  # no WebSocket routes: an upgrade request is answered as the HTTP request it also is
            **config,
        },
    )
    return _Server(cfg, on_started, on_stopped, on_cut)


def _protocol_class(http: Any) -> type[asyncio.Protocol]:
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


class _Bounds:
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

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._since = self.loop.time()
        self._timer = self.loop.call_later(self.request_timeout, self._look)

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)  # type: ignore[misc]
        cycle = self.cycle
        if cycle is None or cycle.response_complete:  # the head is still coming
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
                self._close(self.too_large_answer, "sent a request head over %d bytes", MAX_HEAD_BYTES)
        elif (
            # a head just came whole, in reads large enough to hold an oversized one (or a body with it): measured
            cycle is not before
            and self._head_bytes + len(data) > MAX_HEAD_BYTES
            and _head_size(cycle.scope) > MAX_HEAD_BYTES
            and not self.transport.is_closing()
        ):
            cycle.disconnected = True  # the request's app reads a disconnect, and answers nobody
            self._close(self.too_large_answer, "sent a request head over %d bytes", MAX_HEAD_BYTES)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._since = self.loop.time()  # the next request's time starts now (an idle kept-alive one is uvicorn's)
        self._head_bytes = 0

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
                log.info(
                    "edenfake: dropped a connection that did not read its answer within %g s", self.request_timeout
                )
                transport.abort()
                return
            self._timer = self.loop.call_later(self.request_timeout, self._look)
            return
        left = self._since + self.request_timeout - now
        if left > 0:
            self._timer = self.loop.call_later(left, self._look)
            return
        if unread:  # answered, and the answer still not read: close() would wait for a reader forever
            log.info("edenfake: dropped a connection that did not read its answer within %g s", self.request_timeout)
            transport.abort()
            return
        cycle = self.cycle
        if self._head_bytes == 0 and (cycle is None or cycle.response_complete):
            self.transport.close()  # nothing of a request came (a silent or idle kept-alive connection): no answer
            return
        self._close(self.timeout_answer, "did not send a whole request within %g s", self.request_timeout)

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


def _bounded(base: type[asyncio.Protocol], seconds: float) -> type[asyncio.Protocol]:
    """``base`` with :class:`_Bounds` mixed in, at ``seconds``."""
    attributes = {
        "request_timeout": seconds,
        "timeout_answer": _closing_answer(RequestTimeout(seconds), "Request Timeout"),
        "too_large_answer": _closing_answer(HeadersTooLarge(MAX_HEAD_BYTES), "Request Header Fields Too Large"),
    }
    return type(f"Bounded{base.__name__}", (_Bounds, base), attributes)


def _closing_answer(error: ApiError, reason: str) -> bytes:
    """``error`` as the raw HTTP answer of a connection about to close."""
    body = encode_error(error).response().body
    head = (
        f"HTTP/1.1 {error.status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def cut_line(count: int) -> str:
    """What a stopping server says of the held requests it cut short."""
    return f"edenfake: stopping: dropped {count} connection(s) held by a timeout fault or latency"


def _log_cut(count: int) -> None:
    log.info("%s", cut_line(count))


class LiveServer(Handle):
    """A fake served by uvicorn in a background thread on 127.0.0.1: ``url``, ``base_url``, and the same
    controls as the in-process mock (``calls``, ``fail()``, ``credits``, ``clock``, ``reset()``)."""

    def __init__(self, fake: EdenFake, *, host: str = "127.0.0.1", port: int = 0, **config: Any) -> None:
        """``config``: :func:`make_server`'s (``request_timeout``, ``max_connections``) and uvicorn settings,
        e.g. ``loop="asyncio", http="h11"`` (the default picks uvloop and httptools when they are installed)."""
        super().__init__(fake)
        self._sock = bind(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        self._server = make_server(fake, **config)
        self._thread = threading.Thread(target=self._run, name="edenfake-server", daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``"""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL to give an OpenAI-compatible client: ``url + "/v3"``."""
        return self.url + "/v3"

    def _run(self) -> None:
        self._server.run(sockets=[self._sock])

    def start(self, timeout: float = 10.0) -> LiveServer:
        self._thread.start()
        deadline = threading.Event()
        waited = 0.0
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("edenfake server thread stopped before it started; see the log")
            deadline.wait(0.005)
            waited += 0.005
            if waited > timeout:
                raise TimeoutError(f"edenfake server did not start within {timeout} s")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()


@contextmanager
def serve(fake: EdenFake | None = None, /, **kwargs: Unpack[_options.ServeKwargs]) -> Iterator[LiveServer]:
    """Run a fake on ``host:port`` (loopback and a free port by default) for the duration of a ``with`` block.

    For clients that are not httpx: requests, aiohttp, subprocesses, other languages. The keywords are
    :class:`edenfake.ServeOptions`: ``host``, ``port``, ``request_timeout``, ``max_connections``,
    ``assert_all_faults_used`` (leaving the block with a
    queued fault unanswered is an AssertionError unless False) and any :class:`EdenFake` option.
    """
    options = _options.build(_options.ServeOptions, kwargs, "edenfake.serve()")
    given_fake_options = set(kwargs) & _options.names(_options.FakeOptions)
    if fake is not None and given_fake_options:
        raise TypeError(f"pass options to EdenFake() or to serve(), not both: {sorted(given_fake_options)}")
    chosen = fake if fake is not None else EdenFake(options)
    server = LiveServer(
        chosen,
        host=options.host,
        port=options.port,
        request_timeout=options.request_timeout,
        max_connections=options.max_connections,
    ).start()
    failed = False
    try:
        yield server
    except BaseException:
        failed = True
        raise
    finally:
        server.stop()
        if options.assert_all_faults_used and not failed:
            server.assert_all_faults_used()
