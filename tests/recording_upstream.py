"""A stand-in for the real service, served on 127.0.0.1, that answers like it in ways the fake does not, so that
recording, replay and drift have something to find. ``SESSION`` is a client session against it (the openai SDK
and httpx), and ``EXPECTED_DRIFT`` what ``edenfake drift`` must report of a cassette of that session.

What the stand-in does differently from the fake (each is a planted difference):
  - refusals of a value the model lacks are 502 (the fake's default is 400);
  - every image answer carries an extra top-level field, ``request_id``;
  - gpt-image-1 costs 0.02 a low-quality image (the fake's catalog: 0.011);
  - GPT image models report usage in another shape (prompt_tokens, completion_tokens, total_tokens);
  - dall-e-3 takes n=2 (the fake's catalog: n at most 1);
  - imagen's 16:9 is 1344x768 pixels (the fake's catalog: 1408x768);
  - URL answers are signed URLs (a query string with a signature), served by the stand-in's own /cdn/.
It requires one bearer token, SECRET_TOKEN, so a recording proves the caller's Authorization went through.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import uvicorn
from PIL import Image
from starlette.types import Receive, Scope, Send

from edenfake import EdenFake, FakeRequest
from edenfake.catalog import Catalog
from edenfake.server import bind

FROZEN = 1_779_792_103
SECRET_TOKEN = "sk-live-7f3a9c1e5b2d4068a1c3e5f7"
SIGNATURE = "Sig4c1d2e3f5a6b7c8d9e0f1a2b3c4d5e6f"
#: a credential sent in extra_headers
SECRET_EXTRA = "xk-extra-91b2c3d4e5f60718293a"
#: the signature of an input image's signed URL
SECRET_INPUT_SIGNATURE = "in-sig-0a9b8c7d6e5f4a3b2c1d"
SECRETS = (SECRET_TOKEN, SIGNATURE, SECRET_EXTRA, SECRET_INPUT_SIGNATURE)

CATALOG: dict[str, Any] = {
    "refusal_status": 502,
    "models": {
        "openai/gpt-image-1": {
            "prices": {
                "low": {"1024x1024": 0.02, "1536x1024": 0.03, "1024x1536": 0.03},
                "medium": {"1024x1024": 0.042, "1536x1024": 0.063, "1024x1536": 0.063},
                "high": {"1024x1024": 0.167, "1536x1024": 0.25, "1024x1536": 0.25},
            }
        },
        "openai/dall-e-3": {"n_max": 2},
        "google/imagen-4.0-generate-001": {
            "aspect_ratios": {
                "1:1": "1024x1024",
                "3:4": "896x1280",
                "4:3": "1280x896",
                "9:16": "768x1408",
                "16:9": "1344x768",
            }
        },
    },
}


def png(width: int = 64, height: int = 64, mode: str = "RGB", colour: Any = (200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, "PNG")
    return out.getvalue()


CANVAS = png(256, 256)
MASK = png(256, 256, "RGBA", (0, 0, 0, 0))
INPUT = png(96, 96, colour=(30, 160, 90))


@dataclass
class Sent:
    method: str
    path: str
    status: int
    body: bytes


@dataclass
class StandIn:
    """The stand-in's app and what it answered, in order."""

    fake: EdenFake = field(default_factory=lambda: EdenFake(catalog=Catalog.from_data(CATALOG), tokens=[SECRET_TOKEN]))
    sent: list[Sent] = field(default_factory=list)
    base_url: str = "http://127.0.0.1"
    _counter: int = 0

    def __post_init__(self) -> None:
        self.fake.clock.set(FROZEN)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        path, query = scope["path"], scope.get("query_string", b"").decode()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        if path.startswith("/cdn/"):
            status, media, body = self._cdn(path[len("/cdn/") :], query)
        else:
            request = FakeRequest(scope["method"], path, headers, b"".join(chunks), self.base_url, query)
            answer = self.fake.answer(request)
            status, media, body = answer.status, answer.media_type, answer.body
            if status == 200 and path in ("/v3/images/generations", "/v3/images/edits"):
                body = self._planted(json.loads(body))
            self.sent.append(Sent(scope["method"], path, status, body))
        raw = [(b"content-type", media.encode()), (b"content-length", str(len(body)).encode())]
        if status == 502:
            raw.append((b"retry-after", b"0"))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    def _cdn(self, name: str, query: str) -> tuple[int, str, bytes]:
        signature = urllib.parse.parse_qs(query).get("X-Amz-Signature")
        found = self.fake.urls.get(name)
        if signature != [SIGNATURE] or found is None:
            return 403, "text/plain", b"Forbidden"
        data, (media,) = found
        return 200, str(media), data

    def _planted(self, body: dict[str, Any]) -> bytes:
        self._counter += 1
        body["request_id"] = f"req_{self._counter:04d}"
        usage = body.get("usage")
        if isinstance(usage, dict) and "input_tokens" in usage:
            body["usage"] = {
                "prompt_tokens": usage["input_tokens"],
                "completion_tokens": usage["output_tokens"],
                "total_tokens": usage["total_tokens"],
            }
        for item in body["data"]:
            if item.get("url"):
                name = item["url"].rsplit("/", 1)[-1]
                item["url"] = f"{self.base_url}/cdn/{name}?X-Amz-Signature={SIGNATURE}&X-Amz-Expires=3600"
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


@contextmanager
def served(app: Any = None) -> Iterator[Any]:
    """The stand-in (or ``app``, e.g. a :class:`Hostile`) on 127.0.0.1 and a free port, in a background thread."""
    app = StandIn() if app is None else app
    sock = bind("127.0.0.1", 0)
    app.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the stand-in did not start"
        time.sleep(0.005)
    try:
        yield app
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


