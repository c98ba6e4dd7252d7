"""GET /v3/models (and GET /v3/images/models): the catalog's image models in Eden's ModelObject shape, which the
openai SDK's client.models.list() reads, through the mock and a live server, filtered on the EU host."""

from __future__ import annotations

import httpx
import openai
import pytest

import edenfake
from edenfake import Catalog, EdenFake
from edenfake.errors import CatalogError
from tests.helpers import AUTH, FROZEN, TOKEN, cli_running

EDEN = "https://api.edenai.run/v3"
EU = "https://api.eu.edenai.run/v3"


def test_every_image_model_is_listed_as_eden_documents_its_model_object() -> None:
    catalog = Catalog.default()
    with edenfake.mock(clock=FROZEN), httpx.Client(base_url=EDEN, headers=AUTH) as client:
        body = client.get("/models").json()
        images = client.get("/images/models").json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == [m.id for m in catalog]  # ids as the image routes take them
    assert images == body  # edenfake serves image models alone: the two listings agree
    gpt = next(m for m in body["data"] if m["id"] == "openai/gpt-image-1")
    assert gpt["object"] == "model" and gpt["owned_by"] == "openai" and gpt["model_name"] == "gpt-image-1"
    assert gpt["created"] == catalog["openai/gpt-image-1"].entry["created"] == 1745366400  # the release date
    assert gpt["pricing"]["per_image"]["high"]["1024x1024"] == 0.167  # what an answer charges
    assert gpt["list_pricing"] == gpt["pricing"] and gpt["discount"] is None
    assert gpt["regions"] == [{"code": "us", "name": "United States"}]
    assert gpt["capabilities"]["output_modalities"] == ["image"] and gpt["capabilities"]["edits"] is True
    imagen = next(m for m in body["data"] if m["id"] == "google/imagen-4.0-generate-001")
    assert {r["code"] for r in imagen["regions"]} == {"us", "eu"}
    assert imagen["capabilities"]["input_modalities"] == ["text"]  # it does not edit


def test_the_new_catalog_models_are_served() -> None:
    with edenfake.mock(clock=FROZEN), httpx.Client(base_url=EDEN, headers=AUTH) as client:
        for model, cost in [
            ("google/gemini-3-pro-image-preview", 0.039),
            ("google/imagen-4.0-fast-generate-001", 0.02),
            ("google/imagen-4.0-ultra-generate-001", 0.06),
            ("google/imagen-3.0-generate-002", 0.04),
        ]:
            r = client.post("/images/generations", json={"model": model, "prompt": "a fox", "size": "16:9"})
            assert r.status_code == 200, r.text
            assert r.json()["cost"] == cost and r.json()["provider"] == "google"
        r = client.post(
            "/images/generations", json={"model": "google/imagen-4.0-ultra-generate-001", "prompt": "a", "n": 2}
        )
        assert r.status_code == 400 and r.json()["param"] == "n"  # Ultra makes one image a request


def test_the_listing_is_deterministic_whatever_the_clock() -> None:
    bodies = []
    for clock in (FROZEN, None):
        with edenfake.mock(clock=clock), httpx.Client(base_url=EDEN, headers=AUTH) as client:
            bodies.append(client.get("/models").content)
    assert bodies[0] == bodies[1]


def test_the_openai_sdk_lists_the_models_and_retrieve_is_a_404() -> None:
    with edenfake.mock(clock=FROZEN):
        sdk = openai.OpenAI(base_url=EDEN, api_key=TOKEN, max_retries=0)  # httpx2 under the SDK
        models = list(sdk.models.list())
        assert [m.id for m in models] == [m.id for m in Catalog.default()]
        assert all(m.object == "model" and m.owned_by and m.created > 0 for m in models)
        # Eden documents no GET /v3/models/{id}: the SDK's retrieve gets a 404
        with pytest.raises(openai.NotFoundError):
            sdk.models.retrieve("openai/gpt-image-1")


def test_the_eu_host_lists_only_the_models_served_in_the_eu() -> None:
    with edenfake.mock(clock=FROZEN):
        sdk = openai.OpenAI(base_url=EU, api_key=TOKEN, max_retries=0)
        listed = list(sdk.models.list())
        with httpx.Client(base_url=EU, headers=AUTH) as client:
            images = client.get("/images/models").json()["data"]
    expected = [m.id for m in Catalog.default() if "eu" in m.regions]
    assert [m.id for m in listed] == expected == [m["id"] for m in images]
    assert "openai/gpt-image-1" not in expected and "google/imagen-4.0-generate-001" in expected


