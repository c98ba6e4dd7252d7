"""The openai Python SDK (3.x, sync and async) against the fake, through both doors: the in-process mock and a
live server. What a user's code does with it: generate, edit (one image, several, a mask), upload then edit by
``file_id``, and every error as the SDK's own exception class."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types import ImagesResponse

import edenfake
from edenfake import Handle
from tests.helpers import FROZEN, MASK, TOKEN, decode_image, encoded, png

GPT = "openai/gpt-image-1"
#: the base URL a user's code gives the SDK when the mock intercepts it (the real service's)
EDEN = "https://api.edenai.run/v3"


@pytest.fixture(params=["mock", "server"])
def door(request: pytest.FixtureRequest) -> Iterator[tuple[Handle, str]]:
    """A fake that accepts only TOKEN, and the base URL that reaches it: the mock's or a live server's."""
    if request.param == "mock":
        with edenfake.mock(clock=FROZEN, tokens=[TOKEN]) as handle:
            yield handle, EDEN
    else:
        with edenfake.serve(clock=FROZEN, tokens=[TOKEN]) as server:
            yield server, server.base_url


def sdk(base_url: str, *, token: str = TOKEN, retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(api_key=token, base_url=base_url, max_retries=retries)


def sizes(response: ImagesResponse) -> list[tuple[int, int]]:
    assert response.data is not None
    return [decode_image(base64.b64decode(item.b64_json or "")).size for item in response.data]


# -- generations and edits ---------------------------------------------------------------------------------


def test_generate(door: tuple[Handle, str]) -> None:
    handle, base_url = door
    with sdk(base_url) as client:
        response = client.images.generate(model=GPT, prompt="a red fox", n=2, size="1536x1024", quality="low")
    assert sizes(response) == [(1536, 1024), (1536, 1024)]
    assert response.created == FROZEN and response.usage is not None and response.usage.output_tokens > 0
    extra = response.model_extra or {}
    assert extra["provider"] == "openai" and extra["cost"] > 0  # Eden's own fields, kept by the SDK's model
    assert handle.calls.last.json == {
        "model": GPT,
        "prompt": "a red fox",
        "n": 2,
        "size": "1536x1024",
        "quality": "low",
    }


def test_stream_true_is_taken_and_answered_as_json_as_the_service_does(door: tuple[Handle, str]) -> None:
    # The image routes do not stream and pass unknown fields on (docs/explanation/real-service.md): the SDK's
    # stream reads the JSON answer as no events, and the call is there in the journal, answered 200.
    handle, base_url = door
    with sdk(base_url) as client:
        events = list(client.images.generate(model=GPT, prompt="a fox", quality="low", stream=True))
    assert events == []
    assert handle.calls.last.status == 200 and handle.calls.last.json["stream"] is True


def test_edit_one_several_and_masked(door: tuple[Handle, str]) -> None:
    handle, base_url = door
    with sdk(base_url) as client:
        one = client.images.edit(model=GPT, image=("fox.png", png(), "image/png"), prompt="add a hat")
        several = client.images.edit(
            model=GPT, image=[("a.png", png(), "image/png"), ("b.jpg", encoded("JPEG"), "image/jpeg")], prompt="merge"
        )
        masked = client.images.edit(
            model=GPT, image=("fox.png", png(), "image/png"), mask=("m.png", MASK, "image/png"), prompt="x", n=2
        )
    assert [len(sizes(r)) for r in (one, several, masked)] == [1, 1, 2]
    assert [[f["part"] for f in c.files] for c in handle.calls] == [
        ["image"],
        ["image[]", "image[]"],
        ["image", "mask"],
    ]
    assert handle.calls.last.form == {"model": GPT, "prompt": "x", "n": 2}


def test_upload_then_edit_by_file_id(door: tuple[Handle, str]) -> None:
    """Eden's upload route and JSON edits are not in the SDK: its generic ``post`` sends them, and the answer is
    read as the SDK's ImagesResponse. ``extra_body`` adds Eden's own fields to the JSON edit."""
    handle, base_url = door
    with sdk(base_url) as client:
        uploaded: Any = client.post(
            "/upload",
            body={"purpose": "image-edit"},
            files=[("file", ("fox.png", png(), "image/png"))],
            options={"headers": {"Content-Type": "multipart/form-data"}},
            cast_to=object,
        )
        body = {"model": GPT, "prompt": "add a hat", "images": [{"file_id": uploaded["file_id"]}]}
        edited = client.post(
            "/images/edits", body=body, options={"extra_json": {"size": "1024x1536"}}, cast_to=ImagesResponse
        )
    assert sizes(edited) == [(1024, 1536)]
    assert handle.calls.last.json == {**body, "size": "1024x1536"}


def test_an_edit_by_file_id_sent_as_multipart_says_to_send_json(door: tuple[Handle, str]) -> None:
    """``images.edit`` always sends multipart; file_id references in its ``extra_body`` arrive as form fields
    (``images[][file_id]``) with no image part. The 422 names the field and says where references go."""
    handle, base_url = door
    with sdk(base_url) as client, pytest.raises(openai.UnprocessableEntityError) as info:
        client.images.edit(model=GPT, prompt="x", image=[], extra_body={"images": [{"file_id": "f-1"}]})
    (problem,) = info.value.body["detail"]  # type: ignore[index]
    assert problem["loc"] == ["body", "images"] and problem["type"] == "reference_in_multipart"
    assert "application/json" in problem["msg"] and "images[][file_id]" in problem["msg"]
    assert handle.calls.last.form == {"model": GPT, "prompt": "x", "images[][file_id]": "f-1"}


async def test_async_generate_and_edit(door: tuple[Handle, str]) -> None:
    handle, base_url = door
    async with openai.AsyncOpenAI(api_key=TOKEN, base_url=base_url, max_retries=0) as client:
        generated = await client.images.generate(model="openai/dall-e-3", prompt="a fox", response_format="b64_json")
        edited = await client.images.edit(model=GPT, image=("fox.png", png(), "image/png"), prompt="add a hat")
        with pytest.raises(openai.BadRequestError):
            await client.images.generate(model="nobody/nothing", prompt="x")
    assert generated.data is not None and generated.data[0].revised_prompt  # dall-e-3 rewrites the prompt
    assert sizes(generated) == [(1024, 1024)] and sizes(edited) == [(1024, 1024)]
    assert [c.status for c in handle.calls] == [200, 200, 400]


# -- errors as the SDK's exception classes ------------------------------------------------------------------


def test_an_unknown_model_is_bad_request_with_eden_s_error_code(door: tuple[Handle, str]) -> None:
    _, base_url = door
    with sdk(base_url) as client, pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="nobody/nothing", prompt="x")
    assert info.value.status_code == 400
    assert info.value.body["error_code"] == "INVALID_MODEL"  # type: ignore[index]
    assert "nobody/nothing" in info.value.body["detail"]  # type: ignore[index]


def test_a_wrong_token_is_authentication_error(door: tuple[Handle, str]) -> None:
    handle, base_url = door
    with sdk(base_url, token="not-the-token") as client, pytest.raises(openai.AuthenticationError) as info:
        client.images.generate(model=GPT, prompt="x")
    assert info.value.body["error_code"] == "UNAUTHORIZED"  # type: ignore[index]
    assert handle.calls.last.headers["authorization"] == "Bearer ***"  # the journal never keeps a token


def test_a_rate_limit_is_rate_limit_error_with_its_retry_after(door: tuple[Handle, str]) -> None:
    handle, base_url = door
    handle.fail(429, retry_after=2)
    with sdk(base_url) as client, pytest.raises(openai.RateLimitError) as info:
        client.images.generate(model=GPT, prompt="x")
    assert info.value.body["error_code"] == "RATE_LIMITED"  # type: ignore[index]
    assert info.value.response.headers["retry-after"] == "2"
    assert len(handle.calls) == 1  # retries off: one request


def test_an_injected_503_is_internal_server_error_after_the_sdk_s_retries(door: tuple[Handle, str]) -> None:
    handle, base_url = door
    handle.fail(503, times=3, retry_after=0)  # a 1 ms Retry-After: the SDK's retries do not sleep
    with sdk(base_url, retries=2) as client, pytest.raises(openai.InternalServerError) as info:
        client.images.generate(model=GPT, prompt="x")
    assert info.value.status_code == 503
    assert [c.status for c in handle.calls] == [503, 503, 503]  # the first try and two retries
    handle.fail(503, retry_after=0)
    with sdk(base_url, retries=1) as client:
        recovered = client.images.generate(model=GPT, prompt="x")  # a retry that succeeds
    assert sizes(recovered) == [(1024, 1024)] and [c.status for c in handle.calls][3:] == [503, 200]


# -- models ------------------------------------------------------------------------------------------------


def test_models_list_returns_the_catalog_s_image_models(door: tuple[Handle, str]) -> None:
    handle, base_url = door
    with sdk(base_url) as client:
        models = list(client.models.list())
    ids = [m.id for m in models]
    assert GPT in ids and "openai/dall-e-3" in ids and len(ids) == len(set(ids))
    assert set(ids) == set(handle.fake.catalog.models)  # every model the fake knows, once
    gpt = next(m for m in models if m.id == GPT)
    assert gpt.object == "model" and gpt.owned_by == "openai" and gpt.created > 0
    assert (gpt.model_extra or {})["model_name"] == "gpt-image-1"  # Eden's ModelObject fields, kept by the SDK
    assert handle.calls.last.path == "/v3/models"


# -- the other clients' shapes, through the route (these run where node and the clients extra are missing) ----


#: multipart file parts as each client sends them, and the file names the journal then shows
CLIENT_PARTS = [
    pytest.param([("image", ("blob", png(), "image/png"))], ["blob"], id="AI SDK: a Blob, named blob"),
    pytest.param(
        [
            ("image[]", ("blob", png(), "image/png")),
            ("image[]", ("blob", encoded("WEBP"), "image/webp")),
            ("mask", ("blob", MASK, "image/png")),
        ],
        ["blob"] * 3,
        id="AI SDK: several Blobs and a mask",
    ),
    pytest.param(
        [
            ("image[]", ("/home/me/pictures/fox.png", png(), "image/png")),
            ("mask", ("C:\\Users\\me\\mask.png", MASK, "image/png")),
        ],
        # python-multipart (FastAPI's parser, and so the real service's) keeps a POSIX path whole and cuts a
        # Windows one to its last part, as old Internet Explorers sent them
        ["/home/me/pictures/fox.png", "mask.png"],
        id="LiteLLM: image[] for one image, whole paths as file names",
    ),
    pytest.param(
        [("image[]", ("image.png", encoded("JPEG"), "image/jpeg"))],
        ["image.png"],
        id="LiteLLM: JPEG bytes named image.png",
    ),
    pytest.param([("image", (None, png(), "image/png"))], [None], id="a file part with no file name"),
]


@pytest.mark.parametrize(("files", "names"), CLIENT_PARTS)
def test_edit_parts_as_other_clients_send_them(
    client: Any, fake: edenfake.EdenFake, files: list[Any], names: list[str | None]
) -> None:
    r = client.post("/v3/images/edits", data={"model": GPT, "prompt": "x", "n": "1"}, files=files)
    assert r.status_code == 200, r.text
    assert len(r.json()["data"]) == 1
    assert [(f["part"], f["filename"]) for f in fake.calls.last.files] == list(
        zip([p for p, _ in files], names, strict=True)
    )


def test_response_format_b64_json_on_a_model_that_ignores_it(client: Any) -> None:
    """The AI SDK sends ``response_format: "b64_json"`` to every model; GPT image models ignore it (they answer
    base64 anyway) and DALL-E models honour it."""
    for model in (GPT, "openai/dall-e-3", "google/imagen-4.0-generate-001"):
        r = client.post(
            "/v3/images/generations", json={"model": model, "prompt": "x", "n": 1, "response_format": "b64_json"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["data"][0]["b64_json"] and r.json()["data"][0]["url"] is None
