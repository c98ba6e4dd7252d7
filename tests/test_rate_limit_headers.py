"""Rate-limit headers: while a rate limit is set, every /v3 answer (successes and errors, not the admin routes)
carries X-RateLimit-Limit (requests per second), X-RateLimit-Remaining (left after this request) and
X-RateLimit-Reset (the Unix second, rounded up, at which the token's window is empty again), consistent with a
429's Retry-After and ``retry_after``, on the fake's clock. Without a limit, none of them. And the catalog's
``error_shapes``, which chooses the 429 and 402 bodies other pages of Eden's docs give."""

from __future__ import annotations

import math
from typing import Any

import httpx
import openai
import pytest

import edenfake
from edenfake import EdenFake, contracts
from edenfake.catalog import Catalog
from edenfake.errors import CatalogError
from tests.helpers import AUTH, FROZEN, cli_running

EDEN = "https://api.edenai.run/v3"
BODY: dict[str, Any] = {"model": "openai/gpt-image-1", "prompt": "a red fox", "quality": "low"}
GENERATIONS = f"{EDEN}/images/generations"
NAMES = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
#: a clock half-way through a second, so that rounding up shows
NOW = FROZEN + 0.25


def _window(r: httpx.Response) -> tuple[int, int, int]:
    limit, remaining, reset = (int(r.headers[name]) for name in NAMES)
    return limit, remaining, reset


def test_without_a_limit_no_answer_carries_the_headers() -> None:
    with edenfake.mock(clock=NOW) as eden, httpx.Client() as client:
        answers = [
            client.post(GENERATIONS, json=BODY, headers=AUTH),
            client.post(GENERATIONS, json={"prompt": "no model"}, headers=AUTH),
            client.post(GENERATIONS, json=BODY),
        ]
        eden.fail(429)
        answers.append(client.post(GENERATIONS, json=BODY, headers=AUTH))
        assert [r.status_code for r in answers] == [200, 422, 401, 429]
        for r in answers:
            assert not [name for name in r.headers if name.startswith("x-ratelimit")], r.headers


