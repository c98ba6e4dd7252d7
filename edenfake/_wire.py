"""Requests and answers as the doors hand them to the core and take them back: plain data, no framework."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from edenfake.errors import ApiError

JSON_MEDIA = "application/json"
#: one encoder for every answer (json.dumps builds a new one per call when given separators); strict: NaN and
#: Infinity raise instead of writing what strict JSON parsers refuse
compact_json = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


@dataclass
class FakeRequest:
    """A request as a door hands it to the core. Header names are lower case."""

    method: str
    path: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    base_url: str = "http://127.0.0.1"
    #: the query string, undecoded (``limit=2&offset=1``)
    query: str = ""
    #: the door stopped reading because the body is over the limit
    oversize: bool = False
    #: the address the request reached (the host of the ASGI scope's ``server``), from a door a browser can
    #: reach; None (the in-process mock) exempts the request from edenfake._guard's checks
    server_host: str | None = None
    #: the request as a door already read it (an edenfake._request.Exchange), to decide where to answer it
    #: (edenfake._offload); the core takes it instead of reading the body again
    exchange: object = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Doors build these right; a test building one by hand gets a TypeError naming the field, not a 500.
        if not isinstance(self.body, bytes):
            raise TypeError(f"FakeRequest.body is bytes, got {type(self.body).__name__} (text: body=text.encode())")
        if not isinstance(self.headers, list):
            raise TypeError(f"FakeRequest.headers is a list of (name, value) pairs, got {type(self.headers).__name__}")
        if not isinstance(self.method, str) or not isinstance(self.path, str):
            raise TypeError("FakeRequest.method and .path are strings")
        if not self.method.isupper():
            self.method = self.method.upper()  # as HTTP servers hand it over
        for pair in self.headers:
            if not (
                isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str) and isinstance(pair[1], str)
            ):
                raise TypeError(f"FakeRequest.headers holds (name, value) pairs of strings, got {pair!r:.80}")
            if not pair[0].islower() and pair[0] != pair[0].lower():
                self.headers = [(k.lower(), v) for k, v in self.headers]  # lower case, as ASGI servers give them
                break

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower case), as ASGI servers give it."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass
class FakeResponse:
    """What the core answers. The door waits ``delay`` seconds, then writes it out, or, when ``fault`` is
    ``"timeout"`` or ``"disconnect"``, fails the way a client would see that fault."""

    status: int
    headers: dict[str, str]
    body: bytes
    delay: float = 0.0
    fault: str | None = None
    #: for a timeout on a real socket: seconds to hold the request before dropping it
    hang: float = 0.0

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", JSON_MEDIA)

    def json(self) -> Any:
        return json.loads(self.body)


def asgi_headers(headers: Iterable[tuple[str, str]], body: bytes) -> list[tuple[bytes, bytes]]:
    """An answer's headers as an ASGI server takes them (Latin-1 bytes), with its body's length unless they
    state one (a HEAD answer carries its GET's length, and no body). A ``Date`` (an upstream's, forwarded or
    replayed) is left out: the server writes its own, and a second one would break the header's one value."""
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers if k != "date"]
    if not any(k == b"content-length" for k, _ in raw):
        raw.append((b"content-length", str(len(body)).encode()))
    return raw


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> FakeResponse:
    """An answer whose body is ``body`` as strict JSON (a non-finite number is a bug, and raises)."""
    return FakeResponse(status, {"content-type": JSON_MEDIA, **(headers or {})}, compact_json(body).encode())


@dataclass(frozen=True)
class Encoded:
    """An answer encoded once, to be handed out many times: immutable, so no caller can change the next one's."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def response(self) -> FakeResponse:
        return FakeResponse(self.status, dict(self.headers), self.body)


def encode_error(exc: ApiError) -> Encoded:
    """The answer for ``exc``; it keeps nothing of the exception (no traceback, no frame, no request)."""
    headers = {"content-type": JSON_MEDIA, **exc.headers}
    return Encoded(exc.status, tuple(headers.items()), compact_json(exc.body()).encode())


class Refusal(Exception):
    """Raised to answer with an error already encoded (a refusal found earlier, or remembered)."""

    def __init__(self, answer: Encoded) -> None:
        super().__init__(answer.status)
        self.answer = answer
