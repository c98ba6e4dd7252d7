"""``edenfake validate`` recognises a cassette (a directory holding exchanges.jsonl, or that file named): every
line checked as loading it checks (strict JSON, contracts/cassette.schema.json, the files it names), every
problem one bounded line naming the file and the line, exit 1 on problems and 0 when it is sound. What is not a
cassette keeps what validate did before; no input gives a traceback."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from edenfake import FakeRequest
from edenfake.cassettes.format import Cassette
from edenfake.cassettes.matching import describe_request
from edenfake.cassettes.writing import Writer, describe_response
from edenfake.cli import main
from tests.helpers import png, run_python

#: the longest line validate prints (LINE_CHARS and an ellipsis)
LINE = 501
IMAGE = png(8, 8)
NAME = f"{hashlib.sha256(IMAGE).hexdigest()}.png"


def _lines(text: str) -> list[str]:
    lines = text.splitlines()
    for line in lines:
        assert len(line) <= LINE and line.isprintable(), line[:200]
    return lines


def _sound(directory: Path, count: int = 2) -> Path:
    """A cassette as the recorder writes it: each answer's image a file of files/."""
    writer = Writer(directory)
    for index in range(count):
        body = json.dumps({"model": "openai/dall-e-2", "prompt": f"p{index}"}).encode()
        request = FakeRequest("POST", "/v3/images/generations", [("content-type", "application/json")], body)
        answer = json.dumps({"data": [{"b64_json": base64.b64encode(IMAGE).decode()}], "created": 1}).encode()
        kept = describe_response(200, {"content-type": "application/json"}, answer, lambda url, limit: b"")
        writer.append(describe_request(request), kept, duration_ms=1)
    return directory


def _line(answer: Any) -> str:
    request = {"method": "POST", "path": "/v3/images/generations", "headers": {"content-type": "application/json"}}
    return json.dumps({"request": {**request, "json": {"model": "m", "prompt": "p"}}, "response": answer})


def test_a_sound_cassette_is_ok_by_its_directory_or_its_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = _sound(tmp_path / "c")
    assert len(Cassette.load(cassette)) == 2
    assert main(["validate", str(cassette)]) == 0
    assert _lines(capsys.readouterr().out) == [f"{cassette}: ok (cassette: 2 exchange(s), 1 file(s))"]
    assert main(["validate", str(cassette / "exchanges.jsonl")]) == 0
    assert _lines(capsys.readouterr().out) == [f"{cassette}: ok (cassette: 2 exchange(s), 1 file(s))"]


def test_every_problem_of_a_cassette_is_one_line_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = _sound(tmp_path / "c", 1)
    files = cassette / "files"
    changed = b"not the bytes its name says"
    wrong = f"{hashlib.sha256(b'other').hexdigest()}.png"
    (files / wrong).write_bytes(changed)
    linked = f"{hashlib.sha256(b'linked').hexdigest()}.png"
    os.symlink(files / NAME, files / linked)
    image = {"status": 200, "headers": {"content-type": "application/json"}}
    lines = [
        (cassette / "exchanges.jsonl").read_text().strip(),  # 1: sound
        json.dumps({"request": {"method": 5, "path": "x"}, "response": {"status": "200"}}),  # 2: three types
        "\x00\x01 binary \x7f garbage",  # 3
        "[" * 10_000 + "]" * 10_000,  # 4: nested too deeply
        _line({**image, "json": {"data": [{"b64_json": {"$file": "0" * 64 + ".png"}}]}}),  # 5: a file missing
        _line({**image, "json": {"data": [{"b64_json": {"$file": wrong}}]}}),  # 6: bytes that do not hash to it
        _line({**image, "json": {"data": [{"b64_json": {"$file": linked}}]}}),  # 7: a symlink
        _line({**image, "json": {"data": [{"b64_json": {"$file": "../../etc/passwd"}}]}}),  # 8: not a file name
        '{"request": {"method": "GET", "path": "/"}, "response": {"status": 200}, "duration_ms": NaN}',  # 9
        _line({"status": 200, "json": {}, "text": "{}", "body_b64": "AA=="}),  # 10: two bodies
    ]
    (cassette / "exchanges.jsonl").write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    assert main(["validate", str(cassette)]) == 1
    out, err = capsys.readouterr()
    assert not err
    shown = _lines(out)
    where = f"{cassette / 'exchanges.jsonl'}:"
    assert all(line.startswith(where) for line in shown)
    numbers = [int(line[len(where) :].partition(":")[0]) for line in shown]
    assert numbers == sorted(numbers) and set(numbers) == set(range(2, 11))  # line 1 is sound
    assert [line for line in shown if line.startswith(f"{where}2: ")] == [
        f"{where}2: $.request.method: Input should be a valid string [string_type]",
        f"{where}2: $.request.path: a path starts with / and holds at most 2048 characters, none a control "
        "character [path]",
        f"{where}2: $.response.status: Input should be a valid integer [int_type]",
    ]
    text = "\n".join(shown)
    assert f"{where}3: not JSON" in text
    assert f"{where}4: not JSON (nested too deeply (more than 64 levels of arrays and objects))" in text
    assert f"{where}5: refers to files/{'0' * 64}.png, which is missing" in text
    assert f"{where}6: the bytes of {files / wrong} do not hash to its name" in text
    assert f"{where}7: refers to files/{linked}, which is a symlink: only regular files are read" in text
    assert f"{where}8: $.response.json.data[0].b64_json" in text
    assert f"{where}9: not JSON (NaN is not a finite number" in text
    assert f"{where}10: " in text and "one_body" in text


