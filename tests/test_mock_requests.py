"""requests through the in-process mock: module functions and sessions (one made before the mock too), JSON,
multipart and streamed bodies, streamed answers, faults as requests' own exceptions, passthrough, refusal,
responses used beside it for another host, nested mocks (the fixture: tests/test_mock_aiohttp.py)."""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import httpx
import pytest
import requests
import requests.adapters
import responses

import edenfake
from edenfake import inspect_image
from tests.helpers import AUTH, FROZEN, MASK, journal_entry, png

EDEN = "https://api.edenai.run"
GENERATE = f"{EDEN}/v3/images/generations"
EDIT = f"{EDEN}/v3/images/edits"
UPLOAD = f"{EDEN}/v3/upload"
BODY = {"model": "openai/gpt-image-1", "prompt": "a red fox", "quality": "low"}


def test_module_functions_and_sessions_reach_the_fake() -> None:
    with edenfake.mock(clock=FROZEN) as eden, requests.Session() as session:
        r = requests.post(GENERATE, json=BODY, headers=AUTH)
        assert r.status_code == 200 and r.json()["created"] == FROZEN
        assert r.url == GENERATE and r.history == [] and r.elapsed.total_seconds() >= 0
        assert r.headers["content-type"] == "application/json" and r.reason == "OK"
        session.headers.update(AUTH)
        assert session.post(GENERATE, json={**BODY, "prompt": "a blue fox"}).status_code == 200
        assert session.get(f"{EDEN}/v3/images/models").status_code == 200
    assert [c.prompt for c in eden.calls][:2] == ["a red fox", "a blue fox"]
    assert eden.calls.last.path == "/v3/images/models"
    assert eden.calls[0].headers["authorization"] == "Bearer ***"


def test_a_session_made_before_the_mock_and_one_with_adapters_of_its_own_are_routed() -> None:
    before = requests.Session()
    custom = requests.Session()
    custom.mount("https://other.example/", requests.adapters.HTTPAdapter(max_retries=3))
    custom.mount(EDEN, requests.adapters.HTTPAdapter(max_retries=2))  # the fake's host wins over a mounted adapter
    with edenfake.mock() as eden:
        assert before.post(GENERATE, json=BODY, headers=AUTH).status_code == 200
        assert custom.post(GENERATE, json=BODY, headers=AUTH).status_code == 200
    assert eden.calls.count == 2
    assert requests.Session.get_adapter.__qualname__ == "Session.get_adapter"  # put back on exit


def test_the_journal_keeps_the_same_entries_as_for_httpx() -> None:
    files = [("image", ("fox.png", png(), "image/png")), ("mask", ("mask.png", MASK, "image/png"))]
    fields = {"model": "openai/gpt-image-1", "prompt": "add a hat", "n": "2"}
    entries = []
    for send in ("httpx", "requests"):
        with edenfake.mock(clock=FROZEN) as eden:
            if send == "httpx":
                with httpx.Client(headers=AUTH) as c:
                    c.post(GENERATE, json=BODY)
                    c.post(EDIT, data=fields, files=files)
                    c.post(UPLOAD, files={"file": ("fox.png", png(), "image/png")}, data={"purpose": "image-edit"})
            else:
                requests.post(GENERATE, json=BODY, headers=AUTH)
                requests.post(EDIT, data=fields, files=files, headers=AUTH)
                requests.post(
                    UPLOAD,
                    files={"file": ("fox.png", png(), "image/png")},
                    data={"purpose": "image-edit"},
                    headers=AUTH,
                )
            entries.append([journal_entry(c) for c in eden.calls])
    assert [e["status"] for e in entries[1]] == [200, 200, 200]
    assert entries[1][1]["form"]["prompt"] == "add a hat" and [f["part"] for f in entries[1][1]["files"]] == [
        "image",
        "mask",
    ]
    assert entries[0] == entries[1]


def test_edits_and_uploads_with_files() -> None:
    with edenfake.mock(clock=FROZEN) as eden, requests.Session() as s:
        s.headers.update(AUTH)
        up = s.post(UPLOAD, files={"file": ("fox.png", png(), "image/png")}, data={"purpose": "image-edit"})
        assert up.status_code == 200, up.text
        file_id = up.json()["file_id"]
        r = s.post(EDIT, json={"model": "openai/gpt-image-1", "prompt": "add a hat", "images": [{"file_id": file_id}]})
        assert r.status_code == 200, r.text
        image = inspect_image(base64.b64decode(r.json()["data"][0]["b64_json"]))
        assert image.matches(model="openai/gpt-image-1", prompt="add a hat")
    assert [c.path for c in eden.calls] == ["/v3/upload", "/v3/images/edits"]


def test_a_streamed_request_body_and_a_streamed_answer() -> None:
    payload = requests.models.complexjson.dumps(BODY).encode()

    def chunks() -> Any:
        yield payload[:10]
        yield payload[10:]

    with edenfake.mock(clock=FROZEN):
        r = requests.post(GENERATE, data=chunks(), headers={**AUTH, "content-type": "application/json"}, stream=True)
        assert r.status_code == 200
        assert b"".join(r.iter_content(chunk_size=1024))[:9] == b'{"data":['
        raw = requests.post(GENERATE, json=BODY, headers=AUTH, stream=True)
        first = raw.raw.read(5)
        assert first == b'{"dat' and len(first + raw.raw.read()) == int(raw.headers["content-length"])


