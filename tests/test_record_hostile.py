"""``edenfake record`` in front of a hostile upstream (tests/recording_upstream.py's ``Hostile``): tokens echoed in
every JSON and URL spelling, signed URLs in any case, gzip bombs and endless bodies and images, image URLs that
do not parse, headers that are not Latin-1, answers said to be JSON that are not. The client never gets a 500,
the proxy never prints a traceback, its journal stays readable, nothing secret or unbounded reaches the
cassette, and the cassette it leaves always loads and replays."""

from __future__ import annotations

import hashlib
import json
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import edenfake
from tests.helpers import strict_json
from tests.hostile_upstream import (
    HOSTILE_SIGNATURE,
    HOSTILE_TOKEN,
    Hostile,
    peak_rss,
    recording,
    spellings,
)
from tests.recording_upstream import served

EDEN = "https://api.edenai.run/v3/images/generations"
#: the fake's max_upload_bytes, which bounds what the recorder reads of one exchange
LIMIT = 64 * 1024 * 1024
#: the image URLs of one answer the recorder fetches at most (MAX_FETCHES)
FETCHED = 16


@pytest.fixture(scope="module")
def hostile() -> Iterator[Hostile]:
    with served(Hostile()) as app:
        yield app


def _post(url: str, mode: str, **fields: Any) -> httpx.Response:
    body = {"model": "openai/gpt-image-1", "prompt": mode, **fields}
    headers = {"Authorization": f"Bearer {HOSTILE_TOKEN}"}
    return httpx.post(url + "/v3/images/generations", json=body, headers=headers, timeout=120)


def _lines(cassette: Path) -> list[dict[str, Any]]:
    return [strict_json(line) for line in (cassette / "exchanges.jsonl").read_text(encoding="utf-8").splitlines()]