def test_a_file_named_by_two_lines_is_checked_once_and_named_on_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = _sound(tmp_path / "c", 2)
    (cassette / "files" / NAME).write_bytes(b"changed")
    assert main(["validate", str(cassette)]) == 1
    shown = _lines(capsys.readouterr().out)
    assert [line.partition(": ")[0].rsplit(":", 1)[1] for line in shown] == ["1", "2"]


def _loop(path: Path) -> Path:
    os.symlink(path, path)
    return path


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: d.mkdir(), "{d}: cannot read: a directory, and not a cassette (it holds no exchanges.jsonl)"),
        (lambda d: (d.mkdir(), (d / "files").mkdir()), "{d}: cannot read: a directory, and not a cassette"),
        (lambda d: (d.mkdir(), _loop(d / "exchanges.jsonl")), "{d}/exchanges.jsonl: cannot read: "),
        (lambda d: (d.mkdir(), (d / "exchanges.jsonl").mkdir()), "{d}/exchanges.jsonl: cannot read: "),
        (lambda d: _loop(d), "{d}: cannot read: "),
    ],
)
def test_what_cannot_be_read_as_a_cassette_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: Any, message: str
) -> None:
    directory = tmp_path / "c"
    setup(directory)
    assert main(["validate", str(directory)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    [shown] = _lines(err)
    assert shown.startswith(message.format(d=directory))


def test_json_and_json_lines_that_are_no_cassette_keep_their_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    traffic = tmp_path / "traffic.jsonl"
    traffic.write_text(json.dumps({"method": "GET", "path": "/v3/images/models", "status": 200, "body": {}}) + "\n")
    assert main(["validate", str(traffic)]) == 1
    assert f"{traffic}: $.data: Field required [missing]" in capsys.readouterr().out
    assert main(["validate", "--as", "exchange", str(_sound(tmp_path / "c") / "exchanges.jsonl")]) == 2


def test_as_a_real_process_no_traceback(tmp_path: Path) -> None:
    cassette = _sound(tmp_path / "c", 1)
    with (cassette / "exchanges.jsonl").open("ab") as f:
        f.write(bytes(b for b in range(256) if b != 10) + b"\n" + b'{"request": ' * 200 + b"\n")
    result = run_python("-m", "edenfake", "validate", str(cassette), str(tmp_path))
    assert result.returncode == 2  # the second is a directory, not a cassette
    assert "Traceback" not in result.stderr
    shown = _lines(result.stdout)
    assert [line.partition(": ")[0].rsplit(":", 1)[1] for line in shown] == ["2", "3"]


def test_a_cassette_of_many_broken_lines_prints_a_bounded_number_of_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = tmp_path / "c"
    cassette.mkdir()
    (cassette / "exchanges.jsonl").write_text('{"request": 1, "response": 2}\n' * 1000)
    assert main(["validate", str(cassette)]) == 1
    shown = _lines(capsys.readouterr().out)
    assert len(shown) == 101 and shown[-1] == f"{cassette}: more problems, not shown"
    assert shown[0].startswith(f"{cassette / 'exchanges.jsonl'}:1: $.request: ")


def test_a_cassette_recorded_from_a_served_fake_is_sound(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_drift import _record_against_the_fake  # generations, edits with files, an upload, errors

    cassette = _record_against_the_fake(tmp_path / "c")
    loaded = Cassette.load(cassette)
    assert main(["validate", str(cassette)]) == 0
    expected = f"{cassette}: ok (cassette: {len(loaded)} exchange(s), {len(loaded.files)} file(s))"
    assert _lines(capsys.readouterr().out) == [expected]