def test_errors_raise_for_status_with_the_answer() -> None:
    with edenfake.mock():
        r = requests.post(GENERATE, json={**BODY, "prompt": ""}, headers=AUTH)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "prompt"]
        with pytest.raises(requests.HTTPError) as info:
            r.raise_for_status()
        assert info.value.response is r
        assert requests.post(GENERATE, json=BODY).status_code == 401  # no token


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_injected_statuses_are_answers(status: int) -> None:
    with edenfake.mock() as eden:
        eden.fail(status)
        r = requests.post(GENERATE, json=BODY, headers=AUTH)
    assert r.status_code == status
    assert eden.calls.last.fault == str(status)


def test_a_timeout_is_read_timeout_after_the_clients_timeout_when_shorter() -> None:
    with edenfake.mock() as eden:
        eden.fail("timeout")
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.post(GENERATE, json=BODY, headers=AUTH)  # no timeout set: at once
        eden.fail("timeout", hang=30)
        started = time.perf_counter()
        with pytest.raises(requests.exceptions.Timeout):
            requests.post(GENERATE, json=BODY, headers=AUTH, timeout=(1, 0.2))
        assert time.perf_counter() - started >= 0.2  # it waited for the read timeout, not for the hang
    assert [c.fault for c in eden.calls] == ["timeout", "timeout"]


def test_a_disconnect_is_a_connection_error_and_latency_over_the_timeout_a_read_timeout() -> None:
    with edenfake.mock() as eden:
        eden.fail("disconnect")
        with pytest.raises(requests.exceptions.ConnectionError) as info:
            requests.post(GENERATE, json=BODY, headers=AUTH)
        assert not isinstance(info.value, requests.exceptions.Timeout)
        eden.latency(0.3)
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.post(GENERATE, json=BODY, headers=AUTH, timeout=0.05)
        started = time.perf_counter()
        assert requests.post(GENERATE, json=BODY, headers=AUTH, timeout=5).status_code == 200
        assert time.perf_counter() - started >= 0.3


def test_other_hosts_pass_through_or_are_refused() -> None:
    with responses.RequestsMock() as other:
        other.get("http://other.example/ping", body="pong")
        with edenfake.mock() as eden:
            assert requests.get("http://other.example/ping").text == "pong"
            assert requests.post(GENERATE, json=BODY, headers=AUTH).status_code == 200
    assert eden.calls.count == 1
    with (
        edenfake.mock(assert_all_mocked=True),
        pytest.raises(AssertionError, match=r"assert_all_mocked=True\): a request to http://other.example/"),
    ):
        requests.get("http://other.example/")


def test_responses_started_inside_the_mock_keeps_other_hosts_and_leaves_eden_to_the_fake() -> None:
    with edenfake.mock() as eden, responses.RequestsMock(assert_all_requests_are_fired=True) as other:
        other.post("https://api.other.example/v1/chat", json={"ok": True})
        assert requests.post("https://api.other.example/v1/chat").json() == {"ok": True}
        assert requests.post(GENERATE, json=BODY, headers=AUTH).status_code == 200
        with pytest.raises(requests.ConnectionError, match="Connection refused by Responses"):
            requests.get("https://unregistered.example/")
    assert eden.calls.count == 1


def test_nested_mocks_the_newest_that_takes_the_host_wins() -> None:
    with edenfake.mock() as outer, edenfake.mock(base_urls=["http://gateway.test/eden"]) as inner:
        assert requests.post(f"{EDEN}/v3/images/generations", json=BODY, headers=AUTH).status_code == 200
        r = requests.post("http://gateway.test/eden/v3/images/generations", json=BODY, headers=AUTH)
        assert r.status_code == 200
        inner.stop()
        assert requests.post(GENERATE, json=BODY, headers=AUTH).status_code == 200
    assert (inner.calls.count, outer.calls.count) == (2, 1)
    assert [c.path for c in inner.calls] == ["/v3/images/generations"] * 2


def test_requests_from_threads_are_all_journalled() -> None:
    with edenfake.mock() as eden:

        def worker(i: int) -> None:
            with requests.Session() as s:
                for j in range(5):
                    s.post(GENERATE, json={**BODY, "prompt": f"{i}-{j}"}, headers=AUTH)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert {c.prompt for c in eden.calls} == {f"{i}-{j}" for i in range(4) for j in range(5)}


def test_a_streamed_body_over_the_limit_is_read_no_further_and_refused() -> None:
    sent: list[int] = []

    def chunks() -> Any:
        for i in range(100):
            sent.append(i)
            yield b"x" * 1000

    with edenfake.mock(max_body_bytes=4000):
        r = requests.post(GENERATE, data=chunks(), headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 413
    assert len(sent) == 5  # the body went no further than the limit and one piece
