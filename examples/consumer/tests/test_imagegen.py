"""The app's tests, offline: the `edenfake` fixture answers the openai SDK in-process, `edenfake_server` on a
real socket. Run with a plain `pip install edenfake` (no extras), serially or under `pytest -n 2`."""

from __future__ import annotations

import http.client
import json
import statistics
import time

import imagegen
import openai
import pytest

import edenfake

AUTH = {"Authorization": "Bearer dev-token", "Content-Type": "application/json"}


def test_pictures_are_real_pngs_of_the_size_asked(edenfake) -> None:
    got = imagegen.pictures("a red fox", n=2, size="1536x1024")
    assert len(got) == 2 and all(p.png.startswith(b"\x89PNG") for p in got)
    from edenfake import inspect_image

    info = inspect_image(got[1].png)
    assert (info.width, info.height) == (1536, 1024) and info.matches(prompt="a red fox", index=1)
    edenfake_call = edenfake.calls.last
    assert edenfake_call.json["n"] == 2 and edenfake_call.headers["authorization"] == "Bearer ***"
    assert edenfake_call.response["data"][0]["b64_json"]["width"] == 1536  # the journal keeps digests


@pytest.mark.edenfake(credits=0.015)  # one low-quality image costs 0.011
def test_running_out_of_credits_is_an_app_error(edenfake) -> None:
    imagegen.pictures("one is affordable")
    with pytest.raises(imagegen.OutOfCredits):
        imagegen.pictures("the second is not")
    assert [c.status for c in edenfake.calls] == [200, 402]


def test_a_size_the_model_lacks_names_the_field_and_is_not_retried(edenfake) -> None:
    with pytest.raises(imagegen.PromptRefused) as info:
        imagegen.pictures("a fox", size="640x480")
    assert info.value.field == "size" and edenfake.calls.count == 1


def test_an_empty_prompt_names_the_field(edenfake) -> None:
    with pytest.raises(imagegen.PromptRefused) as info:
        imagegen.pictures("")
    assert info.value.field == "prompt"


def test_rate_limits_are_retried_by_the_sdk_without_waiting(edenfake) -> None:
    edenfake.fail(429, times=2, retry_after=0)
    started = time.perf_counter()
    assert len(imagegen.pictures("a fox")) == 1
    assert time.perf_counter() - started < 1.0
    assert [c.status for c in edenfake.calls] == [429, 429, 200]


def test_a_provider_outage_reaches_the_app_after_the_sdks_retries(edenfake) -> None:
    edenfake.fail(503, times=None, retry_after=0)
    with pytest.raises(openai.InternalServerError):
        imagegen.pictures("a fox")
    assert edenfake.calls.count == 3  # the first try and the SDK's two retries


def test_the_mock_function_works_beside_the_fixture() -> None:
    with edenfake.mock(credits=1.0) as eden:
        assert len(imagegen.pictures("a fox")) == 1
        assert eden.credits is not None and eden.credits < 1.0


def test_against_a_real_socket(edenfake_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDEN_BASE_URL", edenfake_server.base_url)
    edenfake_server.fail(502, retry_after=0)
    assert len(imagegen.pictures("a fox", n=3)) == 3
    assert [c.status for c in edenfake_server.calls] == [502, 200]


def test_kept_alive_requests_answer_in_milliseconds(edenfake_server) -> None:
    # Without uvloop (a plain install), a server socket that asyncio does not set TCP_NODELAY on makes each
    # answer on a kept-alive connection wait ~40 ms for the client's delayed ACK.
    conn = http.client.HTTPConnection(edenfake_server.host, edenfake_server.port, timeout=10)
    body = json.dumps({"model": "openai/gpt-image-1", "prompt": "a fox", "quality": "low"})
    times = []
    for _ in range(41):
        started = time.perf_counter()
        conn.request("POST", "/v3/images/generations", body, AUTH)
        assert conn.getresponse().read()
        times.append(time.perf_counter() - started)
    conn.close()
    median_ms = statistics.median(times[1:]) * 1000
    print(f"median kept-alive request: {median_ms:.2f} ms")
    assert median_ms < 5


@pytest.mark.edenfake_failures(exclude=["timeout"])  # in process a timeout raises at once, as a disconnect does
def test_every_failure_ends_in_pictures_or_an_error_the_app_names(edenfake, edenfake_failure) -> None:
    """The failure matrix: this test runs once per way the API can fail. The fake fails the first request only,
    so a failure the SDK retries ends in pictures, and any other reaches the app as an error it can show."""
    api = openai.OpenAI(api_key="dev-token", base_url=imagegen.EDEN_BASE_URL, max_retries=1)
    try:
        got = imagegen.pictures("a red fox", api=api)
    except (imagegen.OutOfCredits, imagegen.PromptRefused, openai.APIStatusError) as exc:
        assert not edenfake_failure.retryable, exc
        if edenfake_failure.openai_error is not None and isinstance(exc, openai.APIStatusError):
            assert isinstance(exc, edenfake_failure.openai_error)
    else:
        assert edenfake_failure.retryable and got[0].png.startswith(b"\x89PNG")
