"""Requests and answers as the doors hand them to the core and take them back: plain data, no framework."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from edenfake.errors import ApiError

JSON_MEDIA = "application/json"
#: one encoder for every answer: json.dumps builds a new one per call when given separators
compact_json = json.JSONEncoder(separators=(",", ":")).encode


@dataclass
class FakeRequest:
    """A request as a door hands it to the core. Header names are lower case."""

    method: str
    path: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    base_url: str = "http://127.0.0.1"
    query: str = ""
    #: the door stopped reading because the body is over the limit
    oversize: bool = False

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
    #: the JSON value ``body`` encodes, when the core built it (spares the journal a parse)
    payload: Any = None

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", JSON_MEDIA)

    def json(self) -> Any:
        return json.loads(self.body)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> FakeResponse:
    data = compact_json(body).encode()
    return FakeResponse(status, {"content-type": JSON_MEDIA, **(headers or {})}, data, payload=body)


def error_response(exc: ApiError) -> FakeResponse:
    # An error remembered for a repeated body is answered many times: encode it once.
    cached: FakeResponse | None = getattr(exc, "_edenfake_response", None)
    if cached is None:
        cached = json_response(exc.status, exc.body(), exc.headers)
        exc._edenfake_response = cached  # type: ignore[attr-defined]
    return FakeResponse(cached.status, dict(cached.headers), cached.body, payload=cached.payload)
