"""Regions: a request on the EU host (api.eu.edenai.run) or naming model@eu is answered only by the models the
catalog serves in the EU, as the model itself; the others get 451 REGION_NOT_ALLOWED naming the region and the
models served there. Through the mock (httpx, the openai SDK over httpx2) and a live server."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edenfake
from edenfake import Catalog, EdenFake, FakeRequest
from edenfake import strategies as S
from tests.helpers import AUTH, FROZEN, TOKEN, data_url, png

EDEN = "https://api.edenai.run/v3"
EU = "https://api.eu.edenai.run/v3"
EU_MODEL = "google/imagen-4.0-generate-001"
US_MODEL = "openai/gpt-image-1"


def eu_edits() -> Catalog:
    """The built-in catalog with an editing model served in the EU too."""
    return Catalog.from_data({"models": {US_MODEL: {"regions": ["us", "eu"]}}})


def generate(client: httpx.Client, model: str, **fields: object) -> httpx.Response:
    return client.post("/images/generations", json={"model": model, "prompt": "a fox", **fields})


def eu_models(*, edits: bool = False, catalog: Catalog | None = None) -> list[str]:
    return [m.id for m in (catalog or Catalog.default()) if "eu" in m.regions and (m.edits or not edits)]


def test_the_eu_host_refuses_a_model_not_served_in_the_eu_with_451() -> None:
    with edenfake.mock(clock=FROZEN, credits=1.0) as fake, httpx.Client(base_url=EU, headers=AUTH) as client:
        r = generate(client, US_MODEL)
        assert r.status_code == 451
        body = r.json()
        assert body["error_code"] == "REGION_NOT_ALLOWED" and body["region"] == "eu"
        assert body["available_models"] == eu_models()
        assert US_MODEL in body["detail"] and "Europe" in body["detail"] and EU_MODEL in body["detail"]
        assert fake.credits == 1.0  # nothing charged
        ok = generate(client, EU_MODEL)
        assert ok.status_code == 200 and ok.json()["cost"] == 0.04


def test_model_at_eu_is_answered_and_priced_as_the_model_and_journalled_as_sent() -> None:
    with edenfake.mock(clock=FROZEN) as fake, httpx.Client(base_url=EDEN, headers=AUTH) as client:
        plain = generate(client, EU_MODEL).json()
        pinned = generate(client, f"{EU_MODEL}@eu").json()
        assert pinned == plain  # the same images, cost and provider
        assert fake.calls[-1].json["model"] == f"{EU_MODEL}@eu"  # the journal keeps what was sent
        r = generate(client, f"{US_MODEL}@eu")
        assert r.status_code == 451 and r.json()["region"] == "eu"
        assert generate(client, f"{US_MODEL}@us").status_code == 200  # a region the model is served in


def test_the_eu_host_refuses_a_model_pinned_to_another_region() -> None:
    with edenfake.mock(clock=FROZEN), httpx.Client(base_url=EU, headers=AUTH) as client:
        r = generate(client, f"{EU_MODEL}@us")  # served in the US too, but this endpoint serves the EU alone
        assert r.status_code == 451 and r.json()["region"] == "eu" and "pins region 'us'" in r.json()["detail"]
        assert generate(client, f"{EU_MODEL}@eu").status_code == 200


def test_an_unknown_region_is_an_unknown_model() -> None:
    with edenfake.mock(clock=FROZEN), httpx.Client(base_url=EDEN, headers=AUTH) as client:
        r = generate(client, f"{EU_MODEL}@mars")
        assert r.status_code == 400 and r.json()["error_code"] == "INVALID_MODEL"


def test_edits_follow_the_same_rule_json_and_multipart() -> None:
    image = {"image_url": data_url(png())}
    catalog = eu_edits()
    with edenfake.mock(clock=FROZEN, catalog=catalog), httpx.Client(base_url=EDEN, headers=AUTH) as client:
        for model, status in [(f"{US_MODEL}@eu", 200), ("openai/gpt-image-1-mini@eu", 451)]:
            r = client.post("/images/edits", json={"model": model, "prompt": "a hat", "images": [image]})
            assert r.status_code == status, r.text
            multipart = client.post(
                "/images/edits",
                files={"image": ("fox.png", png(), "image/png")},
                data={"model": model, "prompt": "a hat"},
            )
            assert multipart.status_code == status, multipart.text
        refused = r.json()
        assert refused["available_models"] == eu_models(edits=True, catalog=catalog) == [US_MODEL]


def test_the_openai_sdk_sees_451_as_an_api_status_error() -> None:
    with edenfake.mock(clock=FROZEN):
        sdk = openai.OpenAI(base_url=EU, api_key=TOKEN, max_retries=0)
        with pytest.raises(openai.APIStatusError) as caught:
            sdk.images.generate(model=US_MODEL, prompt="a fox")
        assert caught.value.status_code == 451
        result = sdk.images.generate(model=EU_MODEL, prompt="a fox")
        assert result.data and base64.b64decode(result.data[0].b64_json or "")[:4] == b"\x89PNG"
        with pytest.raises(openai.APIStatusError) as caught:
            sdk.images.edit(model=US_MODEL, prompt="a hat", image=("fox.png", png(), "image/png"))
        assert caught.value.status_code == 451


def test_a_live_server_pins_the_region_of_its_eu_host() -> None:
    with edenfake.serve(clock=FROZEN, allowed_hosts=["api.eu.edenai.run"]) as server:
        for host in (f"eu.localhost:{server.port}", "api.eu.edenai.run"):
            with httpx.Client(base_url=server.url + "/v3", headers={**AUTH, "host": host}) as client:
                assert generate(client, US_MODEL).status_code == 451
                assert generate(client, EU_MODEL).status_code == 200
        with httpx.Client(base_url=server.url + "/v3", headers=AUTH) as client:  # 127.0.0.1: every region
            assert generate(client, US_MODEL).status_code == 200
            assert generate(client, f"{US_MODEL}@eu").status_code == 451


def test_a_users_catalog_chooses_the_regions_and_their_hosts() -> None:
    catalog = Catalog.from_data(
        {
            "regions": {"eu": {"name": "Europe", "hosts": ["eden.eu.test"]}, "us": {"name": "United States"}},
            "models": {US_MODEL: {"regions": ["eu"]}},
        }
    )
    with edenfake.mock(clock=FROZEN, catalog=catalog, base_urls=["https://eden.eu.test"]):
        with httpx.Client(base_url="https://eden.eu.test/v3", headers=AUTH) as client:
            assert generate(client, US_MODEL).status_code == 200
            assert generate(client, "openai/dall-e-2").status_code == 451
        with httpx.Client(base_url=EU, headers=AUTH) as client:  # no longer a region's host
            assert generate(client, "openai/dall-e-2").status_code == 200


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(S.generation_requests(models=st.deferred(lambda: S.model_ids(region="eu"))))
def test_the_strategies_requests_for_the_eu_are_answered_on_the_eu_host(body: dict[str, Any]) -> None:
    fake = EdenFake(clock=FROZEN)
    headers = [
        ("authorization", f"Bearer {TOKEN}"),
        ("content-type", "application/json"),
        ("host", "api.eu.edenai.run"),
    ]
    request = FakeRequest("POST", "/v3/images/generations", headers, json.dumps(body).encode(), EU.removesuffix("/v3"))
    response = fake.answer(request)
    assert response.status == 200, response.json()


def test_the_strategies_refuse_a_region_no_model_is_served_in() -> None:
    S.model_ids(region="eu", edits=True, catalog=eu_edits())  # a catalog with an editing model in the EU
    with pytest.raises(ValueError, match="no editing model in region 'eu'"):
        S.model_ids(region="eu", edits=True)


def test_the_region_gate_runs_ahead_of_the_bodys_checks() -> None:
    # Eden: "the gate runs ahead of input validation and file fetching"
    with edenfake.mock(clock=FROZEN), httpx.Client(base_url=EU, headers=AUTH) as client:
        assert generate(client, US_MODEL, n=0).status_code == 451
        bad_refs = {"model": US_MODEL, "prompt": "", "images": [{"file_id": "not-a-uuid"}]}
        assert client.post("/images/edits", json=bad_refs).status_code == 451
        no_image = client.post("/images/edits", files={"x": ("a.txt", b"x")}, data={"model": US_MODEL})
        assert no_image.status_code == 451
        assert generate(client, EU_MODEL, n=0).status_code == 422  # a model served there: the body's checks
