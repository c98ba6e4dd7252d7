"""The routes, one module per group. Each handler is named by its ``operationId`` in ``contracts/openapi.json``;
the routes use the core and are never imported by it."""

from __future__ import annotations

from collections.abc import Callable

from edenfake._core import Core
from edenfake._request import Exchange
from edenfake._wire import FakeResponse
from edenfake.routes import admin, console, edits, generations, images, models, service, uploads

__all__ = ["HANDLERS", "Handler"]

Handler = Callable[[Core, Exchange], FakeResponse]

#: operationId -> handler
HANDLERS: dict[str, Handler] = {
    **generations.HANDLERS,
    **edits.HANDLERS,
    **uploads.HANDLERS,
    **models.HANDLERS,
    **images.HANDLERS,
    **service.HANDLERS,
    **admin.HANDLERS,
    **console.HANDLERS,
}
