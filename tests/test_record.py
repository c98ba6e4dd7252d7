"""``edenfake record`` as a user runs it: a proxy in front of a stand-in for the real service (tests/
recording_upstream.py), driven by the openai SDK and httpx. The cassette holds exactly the session's exchanges
and no secret; offline replay answers with the upstream's own bytes; ``edenfake drift`` finds exactly the
planted differences, and with the catalog it suggests, only those a catalog cannot explain."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import edenfake
from edenfake.cli import main
from tests.helpers import start_cli, stop_cli
from tests.recording_upstream import (
    EXPECTED_DRIFT,
    EXPECTED_DRIFT_WITH_CATALOG,
    SECRET_TOKEN,
    SECRETS,
    STATUSES,
    StandIn,
    same_answer,
    served,
    session,
)


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandIn]:
    with served() as app:
        yield app


def _start_proxy(*args: str) -> tuple[subprocess.Popen[str], str]:
    return start_cli("record", "--port", "0", "--quiet", *args)


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    out, err = stop_cli(proc)
    assert proc.returncode == 0, err
    return out, err


@pytest.fixture(scope="module")
def recorded(stand_in: StandIn, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[bytes], str]]:
    """One recording session through `edenfake record`: the cassette, what the clients got, the proxy's output."""
    cassette = tmp_path_factory.mktemp("record") / "cassette"
    proc, url = _start_proxy("--upstream", stand_in.base_url, "--cassette", str(cassette))
    try:
        before = len(stand_in.sent)
        got = session(url + "/v3", SECRET_TOKEN)
        health = httpx.get(url + "/healthz")  # the fake's own routes are answered locally
        assert health.json() == {"status": "ok"} and len(stand_in.sent) == before + len(STATUSES)
    finally:
        out, err = _stop(proc)
    assert "Traceback" not in err
    yield cassette, got, out
    del stand_in.sent[before:]


