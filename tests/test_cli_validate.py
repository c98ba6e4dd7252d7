"""``edenfake validate``: captured JSON checked against the contract from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edenfake.cli import main


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
        {"method": "POST", "path": "/v3/images/generations", "status": 429, "body": {"detail": "slow down"}},
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


def test_unreadable_input_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "missing.json")]) == 2
    assert main(["validate", write(tmp_path, "x.json", "{not json\n")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_as_a_real_process_reading_stdin() -> None:
    document = json.dumps({"model": "openai/gpt-image-1", "prompt": "x", "n": 0})
    result = subprocess.run(
        [sys.executable, "-m", "edenfake", "validate", "-"], input=document, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "-: $.n: Input should be greater than or equal to 1 [greater_than_equal]" in result.stdout