def test_remaining_steps_down_and_the_429_agrees_with_it() -> None:
    with edenfake.mock(clock=NOW, rate_limit=3) as eden, httpx.Client(headers=AUTH) as client:
        answers = [client.post(GENERATIONS, json=BODY) for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        reset = math.ceil(NOW + 1)
        assert [_window(r) for r in answers] == [(3, 2, reset), (3, 1, reset), (3, 0, reset), (3, 0, reset)]
        refused = answers[-1]
        retry_after = refused.json()["retry_after"]
        assert retry_after == 1.0 and refused.headers["retry-after"] == "1"
        assert _window(refused)[2] >= NOW + retry_after  # the window is not said to reset before the retry
        # A second later the window is empty again, as Reset said.
        eden.clock.advance(1.0)
        assert _window(client.post(GENERATIONS, json=BODY)) == (3, 2, math.ceil(NOW + 2))


def test_the_window_slides_reset_follows_the_newest_request_and_retry_after_the_oldest() -> None:
    with edenfake.mock(clock=NOW, rate_limit=2) as eden, httpx.Client(headers=AUTH) as client:
        assert _window(client.post(GENERATIONS, json=BODY)) == (2, 1, math.ceil(NOW + 1))
        eden.clock.advance(0.5)
        assert _window(client.post(GENERATIONS, json=BODY)) == (2, 0, math.ceil(NOW + 1.5))
        eden.clock.advance(0.25)
        refused = client.post(GENERATIONS, json=BODY)
        assert refused.status_code == 429
        assert refused.json()["retry_after"] == 0.25  # the first request leaves the window at NOW + 1
        assert _window(refused) == (2, 0, math.ceil(NOW + 1.5))
        eden.clock.advance(0.25)  # the first request has left: one place
        assert _window(client.post(GENERATIONS, json=BODY)) == (2, 0, math.ceil(NOW + 2))


def test_errors_carry_the_headers_and_a_request_the_limiter_did_not_count_reports_the_window_as_it_stands() -> None:
    with edenfake.mock(clock=NOW, rate_limit=5) as eden, httpx.Client() as client:
        first = client.post(GENERATIONS, json=BODY, headers=AUTH)
        invalid = client.post(GENERATIONS, json={"prompt": "no model"}, headers=AUTH)  # counted, then refused
        assert (first.status_code, invalid.status_code) == (200, 422)
        assert _window(invalid)[:2] == (5, 3)
        unauthorised = client.post(GENERATIONS, json=BODY)  # no token: no account's window
        assert unauthorised.status_code == 401 and _window(unauthorised)[:2] == (5, 5)
        other = client.get(f"{EDEN}/images/models", headers={"Authorization": "Bearer someone-else"})
        assert other.status_code == 200 and _window(other)[:2] == (5, 4)  # each token its own window
        eden.fail(503)
        faulted = client.post(GENERATIONS, json=BODY, headers=AUTH)  # a fault answers before the limiter
        assert faulted.status_code == 503 and _window(faulted)[:2] == (5, 3)


def test_an_injected_429_says_none_remain_until_its_retry_after() -> None:
    with edenfake.mock(clock=NOW, rate_limit=5) as eden, httpx.Client(headers=AUTH) as client:
        eden.fail(429, retry_after=7.5)
        r = client.post(GENERATIONS, json=BODY)
        assert r.status_code == 429 and r.headers["retry-after"] == "8"
        limit, remaining, reset = _window(r)
        assert (limit, remaining) == (5, 0)
        assert reset == math.ceil(NOW + 7.5)


def test_the_admin_routes_never_carry_them() -> None:
    with edenfake.serve(clock=NOW, rate_limit=2) as server, httpx.Client(base_url=server.url, headers=AUTH) as c:
        for r in (c.get("/_edenfake/state"), c.get("/_edenfake/calls"), c.get("/healthz")):
            assert r.status_code == 200
            assert "x-ratelimit-limit" not in r.headers


def test_a_live_server_sets_the_limit_and_the_clock_over_the_admin_api() -> None:
    with edenfake.serve() as server, httpx.Client(base_url=server.url, headers=AUTH) as c:
        assert "x-ratelimit-limit" not in c.post("/v3/images/generations", json=BODY).headers
        assert c.put("/_edenfake/clock", json={"at": NOW}).status_code == 200
        assert c.put("/_edenfake/rate-limit", json={"per_second": 2}).status_code == 200
        answers = [c.post("/v3/images/generations", json=BODY) for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 429]
        assert [_window(r)[1] for r in answers] == [1, 0, 0]
        assert {_window(r)[2] for r in answers} == {math.ceil(NOW + 1)}
        head = c.head("/v3/images/models")  # a HEAD answer has its GET's headers
        assert head.status_code == 429 and head.headers["x-ratelimit-remaining"] == "0"
        assert c.put("/_edenfake/rate-limit", json={"per_second": None}).status_code == 200
        assert "x-ratelimit-limit" not in c.post("/v3/images/generations", json=BODY).headers


def test_the_openai_sdk_reads_them_on_an_answer_and_on_its_rate_limit_error() -> None:
    with edenfake.mock(clock=NOW, rate_limit=1):
        client = openai.OpenAI(api_key="test-token", base_url=EDEN, max_retries=0)
        raw = client.images.with_raw_response.generate(model="openai/gpt-image-1", prompt="a fox")
        assert raw.headers["x-ratelimit-limit"] == "1" and raw.headers["x-ratelimit-remaining"] == "0"
        with pytest.raises(openai.RateLimitError) as refused:
            client.images.generate(model="openai/gpt-image-1", prompt="a fox")
        headers = refused.value.response.headers
        assert headers["x-ratelimit-remaining"] == "0"
        assert int(headers["x-ratelimit-reset"]) >= NOW + float(headers["retry-after"]) - 1


# -- the other error shapes ---------------------------------------------------------------------------------


def _error_object_fake(**options: Any) -> EdenFake:
    return EdenFake(catalog=Catalog.from_data({"error_shapes": "error_object"}), clock=NOW, **options)


def test_error_object_shapes_give_eden_s_other_429_and_402_bodies_with_the_same_headers() -> None:
    # Every answer here is checked against the OpenAPI document too (tests/conftest.py), which takes both shapes.
    with edenfake.mock(_error_object_fake(rate_limit=1, credits=0.0)), httpx.Client(headers=AUTH) as client:
        poor = client.post(GENERATIONS, json=BODY)
        assert poor.status_code == 402
        assert poor.json() == {"error": "Insufficient credits"}
        limited = client.post(GENERATIONS, json=BODY)
        assert limited.status_code == 429
        assert limited.json() == {"error": {"code": 429, "message": "Rate limit exceeded"}}
        assert limited.headers["retry-after"] == "1" and limited.headers["x-ratelimit-remaining"] == "0"


def test_error_object_shapes_keep_a_fault_s_detail_and_leave_other_errors_alone() -> None:
    with edenfake.mock(_error_object_fake()) as eden, httpx.Client(headers=AUTH) as client:
        eden.fail(429, detail="Slow down", retry_after=2)
        eden.fail(402, detail="Top up your account")
        assert client.post(GENERATIONS, json=BODY).json() == {"error": {"code": 429, "message": "Slow down"}}
        assert client.post(GENERATIONS, json=BODY).json() == {"error": "Top up your account"}
        invalid = client.post(GENERATIONS, json={"prompt": "no model"})
        assert invalid.status_code == 422 and isinstance(invalid.json()["detail"], list)
        assert client.post(GENERATIONS, json=BODY, headers={"Authorization": ""}).json()["error_code"] == "UNAUTHORIZED"


def test_the_default_shapes_are_edenfake_s_and_an_unknown_shape_is_refused() -> None:
    with edenfake.mock(clock=NOW, credits=0.0) as eden, httpx.Client(headers=AUTH) as client:
        assert client.post(GENERATIONS, json=BODY).json()["error_code"] == "INSUFFICIENT_CREDIT"
        eden.fail(429)
        assert client.post(GENERATIONS, json=BODY).json()["error_code"] == "RATE_LIMITED"
    with pytest.raises(CatalogError, match="error_shapes"):
        Catalog.from_data({"error_shapes": "openai"})


def test_the_contract_takes_either_shape_of_a_429_and_a_402_and_nothing_else() -> None:
    path = "/v3/images/generations"
    for status, good in (
        (429, {"detail": "Rate limit exceeded", "error_code": "RATE_LIMITED", "retry_after": 1.0}),
        (429, {"error": {"code": 429, "message": "Rate limit exceeded"}}),
        (402, {"detail": "x", "error_code": "INSUFFICIENT_CREDIT", "required_credits": 1, "available_credits": 0}),
        (402, {"error": "Insufficient credits"}),
    ):
        assert contracts.exchange_violations("POST", path, status, good) == [], good
    for status, bad in (
        (429, {"detail": "slow down"}),
        (429, {"error": {"code": 503, "message": "x"}}),
        (402, {"error": 3}),
        (402, {"error": "x", "detail": "mixed"}),
    ):
        assert contracts.exchange_violations("POST", path, status, bad), bad


def test_edenfake_serve_rate_limit_sends_them() -> None:
    command = ("serve", "--port", "0", "--quiet", "--clock", str(NOW), "--rate-limit", "2")
    with cli_running(*command) as (_, url), httpx.Client(base_url=url, headers=AUTH) as c:
        answers = [c.post("/v3/images/generations", json=BODY) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    reset = math.ceil(NOW + 1)
    assert [_window(r) for r in answers] == [(2, 1, reset), (2, 0, reset), (2, 0, reset)]
