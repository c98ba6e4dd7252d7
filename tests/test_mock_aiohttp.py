"""aiohttp through the in-process mock: JSON and FormData bodies, the answer read every way, raise_for_status,
faults as aiohttp's own exceptions under its timeouts, latency that leaves the loop free, heavy answers off the
loop, passthrough, refusal, aioresponses used beside it for another host (started before or after), nested
mocks, and the fixture (requests through it too)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.metadata
import threading
from typing import Any
from unittest import mock

import aiohttp
import httpx
import pytest
from aioresponses import aioresponses

import edenfake
from edenfake import EdenFake, FakeRequest, FakeResponse
from tests.helpers import AUTH, FROZEN, MASK, journal_entry, png, run_pytest

EDEN = "https://api.edenai.run"
GENERATE = f"{EDEN}/v3/images/generations"
EDIT = f"{EDEN}/v3/images/edits"
UPLOAD = f"{EDEN}/v3/upload"
BODY = {"model": "openai/gpt-image-1", "prompt": "a red fox", "quality": "low"}


def edit_form(fields: dict[str, str]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("image", png(), filename="fox.png", content_type="image/png")
    form.add_field("mask", MASK, filename="mask.png", content_type="image/png")
    return form


async def test_a_session_reaches_the_fake_and_reads_the_answer_every_way() -> None:
    async with edenfake.mock(clock=FROZEN) as eden, aiohttp.ClientSession(headers=AUTH) as session:
        async with session.post(GENERATE, json=BODY) as r:
            assert r.status == 200 and r.headers["content-type"] == "application/json"
            assert (await r.json())["created"] == FROZEN
        async with session.get(f"{EDEN}/v3/images/models") as r:
            text = await r.text()
            assert r.status == 200 and text.startswith("{") and (await r.read()).decode() == text
        r = await session.post(GENERATE, json={**BODY, "prompt": "a blue fox"})  # without `async with`
        assert len((await r.json())["data"]) == 1
    assert [c.prompt for c in eden.calls] == ["a red fox", None, "a blue fox"]
    assert eden.calls[0].headers["authorization"] == "Bearer ***"


async def test_a_session_made_before_the_mock_is_routed() -> None:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with edenfake.mock() as eden, session.post(GENERATE, json=BODY) as r:
            assert r.status == 200
        assert eden.calls.count == 1


async def test_formdata_edits_and_uploads_and_the_same_journal_as_httpx() -> None:
    fields = {"model": "openai/gpt-image-1", "prompt": "add a hat", "n": "2"}
    entries = []
    for send in ("httpx", "aiohttp"):
        async with edenfake.mock(clock=FROZEN) as eden:
            if send == "httpx":
                files = [("image", ("fox.png", png(), "image/png")), ("mask", ("mask.png", MASK, "image/png"))]
                async with httpx.AsyncClient(headers=AUTH) as c:
                    await c.post(GENERATE, json=BODY)
                    await c.post(EDIT, data=fields, files=files)
                    await c.post(
                        UPLOAD, files={"file": ("fox.png", png(), "image/png")}, data={"purpose": "image-edit"}
                    )
            else:
                async with aiohttp.ClientSession(headers=AUTH) as session:
                    await (await session.post(GENERATE, json=BODY)).read()
                    async with session.post(EDIT, data=edit_form(fields)) as r:
                        assert r.status == 200 and len((await r.json())["data"]) == 2
                    upload = aiohttp.FormData({"purpose": "image-edit"})
                    upload.add_field("file", png(), filename="fox.png", content_type="image/png")
                    async with session.post(UPLOAD, data=upload) as r:
                        assert r.status == 200 and (await r.json())["file_name"] == "fox.png"
            entries.append([journal_entry(c) for c in eden.calls])
    assert [e["status"] for e in entries[1]] == [200, 200, 200]
    assert entries[0] == entries[1]


async def test_errors_raise_for_status_as_client_response_error() -> None:
    async with edenfake.mock(), aiohttp.ClientSession(headers=AUTH) as session:
        async with session.post(GENERATE, json={**BODY, "prompt": ""}) as r:
            assert r.status == 422 and (await r.json())["detail"][0]["loc"] == ["body", "prompt"]
            with pytest.raises(aiohttp.ClientResponseError) as info:
                r.raise_for_status()
        assert info.value.status == 422
        with pytest.raises(aiohttp.ClientResponseError) as refused:
            async with session.post(GENERATE, json=BODY, headers={"Authorization": ""}, raise_for_status=True):
                pass
        assert refused.value.status == 401


async def test_faults_raise_aiohttps_own_exceptions() -> None:
    async with edenfake.mock() as eden, aiohttp.ClientSession(headers=AUTH) as session:
        eden.fail(503)
        async with session.post(GENERATE, json=BODY) as r:
            assert r.status == 503
        eden.fail("disconnect")
        with pytest.raises(aiohttp.ServerDisconnectedError) as dropped:
            await session.post(GENERATE, json=BODY)
        assert isinstance(dropped.value, aiohttp.ClientError)
        eden.fail("timeout")  # aiohttp's default timeout (5 minutes): the timeout comes at once
        with pytest.raises(asyncio.TimeoutError) as timed_out:
            await session.post(GENERATE, json=BODY)
        assert isinstance(timed_out.value, aiohttp.ServerTimeoutError)
    assert [c.fault for c in eden.calls] == ["503", "disconnect", "timeout"]


async def test_the_clients_timeouts_fire_while_the_fake_holds_the_answer() -> None:
    short = aiohttp.ClientTimeout(total=0.2)
    async with edenfake.mock() as eden:
        async with aiohttp.ClientSession(headers=AUTH, timeout=aiohttp.ClientTimeout(sock_read=0.1)) as session:
            eden.fail("timeout", hang=30)  # held: the session's read timeout fires first
            with pytest.raises(asyncio.TimeoutError):
                await session.post(GENERATE, json=BODY)
        async with aiohttp.ClientSession(headers=AUTH) as session:
            eden.fail("timeout", hang=30)
            with pytest.raises(asyncio.TimeoutError):
                await session.post(GENERATE, json=BODY, timeout=short)  # the request's own
            eden.latency(5)  # an answer later than the client waits is a timeout too
            with pytest.raises(asyncio.TimeoutError):
                await session.post(GENERATE, json=BODY, timeout=short)
    assert eden.calls.count == 3


async def test_latency_leaves_the_loop_free() -> None:
    ticks: list[int] = []

    async def ticker() -> None:
        while True:
            ticks.append(1)
            await asyncio.sleep(0.01)

    async with edenfake.mock(latency=0.2), aiohttp.ClientSession(headers=AUTH) as session:
        task = asyncio.get_running_loop().create_task(ticker())
        await asyncio.sleep(0)
        before = len(ticks)
        async with session.post(GENERATE, json=BODY) as r:
            during = len(ticks) - before
            assert r.status == 200
        task.cancel()
    assert during >= 3  # the ticker ran while the answer was held back


async def test_heavy_answers_are_worked_out_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    answer = EdenFake.answer

    def recording(self: EdenFake, request: FakeRequest) -> FakeResponse:
        threads.append(threading.current_thread().name)
        return answer(self, request)

    monkeypatch.setattr(EdenFake, "answer", recording)
    async with edenfake.mock(), aiohttp.ClientSession(headers=AUTH) as session:
        await (await session.post(GENERATE, json=BODY)).read()  # quick: on the loop
        await (await session.post(EDIT, data=edit_form({"model": "openai/gpt-image-1", "prompt": "x"}))).read()
    main = threading.current_thread().name
    assert threads[0] == main and threads[1] != main


async def _aioresponses_works() -> bool:
    with aioresponses() as probe:
        probe.get("http://probe.example/")
        try:
            async with aiohttp.ClientSession() as session:
                await session.get("http://probe.example/")
        except TypeError:  # aioresponses 0.7.9 builds ClientResponse without aiohttp 3.14's stream_writer
            return False
    return True


@pytest.fixture
async def aioresponses_or_skip() -> None:
    if not await _aioresponses_works():
        pytest.skip(
            f"aioresponses {importlib.metadata.version('aioresponses')} does not work with aiohttp "
            f"{aiohttp.__version__} (it builds ClientResponse without stream_writer)"
        )


@contextlib.asynccontextmanager
async def plain_server(body: bytes) -> Any:
    """A server on 127.0.0.1 answering ``body`` to every request: the address, for a request that goes out."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def test_other_hosts_go_out_or_are_refused() -> None:
    async with (
        plain_server(b"pong") as address,
        edenfake.mock() as eden,
        aiohttp.ClientSession(headers=AUTH) as session,
    ):
        async with session.get(f"{address}/ping") as r:
            assert await r.text() == "pong"
        async with session.post(GENERATE, json=BODY) as r:
            assert r.status == 200
    assert eden.calls.count == 1
    async with edenfake.mock(assert_all_mocked=True), aiohttp.ClientSession() as session:
        with pytest.raises(AssertionError, match=r"assert_all_mocked=True\): a request to http://127.0.0.1:9/"):
            await session.get("http://127.0.0.1:9/")


