"""Content-policy refusals: the ``content_policy`` fault and the catalog's prompt marker, answered as each
provider's moderation refusal reaches a client through Eden (a 400 PROVIDER_ERROR with the provider's own
code and message), through the mock, the live server and the admin API."""

from __future__ import annotations

import base64
import io
import json
import typing
from typing import Any

import httpx
import openai
import pytest
from PIL import Image
from starlette.testclient import TestClient

import edenfake
from edenfake import Catalog, CatalogError, EdenFake, FakeRequest
from edenfake.faults import FAULT_NAMES, FaultKind

EDEN = "https://api.edenai.run/v3"
BLOCKED = "a red fox [edenfake:blocked]"
GPT_MESSAGE = Catalog.default()["openai/gpt-image-1"].entry["content_policy"]["message"]


def _sdk(base_url: str = EDEN) -> openai.OpenAI:
    # The SDK's default of two retries: a refusal must reach the caller at once all the same.
    return openai.OpenAI(api_key="t", base_url=base_url)


def _png(size: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), "white").save(buffer, "PNG")
    return buffer.getvalue()


def _generate(fake: EdenFake, body: dict[str, Any], path: str = "/v3/images/generations") -> tuple[int, Any]:
    headers = [("authorization", "Bearer t"), ("content-type", "application/json")]
    answer = fake.answer(FakeRequest("POST", path, headers, json.dumps(body).encode()))
    return answer.status, answer.json()


def test_the_fault_kind_is_typed_as_the_admin_contract_states_it() -> None:
    assert set(typing.get_args(FaultKind)) == set(FAULT_NAMES)
    assert "content_policy" in FAULT_NAMES


def test_a_queued_fault_is_the_sdks_bad_request_error_once_with_the_providers_code() -> None:
    with edenfake.mock() as eden:
        eden.fail("content_policy")
        with pytest.raises(openai.BadRequestError) as info:
            _sdk().images.generate(model="openai/gpt-image-1", prompt="a red fox")
        assert eden.calls.count == 1  # a 400: the SDK does not retry it
    error = info.value
    assert error.status_code == 400 and error.code == "moderation_blocked"
    assert error.body == {
        "detail": f"openai refused the request: {GPT_MESSAGE}",
        "error_code": "PROVIDER_ERROR",
        "provider": "openai",
        "param": None,
        "code": "moderation_blocked",
        "message": GPT_MESSAGE,
    }
    assert eden.calls.last.fault == "content_policy" and eden.calls.last.status == 400


def test_a_fault_matched_by_model_refuses_that_model_only_with_its_own_code() -> None:
    with edenfake.mock() as eden:
        eden.fail("content_policy", match={"model": "openai/dall-e-3"})
        client = _sdk()
        assert client.images.generate(model="openai/gpt-image-1", prompt="a fox", quality="low").data
        with pytest.raises(openai.BadRequestError) as info:
            client.images.generate(model="openai/dall-e-3", prompt="a fox")
        assert info.value.code == "content_policy_violation"
        assert [c.status for c in eden.calls] == [200, 400]


@pytest.mark.parametrize("model", [m.id for m in Catalog.default()])
def test_each_model_refuses_in_its_providers_words(model: str) -> None:
    fake = EdenFake()
    spec = fake.catalog[model]
    policy = spec.entry["content_policy"]
    fake.fail("content_policy", times=None)
    status, body = _generate(fake, {"model": model, "prompt": "a fox"})
    assert (status, body["error_code"], body["provider"]) == (400, "PROVIDER_ERROR", spec.provider)
    assert (body["code"], body["message"]) == (policy["code"], policy["message"])
    status, body = _generate(fake, {"model": model, "prompt": BLOCKED})
    assert status == 400 and body["code"] == policy["code"]


def test_the_providers_in_the_catalog_have_their_own_codes() -> None:
    codes = {m.provider: m.entry["content_policy"]["code"] for m in Catalog.default() if "dall-e" not in m.id}
    assert codes["openai"] == "moderation_blocked"
    assert len(set(codes.values())) == len(codes)  # not one generic code for all


def test_a_fault_for_a_model_the_catalog_lacks_gets_the_default_refusal() -> None:
    fake = EdenFake()
    fake.fail("content_policy")
    status, body = _generate(fake, {"model": "nobody/nothing", "prompt": "a fox"})
    assert (status, body["provider"], body["code"]) == (400, "unknown", "content_policy_violation")


def test_a_faults_detail_replaces_the_detail_and_keeps_the_code() -> None:
    fake = EdenFake()
    fake.fail("content_policy", detail="nope")
    status, body = _generate(fake, {"model": "openai/gpt-image-1", "prompt": "a fox"})
    assert (status, body["detail"], body["code"]) == (400, "nope", "moderation_blocked")


