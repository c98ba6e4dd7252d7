"""A small app that makes images through Eden AI's OpenAI-compatible API: the code under test in this example.

It is what a consumer of edenfake writes, and knows nothing of edenfake: it takes the API's base URL and token
from the environment, as it would in production.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

import openai

EDEN_BASE_URL = "https://api.edenai.run/v3"


class OutOfCredits(Exception):
    """The account cannot pay for the images."""


class PromptRefused(Exception):
    """The request was refused; ``field`` names what to change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass
class Picture:
    png: bytes
    cost: float


def client() -> openai.OpenAI:
    return openai.OpenAI(
        api_key=os.environ.get("EDEN_TOKEN", "dev-token"),
        base_url=os.environ.get("EDEN_BASE_URL", EDEN_BASE_URL),
    )


def pictures(prompt: str, *, n: int = 1, size: str = "1024x1024", api: openai.OpenAI | None = None) -> list[Picture]:
    """``n`` pictures of ``prompt``; OutOfCredits or PromptRefused when the API says no."""
    api = api or client()
    try:
        raw = api.images.with_raw_response.generate(
            model="openai/gpt-image-1",
            prompt=prompt,
            n=n,
            size=size,
            quality="low",  # type: ignore[arg-type]
        )
    except openai.APIStatusError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        if exc.status_code == 402:
            raise OutOfCredits(str(body.get("detail", "no credits"))) from None
        if exc.status_code == 422:
            first = body["detail"][0]
            raise PromptRefused(str(first["loc"][-1]), first["msg"]) from None
        if exc.status_code == 400 and body.get("param"):
            raise PromptRefused(str(body["param"]), str(body.get("detail"))) from None
        raise
    answer = raw.parse()
    cost = float(raw.http_response.json().get("cost") or 0.0)
    return [Picture(base64.b64decode(item.b64_json or ""), cost / n) for item in answer.data or []]