async def test_a_replaced_request_method_keeps_other_hosts_and_leaves_eden_to_the_fake() -> None:
    """What aioresponses does (``ClientSession._request`` patched, every URL refused that it has no answer for),
    with a stand-in, so that it runs on every aiohttp."""

    async def refuse(session: Any, method: str, url: Any, **kwargs: Any) -> Any:
        raise aiohttp.ClientConnectionError(f"Connection refused: {method} {url}")

    async with edenfake.mock() as eden, aiohttp.ClientSession(headers=AUTH) as session:
        with mock.patch("aiohttp.client.ClientSession._request", side_effect=refuse, autospec=True):
            for send in (session.post, functools.partial(session.request, "POST")):
                async with send(GENERATE, json=BODY) as r:
                    assert r.status == 200
            with pytest.raises(aiohttp.ClientConnectionError, match="Connection refused: GET"):
                await session.get("https://other.example/")
    assert eden.calls.count == 2


@pytest.mark.usefixtures("aioresponses_or_skip")
async def test_aioresponses_beside_the_mock_in_either_order() -> None:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with edenfake.mock() as eden:
            with aioresponses() as other:  # started inside the mock
                other.post("https://api.other.example/v1/chat", payload={"ok": True})
                async with session.post("https://api.other.example/v1/chat") as r:
                    assert await r.json() == {"ok": True}
                async with session.post(GENERATE, json=BODY) as r:
                    assert r.status == 200
                with pytest.raises(aiohttp.ClientConnectionError):
                    await session.get("https://unregistered.example/")  # aioresponses' own refusal
        with aioresponses() as other:  # started before the mock
            other.get("http://other.example/ping", body="pong")
            async with edenfake.mock() as second:
                async with session.get("http://other.example/ping") as r:
                    assert await r.text() == "pong"
                async with session.post(GENERATE, json=BODY) as r:
                    assert r.status == 200
    assert (eden.calls.count, second.calls.count) == (1, 1)