def _lines(cassette: Path) -> list[dict[str, object]]:
    text = (cassette / "exchanges.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_the_proxy_answers_with_the_upstreams_bytes(recorded: tuple[Path, list[bytes], str], stand_in: StandIn) -> None:
    _, got, _ = recorded
    assert got == [s.body for s in stand_in.sent[-len(STATUSES) :]]  # signed URLs included: unchanged


def test_the_cassette_holds_exactly_the_sessions_exchanges(recorded: tuple[Path, list[bytes], str]) -> None:
    cassette, _, out = recorded
    lines = _lines(cassette)
    assert [line["response"]["status"] for line in lines] == STATUSES  # type: ignore[index]
    assert [m.group(1) for m in re.finditer(r"^recorded #(\d+) POST ", out, re.M)] == [
        str(i) for i in range(1, len(STATUSES) + 1)
    ]
    assert f"{len(STATUSES)} exchange(s) recorded" in out
    first, edit = lines[0], lines[1]
    assert set(first) == {"request", "response", "duration_ms", "recorded_at"}
    assert first["request"]["json"] == {"model": "openai/gpt-image-1", "prompt": "a red fox", "n": 2, "quality": "low"}  # type: ignore[index]
    assert first["request"]["headers"]["content-type"] == "application/json"  # type: ignore[index]
    assert set(first["request"]["headers"]) <= {"content-type", "accept", "user-agent"}  # type: ignore[index]
    for item in first["response"]["json"]["data"]:  # type: ignore[index]
        assert set(item["b64_json"]) == {"$file"} and (cassette / "files" / item["b64_json"]["$file"]).is_file()
    # the multipart edit: text fields in form, each file once in files/, the boundary nowhere
    assert edit["request"]["headers"]["content-type"] == "multipart/form-data"  # type: ignore[index]
    assert edit["request"]["form"] == {"model": "openai/gpt-image-1", "prompt": "add a hat", "quality": "low"}  # type: ignore[index]
    parts = edit["request"]["files"]  # type: ignore[index]
    assert [(p["part"], p["filename"], p["content_type"]) for p in parts] == [
        ("image", "canvas.png", "image/png"),
        ("mask", "mask.png", "image/png"),
    ]
    for part in parts:
        data = (cassette / "files" / part["file"]).read_bytes()
        assert part["file"] == f"{part['sha256']}.png" and part["size"] == len(data)
    # the URL answer: the image fetched and kept, the URL kept without its signed query
    [item] = lines[2]["response"]["json"]["data"]  # type: ignore[index]
    assert item["url"]["url"].endswith(".png") and "?" not in item["url"]["url"]
    assert (cassette / "files" / item["url"]["$file"]).read_bytes().startswith(b"\x89PNG")
    # the data: URL input of the JSON edit is a file too
    ref = lines[6]["request"]["json"]["images"][0]["image_url"]  # type: ignore[index]
    assert ref["data_url"] == "data:image/png;base64" and (cassette / "files" / ref["$file"]).is_file()
    names = {p.name for p in (cassette / "files").iterdir()}
    assert all(re.fullmatch(r"[0-9a-f]{64}\.png", n) for n in names)


def test_no_secret_reaches_any_file_of_the_cassette(recorded: tuple[Path, list[bytes], str]) -> None:
    cassette, _, out = recorded
    files = [p for p in cassette.rglob("*") if p.is_file()]
    assert len(files) > 5
    for path in files:
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, (path, secret)
        assert b"Bearer" not in data and b"X-Amz-Signature" not in data
    lines = _lines(cassette)
    assert lines[7]["request"]["json"]["extra_headers"] == {"X-Api-Key": "***"}  # type: ignore[index]
    assert lines[8]["request"]["json"]["images"] == [{"image_url": "https://bucket.example/in.png"}]  # type: ignore[index]
    assert not any(s in out for s in SECRETS)


def test_offline_replay_answers_with_the_recorded_bytes_through_every_door(
    recorded: tuple[Path, list[bytes], str], stand_in: StandIn
) -> None:
    cassette, _, _ = recorded
    sent = stand_in.sent[-len(STATUSES) :]
    count = len(stand_in.sent)
    with edenfake.mock(replay=cassette, unmatched="error") as eden:  # in-process: openai SDK (httpx2) and httpx
        replayed = session("https://api.edenai.run/v3", "any-token")
        for original, again in zip(sent, replayed, strict=True):
            same_answer(original.body, again, lambda url: httpx.get(url).content, stand_in)
        assert [c.replayed for c in eden.calls] == [True] * len(STATUSES)
        assert [c.status for c in eden.calls] == STATUSES
        assert eden.calls[0].response["data"][0]["b64_json"]["width"] == 1024  # digests, never base64
    with edenfake.serve(replay=cassette, unmatched="error") as server:  # a real socket
        replayed = session(server.base_url, "any-token")
        for original, again in zip(sent, replayed, strict=True):
            same_answer(original.body, again, lambda url: httpx.get(url).content, stand_in)
    assert len(stand_in.sent) == count  # nothing reached the upstream


def test_serve_replay_on_the_command_line(recorded: tuple[Path, list[bytes], str], stand_in: StandIn) -> None:
    cassette, _, _ = recorded
    proc, url = start_cli("serve", "--port", "0", "--quiet", "--replay", str(cassette), "--unmatched", "error")
    try:
        auth = {"Authorization": "Bearer t"}
        body = {"model": "openai/dall-e-3", "prompt": "a lighthouse", "n": 2}
        answer = httpx.post(url + "/v3/images/generations", json=body, headers=auth)
        assert answer.status_code == 200 and answer.json()["request_id"].startswith("req_")
        missing = httpx.post(url + "/v3/images/generations", json={**body, "n": 1}, headers=auth)
        assert missing.status_code == 404 and missing.json()["error_code"] == "NOT_RECORDED"
        assert missing.json()["closest"]["differences"] == ["n"]
    finally:
        _stop(proc)


def test_drift_reports_exactly_the_planted_differences(
    recorded: tuple[Path, list[bytes], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette, _, _ = recorded
    suggested = tmp_path / "catalog.json"
    assert main(["drift", str(cassette), "--suggest-catalog", str(suggested)]) == 1
    table = capsys.readouterr().out
    assert "status" in table and "#4 POST /v3/images/generations openai/gpt-image-1: recorded 502" in table
    assert main(["drift", str(cassette), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert {k: (v["count"], v["catalog"]) for k, v in report["kinds"].items()} == EXPECTED_DRIFT
    overlay = json.loads(suggested.read_text())
    assert overlay["refusal_status"] == 502
    assert overlay["models"]["openai/dall-e-3"] == {"n_max": 2}
    assert overlay["models"]["openai/gpt-image-1"]["prices"]["low"]["1024x1024"] == 0.02
    assert overlay["models"]["google/imagen-4.0-generate-001"]["aspect_ratios"]["16:9"] == "1344x768"
    # with the suggested catalog, what a catalog explains is gone
    assert main(["drift", str(cassette), "--json", "--catalog", str(suggested)]) == 1
    again = json.loads(capsys.readouterr().out)
    assert {k: (v["count"], v["catalog"]) for k, v in again["kinds"].items()} == EXPECTED_DRIFT_WITH_CATALOG


def test_an_upstream_that_does_not_answer_is_a_503_and_is_not_recorded(tmp_path: Path) -> None:
    cassette = tmp_path / "cassette"
    proc, url = _start_proxy("--upstream", "http://127.0.0.1:9", "--cassette", str(cassette), "--timeout", "5")
    try:
        answer = httpx.post(url + "/v3/images/generations", json={"model": "x/y", "prompt": "p"}, headers={"a": "b"})
    finally:
        out, err = _stop(proc)
    assert answer.status_code == 503 and answer.json()["error_code"] == "SERVICE_UNAVAILABLE"
    assert "did not answer POST /v3/images/generations" in answer.json()["detail"]
    assert "did not answer" in err and "recorded #" not in out
    assert not (cassette / "exchanges.jsonl").exists()


def test_record_refuses_an_upstream_that_is_not_a_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", "--cassette", str(tmp_path / "c"), "--upstream", "api.edenai.run"]) == 2
    assert "must be an http:// or https:// URL" in capsys.readouterr().err
    assert main(["record", "--cassette", str(tmp_path / "c"), "--upstream", "https://u:p@api.edenai.run"]) == 2
    assert "carries no credentials" in capsys.readouterr().err


def test_the_proxy_sends_one_date_its_own(stand_in: StandIn, tmp_path: Path) -> None:
    """The upstream's answer has a Date and the proxy's server writes one: a client gets exactly one."""
    proc, url = _start_proxy("--upstream", stand_in.base_url, "--cassette", str(tmp_path / "c"))
    try:
        answer = httpx.get(url + "/v3/images/models", headers={"Authorization": f"Bearer {SECRET_TOKEN}"})
        assert answer.status_code == 200 and len(answer.headers.get_list("date")) == 1
        assert httpx.get(
            stand_in.base_url + "/v3/images/models", headers={"Authorization": f"Bearer {SECRET_TOKEN}"}
        ).headers["date"]
    finally:
        _stop(proc)
