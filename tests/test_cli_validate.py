"""``edenfake validate``: captured JSON checked against the contract from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edenfake.cli import main
from tests.helpers import run_python


def write(tmp_path: Path, name: str, content: object) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def test_conforming_documents_of_each_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [
        write(tmp_path, "request.json", {"model": "openai/gpt-image-1", "prompt": "x"}),
        write(tmp_path, "edit.json", {"model": "openai/gpt-image-1", "prompt": "x", "images": [{"file_id": "f"}]}),
        write(tmp_path, "response.json", {"data": [{"url": "https://x/y.png"}], "cost": None}),
        write(
            tmp_path, "error.json", {"detail": "Invalid or missing authentication token", "error_code": "UNAUTHORIZED"}
        ),
    ]
    assert main(["validate", *files]) == 0
    out = capsys.readouterr().out
    assert "ok (request)" in out and "ok (edit-request)" in out and "ok (response)" in out and "ok (error)" in out


def test_violations_are_listed_with_their_json_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "bad.json", {"model": "nope", "prompt": "", "n": 11})
    assert main(["validate", bad]) == 1
    out = capsys.readouterr().out
    assert f"{bad}: $.model:" in out and f"{bad}: $.n:" in out and "[string_too_short]" in out


def test_captured_exchanges_as_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        {"method": "POST", "path": "/v3/images/generations", "status": 200, "body": {"data": []}},
        {"method": "POST", "path": "/v3/images/generations", "status": 401, "body": {"detail": "no token"}},
    ]
    path = write(tmp_path, "traffic.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")
    assert main(["validate", path]) == 1
    out = capsys.readouterr().out
    assert f"{path}:1: ok (exchange)" in out
    assert f"{path}:2: $.error_code" in out or f"{path}:2: $:" in out


def test_status_narrows_the_error_kind(tmp_path: Path) -> None:
    body = write(tmp_path, "e.json", {"detail": "x", "error_code": "RATE_LIMITED", "retry_after": 1})
    assert main(["validate", "--as", "error", "--status", "429", body]) == 0
    assert main(["validate", "--as", "error", "--status", "401", body]) == 1


def test_status_takes_each_shape_the_catalog_may_answer_it_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # error_shapes "error_object": {"error": {"code": 429, "message": ...}} is a 429 the fake may send too
    other = write(tmp_path, "other.json", {"error": {"code": 429, "message": "Rate limit exceeded"}})
    assert main(["validate", "--as", "error", "--status", "429", other]) == 0
    wrong = write(tmp_path, "wrong.json", {"error": {"code": 402, "message": "Rate limit exceeded"}})
    assert main(["validate", "--as", "error", "--status", "429", wrong]) == 1
    assert f"{wrong}: $.retry_after: Field required [missing]" in capsys.readouterr().out  # the default shape's


def test_unreadable_input_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "missing.json")]) == 2
    assert main(["validate", write(tmp_path, "x.json", "{not json\n")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_as_a_real_process_reading_stdin() -> None:
    document = json.dumps({"model": "openai/gpt-image-1", "prompt": "x", "n": 0})
    result = run_python("-m", "edenfake", "validate", "-", stdin=document)
    assert result.returncode == 1
    assert "-: $.n: Input should be greater than or equal to 1 [greater_than_equal]" in result.stdout


# -- hostile documents: never a traceback, every line one bounded line ------------------------------------------

EXCHANGE = {"method": "POST", "path": "/v3/images/generations", "status": 200, "body": {"data": []}}
#: the longest line validate prints
LINE = 501


def _lines(text: str) -> list[str]:
    lines = text.splitlines()
    for line in lines:
        assert len(line) <= LINE and line.isprintable(), line[:200]
    return lines


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("status", "abc", "'status' must be an integer from 100 to 599, got 'abc'"),
        ("status", [200], "'status' must be an integer from 100 to 599, got an array"),
        ("status", True, "'status' must be an integer from 100 to 599, got true"),
        ("status", 99.5, "'status' must be an integer from 100 to 599, got 99.5"),
        ("status", 10**400, "'status' must be an integer from 100 to 599, got 1000000000"),
        ("method", 5, "'method' must be an HTTP method name (a string), got 5"),
        ("method", None, "'method' must be an HTTP method name (a string), got null"),
        ("path", None, "'path' must be a string starting with /, got null"),
        ("path", {"a": 1}, "'path' must be a string starting with /, got an object"),
        ("media_type", 5, "'media_type' must be a string, got 5"),
    ],
)
def test_an_exchange_of_the_wrong_shape_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: object, rule: str
) -> None:
    lines = [EXCHANGE, {**EXCHANGE, field: value}, {**EXCHANGE, "body": "a string"}]
    path = write(tmp_path, "traffic.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")
    assert main(["validate", path]) == 2
    out, err = capsys.readouterr()
    assert _lines(out)[0] == f"{path}:1: ok (exchange)"
    assert f"{path}:3: $: Input should be a valid dictionary [dict_type]" in out  # checked after the broken one
    [shown] = _lines(err)
    assert shown.startswith(f"{path}:2: an exchange's ") and rule in shown


@pytest.mark.parametrize("json_lines", [False, True])
def test_deep_nesting_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], json_lines: bool
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    path = write(tmp_path, "deep.json", f"{json.dumps(EXCHANGE)}\n{deep}\n" if json_lines else deep)
    assert main(["validate", path]) == 2
    out, err = capsys.readouterr()
    assert _lines(out) == ([f"{path}:1: ok (exchange)"] if json_lines else [])
    [shown] = _lines(err)
    line = 2 if json_lines else 1
    assert shown == f"{path}:{line}: cannot read: nested too deeply (more than 64 levels of arrays and objects)"


def test_a_file_over_the_limit_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.jsonl"
    with big.open("wb") as f:
        f.truncate(64 * 1024 * 1024 + 1)  # sparse: nothing written but its size
    small = write(tmp_path, "small.json", {"model": "openai/gpt-image-1", "prompt": "x"})
    assert main(["validate", str(big), small]) == 2
    out, err = capsys.readouterr()
    assert _lines(err) == [f"{big}: cannot read: larger than 64 MiB, the most edenfake reads"]
    assert _lines(out) == [f"{small}: ok (request)"]


def test_what_validate_prints_of_a_huge_invalid_document_is_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = {
        "model": "m" * 1_000_000,
        "prompt": "p",
        "extra_headers": {"k" * 100_000: 5, "a\nb\ud800": 6},
        "k" * 100_000: 1,
    }
    answer = {"data": [{"b64_json": n} for n in range(600)]}  # two violations each
    exchange = {**EXCHANGE, "path": "/v3/" + "p\n" * 100_000}
    files = [write(tmp_path, f"{i}.json", doc) for i, doc in enumerate([request, answer, exchange])]
    assert main(["validate", *files]) == 1
    out = _lines(capsys.readouterr().out)
    shown = [line for line in out if line.startswith(f"{files[1]}: ")]
    assert len(shown) == 101 and shown[-1] == f"{files[1]}: and 1100 more violation(s), not shown"
    assert any(line.startswith(f"{files[0]}: $.extra_headers.kkkk") for line in out)
    assert any("a\\nb\\ud800" in line for line in out)
    assert any(line.startswith(f"{files[2]}: $: POST /v3/p\\np\\n") for line in out)


def test_json_lines_with_unreadable_lines_still_check_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "\n".join([json.dumps(EXCHANGE), "{broken", '{"cost": NaN, "data": []}', "", json.dumps(EXCHANGE)])
    path = write(tmp_path, "t.jsonl", text)
    assert main(["validate", path]) == 2
    out, err = capsys.readouterr()
    assert _lines(out) == [f"{path}:1: ok (exchange)", f"{path}:5: ok (exchange)"]
    broken, nan = _lines(err)
    assert broken.startswith(f"{path}:2: cannot read: Expecting property name enclosed in double quotes")
    assert nan.startswith(f"{path}:3: cannot read: NaN is not a finite number")


def test_one_broken_document_is_named_at_the_line_it_breaks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "pretty.json", json.dumps({"model": "m", "prompt": "p", "n": 2}, indent=2)[:-2] + ",\n}")
    assert main(["validate", path]) == 2
    [shown] = _lines(capsys.readouterr().err)
    assert shown.startswith(f"{path}:5: cannot read: Expecting property name enclosed in double quotes: line 5")


def test_deep_nesting_on_stdin_of_a_real_process() -> None:
    result = run_python("-m", "edenfake", "validate", "-", stdin="[" * 100_000 + "]" * 100_000, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "-:1: cannot read: nested too deeply (more than 64 levels of arrays and objects)\n"