def _strings(value: Any) -> Iterator[str]:
    """Every string of ``value``, keys too, each also percent-decoded, and the strings of any that is JSON text
    (a template keeps the upstream's own text): the secret as any reader of the cassette would decode it."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value
        yield urllib.parse.unquote_plus(value)
        if value[:1] in "{[":
            try:
                inner = json.loads(value.replace("\x00", ""), strict=False)
            except ValueError:
                return
            yield from _strings(inner)


def test_a_secret_echoed_in_any_spelling_never_reaches_the_cassette(hostile: Hostile, tmp_path: Path) -> None:
    cassette = tmp_path / "c"
    signed_input = f"HTTPS://Bucket.Example/in.png?X-Sig={urllib.parse.quote(HOSTILE_SIGNATURE, safe='')}"
    with recording(hostile.base_url, cassette) as proxy:
        answers = [
            _post(proxy.url, "echo-escaped"),
            _post(proxy.url, "echo-compact"),
            _post(proxy.url, "signed-upper", images=[{"image_url": signed_input}]),
        ]
    assert [a.status_code for a in answers] == [401, 401, 200]
    assert HOSTILE_TOKEN in answers[1].text  # the client gets the upstream's own bytes
    raw = b"".join(p.read_bytes() for p in cassette.rglob("*") if p.is_file())
    lines = _lines(cassette)
    assert len(lines) == 3
    decoded = list(_strings(lines))
    for secret in (HOSTILE_TOKEN, HOSTILE_SIGNATURE):
        for spelled in {*spellings(secret), urllib.parse.quote(secret, safe="").lower()}:
            assert spelled.encode() not in raw, spelled
        assert not [s for s in decoded if secret in s]
        assert secret not in proxy.out + proxy.err
    assert b"Signature" not in raw and b"X-Sig" not in raw  # every signed URL lost its query, whatever its case
    assert lines[2]["request"]["json"]["images"] == [{"image_url": "HTTPS://Bucket.Example/in.png"}]
    urls = [item["url"] for item in lines[2]["response"]["json"]["data"]]
    assert [u if isinstance(u, str) else u["url"] for u in urls][1:] == [
        f"Http://{hostile.base_url.split('://')[1].upper()}/cdn/b.png",
        f"http://{hostile.base_url.split('://')[1]}/cdn/c.png",
    ]
    assert "HTTPS://CDN.EXAMPLE/x.png for the image" in lines[2]["response"]["json"]["revised_prompt"]
    with edenfake.mock(replay=cassette, unmatched="error"):  # the scrubbed cassette replays
        again = httpx.post(EDEN, json={"model": "openai/gpt-image-1", "prompt": "echo-compact"}, headers={"a": "b"})
    assert again.status_code == 401 and "token *** (***) is revoked" in again.json()["detail"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the proxy's peak memory in /proc")
def test_answers_and_images_past_the_bound_are_refused_and_never_stored(hostile: Hostile, tmp_path: Path) -> None:
    cassette = tmp_path / "c"
    with recording(hostile.base_url, cassette) as proxy:
        assert _post(proxy.url, "nan").status_code == 200  # everything imported, one exchange recorded
        before = peak_rss(proxy.pid)
        refused = {mode: _post(proxy.url, mode) for mode in ("gzip-bomb", "huge-body", "huge-image")}
        grown = peak_rss(proxy.pid) - before
    for mode, answer in refused.items():
        assert answer.status_code == 502, (mode, answer.text[:300])
        body = strict_json(answer.content)
        assert body["error_code"] == "PROVIDER_ERROR" and f"larger than {LIMIT} bytes" in body["detail"], mode
        assert "not recorded" in body["detail"]
    # A 128 KiB gzip that decodes to 128 MiB cost 650 MB; a 400 MB image was read whole and stored.
    assert grown < 3 * LIMIT, f"the proxy grew by {grown >> 20} MiB"
    assert [line["request"]["json"]["prompt"] for line in _lines(cassette)] == ["nan"]
    assert all(p.stat().st_size < 1024 * 1024 for p in (cassette / "files").iterdir())
    assert proxy.err.count("not recorded") == 3 and "Traceback" not in proxy.err


def test_at_most_sixteen_image_urls_of_an_answer_are_fetched(hostile: Hostile, tmp_path: Path) -> None:
    cassette = tmp_path / "c"
    del hostile.fetched[:]
    with recording(hostile.base_url, cassette) as proxy:
        answer = _post(proxy.url, "many-urls")
    assert answer.status_code == 200 and len(answer.json()["data"]) == 200  # forwarded whole
    assert len(hostile.fetched) == FETCHED
    [line] = _lines(cassette)
    items = line["response"]["json"]["data"]
    assert sum(isinstance(i["url"], dict) for i in items) == FETCHED
    assert line["notes"] == [f"{200 - FETCHED} image URL(s) past the first {FETCHED} of the answer were not fetched"]
    assert f"past the first {FETCHED}" in proxy.err


HOSTILE_ANSWERS = ["bad-url", "bad-header", "utf16", "nan", "overflow", "deep", "garbage"]


def test_unparseable_urls_bad_headers_and_answers_that_are_not_json_never_make_a_500(
    hostile: Hostile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassette = tmp_path / "c"
    with recording(hostile.base_url, cassette) as proxy:
        got = {mode: _post(proxy.url, mode) for mode in HOSTILE_ANSWERS}
        calls = httpx.get(proxy.url + "/_edenfake/calls")
    assert {m: a.status_code for m, a in got.items()} == dict.fromkeys(HOSTILE_ANSWERS, 200)
    sent = {mode: hostile.modes[mode]("t")[2] for mode in HOSTILE_ANSWERS}
    assert all(got[m].content == sent[m] for m in HOSTILE_ANSWERS)  # forwarded as they came
    assert got["bad-header"].headers["x-ok"] == "fine"
    assert "x-trace" not in got["bad-header"].headers and "retry-after" not in got["bad-header"].headers
    err: str = proxy.err
    assert "Traceback" not in err and "internal error" not in err
    assert "data[0].url: the image was not kept" in err and "data[2].url: the image was not kept" in err
    assert "header x-trace not sent on: its value is not Latin-1" in err
    # The journal holds strict JSON only: an answer that is not is summarised, and every page reads.
    assert calls.status_code == 200
    journal = {c["json"]["prompt"]: c["response"] for c in strict_json(calls.content)["calls"]}
    for mode in ("nan", "overflow", "deep", "garbage"):
        digest = hashlib.sha256(sent[mode]).hexdigest()
        assert journal[mode] == {"not_json": {"bytes": len(sent[mode]), "sha256": digest}}, mode
    assert journal["utf16"] == {"data": [], "cost": 0.04}

    monkeypatch.undo()  # the recorded answers break the contract on purpose
    lines = _lines(cassette)
    assert [line["request"]["json"]["prompt"] for line in lines] == HOSTILE_ANSWERS
    assert lines[1]["response"]["headers"] == {"content-type": "application/json"}
    with edenfake.mock(replay=cassette, unmatched="error") as eden:
        for mode in HOSTILE_ANSWERS:
            again = httpx.post(EDEN, json={"model": "openai/gpt-image-1", "prompt": mode}, headers={"a": "b"})
            assert again.status_code == 200, mode
            if mode == "utf16":  # replayed as UTF-8 JSON
                assert again.json() == json.loads(sent[mode].decode("utf-16"))
            elif mode == "bad-url":  # each URL as it came, but for the signature of the first
                urls = [item["url"] for item in json.loads(sent[mode])["data"]]
                assert [item["url"] for item in again.json()["data"]] == [urls[0].split("?")[0], *urls[1:]]
            else:
                assert again.content == sent[mode], mode
        assert [c.replayed for c in eden.calls] == [True] * len(HOSTILE_ANSWERS)
        assert eden.calls[3].response["not_json"]["bytes"] == len(sent["nan"])


@pytest.mark.parametrize("name", ["x-auth-token", "x-amz-security-token", "x-client-secret", "authorization"])
def test_a_header_named_like_a_secret_is_a_secret_the_cassette_scrubs(name: str) -> None:
    from edenfake import FakeRequest
    from edenfake.cassettes.matching import describe_request

    request = FakeRequest(
        "POST", "/v3/images/generations", headers=[(name, "sk-SCRUB-ME-7f3a"), ("accept", "*/*")], body=b"{}"
    )
    described = describe_request(request)
    assert "sk-SCRUB-ME-7f3a" in described.secrets  # scrubbed from whatever an upstream echoes of it
    assert "sk-SCRUB-ME-7f3a" not in json.dumps(described.record)
