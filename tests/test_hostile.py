"""Hostile input: whatever a client sends, the fake answers with a clear 4xx (or a 200), never a 5xx."""

from __future__ import annotations

import gzip
import hashlib
import json
import socket
import threading
import time
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

import edenfake
from edenfake import EdenFake, create_app
from tests.helpers import AUTH

URL = "/v3/images/generations"
BODY = {"model": "openai/gpt-image-1", "prompt": "a fox", "quality": "low"}


def raw(client: TestClient, data: bytes, **headers: str) -> Any:
    return client.post(URL, content=data, headers={"content-type": "application/json", **headers})


def test_deep_nesting_in_metadata(client: TestClient) -> None:
    shallow = {**BODY, "metadata": {"a": [[[{"b": [1]}]]] * 3}}
    assert client.post(URL, json=shallow).status_code == 200
    deep = b'{"model":"openai/gpt-image-1","prompt":"x","metadata":{"a":' + b"[" * 50_000 + b"]" * 50_000 + b"}}"
    r = raw(client, deep)
    assert r.status_code == 400 and "nested too deeply" in r.json()["detail"]


@pytest.mark.parametrize(
    "prompt", ["nul \\u0000 inside", "lone \\ud800 surrogate", "\\udfff\\ud800", "emoji \\ud83e\\udd8a"]
)
@pytest.mark.parametrize("model", ["openai/gpt-image-1", "openai/dall-e-3"])
def test_nul_and_lone_surrogates_in_strings(client: TestClient, prompt: str, model: str) -> None:
    extra = ',"response_format":"b64_json"' if "dall-e" in model else ""
    r = raw(client, f'{{"model":"{model}","prompt":"{prompt}","user":"{prompt}"{extra}}}'.encode())
    assert r.status_code == 200
    json.loads(r.content)  # the answer is valid JSON even with the surrogate echoed in revised_prompt


@pytest.mark.parametrize(
    ("n", "status"),
    [("1e400", 400), ("1" + "0" * 5000, 400), ("-0", 422), ("1.0", 200), ("1E1", 200), ("NaN", 400), ("Infinity", 400)],
)
def test_huge_and_odd_numbers(client: TestClient, n: str, status: int) -> None:
    r = raw(client, f'{{"model":"openai/gpt-image-1","prompt":"x","n":{n}}}'.encode())
    assert r.status_code == status, r.text
    if status == 422:
        assert r.json()["detail"][0]["loc"] == ["body", "n"]
    if status == 400:  # non-standard or overflowing numbers are refused as JSON, naming the problem
        assert r.json()["error_code"] == "INVALID_JSON"
        assert n[:10] in r.json()["detail"] or "digits" in r.json()["detail"]


def test_duplicate_keys_take_the_last_value_as_pythons_json_does(client: TestClient) -> None:
    r = raw(client, b'{"model":"openai/gpt-image-1","prompt":"x","n":1,"n":11}')
    assert r.status_code == 422 and r.json()["detail"][0]["input"] == 11


def test_wrong_charsets(client: TestClient) -> None:
    latin1 = json.dumps({**BODY, "prompt": "café"}, ensure_ascii=False).encode("latin-1")
    r = raw(client, latin1, **{"content-type": "application/json; charset=utf-8"})
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_JSON"
    utf16 = json.dumps(BODY).encode("utf-16")
    assert raw(client, utf16).status_code in (200, 400)  # JSON's own encoding detection may read it


def test_gzip_bodies_are_refused_clearly(client: TestClient) -> None:
    r = raw(client, gzip.compress(json.dumps(BODY).encode()), **{"content-encoding": "gzip"})
    assert r.status_code == 415 and "Content-Encoding 'gzip'" in r.json()["detail"]


def test_header_casing_and_repeats(fake: EdenFake) -> None:
    with TestClient(create_app(fake)) as c:
        assert c.post(URL, json=BODY, headers={"AUTHORIZATION": "BEARER t"}).status_code == 200
        mixed = {"Authorization": "Bearer t", "Content-Type": "APPLICATION/JSON"}
        assert c.post(URL, json=BODY, headers=mixed).status_code == 200
    # Repeated headers reach the core as separate pairs (as uvicorn hands them over): the first one counts.
    body = json.dumps(BODY).encode()
    first_bearer = [
        ("authorization", "Bearer first"),
        ("authorization", "Basic second"),
        ("content-type", "application/json"),
    ]
    assert fake.answer(edenfake.FakeRequest("POST", URL, first_bearer, body)).status == 200
    first_basic = [("authorization", "Basic x"), ("authorization", "Bearer y"), ("content-type", "application/json")]
    assert fake.answer(edenfake.FakeRequest("POST", URL, first_basic, body)).status == 401


