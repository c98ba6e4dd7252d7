"""Replay: matching (method, path, fields, images by sha256; boundaries ignored), recorded order then the last
repeated, the NOT_RECORDED 404, the journal's mark, the upstream's own bytes whatever their JSON style, and
cassettes that cannot be read."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

import edenfake
from edenfake import EdenFake, FakeRequest
from edenfake.cassettes.format import Cassette, CassetteError
from edenfake.cassettes.matching import describe_request
from edenfake.cassettes.writing import Writer, describe_response
from edenfake.cli import main
from tests.helpers import AUTH, MASK, png

GENERATIONS = "/v3/images/generations"
EDEN = "https://api.edenai.run"


def _json_request(body: dict[str, Any], path: str = GENERATIONS, **headers: str) -> FakeRequest:
    pairs = [("content-type", "application/json"), *headers.items()]
    return FakeRequest("POST", path, pairs, json.dumps(body).encode())


def _multipart(files: list[tuple[str, bytes]], fields: dict[str, str], boundary: str) -> FakeRequest:
    chunks = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    for part, data in files:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{part}"; filename="{part}.png"\r\n'
        chunks.append(head.encode() + b"Content-Type: image/png\r\n\r\n" + data + b"\r\n")
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
    return FakeRequest(
        "POST", "/v3/images/edits", [("content-type", f"multipart/form-data; boundary={boundary}")], body
    )


def _record(directory: Path, exchanges: list[tuple[FakeRequest, int, dict[str, str], bytes]]) -> Path:
    writer = Writer(directory)
    for request, status, headers, body in exchanges:
        writer.append(
            describe_request(request), describe_response(status, headers, body, lambda u, limit: "no"), duration_ms=1
        )
    return directory


def _answer(n: int) -> bytes:
    b64 = base64.b64encode(png(8 + n, 8)).decode()
    return json.dumps({"data": [{"b64_json": b64}], "created": n, "cost": 0.01 * n}, separators=(",", ":")).encode()


JSON = {"content-type": "application/json"}
FOX = {"model": "openai/gpt-image-1", "prompt": "a fox"}


def test_identical_requests_get_the_recorded_answers_in_order_then_the_last_again(tmp_path: Path) -> None:
    cassette = _record(tmp_path / "c", [(_json_request(FOX), 200, JSON, _answer(n)) for n in (1, 2)])
    with edenfake.mock(replay=cassette, unmatched="error") as eden:
        created = [httpx.post(EDEN + GENERATIONS, json=FOX, headers=AUTH).json()["created"] for _ in range(3)]
        assert created == [1, 2, 2]
        eden.reset()  # starts the recording again
        assert httpx.post(EDEN + GENERATIONS, json=FOX, headers=AUTH).json()["created"] == 1
        assert httpx.post(EDEN + GENERATIONS, json=FOX, headers=AUTH).content == _answer(2)


def test_multipart_boundaries_are_ignored_and_images_match_by_content(tmp_path: Path) -> None:
    canvas = png(32, 32)
    fields = {"model": "openai/gpt-image-1", "prompt": "a hat"}
    cassette = _record(tmp_path / "c", [(_multipart([("image", canvas)], fields, "aaa"), 200, JSON, _answer(3))])
    fake = EdenFake(replay=cassette, unmatched="error")
    again = fake.answer(_multipart([("image", canvas)], fields, "some-other-boundary"))
    assert again.status == 200 and again.body == _answer(3)
    other = fake.answer(_multipart([("image", png(33, 32))], fields, "aaa"))
    assert other.status == 404
    body = other.json()
    assert body["error_code"] == "NOT_RECORDED" and body["closest"]["differences"] == ["files"]
    masked = fake.answer(_multipart([("image", canvas), ("mask", MASK)], fields, "b"))
    assert masked.json()["closest"]["differences"] == ["files"]


def test_the_closest_of_a_json_edit_is_a_json_edit_and_a_file_difference_names_the_bytes(tmp_path: Path) -> None:
    # A multipart edit differs in its kind of body, which weighs more than one field: the JSON edit one prompt
    # away is the closest; and when an image differs, the message says which bytes, not the same part names twice
    edits = "/v3/images/edits"
    fields = {"model": "openai/gpt-image-1", "prompt": "a hat"}
    by_id = {**fields, "images": [{"file_id": "cd25ebb9-f749-4017-a67d-cf83938f2d1d"}]}
    cassette = _record(
        tmp_path / "c",
        [
            (_multipart([("image", png(32, 32)), ("mask", MASK)], fields, "b"), 200, JSON, _answer(1)),
            (_json_request(by_id, edits), 200, JSON, _answer(2)),
        ],
    )
    fake = EdenFake(replay=cassette, unmatched="error")
    closest = fake.answer(_json_request({**by_id, "prompt": "a hat!"}, edits)).json()["closest"]
    assert closest["exchange"] == 2 and closest["differences"] == ["prompt"]
    other = fake.answer(_multipart([("image", png(33, 32)), ("mask", MASK)], fields, "x")).json()
    assert other["closest"]["exchange"] == 1 and other["closest"]["differences"] == ["files"]
    recorded, sent = (hashlib.sha256(png(w, 32)).hexdigest()[:12] for w in (32, 33))
    assert f"image {recorded}" in other["detail"] and f"image {sent}" in other["detail"]


def test_not_recorded_names_the_closest_request_and_what_differs(tmp_path: Path) -> None:
    cassette = _record(
        tmp_path / "c",
        [
            (_json_request({**FOX, "n": 2}), 200, JSON, _answer(1)),
            (_json_request({"model": "openai/dall-e-2", "prompt": "a boat"}), 200, JSON, _answer(2)),
        ],
    )
    with TestClient(edenfake.create_app(EdenFake(replay=cassette, unmatched="error")), headers=AUTH) as client:
        answer = client.post(GENERATIONS, json={**FOX, "prompt": "a cat", "n": 2})
    assert answer.status_code == 404
    body = answer.json()
    assert body["closest"] == {"exchange": 1, "method": "POST", "path": GENERATIONS, "differences": ["prompt"]}
    assert "the closest, #1 POST /v3/images/generations openai/gpt-image-1, differs in prompt" in body["detail"]
    assert "(recorded 'a fox', sent 'a cat')" in body["detail"] and str(cassette) == body["cassette"]
    empty = _record(tmp_path / "empty", [])
    (empty / "exchanges.jsonl").touch()
    answer = EdenFake(replay=empty, unmatched="error").answer(_json_request(FOX))
    assert answer.status == 404 and answer.json()["closest"] is None


def test_unmatched_requests_get_the_fakes_own_answer_by_default(tmp_path: Path) -> None:
    cassette = _record(tmp_path / "c", [(_json_request(FOX), 200, JSON, _answer(1))])
    with edenfake.mock(replay=cassette, clock=1_779_792_103) as eden:
        assert httpx.post(EDEN + GENERATIONS, json=FOX, headers=AUTH).json()["created"] == 1
        own = httpx.post(EDEN + GENERATIONS, json={**FOX, "prompt": "a cat"}, headers=AUTH)
        assert own.json()["created"] == 1_779_792_103
        assert [c.replayed for c in eden.calls] == [True, False]


def test_the_journal_marks_replayed_calls_and_keeps_digests(tmp_path: Path) -> None:
    cassette = _record(tmp_path / "c", [(_json_request(FOX), 200, JSON, _answer(1))])
    with edenfake.serve(replay=cassette) as server:
        httpx.post(server.base_url + "/images/generations", json=FOX, headers=AUTH)
        calls = httpx.get(server.url + "/_edenfake/calls").json()["calls"]
    [call] = calls
    assert call["replayed"] is True and call["status"] == 200
    assert call["response"]["data"][0]["b64_json"] == {
        "sha256": call["response"]["data"][0]["b64_json"]["sha256"],
        "bytes": len(png(9, 8)),
        "format": "png",
        "width": 9,
        "height": 8,
    }


def test_an_injected_fault_comes_before_the_recording(tmp_path: Path) -> None:
    cassette = _record(tmp_path / "c", [(_json_request(FOX), 200, JSON, _answer(1))])
    with edenfake.mock(replay=cassette) as eden:
        eden.fail(503)
        statuses = [httpx.post(EDEN + GENERATIONS, json=FOX, headers=AUTH).status_code for _ in range(2)]
    assert statuses == [503, 200]


@pytest.mark.parametrize(
    "raw",
    [
        # Python's default style, non-ASCII escaped
        lambda b64: json.dumps({"data": [{"b64_json": b64, "revised_prompt": "café"}], "cost": 1e-05}).encode(),
        # "/" escaped, a float written as the server likes, indentation
        lambda b64: (
            '{\n  "data": [{"b64_json": "' + b64.replace("/", "\\/") + '", "url": null}],\n  "cost": 0.0400\n}'
        ).encode(),
    ],
)
def test_the_upstreams_bytes_come_back_whatever_its_json_style(tmp_path: Path, raw: Any) -> None:
    image = png(40, 40, colour=(255, 255, 254))
    b64 = base64.b64encode(image).decode()
    assert "/" in b64 or raw(b64).count(b"\\/") == 0
    body = raw(b64)
    cassette = _record(tmp_path / "c", [(_json_request(FOX), 200, JSON, body)])
    line = (cassette / "exchanges.jsonl").read_text()
    assert b64 not in line and (cassette / "files").joinpath(f"{hashlib.sha256(image).hexdigest()}.png").is_file()
    assert EdenFake(replay=cassette).answer(_json_request(FOX)).body == body


def test_answers_that_are_not_json_and_their_headers_come_back_as_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()  # a recorded answer the contract does not describe is replayed as it came (drift reports it)
    html = b"<html><body>502 Bad Gateway</body></html>"
    headers = {"content-type": "text/html", "retry-after": "2", "set-cookie": "session=secret-cookie-value"}
    cassette = _record(tmp_path / "c", [(_json_request(FOX), 502, headers, html)])
    answer = EdenFake(replay=cassette).answer(_json_request(FOX))
    assert (answer.status, answer.body) == (502, html)
    assert answer.headers == {"content-type": "text/html", "retry-after": "2"}
    assert b"secret-cookie" not in (cassette / "exchanges.jsonl").read_bytes()


def test_what_a_cassette_keeps_of_a_request_leaves_every_credential_out() -> None:
    token = "sk-abcdefghijklmnop"
    request = _json_request(
        {
            **FOX,
            "extra_headers": {"x-api-key": "k-0123456789abcdef", "X-Ok": "fine", "bad name": "v-0123456789abc"},
            "images": [{"image_url": "https://user:pass-1234567@cdn.example/a.png?X-Sig=abcdef0123456789#frag"}],
            "mask": {"image_url": "data:image/png;base64," + base64.b64encode(MASK).decode()},
        },
        authorization=f"Bearer {token}",
        cookie="c-0123456789",
    )
    request.query = "api_key=q-0123456789abcdef"
    described = describe_request(request)
    kept = json.dumps(described.record)
    for secret in (token, "k-0123456789abcdef", "v-0123456789abc", "pass-1234567", "abcdef0123456789", "q-01234"):
        assert secret not in kept
    body = described.record["json"]
    assert body["extra_headers"] == {"x-api-key": "***", "X-Ok": "fine", "*** 2": "***"}
    assert body["images"] == [{"image_url": "https://cdn.example/a.png"}]
    mask = body["mask"]["image_url"]
    assert mask["data_url"] == "data:image/png;base64" and mask["$file"].endswith(".png")
    assert described.record["headers"] == {"content-type": "application/json"}
    assert {token, "k-0123456789abcdef", "v-0123456789abc", "pass-1234567"} <= described.secrets


def test_a_secret_an_upstream_echoes_is_scrubbed_from_the_line(tmp_path: Path) -> None:
    token = "sk-echoed-0123456789"
    echo = json.dumps({"detail": f"token {token} is revoked", "error_code": "UNAUTHORIZED"}).encode()
    request = _json_request(FOX, authorization=f"Bearer {token}")
    cassette = _record(tmp_path / "c", [(request, 401, JSON, echo)])
    text = (cassette / "exchanges.jsonl").read_text()
    assert token not in text and "token *** is revoked" in text


def test_a_cassette_answers_v3_routes_the_document_lacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the route is not in the contract: its answers are the recording's alone
    path = "/v3/llm/chat"
    cassette = _record(tmp_path / "c", [(_json_request({"q": 1}, path), 200, JSON, b'{"ok":true}')])
    fake = EdenFake(replay=cassette)
    assert fake.answer(_json_request({"q": 1}, path)).body == b'{"ok":true}'
    assert fake.answer(_json_request({"q": 2}, path)).status == 404


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (None, "exchanges.jsonl"),
        ("not json\n", "line 1: not JSON"),
        ('{"request": {"method": "POST", "path": "/v3/x"}, "response": {"status": 200}}\n[1]\n', "line 2"),
        ('{"request": {"method": "POST", "path": "/v3/x"}, "response": {"status": 99}}\n', "status"),
        (
            '{"request": {"method": "POST", "path": "/v3/x"}, "response": {"status": 200, "json": {"data": '
            '[{"b64_json": {"$file": "' + "a" * 64 + '.png"}}]}}}\n',
            "which is missing",
        ),
        (
            '{"request": {"method": "POST", "path": "/v3/x"}, "response": {"status": 200, "json": {"data": '
            '[{"b64_json": {"$file": "../../etc/passwd"}}]}}}\n',
            "is not a cassette file name",
        ),
    ],
)
def test_a_cassette_that_cannot_be_read_names_the_problem(tmp_path: Path, lines: str | None, problem: str) -> None:
    (tmp_path / "files").mkdir()
    if lines is not None:
        (tmp_path / "exchanges.jsonl").write_text(lines)
    with pytest.raises(CassetteError, match=problem):
        Cassette.load(tmp_path)
    with pytest.raises(CassetteError, match="not a directory"):
        Cassette.load(tmp_path / "missing")


def test_the_replay_options_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="unmatched must be 'fake' or 'error'"):
        EdenFake(replay=tmp_path, unmatched="fail")
    with pytest.raises(ValueError, match="needs replay=DIR"):
        EdenFake(unmatched="error")
    with pytest.raises(TypeError, match="replay takes a cassette directory"):
        EdenFake(replay=42)
    with pytest.raises(TypeError, match="did you mean 'replay'"):
        edenfake.mock(replays=tmp_path)
    assert main(["serve", "--replay", str(tmp_path / "none"), "--port", "0"]) == 2
    assert "no cassette at" in capsys.readouterr().err


def test_a_status_written_as_a_whole_float_is_the_integer_json_schema_says_it_is(tmp_path: Path) -> None:
    # Another tool's cassette may write 200.0 (a JSON number is a JSON number); 200.5 is no status.
    cassette = _record(tmp_path / "c", [(_json_request(FOX), 200, JSON, _answer(1))])
    lines = cassette / "exchanges.jsonl"
    lines.write_text(
        lines.read_text().replace('"status":200', '"status":200.0').replace('"status": 200', '"status": 200.0')
    )
    assert "200.0" in lines.read_text()
    with edenfake.mock(replay=cassette, unmatched="error"):
        replayed = httpx.post(EDEN + GENERATIONS, json=FOX, headers=AUTH)
    assert replayed.status_code == 200 and replayed.content == _answer(1)
    lines.write_text(lines.read_text().replace("200.0", "200.5"))
    with pytest.raises(CassetteError, match=r"status: Input should be a valid integer"):
        Cassette.load(cassette)