def test_the_marker_refuses_generations_every_time_and_costs_nothing() -> None:
    with edenfake.mock(credits=1.0) as eden:
        client = _sdk()
        for _ in range(2):  # the second answer comes from the remembered outcome of the same body
            with pytest.raises(openai.BadRequestError) as info:
                client.images.generate(model="openai/gpt-image-1", prompt=BLOCKED)
            assert info.value.code == "moderation_blocked"
        assert [c.status for c in eden.calls] == [400, 400]
        assert [c.fault for c in eden.calls] == [None, None]  # no control was set
        assert eden.credits == 1.0


def test_the_marker_refuses_multipart_edits_through_the_sdk() -> None:
    with edenfake.mock() as eden:
        with pytest.raises(openai.BadRequestError) as info:
            _sdk().images.edit(model="openai/gpt-image-1", image=("a.png", _png(), "image/png"), prompt=BLOCKED)
        assert info.value.code == "moderation_blocked"
        assert eden.calls.count == 1


def test_the_marker_refuses_json_edits() -> None:
    image = "data:image/png;base64," + base64.b64encode(_png()).decode()
    body = {"model": "openai/gpt-image-1", "prompt": BLOCKED, "images": [{"image_url": image}]}
    with edenfake.mock(), httpx.Client(headers={"Authorization": "Bearer t"}) as client:
        r = client.post(f"{EDEN}/images/edits", json=body)
    assert r.status_code == 400 and r.json()["code"] == "moderation_blocked"


def test_a_request_the_contract_refuses_is_422_before_the_marker() -> None:
    assert _generate(EdenFake(), {"model": "openai/gpt-image-1", "prompt": BLOCKED, "n": 0})[0] == 422


def test_through_the_live_server_the_admin_api_and_the_marker() -> None:
    with (
        edenfake.serve() as server,
        httpx.Client(base_url=server.url + "/_edenfake") as admin,
        _sdk(server.base_url) as client,
    ):
        queued = admin.post("/faults", json={"fail": "content_policy", "match": {"model": "openai/dall-e-2"}})
        assert queued.status_code == 201 and queued.json()["fail"] == "content_policy"
        with pytest.raises(openai.BadRequestError) as info:
            client.images.generate(model="openai/dall-e-2", prompt="a boat", size="256x256")
        assert info.value.code == "content_policy_violation"
        with pytest.raises(openai.BadRequestError) as info:
            client.images.generate(model="openai/gpt-image-1", prompt=BLOCKED)
        assert info.value.code == "moderation_blocked"
        calls = admin.get("/calls").json()
        assert calls["count"] == 2  # one request each: no retry
        assert [(c["status"], c["fault"], c["response"]["code"]) for c in calls["calls"]] == [
            (400, "content_policy", "content_policy_violation"),
            (400, None, "moderation_blocked"),
        ]


def test_the_admin_api_names_the_kind_when_misspelt(client: TestClient) -> None:
    r = client.post("/_edenfake/faults", json={"fail": "content_polcy"})
    assert r.status_code == 422
    assert "'content_policy'" in r.json()["detail"][0]["msg"]


def test_chaos_can_answer_with_content_policy_refusals() -> None:
    fake = EdenFake()
    fake.set_chaos(1.0, statuses=["content_policy"])
    status, body = _generate(fake, {"model": "openai/gpt-image-1", "prompt": "a fox"})
    assert (status, body["code"]) == (400, "moderation_blocked")


def test_the_catalog_sets_the_marker_and_the_refusal() -> None:
    catalog = Catalog.from_data(
        {
            "blocked_marker": "NSFW!",
            "models": {"openai/gpt-image-1": {"content_policy": {"code": "custom_code", "message": "No."}}},
        }
    )
    fake = EdenFake(catalog=catalog)
    status, body = _generate(fake, {"model": "openai/gpt-image-1", "prompt": "NSFW! a fox"})
    assert (status, body["code"], body["message"]) == (400, "custom_code", "No.")
    assert _generate(fake, {"model": "openai/gpt-image-1", "prompt": BLOCKED, "quality": "low"})[0] == 200


def test_a_null_marker_refuses_no_prompt() -> None:
    fake = EdenFake(catalog=Catalog.from_data({"blocked_marker": None}))
    assert _generate(fake, {"model": "openai/gpt-image-1", "prompt": BLOCKED, "quality": "low"})[0] == 200


@pytest.mark.parametrize(
    "user",
    [
        {"blocked_marker": ""},
        {"models": {"openai/gpt-image-1": {"content_policy": {"code": "x"}}}},
        {"models": {"openai/gpt-image-1": {"content_policy": {"code": "x", "message": "y", "status": 403}}}},
    ],
)
def test_a_bad_content_policy_in_a_catalog_file_is_refused(user: dict[str, Any]) -> None:
    with pytest.raises(CatalogError):
        Catalog.from_data(user)