def _raw_socket(port: int, payload: bytes, *, close_after: bool = True, pause: float = 0.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for i in range(0, len(payload), 7 if pause else len(payload)):
            s.sendall(payload[i : i + (7 if pause else len(payload))])
            if pause:
                time.sleep(pause)
        if close_after:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except OSError:
            pass
        return b"".join(chunks)


def test_truncated_and_slow_bodies_on_a_real_socket() -> None:
    body = json.dumps(BODY).encode()
    head = f"POST {URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\n"
    with edenfake.serve() as server:
        port = server.port
        truncated = (head + f"Content-Length: {len(body) + 50}\r\nConnection: close\r\n\r\n").encode() + body
        assert b" 500 " not in _raw_socket(port, truncated)  # the client gave up: no answer, and no crash
        slow = (head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
        answer = _raw_socket(port, slow, pause=0.01)
        assert answer.startswith(b"HTTP/1.1 200")
        garbage = b"POST /v3/images/generations HTTP/1.1\r\nContent-Length: nope\r\n\r\n"
        assert not _raw_socket(port, garbage).startswith(b"HTTP/1.1 5")
        with httpx.Client(headers=AUTH) as c:  # and it still serves everyone else
            assert c.post(server.base_url + "/images/generations", json=BODY).status_code == 200


def test_a_concurrent_burst_is_answered_and_journalled_in_full() -> None:
    statuses: list[int] = []
    lock = threading.Lock()
    with edenfake.serve() as server:

        def burst(i: int) -> None:
            with httpx.Client(headers=AUTH, timeout=30) as c:
                for j in range(25):
                    body = {**BODY, "prompt": f"{i}-{j}", "n": 1 + (j % 3)} if j % 5 else {**BODY, "n": 11}
                    code = c.post(server.base_url + "/images/generations", json=body).status_code
                    with lock:
                        statuses.append(code)

        threads = [threading.Thread(target=burst, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(statuses) == 200 and set(statuses) == {200, 422}
        assert statuses.count(422) == 40
        assert server.calls.count == 200


@pytest.mark.parametrize(
    ("encoding", "prompt", "kept"),
    [
        ("utf-8", "cafe au lait", True),
        ("utf-8", "café au lait", True),
        ("utf-16-le", "cafe au lait", False),  # every byte below 0x80: ASCII, with NULs
        ("utf-16-be", "cafe au lait", False),
        ("utf-16", "café au lait", False),
        ("utf-32", "cafe au lait", False),
        ("utf-8-sig", "cafe au lait", False),
    ],
)
def test_the_journal_keeps_utf8_bodies_and_summarizes_the_other_encodings_it_answered(
    encoding: str, prompt: str, kept: bool
) -> None:
    # JSON readers take UTF-16 and UTF-32 (RFC 4627), and so does the fake: the journal keeps UTF-8 only, the
    # rest as its size and digest, so that every read of it is UTF-8 JSON.
    body = json.dumps({**BODY, "prompt": prompt}, ensure_ascii=False).encode(encoding)
    with edenfake.mock() as eden:
        answered = httpx.post(
            "https://api.edenai.run" + URL, content=body, headers={**AUTH, "content-type": "application/json"}
        )
        page = httpx.get("https://api.edenai.run/_edenfake/calls")
    assert answered.status_code == 200
    page.content.decode("utf-8")  # strict UTF-8 JSON, whatever came
    (call,) = eden.calls
    if kept:
        assert call.json == {**BODY, "prompt": prompt}
    else:
        assert call.json == {"not_json": {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}}


def test_a_body_with_a_lone_surrogate_in_utf8_is_answered_and_journalled_as_a_summary() -> None:
    body = b'{"model":"openai/gpt-image-1","prompt":"x \xed\xa0\x80 y","quality":"low"}'  # not UTF-8: a surrogate
    with edenfake.mock() as eden:
        answered = httpx.post(
            "https://api.edenai.run" + URL, content=body, headers={**AUTH, "content-type": "application/json"}
        )
    assert answered.status_code == 200
    assert eden.calls[0].json == {"not_json": {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}}
