"""The in-process mock: httpx (through respx) and httpx2 clients, sync and async, and the official openai SDK."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from typing import Any

import httpx
import httpx2
import openai
import pytest

import edenfake
from edenfake import inspect_image
from tests.conftest import SDK_ERRORS
from tests.helpers import AUTH

EDEN = "https://api.edenai.run"
BODY = {"model": "openai/gpt-image-1", "prompt": "a red fox", "quality": "low"}
#: a model the Europe endpoint serves (openai's are not)
EU_BODY = {"model": "google/imagen-4.0-fast-generate-001", "prompt": "a red fox"}


def sdk(**kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(api_key="test-token", base_url=f"{EDEN}/v3", **kwargs)


def async_sdk(**kwargs: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="test-token", base_url=f"{EDEN}/v3", **kwargs)


# -- both client libraries, sync and async ----------------------------------------------------------------


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_sync_clients_reach_the_fake_without_a_socket(module: Any) -> None:
    with edenfake.mock(clock=1_700_000_000) as eden, module.Client() as client:
        r = client.post(f"{EDEN}/v3/images/generations", json=BODY, headers=AUTH)
        assert r.status_code == 200
        assert r.json()["created"] == 1_700_000_000
        assert eden.calls.last.prompt == "a red fox"


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
async def test_async_clients_reach_the_fake(module: Any) -> None:
    async with edenfake.mock() as eden, module.AsyncClient() as client:
        r = await client.post(f"{EDEN}/v3/images/generations", json=BODY, headers=AUTH)
        assert r.status_code == 200 and len(r.json()["data"]) == 1
        assert eden.calls.count == 1


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_the_eu_host_and_added_base_urls_are_routed(module: Any) -> None:
    with edenfake.mock(base_urls=["http://gateway.internal:8080/eden/v3"]) as eden, module.Client(headers=AUTH) as c:
        assert c.post("https://api.eu.edenai.run/v3/images/generations", json=EU_BODY).status_code == 200
        assert c.post("http://gateway.internal:8080/eden/v3/images/generations", json=BODY).status_code == 200
        assert [call.path for call in eden.calls] == ["/v3/images/generations"] * 2


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_other_hosts_can_be_refused_loudly(module: Any) -> None:
    with edenfake.mock(assert_all_mocked=True), module.Client() as c, pytest.raises(Exception, match="not"):
        c.get("http://example.invalid/")


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
def test_other_hosts_are_left_alone_by_default(module: Any) -> None:
    def answer(request: Any) -> Any:
        return module.Response(204)

    transport = module.MockTransport(answer)
    with edenfake.mock() as eden, module.Client(transport=transport) as c:
        assert c.get("http://example.invalid/").status_code == 204
        assert c.post(f"{EDEN}/v3/images/generations", json=BODY, headers=AUTH).status_code == 200
    assert eden.calls.count == 1


def test_the_same_request_gives_the_same_answer_through_the_mock_and_the_app() -> None:
    from starlette.testclient import TestClient

    fake = edenfake.EdenFake(clock=1)
    with TestClient(edenfake.create_app(fake), base_url=EDEN, headers=AUTH) as tc:
        over_app = tc.post("/v3/images/generations", json=BODY).content
    with edenfake.mock(clock=1), httpx2.Client(headers=AUTH) as c:
        over_mock = c.post(f"{EDEN}/v3/images/generations", json=BODY).content
    assert over_app == over_mock


def test_the_mock_is_removed_on_exit() -> None:
    with edenfake.mock():
        pass
    assert httpx2.Client._transport_for_url.__name__ == "_transport_for_url"
    with httpx2.Client(transport=httpx2.MockTransport(lambda r: httpx2.Response(418))) as c:
        assert c.post(f"{EDEN}/v3/images/generations").status_code == 418


@edenfake.mock(credits=0.011)
def test_as_a_decorator_with_options() -> None:
    with httpx.Client(headers=AUTH) as c:
        assert c.post(f"{EDEN}/v3/images/generations", json=BODY).status_code == 200
        assert c.post(f"{EDEN}/v3/images/generations", json=BODY).status_code == 402


@edenfake.mock
async def test_as_a_bare_decorator_on_an_async_test() -> None:
    async with httpx2.AsyncClient(headers=AUTH) as c:
        assert (await c.post(f"{EDEN}/v3/images/generations", json=BODY)).status_code == 200


# -- the official openai SDK -----------------------------------------------------------------------------


def test_openai_sdk_generates_through_the_mock() -> None:
    with edenfake.mock() as eden:
        result = sdk().images.generate(model="openai/gpt-image-1", prompt="a lighthouse", n=2, size="1536x1024")
    assert len(result.data) == 2
    info = inspect_image(base64.b64decode(result.data[1].b64_json or ""))
    assert info.matches(model="openai/gpt-image-1", prompt="a lighthouse", index=1)
    assert (info.width, info.height) == (1536, 1024)
    eden.calls.assert_called_with(model="openai/gpt-image-1", prompt="a lighthouse", n=2)
    assert eden.calls.last.headers["authorization"] == "Bearer ***"


async def test_async_openai_sdk_generates_through_the_mock() -> None:
    async with edenfake.mock() as eden:
        result = await async_sdk().images.generate(model="openai/dall-e-3", prompt="a boat", response_format="url")
    assert result.data[0].url and result.data[0].url.startswith(f"{EDEN}/_edenfake/images/")
    assert result.data[0].revised_prompt
    assert eden.calls.count == 1


@pytest.mark.parametrize(("status", "error"), SDK_ERRORS)
def test_injected_faults_reach_the_sdk_as_its_exception_classes(status: int, error: type[Exception]) -> None:
    with edenfake.mock() as eden:
        eden.fail(status, times=None)
        with pytest.raises(error) as info:
            sdk(max_retries=0).images.generate(model="openai/gpt-image-1", prompt="x")
    assert getattr(info.value, "status_code", None) == status


def test_validation_errors_reach_the_sdk_as_unprocessable_entity() -> None:
    with edenfake.mock(), pytest.raises(openai.UnprocessableEntityError) as info:
        sdk().images.generate(model="openai/gpt-image-1", prompt="")
    assert info.value.body["detail"][0]["loc"] == ["body", "prompt"]  # type: ignore[index]


def test_the_sdk_retries_an_injected_429_honouring_retry_after() -> None:
    with edenfake.mock() as eden:
        eden.fail(429, times=2, retry_after=0.05)
        started = time.perf_counter()
        result = sdk(max_retries=2).images.generate(model="openai/gpt-image-1", prompt="x")
        elapsed = time.perf_counter() - started
    assert len(result.data) == 1
    assert [c.status for c in eden.calls] == [429, 429, 200]
    assert eden.calls[0].fault == "429"
    assert elapsed >= 0.1  # it waited what retry-after-ms said, twice


def test_the_sdk_retries_5xx_then_gives_up() -> None:
    with edenfake.mock() as eden:
        eden.fail(503, times=None, retry_after=0)
        with pytest.raises(openai.InternalServerError):
            sdk(max_retries=2).images.generate(model="openai/gpt-image-1", prompt="x")
    assert eden.calls.count == 3


def test_timeouts_and_disconnects_reach_the_sdk_as_connection_errors() -> None:
    with edenfake.mock() as eden:
        eden.fail("timeout")
        with pytest.raises(openai.APITimeoutError):
            sdk(max_retries=0).images.generate(model="openai/gpt-image-1", prompt="x")
        eden.fail("disconnect")
        with pytest.raises(openai.APIConnectionError):
            sdk(max_retries=0).images.generate(model="openai/gpt-image-1", prompt="x")
    assert [c.fault for c in eden.calls] == ["timeout", "disconnect"]


# -- the handle ------------------------------------------------------------------------------------------


def test_faults_match_by_field_and_leave_other_requests_alone() -> None:
    with edenfake.mock() as eden, httpx.Client(headers=AUTH) as c:
        eden.fail(502, match={"model": "openai/dall-e-3"})
        assert c.post(f"{EDEN}/v3/images/generations", json=BODY).status_code == 200
        r = c.post(f"{EDEN}/v3/images/generations", json={"model": "openai/dall-e-3", "prompt": "x"})
        assert r.status_code == 502 and r.json()["provider"] == "openai"


def test_an_unused_fault_fails_the_block_with_a_way_out() -> None:
    with pytest.raises(AssertionError, match="assert_all_faults_used=False"), edenfake.mock() as eden:
        eden.fail(429)
    with edenfake.mock(assert_all_faults_used=False) as eden:
        eden.fail(429)


def test_credits_run_out_into_402() -> None:
    with edenfake.mock(credits=0.03) as eden, httpx2.Client(headers=AUTH) as c:
        assert c.post(f"{EDEN}/v3/images/generations", json={**BODY, "n": 2}).status_code == 200
        assert eden.credits == pytest.approx(0.008)
        r = c.post(f"{EDEN}/v3/images/generations", json=BODY)
        assert r.status_code == 402
        assert r.json() == {
            "detail": "User does not have sufficient credits",
            "error_code": "INSUFFICIENT_CREDIT",
            "required_credits": 0.011,
            "available_credits": 0.008,
        }


def test_the_rate_limit_answers_429_with_retry_after_until_the_clock_moves() -> None:
    with edenfake.mock(rate_limit=10, clock=1000.0) as eden, httpx.Client(headers=AUTH) as c:
        statuses = [c.post(f"{EDEN}/v3/images/generations", json=BODY).status_code for _ in range(11)]
        assert statuses == [200] * 10 + [429]
        r = c.post(f"{EDEN}/v3/images/generations", json=BODY)
        assert r.headers["retry-after"] == "1" and r.json()["error_code"] == "RATE_LIMITED"
        eden.clock.advance(1.0)
        assert c.post(f"{EDEN}/v3/images/generations", json=BODY).status_code == 200


def test_latency_is_added_and_async_clients_overlap() -> None:
    async def three() -> float:
        async with httpx2.AsyncClient(headers=AUTH) as c:
            started = time.perf_counter()
            await asyncio.gather(*(c.post(f"{EDEN}/v3/images/generations", json=BODY) for _ in range(3)))
            return time.perf_counter() - started

    with edenfake.mock(latency=0.3):
        elapsed = asyncio.run(three())
    # Three concurrent requests wait together (0.3 s), not one after another (0.9 s).
    assert 0.3 <= elapsed < 0.8


def test_chaos_is_seeded_and_repeatable() -> None:
    outcomes = []
    for _ in range(2):
        with edenfake.mock() as eden, httpx.Client(headers=AUTH) as c:
            eden.chaos(0.5, seed=7)
            outcomes.append([c.post(f"{EDEN}/v3/images/generations", json=BODY).status_code for _ in range(20)])
    assert outcomes[0] == outcomes[1]
    assert 200 in outcomes[0] and set(outcomes[0]) - {200} <= {429, 500, 502, 503} and len(set(outcomes[0])) > 1


def test_reset_clears_journal_faults_and_credits() -> None:
    with edenfake.mock(credits=1.0, assert_all_faults_used=False) as eden, httpx.Client(headers=AUTH) as c:
        c.post(f"{EDEN}/v3/images/generations", json=BODY)
        eden.fail(500)
        eden.reset()
        assert eden.calls.count == 0 and eden.unused_faults() == [] and eden.credits == 1.0


def test_assert_called_with_shows_what_was_sent() -> None:
    with edenfake.mock() as eden, httpx.Client(headers=AUTH) as c:
        c.post(f"{EDEN}/v3/images/generations", json=BODY)
        with pytest.raises(AssertionError) as info:
            eden.calls.assert_called_with(prompt="a blue fox")
    message = str(info.value)
    assert "expected 'a blue fox', sent 'a red fox'" in message
    assert "openai/gpt-image-1" in message


def test_credentials_sent_in_extra_headers_are_redacted_in_the_journal() -> None:
    with edenfake.mock() as eden, httpx.Client(headers=AUTH) as c:
        r = c.post(f"{EDEN}/v3/images/generations", json={**BODY, "extra_headers": {"X-Api-Key": "sk-live"}})
        assert r.status_code == 422
    assert eden.calls.last.json["extra_headers"] == {"X-Api-Key": "***"}
    assert "sk-live" not in repr(list(eden.calls))


def test_concurrent_requests_from_threads_are_all_journalled() -> None:
    with edenfake.mock() as eden:

        def worker(i: int) -> None:
            with httpx2.Client(headers=AUTH) as c:
                for j in range(10):
                    c.post(f"{EDEN}/v3/images/generations", json={**BODY, "prompt": f"{i}-{j}"})

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert eden.calls.count == 80
    assert {c.prompt for c in eden.calls} == {f"{i}-{j}" for i in range(8) for j in range(10)}


def test_the_journal_is_bounded_and_counts_what_it_dropped() -> None:
    with edenfake.mock(journal_size=3) as eden, httpx.Client(headers=AUTH) as c:
        for i in range(5):
            c.post(f"{EDEN}/v3/images/generations", json={**BODY, "prompt": str(i)})
    assert [call.prompt for call in eden.calls] == ["2", "3", "4"]
    assert eden.calls.dropped == 2
    assert [call.prompt for call in eden.calls[-2:]] == ["3", "4"] and eden.calls[0].prompt == "2"


# -- what the openai SDK's retries cost -------------------------------------------------------------------


def test_a_refused_size_is_one_request_with_the_sdks_default_retries() -> None:
    with edenfake.mock() as eden:
        started = time.perf_counter()
        with pytest.raises(openai.BadRequestError) as info:
            sdk().images.generate(model="openai/dall-e-3", prompt="a fox", size="640x480")  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
    assert info.value.body["param"] == "size"  # type: ignore[index]
    assert eden.calls.count == 1  # a 400 is not retried
    assert elapsed < 0.5  # a 5xx would have cost the SDK's backoff, over a second


def test_retry_after_zero_makes_the_sdks_retries_immediate() -> None:
    with edenfake.mock() as eden:
        eden.fail(502, times=2, retry_after=0)
        started = time.perf_counter()
        result = sdk().images.generate(model="openai/gpt-image-1", prompt="a fox", quality="low")
        elapsed = time.perf_counter() - started
    assert len(result.data or []) == 1
    assert [c.status for c in eden.calls] == [502, 502, 200]
    assert elapsed < 0.5  # without retry-after-ms the SDK backs off about 1.4 s over two retries


def test_a_fault_matching_a_field_no_request_has_is_refused_naming_the_closest() -> None:
    from starlette.testclient import TestClient

    fake = edenfake.EdenFake()
    with pytest.raises(ValueError, match="unknown request field 'modle'; did you mean 'model'"):
        fake.fail(500, match={"modle": "openai/dall-e-3"})
    fake.fail(500, match={"model": "openai/dall-e-3", "n": 2, "path": "/v3/images/generations"})  # known: fine
    with TestClient(edenfake.create_app(fake), headers=AUTH) as c:
        r = c.post("/_edenfake/faults", json={"fail": 500, "match": {"promt": "x"}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "match"]
    assert "did you mean 'prompt'" in r.json()["detail"][0]["msg"]


def test_a_call_names_its_error_code() -> None:
    with edenfake.mock() as eden, httpx.Client(headers=AUTH) as client:
        client.post(f"{EDEN}/v3/images/generations", json=BODY)
        client.post(f"{EDEN}/v3/images/generations", json={**BODY, "model": "openai/nope"})
        eden.fail(429)
        client.post(f"{EDEN}/v3/images/generations", json=BODY)
    assert [c.error_code for c in eden.calls] == [None, "INVALID_MODEL", "RATE_LIMITED"]


def test_a_fully_qualified_host_with_its_trailing_dot_is_routed_not_sent_to_the_network() -> None:
    requests = pytest.importorskip("requests")
    body = {"model": "openai/gpt-image-1", "prompt": "x", "quality": "low"}
    with edenfake.mock(base_urls=["https://gateway.test./eden"]) as eden:
        assert httpx.post("https://api.edenai.run./v3/images/generations", json=body, headers=AUTH).status_code == 200
        url = "https://API.edenai.run.:443/v3/images/generations"
        assert requests.post(url, json=body, headers=AUTH).status_code == 200
        assert httpx.post("https://gateway.test/eden/v3/images/generations", json=body, headers=AUTH).status_code == 200
    assert len(eden.calls) == 3


@pytest.mark.parametrize("base_url", ["ftp://x", "not a url", "https://", "http://.", "https://a b/v3"])
def test_a_base_url_that_can_never_match_is_refused(base_url: str) -> None:
    with pytest.raises(ValueError, match=r"not a base URL \(http:// or https:// and a host name\)"):
        edenfake.mock(base_urls=[base_url])
