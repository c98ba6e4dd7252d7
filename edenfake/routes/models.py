"""``GET /v3/models`` and ``GET /v3/images/models``: the catalog's models, OpenAI-style, as Eden lists them.

Both list the same models (edenfake serves image models alone), each as Eden's ModelObject; on a region's host
(``api.eu.edenai.run``) only the models served in that region, as Eden's EU endpoint filters its discovery
routes. The shape is ``contracts/models-list.schema.json``.
"""

from __future__ import annotations

from typing import Any

from edenfake._core import Core
from edenfake._regions import served_in
from edenfake._request import Exchange
from edenfake._wire import FakeResponse, json_response
from edenfake.catalog import Catalog, ModelSpec

__all__ = ["HANDLERS", "model_object", "models_list"]


def model_object(catalog: Catalog, model: ModelSpec) -> dict[str, Any]:
    """One entry of the listings: Eden's ModelObject, the catalog's rules as ``capabilities``."""
    pricing: dict[str, Any] = {"per_image": model.entry["prices"]}
    if "edit_prices" in model.entry:
        pricing["per_edit_image"] = model.entry["edit_prices"]
    return {
        "id": model.id,
        "object": "model",
        "created": model.rule("created"),
        "owned_by": model.provider,
        "model_name": model.id.partition("/")[2],
        "pricing": pricing,
        "list_pricing": pricing,  # the fake charges the catalog's prices as they are: no discount
        "discount": None,
        "regions": [{"code": code, "name": catalog.regions.name(code)} for code in model.regions],
        "capabilities": {
            "input_modalities": ["text", "image"] if model.edits else ["text"],
            "output_modalities": ["image"],
            **model.capabilities(),
        },
    }


def models_list(catalog: Catalog, region: str | None = None) -> dict[str, Any]:
    """The body of both listings: the models served in ``region`` (None: all), in the catalog's order."""
    return {"object": "list", "data": [model_object(catalog, m) for m in served_in(catalog, region)]}


def list_models(core: Core, exchange: Exchange) -> FakeResponse:
    return json_response(200, models_list(core.catalog, core.region_of(exchange.request)))


HANDLERS = {"listModels": list_models, "listImageModels": list_models}
