"""Door 1: the fake as a Starlette application, every route answered by the core."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from edenfake import _offload
from edenfake._bounds import MALFORMED
from edenfake._wire import FakeRequest, FakeResponse, asgi_headers, encode_error
from edenfake.fake import EdenFake

__all__ = ["asgi_door", "create_app", "cut_holds", "hold"]


def create_app(fake: EdenFake | None = None, **options: Any) -> Starlette:
    """A Starlette app serving ``fake`` (or a new EdenFake built from ``options``).

    The fake is at ``app.state.fake``.
    """
    if fake is None:
        fake = EdenFake(**options)
    elif options:
        raise TypeError(f"pass options to EdenFake() or to create_app(), not both: {sorted(options)}")
    app = Starlette()
    # The core routes every path itself (and answers 404/405 in the API's shape), so the router hands it all:
    # its default is what runs when no route matches, and there are none.
    app.router.default = _CoreDoor(fake)
    app.state.fake = fake
    return app


def asgi_door(fake: EdenFake) -> ASGIApp:
    """The fake as a bare ASGI callable: what edenfake's own servers run. It answers every path itself (404 and
    405 in the API's shape included), so a framework's router and middleware would only add to each request."""
    return _CoreDoor(fake)


class _Dropped(Exception):
    """Raised after the answer has started, so that a server whose connection the door cannot reach closes it
    mid-answer."""


#: how long a dropped connection waits for the server to see it gone (it takes one turn of the loop)
_DROP_WAIT = 1.0
#: the holds (latency, hanging timeouts) in flight, by event loop; a loop in the set is stopping
_HOLDS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[asyncio.Future[None]]] = weakref.WeakKeyDictionary()
_STOPPING: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
_HOLDS_LOCK = threading.Lock()


async def hold(seconds: float) -> None:
    """Wait ``seconds``, or until :func:`cut_holds` is called on this loop (the server stops)."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    with _HOLDS_LOCK:
        if loop in _STOPPING:
            return
        _HOLDS.setdefault(loop, set()).add(waiter)
    timer = loop.call_later(seconds, _release, waiter)
    try:
        await waiter
    finally:
        timer.cancel()
        with _HOLDS_LOCK:
            _HOLDS.get(loop, set()).discard(waiter)


def cut_holds() -> int:
    """End every hold on the running loop at once, and any that starts later: how many were in flight. A server
    calls it as it stops, so that a hanging fault (30 s by default) never holds up its shutdown."""
    loop = asyncio.get_running_loop()
    with _HOLDS_LOCK:
        _STOPPING.add(loop)
        waiting = list(_HOLDS.pop(loop, ()))
    for waiter in waiting:
        _release(waiter)
    return len(waiting)


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _drop(receive: Receive, send: Send) -> None:
    """Close the connection without an answer, as a crashed upstream does. Under uvicorn the door closes the
    transport itself and waits for the server to see the disconnect (a clean end: nothing is logged); under a
    server whose connection it cannot reach, an exception after the answer's start makes the server close it."""
    close = getattr(getattr(getattr(send, "__self__", None), "transport", None), "close", None)
    if not callable(close):  # duck-typed: uvloop's transports are not asyncio's classes
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1024")]})
        raise _Dropped("edenfake: connection dropped on purpose (injected fault)")
    close()

    async def gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(gone(), _DROP_WAIT)


class _CoreDoor:
    """Raw ASGI endpoint: reads the body (stopping at the limit), asks the core, writes the answer."""

    def __init__(self, fake: EdenFake) -> None:
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan (off in edenfake's servers), websockets: nothing to answer
            return
        # ASGI servers hand header names over in lower case already.
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        hosts = sum(1 for name, _ in headers if name == "host")
        if hosts > 1 or (not hosts and scope.get("http_version") == "1.1"):
            # HTTP/1.1 names one Host (RFC 9112 3.2): what h11 refuses itself, refused whatever the server's parser
            await self._send(encode_error(MALFORMED).response(), send)
            return
        request = FakeRequest(
            method=scope["method"],
            path=scope["path"],
            headers=headers,
            base_url=_base_url(scope, headers),
            query=scope.get("query_string", b"").decode("latin-1"),
            server_host=_server_host(scope),
        )
        if not await self._read_body(request, receive):
            return  # the client left (or its connection was closed) before its body was in: nobody to answer
        response = await self.answer(request)
        if response.delay:
            await hold(response.delay)
        if response.fault == "timeout":
            # Hold the request without answering, as an overloaded upstream does; the client's own
            # timeout fires first. Then drop the connection. A server that stops cuts the hold short.
            await hold(response.hang)
            response.fault = "disconnect"
        if response.fault == "disconnect":
            await _drop(receive, send)
            return
        await self._send(response, send)

    @staticmethod
    async def _send(response: FakeResponse, send: Send) -> None:
        headers = asgi_headers(response.headers.items(), response.body)
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    async def answer(self, request: FakeRequest) -> FakeResponse:
        """The core's answer. The core never waits on I/O: a quick answer is worked out on the event loop
        itself, a CPU-heavy one (images to decode, many pixels to render) in a worker thread."""
        return await _offload.answer(self.fake, request)

    async def _read_body(self, request: FakeRequest, receive: Receive) -> bool:
        """Read the body into ``request`` (stopping past the limit): False when the client went away first."""
        limit = self.fake.limit_for(request.method, request.path)
        declared = request.header("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            # Refuse before reading: an over-large upload is never held in memory.
            request.oversize = True
            return True
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            # The common case: the whole body in one message.
            body: bytes = message.get("body", b"")
            if len(body) > limit:
                request.oversize = True
            else:
                request.body = body
            return True
        chunks: list[bytes] = []
        size = 0
        while True:
            if message["type"] != "http.request":
                return False  # http.disconnect: a body cut short is not answered (nor journalled)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                request.oversize = True
                return True
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
            message = await receive()
        request.body = b"".join(chunks)
        return True


def _server_host(scope: Scope) -> str:
    """The address this request reached, as the ASGI server saw it ("" when it does not say)."""
    server = scope.get("server")
    return str(server[0]) if server else ""


def _base_url(scope: Scope, headers: list[tuple[str, str]]) -> str:
    host = next((v for k, v in headers if k == "host"), None)
    if not host:
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else "127.0.0.1"
    return f"{scope.get('scheme', 'http')}://{host}"
