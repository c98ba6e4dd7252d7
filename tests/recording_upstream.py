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
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
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
from tests.helpers import read_body

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
        request_body = await read_body(receive)
        path, query = scope["path"], scope.get("query_string", b"").decode()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        if path.startswith("/cdn/"):
            status, media, body = self._cdn(path[len("/cdn/") :], query)
        else:
            request = FakeRequest(scope["method"], path, headers, request_body, self.base_url, query)
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
