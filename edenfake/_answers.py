"""Image requests planned and answered: what generations and edits share.

``plan_json`` checks a JSON image request against its contract and its model's rules; ``image_answer`` builds
the 200 answer for a plan (each image rendered, or taken from the image cache) and what the journal keeps of
it (each image's base64 replaced by its digest and size). Every image answered is hosted under
``/_edenfake/images/``: ``url`` ones by name, base64 ones by ``{sha256}.{ext}``, so that a reader of the
journal can show them.
"""

from __future__ import annotations

from typing import Any

from edenfake import _sessions
from edenfake._core import Core
from edenfake._media import EXTENSIONS, MEDIA_TYPES
from edenfake._request import Exchange
from edenfake._wire import JSON_MEDIA, FakeResponse, compact_json
from edenfake.catalog import ModelSpec, Plan
from edenfake.images import ImageSpec

__all__ = ["IMAGE_PREFIX", "image_answer", "json_image_refs", "plan_json", "revise_prompt"]

IMAGE_PREFIX = "/_edenfake/images/"


def plan_json(core: Core, exchange: Exchange, contract: str, *, edits: bool = False) -> tuple[ModelSpec, Plan, str]:
    """A JSON image request checked against ``contract`` and its model's rules: (model, plan, prompt).
    Every refusal raises: the body's own (400, 413, 415), the contract's (422), the model's (400 or 502)."""
    body = exchange.json()
    if isinstance(body.get("model"), str):
        exchange.model = body["model"]
    core.check_region(body.get("model"), exchange.request, edits=edits)  # Eden's gate: before the body's checks
    core.check_contract(contract, body)
    model = core.model_for(body["model"], edits=edits)
    plan = model.plan(body, edit=edits)
    if core.catalog.blocks(body["prompt"]):  # the marker: a content-policy refusal needing no control
        raise model.content_policy_error()
    return model, plan, body["prompt"]


def json_image_refs(body: dict[str, Any]) -> tuple[tuple[tuple[str, str], ...], bool]:
    """The image references of a contract-valid JSON edit as (kind, value) pairs, the mask last, and whether
    there is a mask."""
    refs = [*body["images"], *([body["mask"]] if body.get("mask") is not None else [])]
    return tuple(next(iter(ref.items())) for ref in refs), body.get("mask") is not None


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
    edit_of: str | None = None,
) -> FakeResponse:
    """The 200 answer for ``plan``, charged to the credits; the journal's copy goes on the exchange. An edit's
    images name its first input (``edit_of``: "512x512", or "url") on their label."""
    core.charge(plan.cost)
    exchange.provider = plan.provider
    exchange.model = plan.model
    url_base = exchange.request.base_url if plan.response_format == "url" else None
    revised = b',"revised_prompt":' + (compact_json(revise_prompt(prompt)).encode() if plan.revised_prompt else b"null")
    # The answer is written as pieces joined once: base64 runs to megabytes, and needs no escaping.
    answer: list[bytes] = [b'{"data":[']
    journal: list[bytes] = [b'{"data":[']
    images, urls = core.images, core.urls  # this session's stores, looked up once
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
            edit_of=edit_of,
        )
        data, sha256, key, b64 = images.entry_b64(spec) if url_base is None else (*images.entry(spec), b"")
        media = (MEDIA_TYPES[spec.format],)
        separator = b"," if index else b""
        if url_base is not None:
            name = f"{key[:32]}.{EXTENSIONS[spec.format]}"
            urls.put(name, data, media)  # each answer hands its URLs out afresh, with a fresh expiry
            url = f"{url_base}{IMAGE_PREFIX}{name}{_sessions.url_query()}"  # a session's images carry it
            item = separator + b'{"url":' + compact_json(url).encode() + b',"b64_json":null' + revised + b"}"
            answer.append(item)
            journal.append(item)
        else:
            name = f"{sha256}.{EXTENSIONS[spec.format]}"
            if urls.get(name) is None:  # within the store's byte bound, like URLs
                urls.put(name, data, media)
            answer += (separator, b'{"url":null,"b64_json":"', b64, b'"', revised, b"}")
            # the journal's copy: the image's digest and size (a hex digest, numbers, a format name: nothing to escape)
            digest = f'{{"sha256":"{sha256}","bytes":{len(data)},"format":"{spec.format}","width":{spec.width},'
            digest += f'"height":{spec.height}}}'
            journal += (separator, b'{"url":null,"b64_json":', digest.encode(), revised, b"}")
    rest: dict[str, Any] = {
        "created": int(core.clock.now()),
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
        rest[name] = reported[name]
    # {"data": [...], then the rest's fields}: the items are JSON already
    tail = b"]," + compact_json(rest).encode()[1:]
    exchange.journal_answer = b"".join((*journal, tail))
    return FakeResponse(200, {"content-type": JSON_MEDIA}, b"".join((*answer, tail)))