def test_a_live_server_lists_the_models_and_filters_on_a_region_host() -> None:
    with edenfake.serve(clock=FROZEN) as server:
        sdk = openai.OpenAI(base_url=server.url + "/v3", api_key=TOKEN, max_retries=0)
        assert [m.id for m in sdk.models.list()] == [m.id for m in Catalog.default()]
        with pytest.raises(openai.NotFoundError):
            sdk.models.retrieve("openai/dall-e-3")
        # eu.localhost is the catalog's EU host for a server on this machine (no DNS needed: the Host header)
        with httpx.Client(headers={**AUTH, "host": f"eu.localhost:{server.port}"}) as client:
            eu = client.get(server.url + "/v3/models").json()["data"]
        assert eu and all("eu" in [r["code"] for r in m["regions"]] for m in eu)


def test_the_listing_takes_a_bearer_token_as_every_v3_route() -> None:
    with edenfake.mock(clock=FROZEN, tokens=[TOKEN]), httpx.Client(base_url=EDEN) as client:
        assert client.get("/models").status_code == 401
        assert client.get("/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/models", headers=AUTH).status_code == 200


def test_a_page_of_another_site_cannot_read_the_listing() -> None:
    with edenfake.serve(clock=FROZEN) as server, httpx.Client(headers=AUTH) as client:
        r = client.get(server.url + "/v3/models", headers={"origin": "https://evil.example"})
        assert r.status_code == 403 and r.json()["error_code"] == "ORIGIN_NOT_ALLOWED"
        r = client.get(server.url + "/v3/models", headers={"sec-fetch-site": "cross-site"})
        assert r.status_code == 403 and r.json()["error_code"] == "CROSS_SITE_REQUEST"


def test_a_users_catalog_sets_created_and_regions_and_is_checked() -> None:
    catalog = Catalog.from_data(
        {"models": {"openai/dall-e-2": {"regions": ["us", "eu"], "created": 1}, "openai/dall-e-3": None}}
    )
    fake = EdenFake(catalog=catalog, clock=FROZEN)
    request = edenfake.FakeRequest("GET", "/v3/models", headers=[("authorization", f"Bearer {TOKEN}")])
    body = fake.answer(request).json()
    dalle = next(m for m in body["data"] if m["id"] == "openai/dall-e-2")
    assert dalle["created"] == 1 and [r["code"] for r in dalle["regions"]] == ["us", "eu"]
    assert "openai/dall-e-3" not in [m["id"] for m in body["data"]]
    with pytest.raises(CatalogError, match="regions mars are not among the catalog's regions"):
        Catalog.from_data({"models": {"openai/dall-e-2": {"regions": ["mars"]}}})
    with pytest.raises(CatalogError, match="created"):
        Catalog.from_data({"models": {"openai/dall-e-2": {"created": -1}}})


def test_edenfake_serve_answers_the_listings_and_the_eu_host() -> None:
    with cli_running("serve", "--port", "0", "--quiet", "--clock", str(FROZEN)) as (_, url):
        sdk = openai.OpenAI(base_url=url + "/v3", api_key=TOKEN, max_retries=0)
        assert [m.id for m in sdk.models.list()] == [m.id for m in Catalog.default()]
        port = url.rsplit(":", 1)[1].rstrip("/")
        with httpx.Client(base_url=url + "/v3", headers={**AUTH, "host": f"eu.localhost:{port}"}) as eu:
            assert {m["id"] for m in eu.get("/models").json()["data"]} == {
                m.id for m in Catalog.default() if "eu" in m.regions
            }
            r = eu.post("/images/generations", json={"model": "openai/dall-e-2", "prompt": "a fox"})
            assert r.status_code == 451 and r.json()["error_code"] == "REGION_NOT_ALLOWED"
        with httpx.Client(base_url=url + "/v3", headers=AUTH) as client:
            assert client.get("/upload").json() == {"items": [], "total": 0, "page": 1, "limit": 100, "total_pages": 0}
            assert client.delete("/upload").json() == {"deleted_count": 0}
