"""``POST /v3/images/generations`` and ``GET /v3/images/models``."""

from __future__ import annotations

from edenfake._answers import image_answer, plan_json
from edenfake._core import Core
from edenfake._request import Exchange
from edenfake._wire import FakeResponse, json_response

__all__ = ["HANDLERS"]


def create_image(core: Core, exchange: Exchange) -> FakeResponse:
    model, plan, prompt = plan_json(core, exchange, "generation-request")
    return image_answer(core, exchange, model, plan, prompt)


def list_image_models(core: Core, exchange: Exchange) -> FakeResponse:
    return json_response(200, core.catalog.models_list())


HANDLERS = {"createImage": create_image, "listImageModels": list_image_models}
