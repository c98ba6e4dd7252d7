"""Image answers: the body of a successful generation or edit, and what the journal keeps of it.

An answer depends on its plan, prompt, inputs and (for URLs) host alone, so its JSON is built once and kept
as bytes in two pieces that ``created`` goes between; the journal's copy replaces each image's base64 by its
digest and size. Every image answered is hosted under ``/_edenfake/images/``: ``url`` ones by name, base64
ones by ``{sha256}.{ext}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from edenfake._core import Core
from edenfake._request import Exchange
from edenfake._wire import JSON_MEDIA, FakeResponse, compact_json
from edenfake.catalog import ModelSpec, Plan
from edenfake.images import ImageSpec

__all__ = ["IMAGE_PREFIX", "MEDIA_TYPES", "image_answer", "revise_prompt"]

IMAGE_PREFIX = "/_edenfake/images/"
MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}


def revise_prompt(prompt: str) -> str:
    """What the fake answers as ``revised_prompt`` (models that rewrite prompts): recognisably derived."""
    return f"A detailed, high-quality image of: {prompt}"


def image_answer(
    core: Core,
    exchange: Exchange,
    model: ModelSpec,
    plan: Plan,
    prompt: str,
    *,
    inputs: tuple[str, ...] = (),
    image_tokens: int = 0,
) -> FakeResponse:
    """The 200 answer for ``plan``, charged to the credits; the journal's copy goes on the exchange."""
    core.charge(plan.cost)
    exchange.provider = plan.provider
    exchange.model = plan.model
    url_base = exchange.request.base_url if plan.response_format == "url" else None
    key = (plan, prompt, inputs, url_base, image_tokens)
    found = core.answers.get(key)
    if found is None:
        head, extras = _build(core, model, plan, prompt, inputs, url_base, image_tokens)
        core.answers.put(key, head, extras)
    else:
        head, extras = found
    tail, journal_head, journal_tail, hosted, _, kept = extras[:6]
    for name, spec in hosted:  # type: ignore[attr-defined]
        # each answer hands out its URLs afresh, with a fresh expiry
        core.urls.put(name, core.images.get(spec), (MEDIA_TYPES[spec.format],))
    for name, spec in kept:  # type: ignore[attr-defined]
        # base64 images are hosted too, by their sha256, so that a reader of the journal (which keeps their
        # digest, never their bytes) can show them; within the store's byte bound, like URLs
        if core.urls.get(name) is None:
            core.urls.put(name, core.images.get(spec), (MEDIA_TYPES[spec.format],))
    created = str(int(core.clock.now())).encode()
    exchange.journal_answer = journal_head + created + journal_tail  # type: ignore[operator]
    return FakeResponse(200, {"content-type": JSON_MEDIA}, head + created + tail)  # type: ignore[operator]


def _build(
    core: Core,
    model: ModelSpec,
    plan: Plan,
    prompt: str,
    inputs: tuple[str, ...],
    url_base: str | None,
    image_tokens: int,
) -> tuple[bytes, tuple[object, ...]]:
    items: list[bytes] = []
    journal_items: list[bytes] = []
    hosted: list[tuple[str, ImageSpec]] = []
    kept: list[tuple[str, ImageSpec]] = []
    revised = json.dumps(revise_prompt(prompt)).encode() if plan.revised_prompt else b"null"
    for index in range(plan.n):
        spec = ImageSpec(
            model=plan.model,
            prompt=prompt,
            width=plan.width,
            height=plan.height,
            format=plan.output_format,
            quality=plan.quality,
            index=index,
            seed=core.seed,
            inputs=inputs,
            background=plan.background,
        )
        if url_base is not None:
            name = f"{spec.key[:32]}.{_EXTENSIONS[plan.output_format]}"
            hosted.append((name, spec))
            item = b'{"url":' + json.dumps(f"{url_base}{IMAGE_PREFIX}{name}").encode() + b',"b64_json":null'
            items.append(item + b',"revised_prompt":' + revised + b"}")
            journal_items.append(items[-1])
        else:
            # Base64 needs no JSON escaping and runs to megabytes: spliced in as it is, never scanned.
            b64 = core.images.get_b64(spec)
            digest = _digest(b64, spec)
            kept.append((f"{digest['sha256']}.{_EXTENSIONS[plan.output_format]}", spec))
            items.append(b'{"url":null,"b64_json":"' + b64 + b'","revised_prompt":' + revised + b"}")
            journal_items.append(
                b'{"url":null,"b64_json":' + compact_json(digest).encode() + b',"revised_prompt":' + revised + b"}"
            )
    fixed: dict[str, Any] = {
        "usage": model.usage(plan, prompt, image_tokens=image_tokens),
        "cost": plan.cost,
        "provider": plan.provider,
    }
    reported = {
        "output_format": plan.output_format,
        "size": plan.size,
        "quality": plan.quality,
        "background": plan.background,
    }
    for name in model.rule("report_fields"):
        fixed[name] = reported[name]
    tail = ("," + compact_json(fixed)[1:]).encode()
    head = b'{"data":[' + b",".join(items) + b'],"created":'
    journal_head = b'{"data":[' + b",".join(journal_items) + b'],"created":'
    # The prompt is part of the key: counted here, as the store counts extras' strings.
    return head, (tail, journal_head, tail, tuple(hosted), prompt, tuple(kept))


def _digest(b64: bytes, spec: ImageSpec) -> dict[str, Any]:
    data = base64.b64decode(b64)
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "format": spec.format,
        "width": spec.width,
        "height": spec.height,
    }
