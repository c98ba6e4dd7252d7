"""POST /v3/images/edits: the JSON and multipart forms, every input check, and the openai SDK's images.edit."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import openai
import pytest
from starlette.testclient import TestClient

import edenfake
from edenfake import EdenFake, create_app, inspect_image
from tests.helpers import AUTH, MASK, data_url, encoded, png

URL = "/v3/images/edits"
GPT = "openai/gpt-image-1"


def multipart(client: TestClient, files: list[tuple[str, tuple[str, bytes, str]]], **fields: Any) -> Any:
    data = {"model": GPT, "prompt": "add a hat", **{k: str(v) for k, v in fields.items()}}
    return client.post(URL, data=data, files=files)


def locs(response: Any) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [d["loc"] for d in response.json()["detail"]]


def types(response: Any) -> list[str]:
    return [d["type"] for d in response.json()["detail"]]


# -- multipart, as the openai SDK sends it -----------------------------------------------------------------


def test_a_single_image_edit(client: TestClient) -> None:
    r = multipart(client, [("image", ("fox.png", png(), "image/png"))], n=2, size="1024x1024")
    assert r.status_code == 200
    body = r.json()
    assert len(body["data"]) == 2 and body["provider"] == "openai"
    info = inspect_image(base64.b64decode(body["data"][0]["b64_json"]))
    assert info.matches(model=GPT, prompt="add a hat", index=0)
    import hashlib

    assert info.inputs == [hashlib.sha256(png()).hexdigest()]
    assert body["usage"]["input_tokens_details"]["image_tokens"] == 85 + 170


def test_several_images_and_a_mask(client: TestClient, fake: EdenFake) -> None:
    files = [
        ("image[]", ("a.png", png(), "image/png")),
        ("image[]", ("b.jpg", encoded("JPEG"), "image/jpeg")),
        ("image[]", ("c.webp", encoded("WEBP"), "image/webp")),
        ("mask", ("mask.png", MASK, "image/png")),
    ]
    r = multipart(client, files)
    assert r.status_code == 200
    info = inspect_image(base64.b64decode(r.json()["data"][0]["b64_json"]))
    assert info.inputs is not None and len(info.inputs) == 4  # three images, then the mask
    call = fake.calls.last
    assert call.form is not None and call.form["prompt"] == "add a hat"
    assert [f["part"] for f in call.files] == ["image[]", "image[]", "image[]", "mask"]
    assert call.files[0]["filename"] == "a.png" and call.files[0]["bytes"] == len(png())
    assert all(set(f) == {"part", "filename", "content_type", "bytes", "sha256"} for f in call.files)


def test_the_same_inputs_give_the_same_bytes_and_another_image_other_bytes(client: TestClient) -> None:
    first = multipart(client, [("image", ("a.png", png(), "image/png"))]).json()["data"][0]["b64_json"]
    again = multipart(client, [("image", ("renamed.png", png(), "image/png"))]).json()["data"][0]["b64_json"]
    other = multipart(client, [("image", ("a.png", png(colour=(1, 2, 3)), "image/png"))]).json()["data"][0]["b64_json"]
    with_mask = multipart(client, [("image", ("a.png", png(), "image/png")), ("mask", ("m.png", MASK, "image/png"))])
    assert first == again
    assert first != other
    assert with_mask.json()["data"][0]["b64_json"] != first


def test_text_fields_are_checked_by_the_contract(client: TestClient) -> None:
    r = multipart(client, [("image", ("a.png", png(), "image/png"))], n=11, prompt="")
    assert sorted(map(tuple, locs(r))) == [("body", "n"), ("body", "prompt")]


@pytest.mark.parametrize(
    ("files", "loc", "type_"),
    [
        ([("file", ("a.png", png(), "image/png"))], ["body", "file"], "unexpected_file"),
        ([("image", ("notes.png", b"just some text", "image/png"))], ["body", "image"], "image_invalid"),
        ([("image", ("cut.png", png()[:60], "image/png"))], ["body", "image"], "image_invalid"),
        ([("image", ("empty.png", b"", "image/png"))], ["body", "image"], "image_empty"),
        (
            [("image", ("a.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"))],
            ["body", "image"],
            "image_invalid",
        ),
        (
            [("image", ("a.png", png(), "image/png")), ("mask", ("m.png", png(32, 32, mode="RGBA"), "image/png"))],
            ["body", "mask"],
            "mask_size_mismatch",
        ),
        (
            [("image", ("a.png", png(), "image/png")), ("mask", ("m.png", png(), "image/png"))],
            ["body", "mask"],
            "mask_no_alpha",
        ),
        (
            [("image", ("a.png", png(), "image/png")), ("mask", ("m.jpg", encoded("JPEG"), "image/jpeg"))],
            ["body", "mask"],
            "mask_not_png",
        ),
        ([("image[]", ("a.png", png(), "image/png"))] * 17, ["body", "image"], "too_many_images"),
    ],
)
def test_bad_parts_are_422_naming_the_part(
    client: TestClient, files: list[tuple[str, tuple[str, bytes, str]]], loc: list[Any], type_: str
) -> None:
    r = multipart(client, files)
    assert r.status_code == 422, r.text
    entry = next(d for d in r.json()["detail"] if d["type"] == type_)
    assert entry["loc"][: len(loc)] == loc
    assert entry["msg"]


def test_no_image_part_is_missing(client: TestClient) -> None:
    r = client.post(URL, data={"model": GPT, "prompt": "x"}, files=[("mask", ("m.png", MASK, "image/png"))])
    assert ["body", "image"] in locs(r) and "missing" in types(r)


def test_which_of_several_images_is_wrong(client: TestClient) -> None:
    files = [("image[]", ("a.png", png(), "image/png")), ("image[]", ("b.png", b"nope", "image/png"))]
    assert locs(multipart(client, files)) == [["body", "image[]", 1]]


def test_dall_e_2_edits_one_square_png_under_4_mb(client: TestClient) -> None:
    ok = multipart(
        client, [("image", ("a.png", png(), "image/png"))], model="openai/dall-e-2", response_format="b64_json"
    )
    assert ok.status_code == 200
    wide = multipart(client, [("image", ("a.png", png(64, 32), "image/png"))], model="openai/dall-e-2")
    assert types(wide) == ["image_not_square_png"]
    two = multipart(client, [("image[]", ("a.png", png(), "image/png"))] * 2, model="openai/dall-e-2")
    assert "too_many_images" in types(two)
    from PIL import Image

    # An uncompressed PNG over dall-e-2's 4 MB limit.
    noisy = Image.frombytes("RGB", (1300, 1300), bytes(range(256)) * (1300 * 1300 * 3 // 256 + 1))
    out = io.BytesIO()
    noisy.save(out, "PNG", compress_level=0)
    assert len(out.getvalue()) > 4 * 1024 * 1024
    huge = multipart(client, [("image", ("big.png", out.getvalue(), "image/png"))], model="openai/dall-e-2")
    assert types(huge) == ["image_too_large"]


def test_models_that_cannot_edit_are_invalid_model(client: TestClient) -> None:
    r = multipart(client, [("image", ("a.png", png(), "image/png"))], model="openai/dall-e-3")
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_MODEL"
    assert "image editing" in r.json()["detail"]


def test_the_models_own_rules_apply_as_for_generations(client: TestClient) -> None:
    r = multipart(client, [("image", ("a.png", png(), "image/png"))], size="640x480")
    assert r.status_code == 400 and r.json()["error_code"] == "PROVIDER_ERROR" and r.json()["param"] == "size"


def test_a_malformed_multipart_body_is_400(client: TestClient) -> None:
    r = client.post(URL, content=b"--x\r\nnonsense", headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_BODY"
    r = client.post(URL, content=b"abc", headers={"content-type": "multipart/form-data"})
    assert r.status_code == 400 and "boundary" in r.json()["detail"]


def _form(*fields: tuple[str, bytes]) -> tuple[bytes, dict[str, str]]:
    """A multipart edit with these text fields, as raw bytes (some clients send what httpx would not)."""
    parts = [b'--b\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (k.encode(), v) for k, v in fields]
    image = b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
    body = b"".join(parts) + image + png() + b"\r\n--b--\r\n"
    return body, {"content-type": "multipart/form-data; boundary=b", **AUTH}


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ([("model", GPT.encode()), ("prompt", b"\xff\xfe")], "the field 'prompt' is not UTF-8 text (byte 0)"),
        ([("model", GPT.encode()), ("prompt", b"a"), ("n", b"1"), ("n", b"2")], "the field 'n' is given twice"),
        (
            [("model", GPT.encode()), ("model", b"openai/dall-e-2"), ("prompt", b"a")],
            "the field 'model' is given twice",
        ),
    ],
    ids=["not-utf8", "n-twice", "model-twice"],
)
def test_a_text_field_that_cannot_be_read_as_json_would_be_is_400_naming_it(
    client: TestClient, fields: list[tuple[str, bytes]], says: str
) -> None:
    """The same bytes in a JSON body are a 400; a field given twice leaves which value was meant unknown."""
    body, headers = _form(*fields)
    with edenfake.mock(assert_all_faults_used=False):  # the in-process door reads the same way
        mocked = httpx.post("https://api.edenai.run" + URL, content=body, headers=headers)
    for r in (client.post(URL, content=body, headers=headers), mocked):
        assert r.status_code == 400 and r.json()["error_code"] == "INVALID_BODY", r.text
        assert r.json()["detail"] == f"Invalid multipart body: {says}" + ("; send it once" if "twice" in says else "")
    good, headers = _form(("model", GPT.encode()), ("prompt", "un renard é".encode()))
    assert client.post(URL, content=good, headers=headers).status_code == 200


def test_other_content_types_are_415(client: TestClient) -> None:
    r = client.post(URL, content=b"x", headers={"content-type": "text/plain"})
    assert r.status_code == 415


def test_an_over_large_upload_is_413_before_it_is_read() -> None:
    with TestClient(create_app(EdenFake(max_upload_bytes=10_000)), headers=AUTH) as c:
        r = c.post(URL, data={"model": GPT, "prompt": "x"}, files=[("image", ("a.png", b"\0" * 20_000, "image/png"))])
        assert r.status_code == 413 and r.json()["max_bytes"] == 10_000


# -- the JSON form -------------------------------------------------------------------------------------------


def test_json_with_a_data_url_and_a_mask(client: TestClient, fake: EdenFake) -> None:
    body = {
        "model": GPT,
        "prompt": "add a hat",
        "images": [{"image_url": data_url(png())}],
        "mask": {"image_url": data_url(MASK)},
    }
    r = client.post(URL, json=body)
    assert r.status_code == 200
    info = inspect_image(base64.b64decode(r.json()["data"][0]["b64_json"]))
    assert info.inputs is not None and len(info.inputs) == 2
    sent = fake.calls.last.json["images"][0]["image_url"]
    assert sent.startswith("data:image/png;base64,<") and "sha256=" in sent  # the journal keeps no image data


def test_json_with_an_uploaded_file_id(client: TestClient) -> None:
    file_id = client.post("/v3/upload", files={"file": ("fox.png", png(), "image/png")}).json()["file_id"]
    r = client.post(URL, json={"model": GPT, "prompt": "x", "images": [{"file_id": file_id}]})
    assert r.status_code == 200
    same = client.post(URL, json={"model": GPT, "prompt": "x", "images": [{"image_url": data_url(png())}]})
    assert same.json()["data"] == r.json()["data"]  # the same content, however it arrived


@pytest.mark.parametrize(
    ("images", "loc", "type_"),
    [
        ([{"file_id": "file-nope"}], ["body", "images", 0, "file_id"], "file_not_found"),
        ([{"image_url": "data:image/png;base64,@@@"}], ["body", "images", 0, "image_url"], "image_url_scheme"),
        ([{"image_url": "data:image/png;base64,aGVsbG8="}], ["body", "images", 0], "image_invalid"),
        ([{"image_url": "data:image/png;base64,abc"}], ["body", "images", 0, "image_url"], "data_url_invalid"),
        ([{"image_url": "http://example.com/a.png"}], ["body", "images", 0, "image_url"], "image_url_scheme"),
        ([{"image_url": "https://example.com/a.png"}], ["body", "images", 0, "image_url"], "remote_url_refused"),
        ([{"file_id": "a", "image_url": "https://x"}], ["body", "images", 0], "image_ref_one_key"),
        ([{}], ["body", "images", 0], "image_ref_one_key"),
        ([], ["body", "images"], "too_short"),
        ([{"image_url": data_url(png())}] * 17, ["body", "images"], "too_long"),
    ],
)
def test_json_image_references_are_checked(client: TestClient, images: list[Any], loc: list[Any], type_: str) -> None:
    r = client.post(URL, json={"model": GPT, "prompt": "x", "images": images})
    assert r.status_code == 422, r.text
    assert any(d["loc"] == loc and d["type"] == type_ for d in r.json()["detail"]), r.json()


def test_remote_urls_per_model(client: TestClient) -> None:
    body = {"prompt": "x", "images": [{"image_url": "https://example.com/a.png"}], "response_format": "b64_json"}
    assert client.post(URL, json={**body, "model": GPT}).status_code == 422
    r = client.post(URL, json={**body, "model": "openai/dall-e-2"})
    assert r.status_code == 200  # not fetched: the URL's hash stands for the image
    import hashlib

    info = inspect_image(base64.b64decode(r.json()["data"][0]["b64_json"]))
    assert info.inputs == [hashlib.sha256(b"https://example.com/a.png").hexdigest()]


# -- through the openai SDK, in-process ----------------------------------------------------------------------


def sdk() -> openai.OpenAI:
    return openai.OpenAI(api_key="t", base_url="https://api.edenai.run/v3", max_retries=0)


def test_sdk_images_edit_single_several_and_masked() -> None:
    with edenfake.mock() as eden:
        one = sdk().images.edit(model=GPT, image=("fox.png", png(), "image/png"), prompt="add a hat")
        several = sdk().images.edit(
            model=GPT, image=[("a.png", png(), "image/png"), ("b.webp", encoded("WEBP"), "image/webp")], prompt="merge"
        )
        masked = sdk().images.edit(
            model=GPT, image=("fox.png", png(), "image/png"), mask=("m.png", MASK, "image/png"), prompt="x", n=2
        )
    assert len(one.data) == 1 and len(several.data) == 1 and len(masked.data) == 2
    assert [c.status for c in eden.calls] == [200, 200, 200]
    assert [len(c.files) for c in eden.calls] == [1, 2, 2]
    assert eden.calls[1].files[0]["part"] == "image[]" and eden.calls[2].form["n"] == 2  # type: ignore[index]


def test_sdk_edit_errors_and_faults() -> None:
    with edenfake.mock(credits=0.0) as eden:
        with pytest.raises(openai.UnprocessableEntityError) as info:
            sdk().images.edit(model=GPT, image=("notes.png", b"text", "image/png"), prompt="x")
        assert info.value.body["detail"][0]["loc"] == ["body", "image"]  # type: ignore[index]
        with pytest.raises(openai.APIStatusError) as paid:
            sdk().images.edit(model=GPT, image=("fox.png", png(), "image/png"), prompt="x")
        assert paid.value.status_code == 402
        eden.credits = None
        eden.fail(503, match={"model": GPT})
        with pytest.raises(openai.InternalServerError):
            sdk().images.edit(model=GPT, image=("fox.png", png(), "image/png"), prompt="x")
        assert eden.calls.last.fault == "503"


def test_edits_through_a_live_server_with_plain_httpx() -> None:
    with edenfake.serve() as server, httpx.Client(headers=AUTH) as c:
        r = c.post(
            server.base_url + "/images/edits",
            data={"model": GPT, "prompt": "x"},
            files={"image": ("a.png", png(), "image/png")},
        )
        assert r.status_code == 200
        bad = c.post(
            server.base_url + "/images/edits",
            data={"model": GPT, "prompt": "x"},
            files={"image": ("a.png", png()[:50], "image/png")},
        )
        assert bad.status_code == 422


# -- the journal, faults, and inputs that must never crash the fake -----------------------------------------


def test_the_journal_keeps_hashes_never_bytes(client: TestClient, fake: EdenFake) -> None:
    import hashlib
    import json

    image = png(colour=(9, 9, 9))
    multipart(client, [("image", ("a.png", image, "image/png")), ("mask", ("m.png", MASK, "image/png"))], n="2")
    answer = client.post(URL, json={"model": GPT, "prompt": "x", "images": [{"image_url": data_url(image)}]})
    multipart_call, json_call = fake.calls[-2], fake.calls[-1]
    assert multipart_call.form == {"model": GPT, "prompt": "add a hat", "n": 2}
    assert [f["sha256"] for f in multipart_call.files] == [hashlib.sha256(d).hexdigest() for d in (image, MASK)]
    summary = json_call.json["images"][0]["image_url"]
    assert summary == f"data:image/png;base64,<{len(image)} bytes sha256={hashlib.sha256(image).hexdigest()}>"
    sent = base64.b64decode(answer.json()["data"][0]["b64_json"])
    assert inspect_image(sent).inputs == [hashlib.sha256(image).hexdigest()]  # the journal's hash is the fingerprint's
    # the journal keeps the answered image as its digest and size, never its base64
    assert json_call.response["data"][0]["b64_json"] == {
        "sha256": hashlib.sha256(sent).hexdigest(),
        "bytes": len(sent),
        "format": "png",
        "width": 1024,
        "height": 1024,
    }
    recorded = json.dumps([[c.json, c.form, c.files] for c in fake.calls])
    assert base64.b64encode(image).decode()[:40] not in recorded and "IHDR" not in recorded


def test_jpeg_and_webp_data_urls(client: TestClient) -> None:
    images = [{"image_url": data_url(encoded("JPEG"), "jpeg")}, {"image_url": data_url(encoded("WEBP"), "webp")}]
    r = client.post(URL, json={"model": GPT, "prompt": "x", "images": images})
    assert r.status_code == 200
    assert len(inspect_image(base64.b64decode(r.json()["data"][0]["b64_json"])).inputs or []) == 2


def test_a_decompression_bomb_is_refused_before_decoding(client: TestClient) -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG")  # a few kB on the wire, 100 megapixels decoded
    r = multipart(client, [("image", ("bomb.png", out.getvalue(), "image/png"))])
    assert types(r) == ["image_too_large"] and locs(r) == [["body", "image"]]


def test_fault_matchers_see_multipart_fields_as_their_types() -> None:
    with edenfake.mock() as eden:
        eden.fail(503, match={"model": GPT, "n": 2})
        image = ("a.png", png(), "image/png")
        assert len(sdk().images.edit(model=GPT, image=image, prompt="x", n=1).data) == 1
        with pytest.raises(openai.InternalServerError):
            sdk().images.edit(model=GPT, image=image, prompt="x", n=2)
    assert [c.fault for c in eden.calls] == [None, "503"]


def test_credits_are_taken_by_edits() -> None:
    with edenfake.mock(credits=1.0) as eden:
        sdk().images.edit(model=GPT, image=("a.png", png(), "image/png"), prompt="x", quality="low")
        assert eden.credits is not None and eden.credits < 1.0
        assert eden.calls.last.response["cost"] == round(1.0 - eden.credits, 6)


def _raw(parts: list[bytes], boundary: bytes = b"b0undary") -> bytes:
    return b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts) + b"--" + boundary + b"--\r\n"


def _field(name: bytes, value: bytes) -> bytes:
    return b'Content-Disposition: form-data; name="' + name + b'"\r\n\r\n' + value


def _file(name: bytes, data: bytes, filename: bytes = b"a.png") -> bytes:
    disposition = b'Content-Disposition: form-data; name="' + name + b'"; filename="' + filename + b'"\r\n'
    return disposition + b"Content-Type: image/png\r\n\r\n" + data


_BASE = [_field(b"model", GPT.encode()), _field(b"prompt", b"x")]
HOSTILE_MULTIPART = [
    b"",
    b"--b0undary--\r\n",
    b"--b0undary\r\n\r\n\r\n--b0undary--\r\n",
    _raw([b"Content-Disposition: form-data\r\n\r\nno name"]),
    _raw([_field(b"model", b"\xff\xfe"), _field(b"prompt", b"x"), _file(b"image", png())]),
    _raw([*_BASE, _field(b"n", "²".encode()), _file(b"image", png())]),
    _raw([*_BASE, _field(b"n", b"9" * 5000), _file(b"image", png())]),
    _raw([*_BASE, _field(b"n", b"-0"), _file(b"image", png())]),
    _raw([*_BASE, _field(b"metadata", b"{" * 100_000), _file(b"image", png())]),
    _raw([*_BASE, _field(b"metadata", b'{"a": 1'), _file(b"image", png())]),
    _raw([*_BASE, _field(b"extra_headers", b'{"Authorization": "x"}'), _file(b"image", png())]),
    _raw([*_BASE, _field(b"image", b"not a file part")]),
    _raw([*_BASE, _file(b"image", png(), filename=b"")]),
    _raw([*_BASE, _file(b"image", png()[:-12])]),
    _raw([*_BASE, _file(b"image", png()[:33])]),
    _raw([*_BASE, _file(b"image", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)]),
    _raw([*_BASE, _file(b"image", b"RIFF\0\0\0\0WEBPVP8 ")]),
    _raw([*_BASE, _file(b"image", b"\xff\xd8\xff\xe0" + b"\0" * 32)]),
    _raw([*_BASE, _file(b"image", png()), _file(b"mask", b"")]),
    _raw([*_BASE, _file(b"image", png()), _file(b"mask", MASK), _file(b"mask", MASK)]),
    _raw([*_BASE, *[_file(b"image[]", png())] * 70]),
    _raw([*_BASE, _file(b"image", png())])[:-30],
    _raw([*_BASE, _file(b"image", png())]).replace(b"\r\n", b"\n"),
]


@pytest.mark.parametrize("body", HOSTILE_MULTIPART, ids=range(len(HOSTILE_MULTIPART)))
@pytest.mark.parametrize("path", [URL, "/v3/upload"])
def test_no_multipart_body_makes_the_fake_answer_500(client: TestClient, body: bytes, path: str) -> None:
    r = client.post(path, content=body, headers={"content-type": "multipart/form-data; boundary=b0undary"})
    assert 200 <= r.status_code < 500, r.text


HOSTILE_JSON: list[Any] = [
    {"images": [{"image_url": "data:image/png;base64," + "A" * 4001}]},
    {"images": [{"image_url": "data:image/png;base64,===="}]},
    {"images": [{"image_url": "data:image/png;base64,"}]},
    {"images": [{"image_url": "data:image/webp;base64," + base64.b64encode(b"RIFF\0\0\0\0WEBP").decode()}]},
    {"images": [{"file_id": "x" * 10_000}]},
    {"images": [{"file_id": 7}]},
    {"images": "a.png"},
    {"images": [None]},
    {"images": [{"image_url": data_url(png())}], "mask": {"file_id": "nope"}},
    {"images": [{"image_url": data_url(png())}], "mask": {"image_url": "https://example.com/m.png"}},
    {"images": [{"image_url": data_url(png())}], "mask": "m.png"},
    {"images": [{"image_url": data_url(png())}], "n": 2.5},
]


@pytest.mark.parametrize("extra", HOSTILE_JSON, ids=range(len(HOSTILE_JSON)))
@pytest.mark.parametrize("model", [GPT, "openai/dall-e-2", "openai/dall-e-3"])
def test_no_json_edit_makes_the_fake_answer_500(client: TestClient, extra: dict[str, Any], model: str) -> None:
    r = client.post(URL, json={"model": model, "prompt": "x", **extra})
    assert r.status_code < 500, r.text


@pytest.mark.parametrize(("value", "status"), [("50", 200), ("150", 400), ("fifty", 422)])
def test_a_multipart_output_compression_is_read_as_the_number_it_spells(
    client: TestClient, value: str, status: int
) -> None:
    r = multipart(client, [("image", ("a.png", png(), "image/png"))], output_compression=value, output_format="jpeg")
    assert r.status_code == status, r.text
    if status == 400:
        assert r.json()["param"] == "output_compression" and r.json()["value"] == 150


@pytest.mark.parametrize(
    ("n", "status"), [("2", 200), (" 2 ", 200), ("2.0", 200), ("02", 200), ("1e0", 422), ("2.5", 422)]
)
def test_a_multipart_n_is_read_as_fastapi_reads_a_form_integer(client: TestClient, n: str, status: int) -> None:
    r = multipart(client, [("image", ("a.png", png(), "image/png"))], n=n, quality="low")
    assert r.status_code == status, r.text
    if status == 200:
        assert len(r.json()["data"]) == 2
    else:
        assert locs(r) == [["body", "n"]]


def test_a_part_whose_name_is_not_utf8_is_400_saying_so(client: TestClient) -> None:
    # not silently dropped (which left "model: Field required" for a part that was there)
    body, headers = _form(("prompt", b"a"))
    body = b'--b\r\nContent-Disposition: form-data; name="mod\xffel"\r\n\r\n' + GPT.encode() + b"\r\n" + body
    r = client.post(URL, content=body, headers=headers)
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_BODY", r.text
    assert "name 'mod\ufffdel' is not UTF-8 text" in r.json()["detail"]
