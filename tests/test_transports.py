"""The explicit doors: ``transport()``, ``async_transport()`` (httpx, httpx2) and ``requests_adapter()`` answer from
a fake with nothing patched, on a mock that never started, on a bare ``Handle``, and beside an active mock; and
requests and aiohttp cost ``import edenfake`` nothing, and are routed when imported after a mock started."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import httpx2
import pytest
import requests
import requests.adapters

import edenfake
from tests.helpers import AUTH, FROZEN, png, run_python

EDEN = "https://api.edenai.run"
BODY = {"model": "openai/gpt-image-1", "prompt": "a red fox", "quality": "low"}


def test_transport_answers_an_httpx_client_with_no_mock_active() -> None:
    eden = edenfake.mock(clock=FROZEN)  # made, never started: nothing is patched
    transport = eden.transport()
    assert isinstance(transport, httpx.BaseTransport)
    with httpx.Client(transport=transport, base_url=f"{EDEN}/v3", headers=AUTH) as c:
        r = c.post("/images/generations", json=BODY)
    assert r.status_code == 200 and r.json()["created"] == FROZEN
    assert eden.calls.last.prompt == "a red fox"
    with httpx.Client(headers=AUTH) as plain, pytest.raises(httpx.ConnectError):
        plain.post("http://127.0.0.1:9/v3/images/generations", json=BODY)  # nothing else is routed


def test_a_bare_handle_answers_any_host_and_a_mock_strips_its_gateway_prefix() -> None:
    handle = edenfake.Handle(edenfake.EdenFake(clock=FROZEN))
    with httpx.Client(transport=handle.transport(), headers=AUTH) as c:
        assert c.post("http://anything.internal/v3/images/generations", json=BODY).status_code == 200
    assert handle.calls.last.path == "/v3/images/generations"
    gateway = edenfake.mock(base_urls=["http://gateway.test/eden"])
    with httpx.Client(transport=gateway.transport(), headers=AUTH) as c:
        assert c.post("http://gateway.test/eden/v3/images/generations", json=BODY).status_code == 200
    assert gateway.calls.last.path == "/v3/images/generations"


def test_httpx2_transports_on_request() -> None:
    eden = edenfake.mock()
    transport = eden.transport(library="httpx2")
    assert isinstance(transport, httpx2.BaseTransport)
    with httpx2.Client(transport=transport, headers=AUTH) as c:
        assert c.post(f"{EDEN}/v3/images/generations", json=BODY).status_code == 200
    with pytest.raises(ValueError, match="library must be 'httpx' or 'httpx2', got 'requests'"):
        eden.transport(library="requests")  # type: ignore[call-overload]


@pytest.mark.parametrize("library", ["httpx", "httpx2"])
async def test_async_transports(library: str) -> None:
    module: Any = httpx if library == "httpx" else httpx2
    eden = edenfake.mock()
    transport = eden.async_transport(library=library)  # type: ignore[call-overload]
    assert isinstance(transport, module.AsyncBaseTransport)
    async with module.AsyncClient(transport=transport, headers=AUTH) as c:
        r = await c.post(
            f"{EDEN}/v3/images/edits",
            data={"model": "openai/gpt-image-1", "prompt": "x"},
            files={"image": ("fox.png", png(), "image/png")},
        )
        assert r.status_code == 200
        eden.fail("timeout")
        with pytest.raises(module.ReadTimeout):
            await c.post(f"{EDEN}/v3/images/generations", json=BODY)
    assert [c.status for c in eden.calls] == [200, 0]


def test_requests_adapter_mounted_on_a_session() -> None:
    eden = edenfake.mock(clock=FROZEN)
    adapter = eden.requests_adapter()
    assert isinstance(adapter, requests.adapters.HTTPAdapter)
    with requests.Session() as s:
        s.mount(EDEN, adapter)
        r = s.post(f"{EDEN}/v3/images/generations", json=BODY, headers=AUTH)
        assert r.status_code == 200 and r.json()["created"] == FROZEN
        eden.fail("disconnect")
        with pytest.raises(requests.ConnectionError):
            s.post(f"{EDEN}/v3/images/generations", json=BODY, headers=AUTH)
    assert eden.calls.count == 2


def test_an_explicit_door_keeps_its_own_fake_while_a_mock_is_active() -> None:
    mine = edenfake.mock()
    with (
        edenfake.mock() as active,
        httpx.Client(transport=mine.transport(), headers=AUTH) as c,
        requests.Session() as s,
    ):
        s.mount(EDEN, mine.requests_adapter())
        assert c.post(f"{EDEN}/v3/images/generations", json=BODY).status_code == 200
        assert s.post(f"{EDEN}/v3/images/generations", json=BODY, headers=AUTH).status_code == 200
        assert httpx.post(f"{EDEN}/v3/images/generations", json=BODY, headers=AUTH).status_code == 200
    assert (mine.calls.count, active.calls.count) == (2, 1)


def test_import_edenfake_and_a_mock_import_neither_requests_nor_aiohttp_which_are_routed_once_imported() -> None:
    code = """
