"""``GET /_edenfake/images/{name}``: the images behind ``url`` results, until they expire."""

from __future__ import annotations

from edenfake._answers import IMAGE_PREFIX
from edenfake._core import Core
from edenfake._request import Exchange
from edenfake._wire import FakeResponse
from edenfake.errors import NotFound

__all__ = ["HANDLERS"]


def get_hosted_image(core: Core, exchange: Exchange) -> FakeResponse:
    found = core.urls.get(exchange.request.path[len(IMAGE_PREFIX) :])
    if found is None:
        raise NotFound("Image not found or expired")
    data, (media_type,) = found
    # nosniff: a browser shows the bytes as their declared type or not at all (a cassette's file is no page)
    headers = {
        "content-type": str(media_type),
        "cache-control": "private, max-age=60",
        "x-content-type-options": "nosniff",
    }
    return FakeResponse(200, headers, data)


HANDLERS = {"getHostedImage": get_hosted_image}
