"""Door 2, explicit: transports (httpx, httpx2) and an adapter (requests) answered by a fake, for clients you
build yourself, with nothing patched: ``httpx.Client(transport=eden.transport())``,
``session.mount("https://api.edenai.run", eden.requests_adapter())``.

An explicit door answers every request its client sends it: a URL the handle routes (a mock's hosts and
gateway prefixes) has its prefix stripped, any other URL reaches the fake with its path as it is. The patching
mock (:mod:`edenfake._mock`) uses the same transport classes for the URLs it routes.
"""

from __future__ import annotations

import functools
import math
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from edenfake._wire import FakeRequest, FakeResponse

if TYPE_CHECKING:
    from edenfake.fake import EdenFake

__all__ = ["Door", "Route", "RoutedDoor", "URLParts", "async_transport", "door_route", "fake_request", "transport"]

#: how a door turns a request into the core's: (method, URL, headers, body) -> FakeRequest, or None when the
#: URL is not the fake's
Route = Callable[[str, Any, Iterable[tuple[str, str]], bytes], "FakeRequest | None"]


class Door(Protocol):
    """What a door answers from: a handle (``edenfake.Handle``, a mock, a live server) holds its fake."""

    fake: EdenFake


class RoutedDoor(Door, Protocol):
    """A handle that routes URLs (a mock): the core's request for a URL it takes, None for any other."""

    def request_for(
        self, method: str, url: Any, headers: Iterable[tuple[str, str]], body: bytes
    ) -> FakeRequest | None: ...


class URLParts(NamedTuple):
    """A URL as the doors read it (the attributes httpx's URL has): ports only when the URL names one."""

    scheme: str
    host: str
    port: int | None
    path: str
    query: str

    @classmethod
    def parse(cls, url: str) -> URLParts:
        parts = urllib.parse.urlsplit(url)
        return cls(parts.scheme, (parts.hostname or "").lower(), parts.port, parts.path or "/", parts.query)


def fake_request(
    method: str, url: Any, headers: Iterable[tuple[str, str]], body: bytes, path: str | None = None
) -> FakeRequest:
    """The core's request for ``url`` (anything with httpx's URL attributes), at ``path`` (default: the URL's)."""
    port = f":{url.port}" if url.port else ""
    query = url.query
    return FakeRequest(
        method=method,
        path=url.path if path is None else path,
        headers=[(k.lower(), v) for k, v in headers],
        body=body,
        base_url=f"{url.scheme}://{url.host}{port}",
        query=query.decode("ascii", "replace") if isinstance(query, bytes) else str(query),
    )


def door_route(handle: Door) -> Route:
    """An explicit door's routing: the handle's own where it routes the URL (a mock strips a gateway's prefix),
    else the URL's path as it is."""
    routed: Route | None = getattr(handle, "request_for", None)

    def route(method: str, url: Any, headers: Iterable[tuple[str, str]], body: bytes) -> FakeRequest:
        found = routed(method, url, headers, body) if routed is not None else None
        return found if found is not None else fake_request(method, url, headers, body)

    return route


def routed_only(route: Route) -> Callable[[str, Any, Iterable[tuple[str, str]], bytes], FakeRequest]:
    """``route`` for a door that is only ever handed the URLs it routes (the patching mock)."""

    def found(method: str, url: Any, headers: Iterable[tuple[str, str]], body: bytes) -> FakeRequest:
        request = route(method, url, headers, body)
        assert request is not None  # the mock picks this door only for the URLs it routes
        return request

    return found


# -- httpx and httpx2 ---------------------------------------------------------------------------------------


def _to_response(module: Any, request: Any, answer: FakeResponse) -> Any:
    """The fake's answer as ``module``'s Response, or the exception the library raises for the fault."""
    if answer.fault == "timeout":
        raise module.ReadTimeout("edenfake: injected timeout (the fake answered nothing)", request=request)
    if answer.fault == "disconnect":
        raise module.RemoteProtocolError(
            "edenfake: injected disconnect (server closed the connection)", request=request
        )
    return module.Response(answer.status, headers=list(answer.headers.items()), content=answer.body, request=request)


