"""A hostile upstream for the recorder (``edenfake record`` and the pytest plugin's ``--edenfake-record``): each
/v3 request is answered with the hostile answer its ``prompt`` names, to prove that nothing it sends makes the
recorder answer 500, keep a secret, or hold more than its bound. Also: ``recording()`` runs ``edenfake record``
in a subprocess, and ``peak_rss()`` reads how much memory a process has held at most."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.parse
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.types import Receive, Scope, Send

from tests.helpers import read_body, start_cli
from tests.recording_upstream import png

#: a token with the characters JSON encoders escape ("/" by PHP, "=" and "+" by Gson)
HOSTILE_TOKEN = "sk-live/4f9a=c2e7+b1d3a5e8"
#: the signature of the hostile upstream's signed URLs (with "/", which PHP escapes)
HOSTILE_SIGNATURE = "Zm9v/YmFy+c2ln=0123456789abcdef"
#: what a gzip bomb decodes to (its body is about a thousandth of it)
BOMB_BYTES = 128 * 1024 * 1024
#: what the huge "image" streams (the recorder must stop reading long before)
HUGE_IMAGE_BYTES = 400 * 1024 * 1024
#: how many image URLs the "many-urls" answer carries
MANY_URLS = 200
_PNG_HEAD = png(4, 4)


def gson(text: str) -> str:
    """``text`` as Gson writes it inside a JSON string: ``=`` ``<`` ``>`` ``&`` ``'`` as ``\\u00XX``."""
    return "".join(f"\\u{ord(c):04x}" if c in "=<>&'" else c for c in text)


def php(text: str) -> str:
    """``text`` as PHP's json_encode writes it: ``/`` as ``\\/``."""
    return text.replace("/", "\\/")


def every_char_escaped(text: str) -> str:
    """``text`` with every character as ``\\uXXXX`` (upper-case hex), as some encoders write non-ASCII text."""
    return "".join(f"\\u{ord(c):04X}" for c in text)


def spellings(secret: str) -> list[str]:
    """The ways a JSON answer may spell ``secret``: raw, JSON-escaped three ways, percent-encoded."""
    return [secret, gson(secret), php(secret), every_char_escaped(secret), urllib.parse.quote(secret, safe="")]