async def test_nested_mocks_the_newest_that_takes_the_host_wins() -> None:
    gateway = "http://gateway.test/eden/v3/images/generations"
    async with aiohttp.ClientSession(headers=AUTH) as session, edenfake.mock() as outer:
        async with edenfake.mock(base_urls=["http://gateway.test/eden"]) as inner:
            await (await session.post(GENERATE, json=BODY)).read()
            await (await session.post(gateway, json=BODY)).read()
        await (await session.post(GENERATE, json=BODY)).read()
    assert (inner.calls.count, outer.calls.count) == (2, 1)
    assert [c.path for c in inner.calls] == ["/v3/images/generations"] * 2
    assert aiohttp.TCPConnector._create_connection.__qualname__ == "TCPConnector._create_connection"


def test_the_fixture_routes_aiohttp_and_requests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import asyncio, aiohttp, pytest, requests

        URL = "https://api.edenai.run/v3/images/generations"
        AUTH = {"Authorization": "Bearer t"}
        BODY = {"model": "openai/gpt-image-1", "prompt": "x", "quality": "low"}
        SESSION = requests.Session()  # made at import, before any fixture

        async def post(**kwargs):
            async with aiohttp.ClientSession(headers=AUTH) as session:
                async with session.post(URL, json=BODY, **kwargs) as r:
                    return r.status

        @pytest.mark.edenfake(credits=0.022)
        def test_generate(edenfake):
            assert asyncio.run(post()) == 200
            assert SESSION.post(URL, json=BODY, headers=AUTH).status_code == 200
            assert requests.post(URL, json=BODY, headers=AUTH).status_code == 402
            assert asyncio.run(post()) == 402
            assert edenfake.calls.count == 4

        def test_faults(edenfake):
            edenfake.fail("disconnect")
            with pytest.raises(aiohttp.ServerDisconnectedError):
                asyncio.run(post())
            edenfake.fail("timeout")
            with pytest.raises(requests.Timeout):
                requests.post(URL, json=BODY, headers=AUTH)
        """
    )
    result = run_pytest(pytester)
    result.assert_outcomes(passed=2)


async def test_chunked_and_expect_continue_requests_head_and_a_streamed_answer() -> None:
    async def pieces() -> Any:
        yield b'{"model": "openai/gpt-image-1", '
        yield b'"prompt": "in pieces", "quality": "low"}'

    async with edenfake.mock() as eden, aiohttp.ClientSession(headers=AUTH) as session:
        async with session.post(GENERATE, data=pieces(), headers={"content-type": "application/json"}) as r:
            assert r.status == 200  # sent chunked: no length known beforehand
        async with session.post(GENERATE, json=BODY, expect100=True) as r:
            assert r.status == 200  # the body went once the fake said 100 Continue
        async with session.head(f"{EDEN}/v3/images/models") as r:
            assert r.status == 200 and int(r.headers["content-length"]) > 0 and await r.read() == b""
        async with session.post(GENERATE, json=BODY) as r:
            streamed = b"".join([chunk async for chunk in r.content.iter_chunked(1024)])
            assert len(streamed) == int(r.headers["content-length"]) and streamed.startswith(b'{"data":[')
    assert [c.prompt for c in eden.calls][:2] == ["in pieces", "a red fox"]
