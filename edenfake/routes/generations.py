"""``POST /v3/images/generations`` and ``GET /v3/images/models``."""

from __future__ import annotations

from typing import Any

from edenfake._answers import image_answer
from edenfake._core import Core
from edenfake._request import Exchange
from edenfake._wire import Encoded, FakeResponse, Refusal, encode_error, json_response
from edenfake.errors import ApiError

__all__ = ["HANDLERS", "plan_json"]


def plan_json(core: Core, exchange: Exchange, operation: str, contract: str, *, edits: bool = False) -> tuple[Any, ...]:
    """A JSON image request checked against ``contract`` and its model's rules: (model id, plan, prompt, body).

    The outcome depends on the body's bytes alone (the catalog and contracts do not change), so for small
    bodies it is remembered, as immutable values: a refusal's encoded answer, or the plan. Refusals raise.
    """
    exchange.refuse_early()  # size, encoding and media type depend on the headers: never remembered
    raw = exchange.request.body
    outcome = core.remembered(operation, raw)
    if outcome is None:
        outcome = _plan(core, exchange, contract, edits)
        core.remember(operation, raw, outcome)
    refusal, journal_body, model_id = outcome[:3]
    exchange.journal_body = journal_body
    exchange.model = model_id
    if refusal is not None:
        raise Refusal(refusal)
    return outcome[2:]


def _plan(core: Core, exchange: Exchange, contract: str, edits: bool) -> tuple[Any, ...]:
    refusal: Encoded | None = None
    try:
        body = exchange.json()
    except Refusal as found:
        return (found.answer, exchange.journal_request(), None)
    journal_body = exchange.journal_request()
    model_id = body.get("model") if isinstance(body.get("model"), str) else None
    try:
        core.check_contract(contract, body)
        model = core.model_for(body["model"], edits=edits)
        plan = model.plan(body)
        if core.catalog.blocks(body["prompt"]):  # the marker: a content-policy refusal needing no control
            raise model.content_policy_error()
    except ApiError as exc:
        refusal = encode_error(exc)
        return (refusal, journal_body, model_id)
    # Only what an answer needs, all immutable: the body itself is this request's alone.
    return (None, journal_body, model.id, plan, body["prompt"], _images(body) if edits else None)


def _images(body: dict[str, Any]) -> tuple[Any, ...]:
    # The image references of a JSON edit, frozen: (kind, value) pairs.
    refs = [*body["images"], *([body["mask"]] if body.get("mask") is not None else [])]
    return tuple(next(iter(ref.items())) for ref in refs), body.get("mask") is not None


def create_image(core: Core, exchange: Exchange) -> FakeResponse:
    model_id, plan, prompt, _ = plan_json(core, exchange, "createImage", "generation-request")
    return image_answer(core, exchange, core.catalog[model_id], plan, prompt)


def list_image_models(core: Core, exchange: Exchange) -> FakeResponse:
    return json_response(200, core.catalog.models_list())


HANDLERS = {"createImage": create_image, "listImageModels": list_image_models}
