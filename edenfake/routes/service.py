"""The fake's own service routes: its OpenAPI document and a health check."""

from __future__ import annotations

import functools

from edenfake import contracts
from edenfake._core import Core
from edenfake._request import Exchange
from edenfake._wire import JSON_MEDIA, FakeResponse, json_response

__all__ = ["HANDLERS"]


@functools.cache
def _openapi_bytes() -> bytes:
    return contracts.bundled_openapi_bytes()


def get_openapi(core: Core, exchange: Exchange) -> FakeResponse:
    return FakeResponse(200, {"content-type": JSON_MEDIA}, _openapi_bytes())


def health(core: Core, exchange: Exchange) -> FakeResponse:
    return json_response(200, {"status": "ok"})


HANDLERS = {"getOpenAPI": get_openapi, "health": health}