def _read_timeout(request: Any) -> float | None:
    """The read timeout the client gave ``request`` (httpx and httpx2 put it in its extensions), or None."""
    timeout = request.extensions.get("timeout")
    read = timeout.get("read") if isinstance(timeout, dict) else None
    if not isinstance(read, (int, float)) or isinstance(read, bool) or not 0 <= read < math.inf:
        return None  # none set, or none a client could wait for (NaN, negative): the latency runs in full
    return float(read)


def _held(module: Any, request: Any, delay: float) -> tuple[float, Exception | None]:
    """How long an answer with latency ``delay`` keeps the client waiting, and the ReadTimeout it then raises
    when the client's read timeout is shorter (as a server that slow would make it)."""
    wait = _read_timeout(request)
    if wait is None or delay <= wait:
        return delay, None
    why = f"edenfake: the answer's latency ({delay:.3g} s) is over the read timeout ({wait:.3g} s)"
    return wait, module.ReadTimeout(why, request=request)


@functools.cache
def _classes(module: Any) -> tuple[type, type]:
    """``module``'s (httpx's or httpx2's) transport classes answered by a fake: real subclasses of its
    BaseTransport and AsyncBaseTransport, made once per library."""

    class SyncTransport(module.BaseTransport):  # type: ignore[misc]
        """httpx(2)'s transport interface, answered by a fake in the caller's thread."""

        def __init__(self, handle: Door, route: Route, *, explicit: bool = True) -> None:
            self.handle = handle
            self.route = routed_only(route)
            #: made for a client by the user (an active mock leaves such a client's requests to it)
            self.explicit = explicit

        def handle_request(self, request: Any) -> Any:
            found = self.route(request.method, request.url, request.headers.multi_items(), request.read())
            answer = self.handle.fake.answer(found)
            response = _to_response(module, request, answer)
            if answer.delay:
                held, timed_out = _held(module, request, answer.delay)
                time.sleep(held)
                if timed_out is not None:
                    raise timed_out
            return response

    class AsyncTransport(module.AsyncBaseTransport):  # type: ignore[misc]
        """httpx(2)'s async transport interface, answered by a fake without blocking the caller's loop."""

        def __init__(self, handle: Door, route: Route, *, explicit: bool = True) -> None:
            self.handle = handle
            self.route = routed_only(route)
            #: made for a client by the user (an active mock leaves such a client's requests to it)
            self.explicit = explicit

        async def handle_async_request(self, request: Any) -> Any:
            import anyio

            from edenfake import _offload  # an async client's door alone: a sync test never needs it

            body = await request.aread()
            found = self.route(request.method, request.url, request.headers.multi_items(), body)
            # A CPU-heavy answer runs in a worker thread: the caller's other tasks go on meanwhile.
            answer = await _offload.answer(self.handle.fake, found)
            response = _to_response(module, request, answer)
            if answer.delay:
                held, timed_out = _held(module, request, answer.delay)
                await anyio.sleep(held)
                if timed_out is not None:
                    raise timed_out
            return response

    SyncTransport.__qualname__ = SyncTransport.__name__ = f"EdenFake{module.__name__.capitalize()}Transport"
    AsyncTransport.__qualname__ = AsyncTransport.__name__ = f"EdenFake{module.__name__.capitalize()}AsyncTransport"
    return SyncTransport, AsyncTransport


def _library(name: str) -> Any:
    if name not in ("httpx", "httpx2"):
        raise ValueError(f"library must be 'httpx' or 'httpx2', got {name!r}")
    import importlib

    return importlib.import_module(name)


def sync_class(module: Any) -> type:
    return _classes(module)[0]


def async_class(module: Any) -> type:
    return _classes(module)[1]


def transport(handle: Door, library: str = "httpx", route: Route | None = None) -> Any:
    """A ``library.BaseTransport`` answered by ``handle``'s fake."""
    return sync_class(_library(library))(handle, route or door_route(handle))


def async_transport(handle: Door, library: str = "httpx", route: Route | None = None) -> Any:
    """A ``library.AsyncBaseTransport`` answered by ``handle``'s fake, heavy answers off the loop."""
    return async_class(_library(library))(handle, route or door_route(handle))
