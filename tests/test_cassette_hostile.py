"""Replay of cassettes no recorder writes: files that are symlinks out of ``files/``, FIFOs, directories, too
large, or whose bytes do not hash to their name (at load, and changed after it); lines nested too deeply, of
the wrong JSON types, with statuses no server may send, headers no server may write, references to files that
are not there; recorded answers that are not strict JSON. Through every door: the mock (``edenfake.mock``),
``edenfake serve --replay`` (in-process and as a real process) and a live server. A cassette that cannot be
replayed as it is fails to load with one line naming the file, the line and what is wrong; a file changed
since loading is never served; the journal stays readable."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

import edenfake
from edenfake import FakeRequest, Journal
from edenfake.cassettes.matching import describe_request
from edenfake.cli import main
from tests.helpers import png, run_python, strict_json

GENERATIONS = "/v3/images/generations"
EDEN = "https://api.edenai.run" + GENERATIONS
FOX = {"model": "openai/gpt-image-1", "prompt": "a fox"}
AUTH = {"Authorization": "Bearer any-token"}
IMAGE = png(8, 8)
NAME = f"{hashlib.sha256(IMAGE).hexdigest()}.png"
#: the largest file a cassette's files/ may hold (MAX_FILE_BYTES)
MAX_FILE = 128 * 1024 * 1024
BASE: dict[str, Any] = {
    "request": {"method": "POST", "path": GENERATIONS, "headers": {"content-type": "application/json"}, "json": FOX},
    "response": {
        "status": 200,
        "headers": {"content-type": "application/json"},
        "json": {"created": 1, "data": [{"b64_json": {"$file": NAME}}]},
        "format": "compact",
    },
    "duration_ms": 1.0,
    "recorded_at": "2026-01-01T00:00:00.000000Z",
}


def _cassette(directory: Path, lines: list[Any], files: dict[str, bytes] | None = None) -> Path:
    (directory / "files").mkdir(parents=True, exist_ok=True)
    for name, data in (files if files is not None else {NAME: IMAGE}).items():
        (directory / "files" / name).write_bytes(data)
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    (directory / "exchanges.jsonl").write_text(text, encoding="utf-8")
    return directory


def _refused(cassette: Path, capsys: pytest.CaptureFixture[str], *fragments: str) -> str:
    """The cassette fails to load through the mock and through ``edenfake serve --replay`` (exit 2), with one
    line naming the problem each time; that line."""
    with pytest.raises(ValueError) as info:
        edenfake.mock(replay=cassette)
    message = str(info.value)
    assert message.isprintable() and len(message) < 1500, message[:300]
    for fragment in fragments:
        assert fragment in message
    assert main(["serve", "--replay", str(cassette), "--port", "0"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == f"edenfake: {message}"
    return message


# -- files ----------------------------------------------------------------------------------------------------


def _symlink_out(c: Path, outside: Path) -> str:
    (outside / NAME).write_bytes(IMAGE)  # the right bytes, outside the cassette
    (c / "files" / NAME).unlink()
    (c / "files" / NAME).symlink_to(outside / NAME)
    return "a symlink"


def _symlink_to_system_file(c: Path, outside: Path) -> str:
    target = Path("/etc/hostname") if Path("/etc/hostname").is_file() else Path(sys.executable).resolve()
    data = target.read_bytes()
    name = f"{hashlib.sha256(data).hexdigest()}.bin"
    (c / "files" / name).symlink_to(target)
    lines = [{**BASE, "response": {**BASE["response"], "json": {"data": [{"b64_json": {"$file": name}}]}}}]
    (c / "exchanges.jsonl").write_text(json.dumps(lines[0]) + "\n")
    return "a symlink"


def _files_is_a_symlink(c: Path, outside: Path) -> str:
    (outside / NAME).write_bytes(IMAGE)
    for p in (c / "files").iterdir():
        p.unlink()
    (c / "files").rmdir()
    (c / "files").symlink_to(outside, target_is_directory=True)
    return "is a symlink"


def _wrong_bytes(c: Path, outside: Path) -> str:
    (c / "files" / NAME).write_bytes(png(9, 9))
    return "do not hash to its name"


def _too_large(c: Path, outside: Path) -> str:
    with open(c / "files" / NAME, "r+b") as f:
        f.truncate(MAX_FILE + 1)  # sparse: its size alone must refuse it, before any read
    return f"holds {MAX_FILE + 1} bytes, more than {MAX_FILE}"


def _fifo(c: Path, outside: Path) -> str:
    (c / "files" / NAME).unlink()
    os.mkfifo(c / "files" / NAME)  # opening it for reading would wait for a writer forever
    return "only regular files are read"


def _directory(c: Path, outside: Path) -> str:
    (c / "files" / NAME).unlink()
    (c / "files" / NAME).mkdir()
    return "only regular files are read"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="symlinks and FIFOs as POSIX has them")
@pytest.mark.parametrize(
    "spoil", [_symlink_out, _symlink_to_system_file, _files_is_a_symlink, _wrong_bytes, _too_large, _fifo, _directory]
)
def test_a_file_that_is_not_a_plain_file_of_files_matching_its_name_fails_the_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spoil: Any
) -> None:
    cassette = _cassette(tmp_path / "c", [BASE])
    outside = tmp_path / "outside"
    outside.mkdir()
    problem = spoil(cassette, outside)
    _refused(cassette, capsys, "exchanges.jsonl line 1: ", problem)


def test_a_file_changed_after_loading_is_never_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cassette = _cassette(tmp_path / "c", [BASE])
    other = png(9, 9)
    with edenfake.serve(replay=cassette) as server, edenfake.mock(replay=cassette) as eden:
        assert httpx.post(server.base_url + "/images/generations", json=FOX, headers=AUTH).status_code == 200
        (cassette / "files" / NAME).write_bytes(other)  # changed under the running replay
        over_http = httpx.post(server.base_url + "/images/generations", json=FOX, headers=AUTH)
        in_process = httpx.post(EDEN, json=FOX, headers=AUTH)
        (cassette / "files" / NAME).unlink()
        (cassette / "files" / NAME).symlink_to(tmp_path / "elsewhere.png")
        (tmp_path / "elsewhere.png").write_bytes(IMAGE)  # the right bytes, through a symlink
        through_symlink = httpx.post(EDEN, json=FOX, headers=AUTH)
        calls = httpx.get(server.url + "/_edenfake/calls")
        assert [c.status for c in eden.calls] == [503, 503]
    for answer in (over_http, in_process, through_symlink):
        assert answer.status_code == 503, answer.text[:200]
        body = strict_json(answer.content)
        assert body["error_code"] == "SERVICE_UNAVAILABLE" and NAME in body["detail"]
        assert other not in answer.content
    assert "changed since the cassette was loaded" in over_http.json()["detail"]
    assert "a symlink" in through_symlink.json()["detail"]
    assert calls.status_code == 200 and [c["status"] for c in calls.json()["calls"]] == [200, 503]


# -- lines ----------------------------------------------------------------------------------------------------


def _with(path: str, value: Any) -> dict[str, Any]:
    """BASE with the value at ``path`` ("response.headers.retry-after") replaced; a value of ... removes it."""
    line = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    target = line
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is ...:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return line


_MISSING_FILE = "b" * 64 + ".png"
_TEMPLATE = '{"created":1,"data":[{"b64_json":\x00b64:' + _MISSING_FILE + "\x00}]}"

#: lines the loader took (or crashed on, or answered 500 for at the first matching request); lines it already
#: refused (not JSON, a status below 100, a missing file, a file name with a path) are tests/test_replay.py's
MALFORMED: list[tuple[Any, str]] = [
    ('{"request": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    (_with("request.method", "post"), "$.request.method: String should match pattern"),
    (_with("request.path", "/v3/x\r\nHost: evil"), "$.request.path: a path starts with /"),
    ({**BASE, "request": {**BASE["request"], "form": {}}}, "$.request.form: a request keeps one body at most"),
    (
        {**BASE, "request": {**_with("request.json", ...)["request"], "files": ["x"]}},
        "$.request.files[0]: Input should be a valid dictionary",
    ),
    ({**BASE, "request": {**_with("request.json", ...)["request"], "body": "x"}}, "$.request.body: Input should be"),
    ({**BASE, "request": {**_with("request.json", ...)["request"], "form": {"a": [1]}}}, "$.request.form.a: Input"),
    (
        {
            **BASE,
            "request": {
                **_with("request.json", ...)["request"],
                "form": {},
                "files": [{"part": "image", "sha256": "c" * 64, "size": len(IMAGE), "file": NAME}],
            },
        },
        "$.request.files[0]: 'file' does not start with its 'sha256'",
    ),
    (_with("response.status", 101), "$.response.status: Input should be greater than or equal to 200"),
    (_with("response.status", 199), "$.response.status: Input should be greater than or equal to 200"),
    (_with("response.status", True), "$.response.status: Input should be a valid integer"),
    (_with("response.headers.content-type", "text/plain\r\nx-evil: 1"), "without CR, LF"),
    (_with("response.headers.retry-after", "€"), "$.response.headers.retry-after: a header value is Latin-1"),
    (_with("response.headers.set-cookie", "session=1"), "$.response.headers: Extra fields are not allowed"),
    (_with("response.json.data.0.b64_json", {"$file": 5}), "$.response.json.data[0].b64_json: 5 is not a cassette"),
    (_with("response.json.data.0.b64_json", {"$file": NAME, "x": 1}), 'a reference is {"$file": NAME}'),
    (_with("response.json.data.0", {"url": {"$file": NAME}}), 'a reference is {"$file": NAME, "url": URL}'),
    ({**BASE, "response": {"status": 200, "json": {}, "text": _TEMPLATE}}, f"files/{_MISSING_FILE}, which is missing"),
    ({**BASE, "response": {"status": 200, "text": 5}}, "$.response.text: Input should be a valid string"),
    (_with("response.format", "weird"), "$.response.format: Input should be"),
    ({**BASE, "response": {"status": 200, "body_b64": "!!!="}}, "$.response.body_b64: is not standard base64"),
    ({**BASE, "response": {"status": 200, "text": "a", "body_b64": "YQ=="}}, "an answer keeps one body"),
    ({**BASE, "response": {"status": 200, "format": "compact"}}, "$.response.json: Field required"),
    (json.dumps(BASE).replace('"created": 1', '"created": 1e999'), "1e999 is not a finite number"),
    (_with("duration_ms", "fast"), "$.duration_ms: Input should be a valid number"),
]


@pytest.mark.parametrize(("line", "fragment"), MALFORMED)
def test_a_malformed_exchange_fails_the_load_with_one_line_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: Any, fragment: str
) -> None:
    cassette = _cassette(tmp_path / "c", [BASE, line])  # the first line is fine: the second is named
    _refused(cassette, capsys, "exchanges.jsonl line 2: ", fragment)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs as POSIX has them")
@pytest.mark.parametrize("spoil", ["deep", "symlinked file", "fifo lines"])
def test_serve_replay_of_a_broken_cassette_prints_one_line_and_exits_2(tmp_path: Path, spoil: str) -> None:
    cassette = _cassette(tmp_path / "c", [BASE])
    if spoil == "deep":
        (cassette / "exchanges.jsonl").write_text('{"request": ' + "[" * 200_000 + "]" * 200_000 + "}\n")
    elif spoil == "symlinked file":
        _symlink_out(cassette, tmp_path)
    else:
        (cassette / "exchanges.jsonl").unlink()
        os.mkfifo(cassette / "exchanges.jsonl")
    try:
        done = run_python("-m", "edenfake", "serve", "--port", "0", "--replay", str(cassette), timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("edenfake serve --replay started (or hung) on a cassette it cannot replay")
    assert done.returncode == 2 and done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("edenfake: ") and "Traceback" not in done.stderr


# -- the journal ----------------------------------------------------------------------------------------------

NOT_JSON = ['{"data":[],"cost":NaN}', '{"cost":1e999}', "[" * 100 + "]" * 100, "<html>502 Bad Gateway</html>"]


def test_recorded_answers_that_are_not_strict_json_leave_the_journal_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()  # the recorded answers break the contract: that is the point
    lines = [
        {
            **BASE,
            "request": {**BASE["request"], "json": {**FOX, "prompt": str(i)}},
            "response": {"status": 200, "headers": {"content-type": "application/json"}, "text": text},
        }
        for i, text in enumerate(NOT_JSON)
    ]
    cassette = _cassette(tmp_path / "c", lines)
    expected = [
        {"not_json": {"bytes": len(text.encode()), "sha256": hashlib.sha256(text.encode()).hexdigest()}}
        for text in NOT_JSON
    ]
    with edenfake.mock(replay=cassette) as eden:
        got = [httpx.post(EDEN, json={**FOX, "prompt": str(i)}, headers=AUTH) for i in range(len(NOT_JSON))]
        assert [a.content.decode() for a in got] == NOT_JSON  # the upstream's bytes, as they were
        assert [c.response for c in eden.calls] == expected
        assert eden.calls.last.replayed
    with edenfake.serve(replay=cassette) as server:
        for i in range(len(NOT_JSON)):
            httpx.post(server.base_url + "/images/generations", json={**FOX, "prompt": str(i)}, headers=AUTH)
        for offset in range(len(NOT_JSON)):  # every page holding one of them reads
            page = httpx.get(server.url + f"/_edenfake/calls?offset={offset}&limit=2")
            assert page.status_code == 200
            assert [c["response"] for c in strict_json(page.content)["calls"]] == expected[offset : offset + 2]


def test_the_journal_keeps_strict_json_whoever_records_into_it() -> None:
    journal = Journal()
    for data in (b'{"a":NaN}', b'{"a":-Infinity}', b"[1e400]", b"[" * 70 + b"]" * 70, b"\xff\xfe", b'{"a":1} x'):
        journal.record("POST", GENERATIONS, [], data, 200, data, form=data, files=data)
    journal.record("POST", GENERATIONS, [], b'{"a":1}', 200, b'{"a":"\\ud800"}')
    calls = journal.page(0, 100)
    assert len(calls) == 7
    for call in calls[:-1]:
        assert set(call.response) == {"not_json"} and set(call.json) == {"not_json"} and call.files == []
        json.dumps(call.as_dict(), allow_nan=False)
    assert calls[-1].json == {"a": 1} and calls[-1].response == {"a": "\ud800"}


def test_a_request_header_a_cassette_line_could_not_hold_is_left_out_and_said() -> None:
    headers = [("user-agent", "bot\x01"), ("x-edenai-tags", "a=" + "b" * 9000), ("accept", "*/*")]
    described = describe_request(FakeRequest("POST", "/v3/images/generations", headers, b'{"prompt": "x"}'))
    assert described.record["headers"] == {"accept": "*/*"}
    assert len(described.notes) == 2 and all("was not kept" in note for note in described.notes)


def test_a_refused_extra_header_name_stays_refused_once_scrubbed() -> None:
    # An invalid name is hidden (it may hold a secret) by a name still invalid: the recorded 422 replays as one
    body = {"model": "openai/gpt-image-1", "prompt": "x", "extra_headers": {"AUTHORIZATION ": "sk-secret"}}
    headers = [("authorization", "Bearer t"), ("content-type", "application/json")]
    sent = FakeRequest("POST", "/v3/images/generations", headers, json.dumps(body).encode())
    kept = describe_request(sent).record["json"]
    assert "sk-secret" not in json.dumps(kept) and "AUTHORIZATION " not in kept["extra_headers"]
    scrubbed = FakeRequest("POST", "/v3/images/generations", headers, json.dumps(kept).encode())
    fake = edenfake.EdenFake()
    assert fake.answer(sent).status == fake.answer(scrubbed).status == 422
