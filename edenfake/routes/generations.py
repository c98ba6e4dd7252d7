"""``POST /v3/images/generations``."""

from __future__ import annotations

from edenfake._answers import image_answer, plan_json
from edenfake._core import Core
from edenfake._request import Exchange
from edenfake._wire import FakeResponse

__all__ = ["HANDLERS"]


def create_image(core: Core, exchange: Exchange) -> FakeResponse:
    model, plan, prompt = plan_json(core, exchange, "generation-request")
    return image_answer(core, exchange, model, plan, prompt)


HANDLERS = {"createImage": create_image}
