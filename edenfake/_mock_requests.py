"""requests in process: a transport adapter answered by a fake, and the hook that hands it the Eden URLs.

How: requests asks ``Session.get_adapter(url)`` which adapter sends each request (the one mounted for the
longest matching prefix). While a mock is active that method is patched, once, on the class: a URL a mock routes
gets that mock's :class:`FakeAdapter` (an ``HTTPAdapter`` whose ``send`` answers from the fake), every other URL
the session's own adapter. So the module functions (``requests.post``), every ``Session`` (one made before the
mock started too) and sessions with adapters of their own mounted for other prefixes are routed alike; what
requests does around the adapter (hooks, ``.elapsed``, cookies, redirects, ``raise_for_status``) is its own.

Why not ``responses``, or patching ``HTTPAdapter.send`` as it does: ``responses`` is what many users mock
other hosts with in the same test, and it patches ``HTTPAdapter.send`` itself, capturing the real one at its
import; a second patch of the same method would put whichever started last in front of the other, and
``responses`` refuses a URL it has no answer for. Choosing the adapter one step earlier leaves ``send`` to
``responses``: a :class:`FakeAdapter` overrides ``send`` in its own class, which ``responses``' patch of the
base class does not reach, so the Eden hosts are the fake's and every other host is ``responses``' (or the
network's), whichever started first. The cost per call is one ``urlsplit`` and a look through the active mocks.
"""

from __future__ import annotations

import http
import io
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import requests
import requests.adapters
import urllib3
from urllib3.exceptions import ProtocolError

from edenfake._transports import Door, Route, RoutedDoor, URLParts, routed_only
from edenfake._wire import FakeResponse

__all__ = ["FakeAdapter", "patch"]

#: a streamed request body (a file, a generator) is read in pieces of this size, and no further than the
#: route's body limit
_CHUNK = 64 * 1024


class FakeAdapter(requests.adapters.HTTPAdapter):
    """An ``HTTPAdapter`` answered by a fake: mount it (``session.mount(base_url, eden.requests_adapter())``), or
    let an active mock hand it the Eden URLs. Faults raise what requests raises for the real thing: a timeout
    ``requests.exceptions.ReadTimeout``, a disconnect ``requests.exceptions.ConnectionError``."""

    def __init__(self, handle: Door, route: Route) -> None:
        super().__init__()
        self.handle = handle
        self._route = routed_only(route)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | urllib3.Timeout | Any | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = URLParts.parse(request.url or "")
        method = request.method or "GET"
        headers = [(k, v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in request.headers.items()]
        body, oversize = _body(request.body, lambda: self.handle.fake.limit_for(method, url.path))
        found = self._route(method, url, headers, body)
        found.oversize = oversize
        answer = self.handle.fake.answer(found)
        wait = _read_timeout(timeout)
        if answer.fault == "timeout":
            # Held unanswered until the client's read timeout, if it set one shorter than the fault's hang;
            # a client that sets none is not made to wait for an exception it would only see much later.
            if wait is not None:
                time.sleep(min(wait, answer.hang))
            raise requests.exceptions.ReadTimeout(
                f"edenfake: injected timeout (read timeout={wait}; the fake answered nothing)", request=request
            )
        if answer.delay:
            if wait is not None and answer.delay > wait:
                time.sleep(wait)
                raise requests.exceptions.ReadTimeout(
                    f"edenfake: the answer's latency ({answer.delay:.3g} s) is over the read timeout ({wait} s)",
                    request=request,
                )
            time.sleep(answer.delay)
        if answer.fault == "disconnect":
            reason = ConnectionResetError("edenfake: injected disconnect (server closed the connection)")
            raise requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", reason), request=request)
        response = self.build_response(request, _raw(answer, method, request.url or ""))
        if not stream:
            # The whole body is at hand: requests takes it as read instead of pulling it through urllib3 in
            # 10 kB pieces (the raw stream stays readable, as for a streamed answer).
            response._content = answer.body
        return response

    def close(self) -> None:
        pass


def _read_timeout(timeout: Any) -> float | None:
    """The read timeout of requests' ``timeout=`` (seconds, a (connect, read) pair or a urllib3 Timeout)."""
    if isinstance(timeout, tuple):
        timeout = timeout[1] if len(timeout) == 2 else None
    elif isinstance(timeout, urllib3.Timeout):
        timeout = timeout.read_timeout
    return float(timeout) if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) else None


def _body(body: Any, limit_of: Callable[[], int]) -> tuple[bytes, bool]:
    """A prepared body as bytes, and whether it went past the route's limit (a streamed one, a file or an
    iterable, is read no further)."""
    if body is None:
        return b"", False
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body), False
    if isinstance(body, str):
        return body.encode("utf-8"), False
    chunks: Iterable[Any] = iter(lambda: body.read(_CHUNK), b"") if hasattr(body, "read") else body
    kept: list[bytes] = []
    size, limit = 0, limit_of()
    for chunk in chunks:
        if not chunk:  # a text file's read() ends with ""
            break
        data = chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
        kept.append(data)
        size += len(data)
        if size > limit:
            return b"".join(kept), True
    return b"".join(kept), False


def _raw(answer: FakeResponse, method: str, url: str) -> urllib3.HTTPResponse:
    """The answer as the urllib3 response requests builds its Response from: streamable, readable once."""
    headers = dict(answer.headers)
    headers.setdefault("content-length", str(len(answer.body)))
    try:
        reason = http.HTTPStatus(answer.status).phrase
    except ValueError:
        reason = ""
    return urllib3.HTTPResponse(
        body=io.BytesIO(answer.body),
        headers=headers,
        status=answer.status,
        reason=reason,
        version=11,
        version_string="HTTP/1.1",
        preload_content=False,
        decode_content=True,
        request_method=method,
        request_url=url,
    )


def patch(pick: Callable[[URLParts], RoutedDoor | None], refuse: Callable[[str], None]) -> Callable[[], None]:
    """Make every ``requests.Session`` ask ``pick`` for the URL's mock first (``refuse`` may raise for a URL no
    mock takes); the function that puts the session's own ``get_adapter`` back."""
    session_class = requests.Session
    original = session_class.get_adapter
    adapters: dict[int, tuple[RoutedDoor, FakeAdapter]] = {}

    def get_adapter(self: requests.Session, url: str) -> requests.adapters.BaseAdapter:
        handle = pick(URLParts.parse(url))
        if handle is None:
            refuse(url)
            return original(self, url)
        mounted = next((a for prefix, a in self.adapters.items() if url.lower().startswith(prefix.lower())), None)
        if isinstance(mounted, FakeAdapter):  # a fake's adapter the user mounted for this URL: it answers
            return mounted
        found = adapters.get(id(handle))
        if found is None or found[0] is not handle:
            found = adapters[id(handle)] = (handle, FakeAdapter(handle, handle.request_for))
        return found[1]

    session_class.get_adapter = get_adapter  # type: ignore[method-assign]

    def restore() -> None:
        session_class.get_adapter = original  # type: ignore[method-assign]
        adapters.clear()

    return restore
