"""``edenfake.serve()``: a real server on 127.0.0.1 for clients that are not httpx, with the mock's controls."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import httpx
import openai
import pytest

import edenfake
from edenfake import EdenFake
from edenfake.server import LiveServer
from tests.conftest import SDK_ERRORS
from tests.helpers import AUTH

BODY = {"model": "openai/gpt-image-1", "prompt": "a red fox", "quality": "low"}


def post(url: str, body: dict[str, Any], *, timeout: float = 10) -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={**AUTH, "Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())


def test_serve_binds_loopback_on_a_free_port_and_answers_plain_urllib() -> None:
    with edenfake.serve(clock=1234) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.base_url == server.url + "/v3"
        status, _, body = post(server.base_url + "/images/generations", BODY)
        assert status == 200 and body["created"] == 1234
        assert server.calls.last.prompt == "a red fox"
    with pytest.raises(urllib.error.URLError):  # stopped: nothing listens any more
        post(server.base_url + "/images/generations", BODY, timeout=2)


def test_the_openai_sdk_against_the_live_server_with_a_retried_429() -> None:
    with edenfake.serve() as server:
        server.fail(429, times=1, retry_after=0.05)
        with openai.OpenAI(api_key="test-token", base_url=server.base_url, max_retries=1) as client:
            result = client.images.generate(model="openai/dall-e-2", prompt="a boat", size="256x256")
        assert result.data[0].url is not None
        image = httpx.get(result.data[0].url)
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert [c.status for c in server.calls] == [429, 200]


async def test_the_async_sdk_times_out_on_an_injected_timeout() -> None:
    # The server holds the hung request for the fault's whole 30 s; the client gives up long before, and leaving
    # the block cuts the hold short instead of waiting for it.
    with edenfake.serve() as server:
        async with openai.AsyncOpenAI(api_key="t", base_url=server.base_url, max_retries=0, timeout=1.0) as client:
            # one answer first: the fake's first request loads its contracts, which a loaded machine may take
            # longer than the client's timeout over; the fault must meet a request that has arrived
            await client.images.generate(model="openai/gpt-image-1", prompt="x", quality="low")
            server.fail("timeout", hang=30)
            started = time.perf_counter()
            with pytest.raises(openai.APITimeoutError):
                await client.images.generate(model="openai/gpt-image-1", prompt="x")
    assert time.perf_counter() - started < 10


def test_a_dropped_connection_is_a_connection_error_and_the_server_goes_on() -> None:
    with edenfake.serve() as server, httpx.Client(headers=AUTH) as c:
        server.fail("disconnect")
        with pytest.raises(httpx.RemoteProtocolError):
            c.post(server.base_url + "/images/generations", json=BODY)
        assert c.post(server.base_url + "/images/generations", json=BODY).status_code == 200


def test_latency_is_added_on_the_wire() -> None:
    with edenfake.serve(latency=0.2) as server:
        started = time.perf_counter()
        status, _, _ = post(server.base_url + "/images/generations", BODY)
        assert status == 200 and time.perf_counter() - started >= 0.2


def test_concurrent_requests_from_threads_are_all_journalled() -> None:
    with edenfake.serve() as server:
        errors: list[BaseException] = []

        def worker(i: int) -> None:
            try:
                with httpx.Client(headers=AUTH) as c:
                    for j in range(10):
                        r = c.post(server.base_url + "/images/generations", json={**BODY, "prompt": f"{i}-{j}"})
                        assert r.status_code == 200
            except BaseException as exc:  # collected: a thread's failure must fail the test
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors
        assert server.calls.count == 60
        assert {c.prompt for c in server.calls} == {f"{i}-{j}" for i in range(6) for j in range(10)}


def test_an_unused_fault_fails_the_block() -> None:
    with pytest.raises(AssertionError, match="never answered"), edenfake.serve() as server:
        server.fail(503)


def test_the_server_and_the_mock_give_the_same_answer() -> None:
    with edenfake.serve(clock=7) as server:
        over_wire = httpx.post(server.base_url + "/images/generations", json=BODY, headers=AUTH).json()
    with edenfake.mock(clock=7):
        in_process = httpx.post("https://api.edenai.run/v3/images/generations", json=BODY, headers=AUTH).json()
    assert over_wire == in_process


def test_live_server_start_stop_is_clean() -> None:
    server = LiveServer(EdenFake()).start()
    try:
        assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    finally:
        server.stop()
    assert not server._thread.is_alive()


@pytest.mark.parametrize(("status", "error"), SDK_ERRORS)
def test_faults_over_the_wire_reach_the_sdk_as_its_exception_classes(status: int, error: type[Exception]) -> None:
    with edenfake.serve() as server:
        server.fail(status)
        with (
            openai.OpenAI(api_key="t", base_url=server.base_url, max_retries=0) as client,
            pytest.raises(error) as info,
        ):
            client.images.generate(model="openai/gpt-image-1", prompt="x")
        assert getattr(info.value, "status_code", None) == status


async def test_async_sdk_and_httpx2_against_the_live_server() -> None:
    import httpx2

    with edenfake.serve() as server:
        server.fail(503, times=2, retry_after=0)
        async with openai.AsyncOpenAI(api_key="t", base_url=server.base_url, max_retries=3) as client:
            result = await client.images.generate(model="openai/gpt-image-1", prompt="a fox", n=3)
        assert len(result.data) == 3
        async with httpx2.AsyncClient(headers=AUTH) as c:
            r = await c.post(server.base_url + "/images/generations", json={**BODY, "n": 11})
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "n"]
        assert [c.status for c in server.calls] == [503, 503, 200, 422]


def test_kept_alive_connections_are_not_held_by_delayed_acks_without_uvloop() -> None:
    # A plain `pip install edenfake` has no uvloop: asyncio sets TCP_NODELAY only on sockets whose protocol is
    # IPPROTO_TCP. Without it each answer on a kept-alive connection waits ~40 ms for the client's delayed ACK.
    import http.client
    import socket
    import statistics

    server = LiveServer(EdenFake(), loop="asyncio", http="h11").start()
    try:
        assert server._sock.proto == socket.IPPROTO_TCP
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        body = json.dumps(BODY)
        headers = {**AUTH, "Content-Type": "application/json"}
        times = []
        for _ in range(21):
            started = time.perf_counter()
            conn.request("POST", "/v3/images/generations", body, headers)
            assert conn.getresponse().read()
            times.append(time.perf_counter() - started)
        conn.close()
    finally:
        server.stop()
    assert statistics.median(times[1:]) < 0.02  # ~0.001 s here; 0.04 s with the delayed-ACK stall


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "::"])
def test_serving_beyond_loopback_without_an_admin_token_warns_from_python_too(host: str) -> None:
    # The check itself, given the address a socket got: tests bind loopback alone.
    from edenfake.server import warn_beyond_loopback

    with pytest.warns(UserWarning, match=rf"listening on {host}, beyond this machine: .* port 8080 .*admin_token="):
        warn_beyond_loopback(EdenFake(), host, 8080)


def test_loopback_or_an_admin_token_needs_no_warning(recwarn: pytest.WarningsRecorder) -> None:
    from edenfake.server import warn_beyond_loopback

    warn_beyond_loopback(EdenFake(), "127.0.0.1", 8080)
    warn_beyond_loopback(EdenFake(), "::1", 8080)
    warn_beyond_loopback(EdenFake(admin_token="a-token"), "0.0.0.0", 8080)
    with edenfake.serve() as server:
        assert server.host == "127.0.0.1"
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]
