"""POST /v3/images/generations through real HTTP (Starlette's TestClient); every answer is contract-checked."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image
from starlette.testclient import TestClient

from edenfake import Catalog, EdenFake, create_app, inspect_image
from tests.helpers import AUTH, FROZEN, decode_item

URL = "/v3/images/generations"


def gen(client: TestClient, **fields: Any) -> Any:
    body = {"model": "openai/gpt-image-1", "prompt": "a red fox in the snow", **fields}
    return client.post(URL, json=body)


def detail_locs(response: Any) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [d["loc"] for d in response.json()["detail"]]


# -- a valid request ------------------------------------------------------------------------------------


def test_generation_answers_with_images_cost_provider_and_usage(client: TestClient) -> None:
    r = gen(client, n=2, quality="low")
    assert r.status_code == 200
    body = r.json()
    assert body["created"] == FROZEN
    assert body["provider"] == "openai"
    assert body["cost"] == pytest.approx(2 * 0.011)
    assert body["size"] == "1024x1024" and body["output_format"] == "png" and body["quality"] == "low"
    assert body["usage"]["output_tokens"] == 2 * 272
    assert body["usage"]["total_tokens"] == body["usage"]["input_tokens"] + body["usage"]["output_tokens"]
    assert len(body["data"]) == 2
    for item in body["data"]:
        assert item["url"] is None and item["revised_prompt"] is None
        assert decode_item(item).size == (1024, 1024)


def test_unknown_fields_are_accepted_as_the_real_service_forwards_them(client: TestClient) -> None:
    r = gen(client, style="vivid", moderation="low", some_future_field={"a": [1, 2]})
    assert r.status_code == 200


def test_nulls_are_accepted_for_every_optional_field(client: TestClient) -> None:
    r = gen(client, n=None, size=None, user=None, metadata=None, extra_headers=None, quality=None, response_format=None)
    assert r.status_code == 200
    assert len(r.json()["data"]) == 1


def test_models_route_lists_the_catalog(client: TestClient) -> None:
    r = client.get("/v3/images/models")
    assert r.status_code == 200
    ids = {m["id"] for m in r.json()["data"]}
    assert ids == set(Catalog.default().models)
    assert {"openai/gpt-image-1", "openai/dall-e-3", "amazon/amazon.nova-canvas-v1:0"} <= ids


# -- the contract's rules, at their boundaries ---------------------------------------------------------


@pytest.mark.parametrize(("n", "ok"), [(0, False), (1, True), (10, True), (11, False), (-1, False)])
def test_n_must_be_between_1_and_10(client: TestClient, n: int, ok: bool) -> None:
    r = gen(client, n=n)
    if ok:
        assert r.status_code == 200 and len(r.json()["data"]) == n
    else:
        assert detail_locs(r) == [["body", "n"]]
        entry = r.json()["detail"][0]
        assert entry["type"] == ("greater_than_equal" if n < 1 else "less_than_equal")
        assert entry["input"] == n


@pytest.mark.parametrize(("length", "ok"), [(0, False), (1, True), (32000, True), (32001, False)])
def test_prompt_must_be_1_to_32000_characters(client: TestClient, length: int, ok: bool) -> None:
    r = gen(client, prompt="p" * length)
    if ok:
        assert r.status_code == 200
    else:
        assert detail_locs(r) == [["body", "prompt"]]
        assert r.json()["detail"][0]["type"] == ("string_too_short" if length == 0 else "string_too_long")


@pytest.mark.parametrize("missing", ["model", "prompt"])
def test_model_and_prompt_are_required(client: TestClient, missing: str) -> None:
    body = {"model": "openai/gpt-image-1", "prompt": "x"}
    del body[missing]
    r = client.post(URL, json=body)
    assert detail_locs(r) == [["body", missing]]
    assert r.json()["detail"][0] == {"type": "missing", "loc": ["body", missing], "msg": "Field required"}


def test_model_must_be_provider_slash_model(client: TestClient) -> None:
    r = gen(client, model="gpt-image-1")
    assert detail_locs(r) == [["body", "model"]]
    assert "provider/model" in r.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("field", "value", "type_"),
    [
        ("model", 3, "string_type"),
        ("prompt", ["a"], "string_type"),
        ("n", "2", "int_type"),
        ("n", 2.5, "int_type"),
        ("n", True, "int_type"),
        ("size", 1024, "string_type"),
        ("user", {}, "string_type"),
        ("metadata", "x", "dict_type"),
        ("extra_headers", ["x"], "dict_type"),
        ("quality", 1, "string_type"),
        ("response_format", False, "string_type"),
    ],
)
def test_every_field_has_its_type_checked(client: TestClient, field: str, value: Any, type_: str) -> None:
    r = gen(client, **{field: value})
    assert detail_locs(r) == [["body", field]]
    assert r.json()["detail"][0]["type"] == type_


CREDENTIALS = ["Authorization", "Proxy-Authorization", "x-api-key", "api-key", "x-goog-api-key", "Cookie"]


@pytest.mark.parametrize("name", [*CREDENTIALS, *(c.upper() for c in CREDENTIALS), "aUtHoRiZaTiOn"])
def test_credential_headers_in_extra_headers_are_refused_in_any_case(client: TestClient, name: str) -> None:
    r = gen(client, extra_headers={name: "secret", "X-Trace": "1"})
    assert detail_locs(r) == [["body", "extra_headers", name]]
    entry = r.json()["detail"][0]
    assert entry["type"] == "credential_header"
    assert "credential header" in entry["msg"] and name in entry["msg"]


def test_other_extra_headers_pass_and_values_must_be_strings(client: TestClient) -> None:
    assert gen(client, extra_headers={"X-Request-Id": "abc", "Authorization-Hint": "no"}).status_code == 200
    assert detail_locs(gen(client, extra_headers={"X-Count": 3})) == [["body", "extra_headers", "X-Count"]]


def test_every_violation_is_listed_each_naming_its_field(client: TestClient) -> None:
    r = client.post(URL, json={"prompt": "", "n": 11, "size": 5, "extra_headers": {"x-api-key": "k"}})
    assert sorted(map(tuple, detail_locs(r))) == sorted(
        [("body", "model"), ("body", "prompt"), ("body", "n"), ("body", "size"), ("body", "extra_headers", "x-api-key")]
    )


# -- bodies that are not a request ---------------------------------------------------------------------


def test_malformed_json_is_400(client: TestClient) -> None:
    r = client.post(
        URL, content=b'{"model": "openai/gpt-image-1", "prompt": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_JSON"
    assert "Invalid JSON" in r.json()["detail"]


@pytest.mark.parametrize("body", [b"[]", b'"a prompt"', b"3", b"null"])
def test_a_body_that_is_not_an_object_is_400(client: TestClient, body: bytes) -> None:
    r = client.post(URL, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_BODY"
    assert "JSON object" in r.json()["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_non_json_content_type_is_415(client: TestClient, content_type: str) -> None:
    r = client.post(
        URL, content=b'{"model": "openai/gpt-image-1", "prompt": "x"}', headers={"content-type": content_type}
    )
    assert r.status_code == 415
    assert r.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert content_type in r.json()["detail"]


def test_json_with_a_charset_is_fine(client: TestClient) -> None:
    r = client.post(
        URL,
        content=b'{"model": "openai/gpt-image-1", "prompt": "x"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200


def test_an_over_large_body_is_413() -> None:
    fake = EdenFake(max_body_bytes=2048)
    with TestClient(create_app(fake), headers=AUTH) as c:
        r = c.post(URL, json={"model": "openai/gpt-image-1", "prompt": "x" * 4096})
        assert r.status_code == 413
        assert r.json() == {
            "detail": "Request body is larger than 2048 bytes",
            "error_code": "PAYLOAD_TOO_LARGE",
            "max_bytes": 2048,
        }


def test_an_over_large_chunked_body_is_413_without_a_content_length() -> None:
    fake = EdenFake(max_body_bytes=1000)
    with TestClient(create_app(fake), headers=AUTH) as c:

        def chunks() -> Any:
            for _ in range(10):
                yield b" " * 500

        r = c.post(URL, content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413


def test_invalid_utf8_and_deep_nesting_are_400_not_500(client: TestClient) -> None:
    r = client.post(URL, content=b'{"prompt": "\xff\xfe"}', headers={"content-type": "application/json"})
    assert r.status_code == 400
    deep = b'{"model": "openai/gpt-image-1", "prompt": "x", "metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    fake = EdenFake(max_body_bytes=1_000_000)
    with TestClient(create_app(fake), headers=AUTH) as c:
        r = c.post(URL, content=deep, headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert "nested too deeply" in r.json()["detail"]


# -- auth ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "test-token"},
        {"Authorization": "Bearer two tokens"},
    ],
)
def test_missing_empty_or_malformed_auth_is_401(fake: EdenFake, headers: dict[str, str]) -> None:
    with TestClient(create_app(fake)) as c:
        r = c.post(URL, json={"model": "openai/gpt-image-1", "prompt": "x"}, headers=headers)
        assert r.status_code == 401
        assert r.json() == {"detail": "Invalid or missing authentication token", "error_code": "UNAUTHORIZED"}
        assert r.headers["www-authenticate"] == "Bearer"


def test_auth_is_checked_before_the_body(fake: EdenFake) -> None:
    with TestClient(create_app(fake)) as c:
        assert c.post(URL, content=b"not json").status_code == 401


def test_bearer_scheme_is_case_insensitive(fake: EdenFake) -> None:
    with TestClient(create_app(fake)) as c:
        r = c.post(URL, json={"model": "openai/gpt-image-1", "prompt": "x"}, headers={"Authorization": "bearer abc"})
        assert r.status_code == 200


def test_a_fake_restricted_to_some_tokens_refuses_others() -> None:
    with TestClient(create_app(EdenFake(tokens={"good"}))) as c:
        body = {"model": "openai/gpt-image-1", "prompt": "x"}
        assert c.post(URL, json=body, headers={"Authorization": "Bearer good"}).status_code == 200
        assert c.post(URL, json=body, headers={"Authorization": "Bearer bad"}).status_code == 401


def test_a_fake_with_an_empty_token_list_accepts_no_token() -> None:
    # tokens=[] is not "unset": no token is accepted (an account whose keys were all revoked), as the help says
    with TestClient(create_app(EdenFake(tokens=[]))) as c:
        body = {"model": "openai/gpt-image-1", "prompt": "x"}
        for token in ("good", "sk-anything", "x" * 100):
            r = c.post(URL, json=body, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401 and r.json()["error_code"], r.text


# -- the model's own rules -------------------------------------------------------------------------------


def test_unknown_model_is_400_invalid_model(client: TestClient) -> None:
    r = gen(client, model="openai/gpt-image-9")
    assert r.status_code == 400
    body = r.json()
    assert body["error_code"] == "INVALID_MODEL"
    assert "openai/gpt-image-9" in body["detail"] and "openai/gpt-image-1" in body["detail"]


@pytest.mark.parametrize(
    ("fields", "param", "value"),
    [
        ({"model": "openai/dall-e-3", "n": 2}, "n", 2),
        ({"model": "openai/gpt-image-1", "size": "512x512"}, "size", "512x512"),
        ({"model": "openai/dall-e-2", "size": "1792x1024"}, "size", "1792x1024"),
        ({"model": "openai/gpt-image-1", "quality": "hd"}, "quality", "hd"),
        ({"model": "openai/dall-e-3", "quality": "low"}, "quality", "low"),
        ({"model": "google/imagen-4.0-generate-001", "quality": "high"}, "quality", "high"),
        ({"model": "openai/dall-e-2", "prompt": "x" * 1001}, "prompt", 1001),
        ({"model": "openai/dall-e-3", "prompt": "x" * 4001}, "prompt", 4001),
        ({"model": "openai/dall-e-2", "response_format": "jpg"}, "response_format", "jpg"),
        ({"model": "openai/dall-e-3", "output_format": "webp"}, "output_format", "webp"),
        ({"model": "openai/gpt-image-2", "size": "1000x1000"}, "size", "1000x1000"),
        ({"model": "openai/gpt-image-2", "size": "4096x1024"}, "size", "4096x1024"),
        ({"model": "google/gemini-2.5-flash-image", "size": "7:3"}, "size", "7:3"),
        ({"model": "amazon/amazon.nova-canvas-v1:0", "n": 6}, "n", 6),
        ({"model": "openai/gpt-image-1", "moderation": "none"}, "moderation", "none"),
        ({"model": "openai/dall-e-3", "moderation": "low"}, "moderation", "low"),
        ({"model": "openai/gpt-image-1", "output_compression": 101}, "output_compression", 101),
        ({"model": "openai/gpt-image-2", "output_compression": -1}, "output_compression", -1),
        ({"model": "google/imagen-4.0-generate-001", "output_compression": 50}, "output_compression", 50),
    ],
)
def test_what_the_provider_refuses_is_a_provider_error_naming_field_and_value(
    client: TestClient, fields: dict[str, Any], param: str, value: Any
) -> None:
    r = gen(client, **fields)
    assert r.status_code == 400  # an input problem: clients do not retry it
    body = r.json()
    assert body["error_code"] == "PROVIDER_ERROR"
    assert body["param"] == param and body["value"] == value
    assert body["provider"] == fields["model"].split("/")[0]
    assert param in body["detail"] and str(value) in body["detail"]
    if param in ("size", "quality", "response_format", "output_format", "moderation"):
        assert isinstance(body["allowed"], list), "the allowed values are listed (none for a model without qualities)"


@pytest.mark.parametrize(
    "fields",
    [
        {"moderation": "low"},
        {"moderation": "auto"},
        {"output_compression": 0},
        {"output_compression": 100, "output_format": "webp"},
        {"output_compression": None, "moderation": None},
    ],
)
def test_the_gpt_image_models_own_options_are_taken(client: TestClient, fields: dict[str, Any]) -> None:
    assert gen(client, quality="low", **fields).status_code == 200


@pytest.mark.parametrize(
    ("field", "value"), [("output_compression", "a"), ("output_compression", 50.5), ("moderation", 1)]
)
def test_the_gpt_image_models_own_options_have_their_types(client: TestClient, field: str, value: Any) -> None:
    assert detail_locs(gen(client, **{field: value})) == [["body", field]]


@pytest.mark.parametrize(
    ("model", "size", "expected"),
    [
        ("openai/gpt-image-1", "auto", (1024, 1024)),
        ("openai/gpt-image-1", "1536x1024", (1536, 1024)),
        ("openai/gpt-image-2", "2048x1152", (2048, 1152)),
        ("openai/dall-e-2", "256x256", (256, 256)),
        ("openai/dall-e-3", "1024x1792", (1024, 1792)),
        ("google/imagen-4.0-generate-001", "16:9", (1408, 768)),
        ("google/gemini-2.5-flash-image", "21:9", (1536, 672)),
        ("stabilityai/sd3.5-large", "9:21", (640, 1536)),
        ("amazon/amazon.nova-canvas-v1:0", "640x480", (640, 480)),
    ],
)
def test_sizes_ratios_and_auto_become_the_providers_pixel_sizes(
    client: TestClient, model: str, size: str, expected: tuple[int, int]
) -> None:
    r = gen(client, model=model, size=size, response_format="b64_json")
    assert r.status_code == 200, r.text
    assert decode_item(r.json()["data"][0]).size == expected


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_output_format_is_honoured(client: TestClient, fmt: str) -> None:
    r = gen(client, output_format=fmt, size="1536x1024")
    assert r.status_code == 200
    image = decode_item(r.json()["data"][0])
    assert image.format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]
    assert image.size == (1536, 1024)
    assert r.json()["output_format"] == fmt


def test_dall_e_3_returns_a_revised_prompt(client: TestClient) -> None:
    r = gen(client, model="openai/dall-e-3", response_format="b64_json")
    assert r.json()["data"][0]["revised_prompt"].endswith("a red fox in the snow")


# -- cost figures come from the catalog -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields", "n"),
    [
        ("openai/gpt-image-1", {"quality": "high", "size": "1536x1024"}, 3),
        ("openai/gpt-image-1-mini", {"quality": "low"}, 1),
        ("openai/gpt-image-1", {}, 2),  # auto quality is priced as medium
        ("openai/dall-e-3", {"quality": "hd", "size": "1792x1024"}, 1),
        ("openai/dall-e-2", {"size": "512x512"}, 4),
        ("google/imagen-4.0-generate-001", {}, 4),
        ("amazon/amazon.nova-canvas-v1:0", {"quality": "premium"}, 2),
    ],
)
def test_cost_is_the_catalog_price_times_n(client: TestClient, model: str, fields: dict[str, Any], n: int) -> None:
    spec = Catalog.default().get(model)
    assert spec is not None
    r = gen(client, model=model, n=n, response_format="b64_json" if "dall-e" in model else None, **fields)
    assert r.status_code == 200, r.text
    body = r.json()
    quality = fields.get("quality") or spec.entry.get("default_quality")
    quality = spec.entry.get("quality_aliases", {}).get(quality, quality)
    size = fields.get("size", spec.entry["default_size"])
    prices = spec.entry["prices"][quality or "default"]
    unit = prices.get(size, prices.get("*"))
    assert body["cost"] == pytest.approx(unit * n)
    assert body["provider"] == spec.provider


def test_a_user_catalog_overrides_prices(tmp_path: Any) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(
        '{"models": {"openai/gpt-image-1": {"prices": {"low": {"*": 1.5}, "medium": {"*": 2}, "high": {"*": 3}}}}}'
    )
    with TestClient(create_app(EdenFake(catalog=str(path))), headers=AUTH) as c:
        r = c.post(URL, json={"model": "openai/gpt-image-1", "prompt": "x", "quality": "high", "n": 2})
        assert r.json()["cost"] == 6


# -- determinism -----------------------------------------------------------------------------------------


def test_same_request_same_bytes_across_fakes(fake: EdenFake) -> None:
    body = {"model": "openai/gpt-image-1", "prompt": "determinism", "n": 3, "output_format": "webp"}
    answers = []
    for f in (fake, EdenFake(clock=FROZEN)):
        with TestClient(create_app(f), headers=AUTH) as c:
            answers.append(c.post(URL, json=body).content)
    assert answers[0] == answers[1]


def test_different_prompts_and_the_n_images_of_one_answer_differ(client: TestClient) -> None:
    a = gen(client, prompt="first", n=3).json()["data"]
    b = gen(client, prompt="second").json()["data"]
    images = [item["b64_json"] for item in a] + [b[0]["b64_json"]]
    assert len(set(images)) == 4


def test_seed_changes_the_bytes() -> None:
    outs = []
    for seed in (0, 1):
        with TestClient(create_app(EdenFake(seed=seed, clock=FROZEN)), headers=AUTH) as c:
            outs.append(c.post(URL, json={"model": "openai/gpt-image-1", "prompt": "x"}).json()["data"][0]["b64_json"])
    assert outs[0] != outs[1]


def test_images_carry_the_requests_fingerprint(client: TestClient) -> None:
    r = gen(client, model="openai/gpt-image-1", prompt="a lighthouse", n=2, quality="high", size="1024x1536")
    for index, item in enumerate(r.json()["data"]):
        info = inspect_image(base64.b64decode(item["b64_json"]))
        assert info.matches(model="openai/gpt-image-1", prompt="a lighthouse", index=index)
        assert not info.matches(prompt="a lighthouse at night")
        assert (info.width, info.height) == (1024, 1536)


# -- url results -----------------------------------------------------------------------------------------


def test_url_results_are_served_then_expire() -> None:
    fake = EdenFake(clock=FROZEN, url_ttl=60)
    with TestClient(create_app(fake), base_url="http://fake.local:9000", headers=AUTH) as c:
        r = c.post(URL, json={"model": "openai/dall-e-2", "prompt": "x", "size": "256x256", "n": 2})
        assert r.status_code == 200
        items = r.json()["data"]
        assert all(item["b64_json"] is None for item in items)
        urls = [item["url"] for item in items]
        assert all(u.startswith("http://fake.local:9000/_edenfake/images/") for u in urls)
        assert len(set(urls)) == 2
        got = c.get(urls[0])
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(got.content)).size == (256, 256)
        fake.clock.advance(59)
        assert c.get(urls[1]).status_code == 200
        fake.clock.advance(1)
        gone = c.get(urls[0])
        assert gone.status_code == 404
        assert gone.json()["detail"] == "Image not found or expired"


def test_url_store_is_bounded_by_bytes() -> None:
    fake = EdenFake(clock=FROZEN, url_store_bytes=1)
    with TestClient(create_app(fake), headers=AUTH) as c:
        r = c.post(URL, json={"model": "openai/dall-e-2", "prompt": "x", "size": "256x256"})
        assert c.get(r.json()["data"][0]["url"]).status_code == 404
        assert len(fake.urls) == 0


def test_gpt_image_models_always_answer_base64(client: TestClient) -> None:
    item = gen(client, response_format="url").json()["data"][0]
    assert item["url"] is None and item["b64_json"]


# -- the rest of the surface -----------------------------------------------------------------------------


def test_unknown_route_is_404_and_wrong_method_405(client: TestClient) -> None:
    assert client.get("/v3/images/variations").status_code == 404
    r = client.get(URL)
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_openapi_and_health(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert "/v3/images/generations" in doc["paths"]
    assert client.get("/healthz").json() == {"status": "ok"}


def test_the_same_body_under_another_content_type_is_judged_by_its_headers(client: TestClient) -> None:
    raw = b'{"model": "openai/gpt-image-1", "prompt": "memo"}'
    assert client.post(URL, content=raw, headers={"content-type": "text/plain"}).status_code == 415
    assert client.post(URL, content=raw, headers={"content-type": "application/json"}).status_code == 200
    assert client.post(URL, content=raw, headers={"content-type": "text/plain"}).status_code == 415


def test_a_repeated_invalid_body_is_refused_the_same_way_every_time(client: TestClient, fake: EdenFake) -> None:
    answers = [client.post(URL, json={"model": "openai/gpt-image-1", "prompt": "", "n": 11}).json() for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    assert [c.status for c in fake.calls] == [422, 422, 422]
    assert all(c.json == {"model": "openai/gpt-image-1", "prompt": "", "n": 11} for c in fake.calls)


def test_paths_with_control_characters_get_the_apis_404(client: TestClient) -> None:
    r = client.get("/_edenfake/images/a%0Ab.png")
    assert r.status_code == 404 and r.json() == {"detail": "Image not found or expired"}
    assert client.get("/v3/%0A").json() == {"detail": "Not Found"}


def test_a_catalog_can_make_refusals_502_as_some_recordings_show() -> None:
    fake = EdenFake(clock=FROZEN, catalog=Catalog.from_data({"refusal_status": 502}))
    assert fake.catalog.refusal_status == 502
    with TestClient(create_app(fake), headers=AUTH) as c:
        r = c.post(URL, json={"model": "openai/dall-e-3", "prompt": "x", "size": "640x480"})
    assert r.status_code == 502 and r.json()["error_code"] == "PROVIDER_ERROR" and r.json()["param"] == "size"
    assert EdenFake().catalog.refusal_status == 400  # the default


def test_a_base_url_without_v3_gets_a_404_that_says_where_the_api_lives(client: TestClient) -> None:
    r = client.post("/images/generations", json={"model": "openai/gpt-image-1", "prompt": "x"})
    assert r.status_code == 404
    assert "/v3" in r.json()["detail"] and "/openapi.json" in r.json()["detail"]
    assert client.get("/v3/nowhere").json() == {"detail": "Not Found"}  # inside the API: the plain answer