import json, sys
import edenfake
eden = edenfake.mock().start()
before = sorted(m for m in ("requests", "aiohttp") if m in sys.modules)
import requests
r = requests.post("https://api.edenai.run/v3/images/generations", json={"model": "openai/gpt-image-1",
                  "prompt": "x", "quality": "low"}, headers={"Authorization": "Bearer t"})
import asyncio, aiohttp
async def post():
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer t"}) as session:
        async with session.get("https://api.edenai.run/v3/images/models") as answer:
            return answer.status
status = asyncio.run(post())
eden.stop()
print(json.dumps({"before": before, "requests": r.status_code, "aiohttp": status, "calls": eden.calls.count,
                  "watching": any(type(f).__name__ == "_ImportWatch" for f in sys.meta_path)}))
"""
    done = run_python("-c", code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == {"before": [], "requests": 200, "aiohttp": 200, "calls": 2, "watching": False}


@pytest.mark.parametrize("library", ["httpx", "httpx2"])
def test_latency_over_the_read_timeout_is_the_clients_read_timeout(library: str) -> None:
    module: Any = httpx if library == "httpx" else httpx2
    with edenfake.mock() as eden:
        eden.latency(0.4)
        slow = r"latency \(0\.4 s\) is over the read timeout \(0\.05 s\)"
        client = module.Client(headers=AUTH, timeout=module.Timeout(5.0, read=0.05))
        with client as c, pytest.raises(module.ReadTimeout, match=slow):
            c.post(f"{EDEN}/v3/images/generations", json=BODY)
        with module.Client(headers=AUTH, timeout=5.0) as c:  # a longer timeout waits for the answer
            assert c.post(f"{EDEN}/v3/images/generations", json=BODY).status_code == 200
        for odd in (math.nan, -1.0, math.inf):  # no timeout a client could wait for: the answer comes in full
            with module.Client(headers=AUTH, timeout=module.Timeout(5.0, read=odd)) as c:
                assert c.post(f"{EDEN}/v3/images/generations", json=BODY).status_code == 200


@pytest.mark.parametrize("library", ["httpx", "httpx2"])
async def test_latency_over_the_read_timeout_of_an_async_client(library: str) -> None:
    module: Any = httpx if library == "httpx" else httpx2
    with edenfake.mock() as eden:
        eden.latency(0.4)
        async with module.AsyncClient(headers=AUTH, timeout=module.Timeout(5.0, read=0.05)) as c:
            with pytest.raises(module.ReadTimeout):
                await c.post(f"{EDEN}/v3/images/generations", json=BODY)


def test_latency_over_the_sdks_timeout_is_its_api_timeout_error() -> None:
    openai = pytest.importorskip("openai")
    with edenfake.mock() as eden:
        eden.latency(0.4)
        client = openai.OpenAI(api_key="t", base_url=f"{EDEN}/v3", max_retries=0, timeout=0.05)
        with pytest.raises(openai.APITimeoutError):
            client.images.generate(model="openai/gpt-image-1", prompt="x", quality="low")