def _bomb() -> bytes:
    encoder = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip stream
    chunk = b"a" * (1024 * 1024)
    parts = [encoder.compress(b'{"data":[],"pad":"')]
    parts += [encoder.compress(chunk) for _ in range(BOMB_BYTES // len(chunk))]
    parts.append(encoder.compress(b'"}') + encoder.flush())
    return b"".join(parts)


class Hostile:
    """An upstream that answers each /v3 request with the hostile answer its ``prompt`` names (a key of
    :attr:`modes`), and serves ``/cdn/NAME`` (a small PNG, signature required), ``/big/N`` (N bytes of "PNG"
    streamed) and ``/img/I.png`` (a small PNG, counted in :attr:`fetched`)."""

    def __init__(self) -> None:
        self.base_url = "http://127.0.0.1"
        #: the image paths fetched from it, in order
        self.fetched: list[str] = []
        self._bomb: bytes | None = None
        self.modes: dict[str, Callable[[str], tuple[int, list[tuple[bytes, bytes]], Any]]] = {
            "echo-escaped": self._echo_escaped,
            "echo-compact": self._echo_compact,
            "signed-upper": self._signed_upper,
            "gzip-bomb": self._gzip_bomb,
            "huge-body": self._huge_body,
            "huge-image": self._huge_image,
            "many-urls": self._many_urls,
            "bad-url": self._bad_url,
            "bad-header": self._bad_header,
            "nan": lambda token: (200, _JSON, b'{"data":[],"cost":NaN}'),
            "overflow": lambda token: (200, _JSON, b'{"data":[],"cost":1e999}'),
            "deep": lambda token: (200, _JSON, b"[" * 100_000 + b"]" * 100_000),
            "garbage": lambda token: (200, _JSON, b"\xff\xfe\x00not json at all"),
            "utf16": lambda token: (200, _JSON, json.dumps({"data": [], "cost": 0.04}).encode("utf-16")),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        request_body = await read_body(receive)
        path = scope["path"]
        headers = dict((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
        body: Any
        if path.startswith("/cdn/"):
            query = urllib.parse.parse_qs(scope.get("query_string", b"").decode())
            ok = query.get("Signature") == [HOSTILE_SIGNATURE]
            status, raw, body = (200, [(b"content-type", b"image/png")], _PNG_HEAD) if ok else (403, [], b"no")
        elif path.startswith("/img/"):
            self.fetched.append(path)
            status, raw, body = 200, [(b"content-type", b"image/png")], _PNG_HEAD
        elif path.startswith("/big/"):
            self.fetched.append(path)
            status, raw, body = 200, [(b"content-type", b"image/png")], self._stream(int(path[len("/big/") :]))
        else:
            token = headers.get("authorization", "").partition(" ")[2]
            prompt = json.loads(request_body or b"{}").get("prompt", "")
            status, raw, body = self.modes[prompt](token)
        if isinstance(body, bytes):
            await send({"type": "http.response.start", "status": status, "headers": [*raw, _length(body)]})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": status, "headers": raw})
        async for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def _stream(self, size: int, head: bytes = _PNG_HEAD[:16]) -> AsyncIterator[bytes]:
        chunk = b"\x00" * (1024 * 1024)
        yield head
        sent = len(head)
        while sent < size:
            piece = chunk[: size - sent]
            yield piece
            sent += len(piece)

    def _echo_escaped(self, token: str) -> tuple[int, list[tuple[bytes, bytes]], Any]:
        # Hand-written, as PHP and Java servers write JSON: no json.dumps style matches these bytes.
        shown = ", ".join(spellings(token))
        detail = f'{{"detail": "token {shown} is revoked", "error_code": "UNAUTHORIZED"}}'
        return 401, _JSON, detail.encode()

    def _echo_compact(self, token: str) -> tuple[int, list[tuple[bytes, bytes]], Any]:
        detail = f"token {token} ({urllib.parse.quote(token, safe='')}) is revoked"
        body = {"detail": detail, "error_code": "UNAUTHORIZED", "hint": f"https://x.example/?t={token}"}
        return 401, _JSON, json.dumps(body, separators=(",", ":")).encode()

    def _signed_upper(self, token: str) -> tuple[int, list[tuple[bytes, bytes]], Any]:
        host = self.base_url.split("://", 1)[1]
        sig = urllib.parse.quote(HOSTILE_SIGNATURE, safe="")
        items = [
            {"url": f"HTTP://{host}/cdn/a.png?Signature={sig}&Expires=3600"},
            {"url": f"Http://{host.upper()}/cdn/b.png?Signature={sig}"},
            {"url": f"http://user:{sig}@{host}/cdn/c.png"},
        ]
        body = {"data": items, "revised_prompt": f"see HTTPS://CDN.EXAMPLE/x.png?Signature={sig} for the image"}
        return 200, _JSON, json.dumps(body, separators=(",", ":")).encode()

    def _gzip_bomb(self, token: str) -> tuple[int, list[tuple[bytes, bytes]], Any]:
        if self._bomb is None:
            self._bomb = _bomb()
        return 200, [*_JSON, (b"content-encoding", b"gzip")], self._bomb

    def _huge_body(self, token: str) -> tuple[int, list[tuple[bytes, bytes]], Any]:
        return 200, _JSON, self._stream(BOMB_BYTES, b'{"data":[],"pad":"')

    def _huge_image(self, token: str) -> tuple[int, list[tuple[bytes, bytes]], Any]:
        body = {"data": [{"url": f"{self.base_url}/big/{HUGE_IMAGE_BYTES}"}]}
        return 200, _JSON, json.dumps(body).encode()

    def _many_urls(self, token: str) -> tuple[int, list[tuple[bytes, bytes]], Any]:
        body = {"data": [{"url": f"{self.base_url}/img/{i}.png"} for i in range(MANY_URLS)]}
        return 200, _JSON, json.dumps(body).encode()

    def _bad_url(self, token: str) -> tuple[int, list[tuple[bytes, bytes]], Any]:
        urls = ["http://[::1/x.png?sig=abcdef0123456789", "https://127.0.0.1:99999/x.png", "http://exa mple.com/a.png"]
        return 200, _JSON, json.dumps({"data": [{"url": u} for u in urls]}).encode()

    def _bad_header(self, token: str) -> tuple[int, list[tuple[bytes, bytes]], Any]:
        euro = "€".encode()
        headers = [*_JSON, (b"retry-after", euro), (b"x-trace", b"t-" + euro), (b"x-ok", b"fine")]
        return 200, headers, b'{"data":[],"cost":0.04}'


_JSON = [(b"content-type", b"application/json")]


def _length(body: bytes) -> tuple[bytes, bytes]:
    return (b"content-length", str(len(body)).encode())


@dataclass
class Proxy:
    """A running ``edenfake record``: its process id and URL; what it printed, once it stopped."""

    pid: int
    url: str
    out: str = ""
    err: str = ""


@contextmanager
def recording(upstream: str, cassette: Any, *args: str) -> Iterator[Proxy]:
    """``edenfake record`` from ``upstream`` into ``cassette`` on a free port, stopped (Ctrl-C) on the way
    out."""
    proc, url = start_cli(
        "record", "--port", "0", "--quiet", "--upstream", upstream, "--cassette", str(cassette), *args
    )
    proxy = Proxy(proc.pid, url)
    try:
        yield proxy
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        proxy.out, proxy.err = out, err


def peak_rss(pid: int) -> int:
    """The most memory process ``pid`` has held (VmHWM), in bytes (Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024
