"""``edenfake drift``: no drift against a recording of the fake itself; the contract checks of recorded requests
and answers; what a catalog can explain; exit codes and output. (The planted differences of a stand-in for the
real service are in tests/test_record.py.)"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

import edenfake
from edenfake import EdenFake, FakeRequest
from edenfake.cassettes.format import Cassette
from edenfake.cassettes.matching import describe_request
from edenfake.cassettes.recording import Recording, Upstream
from edenfake.cassettes.writing import Writer, describe_response
from edenfake.cli import main
from edenfake.drift import KINDS, drift
from tests.helpers import AUTH, MASK, png

EDEN = "https://api.edenai.run/v3"


def _record_against_the_fake(directory: Path) -> Path:
    """A session recorded from a fake served on 127.0.0.1, as if it were the real service."""
    with edenfake.serve(clock=1_779_792_103) as upstream:
        recording = Recording(Upstream(upstream.url), Writer(directory))
        with edenfake.mock(EdenFake(replay=recording)):
            client = openai.OpenAI(api_key="t", base_url=EDEN, max_retries=0)
            client.images.generate(model="openai/gpt-image-1", prompt="a fox", n=2, quality="low")
            client.images.generate(model="openai/dall-e-3", prompt="a boat")  # url + revised_prompt
            client.images.edit(
                model="openai/gpt-image-1",
                image=("c.png", png(64, 64), "image/png"),
                mask=("m.png", MASK, "image/png"),
                prompt="a hat",
            )
            with pytest.raises(openai.BadRequestError):
                client.images.generate(model="openai/gpt-image-1", prompt="a fox", size="512x512")  # type: ignore[arg-type]
            with httpx.Client(base_url=EDEN, headers=AUTH) as http:
                upload = http.post("/upload", files={"file": ("in.png", png(32, 32), "image/png")}).json()
                edit = {"model": "openai/gpt-image-1", "prompt": "blue", "images": [{"file_id": upload["file_id"]}]}
                assert http.post("/images/edits", json=edit).status_code == 200
                assert http.post("/images/generations", json={"model": "x", "prompt": ""}).status_code == 422
                assert http.get("/images/models").status_code == 200
        recording.upstream.close()
        assert not recording.errors
    return directory


def test_a_recording_of_the_fake_itself_shows_no_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cassette = _record_against_the_fake(tmp_path / "cassette")
    assert len(Cassette.load(cassette)) == 8
    assert main(["drift", str(cassette)]) == 0
    out = capsys.readouterr().out
    assert "no drift: the fake answered all 8 exchange(s) as recorded" in out


def _cassette(directory: Path, exchanges: list[tuple[dict[str, Any], int, Any]]) -> Path:
    writer = Writer(directory)
    for body, status, answer in exchanges:
        request = FakeRequest(
            "POST", "/v3/images/generations", [("content-type", "application/json")], json.dumps(body).encode()
        )
        raw = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        content = {"content-type": "application/json" if not isinstance(answer, bytes) else "text/plain"}
        kept = describe_response(status, content, raw, lambda url, limit: "x")
        writer.append(describe_request(request), kept, duration_ms=1)
    return directory


def _image(width: int = 1024, height: int = 1024) -> str:
    return base64.b64encode(png(width, height)).decode()


def test_recorded_requests_and_answers_are_checked_against_the_contract(tmp_path: Path) -> None:
    fox = {"model": "openai/gpt-image-1", "prompt": "a fox"}
    cassette = _cassette(
        tmp_path / "c",
        [
            ({**fox, "n": 20}, 200, {"data": [{"b64_json": _image()}] * 2, "cost": 0.02}),  # the service took n=20
            (fox, 200, {"data": [{"b64_json": _image()}], "cost": "free"}),  # the contract says cost is a number
            (fox, 403, b"Forbidden"),  # a status the contract does not document
        ],
    )
    report = drift(Cassette.load(cassette))
    kinds = {(d.exchange, d.kind) for d in report.differences}
    assert (1, "request_contract") in kinds and (1, "status") in kinds
    assert (2, "answer_contract") in kinds and (2, "field_type") in kinds
    assert (3, "answer_contract") in kinds and (3, "status") in kinds
    [contract] = [d for d in report.differences if d.exchange == 2 and d.kind == "answer_contract"]
    assert "$.cost" in contract.detail
    [status] = [d for d in report.differences if d.exchange == 1 and d.kind == "status"]
    assert status.detail == "recorded 200, fake 422" and not status.catalog


def test_each_kind_of_difference_is_found_and_what_a_catalog_explains_is_suggested(tmp_path: Path) -> None:
    answers = [
        # dall-e-2 answering base64 unasked, with a revised prompt, 3 images for n=2, a JPEG, at another price
        (
            {"model": "openai/dall-e-2", "prompt": "a", "n": 2, "size": "256x256"},
            200,
            {
                "data": [{"b64_json": _image(256, 256), "revised_prompt": "A"}] * 3,
                "created": 1,
                "cost": 0.05,
                "usage": {"tokens": 1},
                "size": 256,
            },
        ),
        ({"model": "openai/gpt-image-1", "prompt": "a", "size": "512x512"}, 400, {"detail": "x", "error_code": "BAD"}),
    ]
    report = drift(Cassette.load(_cassette(tmp_path / "c", answers)))
    found = [(d.exchange, d.kind, d.catalog) for d in report.differences]
    assert found == [
        (1, "answer_contract", False),  # "size": 256 is not a string
        (1, "field_only_in_fake", True),  # output_format: the catalog's report_fields
        (1, "field_only_in_fake", False),  # provider
        (1, "field_type", False),
        (1, "data_count", False),
        (1, "data_keys", True),  # base64 unasked, and a revised prompt
        (1, "data_keys", True),
        (1, "cost", True),
        (1, "usage_keys", False),
        (2, "error_code", False),
        *[(2, "field_only_in_fake", False)] * 4,  # allowed, param, provider, value
    ]
    model = report.suggestion["models"]["openai/dall-e-2"]
    assert model["revised_prompt"] is True and model["default_response_format"] == "b64_json"
    assert model["prices"]["standard"]["256x256"] == 0.025
    assert "output_format" not in model["report_fields"]
    assert set(KINDS) >= {d.kind for d in report.differences}


def test_the_suggestion_keeps_the_catalog_it_was_run_with(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cassette = _cassette(
        tmp_path / "c",
        [({"model": "openai/gpt-image-1", "prompt": "a", "quality": "low"}, 200, {"data": [{"b64_json": _image()}]})],
    )
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"models": {"openai/dall-e-3": {"n_max": 3}}, "refusal_status": 502}))
    suggested = tmp_path / "suggested.json"
    assert main(["drift", str(cassette), "--catalog", str(mine), "--suggest-catalog", str(suggested)]) == 1
    overlay = json.loads(suggested.read_text())
    assert overlay["models"]["openai/dall-e-3"] == {"n_max": 3} and overlay["refusal_status"] == 502
    assert "catalog overlay written to" in capsys.readouterr().err


def test_the_json_report_and_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cassette = _cassette(
        tmp_path / "c",
        [
            (
                {"model": "openai/gpt-image-1", "prompt": p, "quality": "low"},
                200,
                {"data": [{"b64_json": _image()}], "cost": 1},
            )
            for p in "ab"
        ],
    )
    assert main(["drift", str(cassette), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["drift"] is True and report["exchanges"] == 2
    assert report["kinds"]["cost"] == {
        "count": 2,
        "catalog": 2,
        "meaning": KINDS["cost"].summary,
        "remedy": KINDS["cost"].remedy,
        "example": "#1 POST /v3/images/generations openai/gpt-image-1: recorded 1, fake 0.011 (+8990.9%)",
    }
    assert [d["kind"] for d in report["differences"]].count("field_only_in_fake") == 14
    assert main(["drift", str(cassette)]) == 1
    table = capsys.readouterr().out.splitlines()
    assert table[2].split() == ["kind", "count", "catalog", "example"]
    assert table[3].split()[:3] == ["field_only_in_fake", "14", "8/14"]  # report_fields explains 8 of them
    assert table[4].split() == ["what", "to", "do:", *KINDS["field_only_in_fake"].remedy.split()]
    assert table[5].split()[:3] == ["cost", "2", "yes"]
    assert table[6].strip() == f"what to do: {KINDS['cost'].remedy}"
    assert table[-1].startswith("16 difference(s) of 2 kind(s); a catalog explains 10")
    assert table[-1].endswith("What a kind means, and what to do: edenfake drift --explain KIND")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, "not a directory"),
        (lambda d: (d.mkdir(), (d / "exchanges.jsonl").write_text("{")), "line 1: not"),
    ],
)
def test_an_unreadable_cassette_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: Any, message: str
) -> None:
    setup(tmp_path / "c")
    assert main(["drift", str(tmp_path / "c")]) == 2
    assert message in capsys.readouterr().err


def test_an_unreadable_catalog_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cassette = _cassette(tmp_path / "c", [])
    (cassette / "exchanges.jsonl").touch()
    (tmp_path / "bad.json").write_text('{"models": {"x/y": {"n_max": 0}}}')
    assert main(["drift", str(cassette), "--catalog", str(tmp_path / "bad.json")]) == 2
    assert "cannot use the catalog" in capsys.readouterr().err
    assert main(["drift", str(cassette)]) == 0


def test_the_tags_header_is_kept_matched_on_replay_and_drifts_clean(tmp_path: Path) -> None:
    # The tags header decides the answer (an invalid tag is a 400): a cassette keeps it, as the service joins a
    # header sent twice, replay tells calls apart by it, and a recording of the fake drifts clean against it.
    body = {"model": "openai/gpt-image-1", "prompt": "a fox", "quality": "low"}
    bad, good = {"X-EdenAI-Tags": "eden:x=y"}, [("X-EdenAI-Tags", "client=acme"), ("X-EdenAI-Tags", "env=ci")]
    with edenfake.serve(clock=1_779_792_103) as upstream:
        recording = Recording(Upstream(upstream.url), Writer(tmp_path / "c"))
        with edenfake.mock(EdenFake(replay=recording)), httpx.Client(base_url=EDEN, headers=AUTH) as http:
            assert http.post("/images/generations", json=body, headers=bad).status_code == 400
            assert http.post("/images/generations", json=body, headers=good).status_code == 200
        recording.upstream.close()
    lines = [json.loads(line) for line in (tmp_path / "c" / "exchanges.jsonl").read_text().splitlines()]
    assert [line["request"]["headers"]["x-edenai-tags"] for line in lines] == ["eden:x=y", "client=acme,env=ci"]
    assert drift(Cassette.load(tmp_path / "c")).differences == []
    with edenfake.mock(replay=tmp_path / "c", unmatched="error"), httpx.Client(base_url=EDEN, headers=AUTH) as http:
        assert http.post("/images/generations", json=body, headers=good).status_code == 200
        assert http.post("/images/generations", json=body, headers=bad).json()["error_code"] == "INVALID_TAGS"
        untagged = http.post("/images/generations", json=body)  # no tags: neither recorded call
        assert untagged.status_code == 404 and untagged.json()["closest"]["differences"] == ["x-edenai-tags"]
