"""LangChain's ``DallEAPIWrapper`` (langchain-community) against the fake, through the mock and a live server.

The wrapper sends its ``model`` as given and reads only ``data[].url``: pointed at Eden it needs the provider in
the model (``model="openai/dall-e-3"``) and a model that answers URLs (DALL-E; GPT image models answer base64
only, as OpenAI's do)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

import edenfake
from edenfake import Handle
from tests.helpers import FROZEN, TOKEN, decode_image

EDEN = "https://api.edenai.run/v3"


def dalle() -> Any:
    """langchain-community's module of the wrapper, imported when a test first needs it (collecting the suite, in
    each xdist worker, does not pay for importing langchain and langsmith); without it the test skips."""
    with warnings.catch_warnings():
        # langchain-community warns at import that it is being sunset; DallEAPIWrapper is still where it lives
        warnings.simplefilter("ignore", DeprecationWarning)
        return pytest.importorskip(
            "langchain_community.utilities.dalle_image_generator",
            reason="langchain-community is not installed: pip install -e '.[clients]'",
        )


@pytest.fixture(params=["mock", "server"])
def door(request: pytest.FixtureRequest) -> Iterator[tuple[Handle, str]]:
    if request.param == "mock":
        with edenfake.mock(clock=FROZEN, tokens=[TOKEN]) as handle:
            yield handle, EDEN
    else:
        with edenfake.serve(clock=FROZEN, tokens=[TOKEN]) as server:
            yield server, server.base_url


def wrapper(base_url: str, **options: Any) -> Any:
    return dalle().DallEAPIWrapper(api_key=TOKEN, base_url=base_url, max_retries=0, **options)


def fetched_size(url: str) -> tuple[int, int]:
    response = httpx.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    return decode_image(response.content).size  # type: ignore[no-any-return]


def test_dall_e_3_with_eden_s_model_id_returns_a_url_the_fake_serves(door: tuple[Handle, str]) -> None:
    handle, base_url = door
    url = wrapper(base_url, model="openai/dall-e-3", quality="standard").run("a red fox")
    assert "/_edenfake/images/" in url and fetched_size(url) == (1024, 1024)
    assert handle.calls[0].json == {
        "model": "openai/dall-e-3",
        "prompt": "a red fox",
        "n": 1,
        "size": "1024x1024",
        "quality": "standard",
    }


def test_several_dall_e_2_images_are_joined_by_the_separator(door: tuple[Handle, str]) -> None:
    _, base_url = door
    urls = wrapper(base_url, model="openai/dall-e-2", n=2, size="256x256", separator=" ").run("a fox").split(" ")
    assert len(urls) == 2 and len(set(urls)) == 2
    assert [fetched_size(u) for u in urls] == [(256, 256), (256, 256)]


def test_the_wrapper_s_default_model_has_no_provider_and_is_refused(door: tuple[Handle, str]) -> None:
    """Its default, ``dall-e-2``, is OpenAI's name: Eden wants ``provider/model`` and says so in a 422."""
    handle, base_url = door
    with pytest.raises(openai.UnprocessableEntityError) as info:
        wrapper(base_url).run("a fox")
    assert info.value.body["detail"][0]["loc"] == ["body", "model"]  # type: ignore[index]
    assert "'provider/model'" in info.value.body["detail"][0]["msg"]  # type: ignore[index]
    assert handle.calls.last.json["model"] == "dall-e-2"


def test_a_gpt_image_model_answers_base64_which_the_wrapper_cannot_read(door: tuple[Handle, str]) -> None:
    """GPT image models ignore ``response_format`` and answer ``b64_json`` only: the wrapper, reading ``url``,
    fails joining None, as it would against the real service."""
    handle, base_url = door
    with pytest.raises(TypeError, match="NoneType"):
        wrapper(base_url, model="openai/gpt-image-1").run("a fox")
    assert handle.calls.last.status == 200 and handle.calls.last.response["data"][0]["url"] is None