# -- a client session: the openai SDK (generations, multipart edits) and httpx -------------------------------------


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def session(base_url: str, token: str) -> list[bytes]:
    """Every request of the session against ``base_url`` (".../v3"), in order; the bodies it got back."""
    got: list[bytes] = []
    client = openai.OpenAI(api_key=token, base_url=base_url, max_retries=0)
    auth = {"Authorization": f"Bearer {token}"}

    def sdk(call: Callable[[], Any]) -> None:
        try:
            got.append(call().http_response.content)
        except openai.APIStatusError as exc:
            got.append(exc.response.content)

    images = client.images.with_raw_response
    sdk(lambda: images.generate(model="openai/gpt-image-1", prompt="a red fox", n=2, quality="low"))
    sdk(
        lambda: images.edit(
            model="openai/gpt-image-1",
            image=("canvas.png", CANVAS, "image/png"),
            mask=("mask.png", MASK, "image/png"),
            prompt="add a hat",
            quality="low",
        )
    )
    sdk(lambda: images.generate(model="openai/dall-e-2", prompt="a boat", size="256x256"))
    sdk(lambda: images.generate(model="openai/gpt-image-1", prompt="a fox", size="512x512"))  # type: ignore[arg-type]
    with httpx.Client(base_url=base_url, headers=auth, timeout=30) as http:
        for body in (
            {"model": "openai/dall-e-3", "prompt": "a lighthouse", "n": 2},
            {"model": "google/imagen-4.0-generate-001", "prompt": "a valley", "size": "16:9"},
        ):
            got.append(http.post("/images/generations", json=body).content)
        got.append(
            http.post(
                "/images/edits",
                json={
                    "model": "openai/gpt-image-1",
                    "prompt": "make it blue",
                    "quality": "low",
                    "images": [{"image_url": data_url(INPUT)}],
                    "extra_headers": {"X-Trace": "trace-1"},
                },
            ).content
        )
        got.append(
            http.post(
                "/images/generations",
                json={"model": "openai/gpt-image-1", "prompt": "a cat", "extra_headers": {"X-Api-Key": SECRET_EXTRA}},
            ).content
        )
        got.append(
            http.post(
                "/images/edits",
                json={
                    "model": "openai/gpt-image-1",
                    "prompt": "a cat",
                    "images": [{"image_url": f"https://bucket.example/in.png?sig={SECRET_INPUT_SIGNATURE}"}],
                },
            ).content
        )
    return got


#: the statuses of the session's exchanges, in order
STATUSES = [200, 200, 200, 502, 200, 200, 200, 422, 422]

#: what `edenfake drift` reports of a cassette of SESSION: kind -> (count, how many a catalog explains)
EXPECTED_DRIFT = {
    "status": (2, 2),  # the 502 refusal; dall-e-3 taking n=2
    "field_only_in_recording": (5, 0),  # request_id on each image answer the fake answers too
    "image_size": (1, 1),  # imagen 16:9
    "cost": (3, 3),  # gpt-image-1 at 0.02, generated and edited
    "usage_keys": (3, 0),  # gpt-image-1's usage shape
}
#: what remains with the suggested catalog: dall-e-3 now answers 200, so its request_id shows too
EXPECTED_DRIFT_WITH_CATALOG = {"field_only_in_recording": (6, 0), "usage_keys": (3, 0)}


def same_answer(sent: bytes, replayed: bytes, fetch: Callable[[str], bytes], stand_in: StandIn) -> None:
    """``replayed`` is what the stand-in sent, byte for byte; URL answers point elsewhere, at the same bytes."""
    if b'"url":"http' not in sent:
        assert replayed == sent
        return
    recorded, now = json.loads(sent), json.loads(replayed)
    for a, b in zip(recorded["data"], now["data"], strict=True):
        name = a["url"].split("/cdn/", 1)[1].split("?", 1)[0]
        original = stand_in.fake.urls.get(name)
        assert original is not None
        assert hashlib.sha256(fetch(b["url"])).digest() == hashlib.sha256(original[0]).digest()
        a["url"] = b["url"] = "<url>"
    assert now == recorded
    # everything but the URLs is the stand-in's own bytes
    assert len(replayed) - len(sent) == sum(len(u) for u in _urls(replayed)) - sum(len(u) for u in _urls(sent))


def _urls(body: bytes) -> list[str]:
    return [item["url"] for item in json.loads(body)["data"] if item.get("url")]


# -- a hostile upstream: answers that a recorder must survive ------------------------------------------------------

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
        #: bytes of /big/ answers sent before the client stopped reading
        self.streamed = 0
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
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
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
            prompt = json.loads(b"".join(chunks) or b"{}").get("prompt", "")
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
            self.streamed = sent

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


@contextmanager
def recording(upstream: str, cassette: Any, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``edenfake record`` from ``upstream`` into ``cassette`` on a free port: the process and its URL. Stopped
    (Ctrl-C) on the way out; its stdout and stderr are then in ``proc.out`` and ``proc.err``."""
    command = [sys.executable, "-m", "edenfake", "record", "--port", "0", "--quiet", "--upstream", upstream]
    proc = subprocess.Popen(
        [*command, "--cassette", str(cassette), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    banner = proc.stdout.readline()
    match = re.search(r" at (http://127\.0\.0\.1:\d+) ", banner)
    if match is None:
        proc.kill()
        raise AssertionError(f"no URL in {banner!r}: {proc.communicate(timeout=15)[1][-2000:]}")
    try:
        yield proc, match.group(1)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        proc.out, proc.err = out, err  # type: ignore[attr-defined]


def peak_rss(pid: int) -> int:
    """The most memory process ``pid`` has held (VmHWM), in bytes (Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024
