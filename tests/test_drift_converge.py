"""``edenfake drift --suggest-catalog`` converges: applying the overlay it writes leaves none of the differences it
said a catalog explains, and suggesting again with it writes the same overlay (a fixed point). The "real
service" of these cassettes is a fake with another catalog (other prices, edit prices, n limits, sizes, the
refusal status, the reported fields), so every difference is one a catalog can say. Edits have their own prices
(a model's ``edit_prices``), so a cassette whose edits and generations cost differently settles."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edenfake import Catalog, EdenFake, FakeRequest
from edenfake.cassettes.format import Cassette
from edenfake.cassettes.matching import describe_request
from edenfake.cassettes.writing import Writer, describe_response
from edenfake.cli import main
from edenfake.drift import drift
from tests.helpers import AUTH, png

GENERATIONS = "/v3/images/generations"
EDITS = "/v3/images/edits"
GPT = "openai/gpt-image-1"
DALLE2 = "openai/dall-e-2"


def _generation(body: dict[str, Any]) -> FakeRequest:
    headers = [("content-type", "application/json"), *((k.lower(), v) for k, v in AUTH.items())]
    return FakeRequest("POST", GENERATIONS, headers, json.dumps(body).encode())


def _edit(fields: dict[str, Any], size: int = 64) -> FakeRequest:
    """A multipart edit, as the openai SDK sends it."""
    data = {k: str(v) for k, v in fields.items()}
    request = httpx.Request(
        "POST", f"https://api.edenai.run{EDITS}", data=data, files={"image": ("in.png", png(size, size), "image/png")}
    )
    request.read()
    headers = [(k.lower(), v) for k, v in request.headers.items() if k.lower() != "host"]
    return FakeRequest("POST", EDITS, [*headers, *((k.lower(), v) for k, v in AUTH.items())], request.content)


def _recorded(directory: Path, real: dict[str, Any], requests: list[FakeRequest]) -> Path:
    """A cassette of ``requests`` answered by a fake with the catalog overlay ``real``: the service recorded."""
    service = EdenFake(catalog=Catalog.from_data(real))
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "exchanges.jsonl").touch()
    writer = Writer(directory)

    def fetch(url: str, limit: int) -> bytes:
        return service.answer(FakeRequest("GET", urllib.parse.urlsplit(url).path)).body

    for request in requests:
        answer = service.answer(request)
        kept = describe_response(answer.status, answer.headers, answer.body, fetch)
        writer.append(describe_request(request), kept, duration_ms=1)
    return directory


def _claimed(report: Any) -> set[tuple[int, str, str]]:
    return {(d.exchange, d.kind, d.subject) for d in report.differences if d.catalog}


def _converges(cassette: Path) -> tuple[Any, Any]:
    """drift, then drift with its suggestion: nothing it claimed is left, and it suggests the same overlay."""
    first = drift(Cassette.load(cassette))
    overlay = first.suggestion
    again = drift(Cassette.load(cassette), catalog=Catalog.from_data(overlay), overlay=overlay)
    left = {(d.exchange, d.kind, d.subject) for d in again.differences}
    assert not _claimed(first) & left, [str(d) for d in again.differences]
    assert again.suggestion == overlay
    return first, again


def test_edits_and_generations_priced_differently_settle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = {
        "models": {
            GPT: {
                "prices": {
                    "low": {"1024x1024": 0.02, "1536x1024": 0.03, "1024x1536": 0.03},
                    "medium": {"1024x1024": 0.05, "1536x1024": 0.07, "1024x1536": 0.07},
                    "high": {"1024x1024": 0.2, "1536x1024": 0.3, "1024x1536": 0.3},
                },
                "edit_prices": {"low": {"1024x1024": 0.035}},
            }
        }
    }
    requests = [
        _generation({"model": GPT, "prompt": "a fox", "quality": "low"}),
        _edit({"model": GPT, "prompt": "a hat", "quality": "low"}),
        _generation({"model": GPT, "prompt": "a boat", "quality": "low", "n": 2}),
        _edit({"model": GPT, "prompt": "a scarf", "quality": "low", "n": 2}),
    ]
    cassette = _recorded(tmp_path / "c", real, requests)
    suggested = tmp_path / "suggested.json"
    assert main(["drift", str(cassette), "--json", "--suggest-catalog", str(suggested)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(d["exchange"], d["kind"], d["catalog"]) for d in report["differences"]] == [
        (n, "cost", True) for n in (1, 2, 3, 4)
    ]
    overlay = json.loads(suggested.read_text())
    model = overlay["models"][GPT]
    assert model["prices"]["low"]["1024x1024"] == 0.02
    assert model["edit_prices"] == {"low": {"1024x1024": 0.035}}
    # applied: no drift left, and the suggestion is a fixed point
    again = tmp_path / "again.json"
    assert main(["drift", str(cassette), "--catalog", str(suggested), "--suggest-catalog", str(again)]) == 0
    assert "no drift" in capsys.readouterr().out
    assert json.loads(again.read_text()) == overlay
    # the fake with that catalog charges edits their own price, generations theirs
    fake = EdenFake(catalog=Catalog.from_data(overlay))
    assert json.loads(fake.answer(requests[1]).body)["cost"] == 0.035
    assert json.loads(fake.answer(requests[0]).body)["cost"] == 0.02


def test_edit_prices_fall_back_to_the_generation_prices() -> None:
    catalog = Catalog.from_data({"models": {DALLE2: {"edit_prices": {"standard": {"256x256": 0.5}}}}})
    fake = EdenFake(catalog=catalog)
    small = fake.answer(_edit({"model": DALLE2, "prompt": "a", "size": "256x256"}))
    large = fake.answer(_edit({"model": DALLE2, "prompt": "a", "size": "512x512"}))
    generated = fake.answer(_generation({"model": DALLE2, "prompt": "a", "size": "256x256"}))
    assert json.loads(small.body)["cost"] == 0.5
    assert json.loads(large.body)["cost"] == Catalog.default()[DALLE2].unit_price(512, 512, "standard")
    assert json.loads(generated.body)["cost"] == Catalog.default()[DALLE2].unit_price(256, 256, "standard")


def test_a_json_edit_naming_an_upload_is_priced_as_an_edit() -> None:
    fake = EdenFake(catalog=Catalog.from_data({"models": {DALLE2: {"edit_prices": {"standard": {"*": 0.25}}}}}))
    upload = httpx.Request(
        "POST", "https://api.edenai.run/v3/upload", files={"file": ("in.png", png(32, 32), "image/png")}
    )
    upload.read()
    headers = [(k.lower(), v) for k, v in upload.headers.items() if k.lower() != "host"]
    uploaded = fake.answer(
        FakeRequest("POST", "/v3/upload", [*headers, *((k.lower(), v) for k, v in AUTH.items())], upload.content)
    )
    assert uploaded.status == 200, uploaded.body
    body = {"model": DALLE2, "prompt": "a", "images": [{"file_id": json.loads(uploaded.body)["file_id"]}]}
    request = _generation(body)
    request.path = EDITS
    answer = fake.answer(request)
    assert answer.status == 200, answer.body
    assert json.loads(answer.body)["cost"] == 0.25


def test_every_kind_of_suggested_key_settles(tmp_path: Path) -> None:
    real = {
        "refusal_status": 502,
        "models": {
            GPT: {"n_max": 2, "report_fields": ["output_format", "size"], "default_output_format": "webp"},
            DALLE2: {"sizes": ["256x256", "1024x1024"], "default_size": "256x256", "revised_prompt": True},
            "openai/dall-e-3": {"n_max": 2},
        },
    }
    requests = [
        _generation({"model": GPT, "prompt": "a", "quality": "low", "n": 3}),  # refused: n_max
        _generation({"model": GPT, "prompt": "b", "quality": "low", "size": "512x512"}),  # 502 against 400
        _generation({"model": GPT, "prompt": "c", "quality": "low"}),  # WebP, and no quality or background reported
        _generation({"model": DALLE2, "prompt": "d", "size": "512x512"}),  # a size it lacks
        _generation({"model": DALLE2, "prompt": "e"}),  # its default size, and a revised prompt
        _generation({"model": "openai/dall-e-3", "prompt": "f", "n": 2}),  # taken: n_max
    ]
    first, again = _converges(_recorded(tmp_path / "c", real, requests))
    kinds = {(d.exchange, d.kind) for d in first.differences if d.catalog}
    assert {(1, "status"), (2, "status"), (3, "field_only_in_fake"), (4, "status"), (6, "status")} <= kinds
    assert {(3, "image_format"), (5, "image_size"), (5, "data_keys"), (5, "cost")} <= kinds
    assert not again.differences, [str(d) for d in again.differences]
    overlay = first.suggestion
    assert overlay["refusal_status"] == 502
    assert overlay["models"][GPT]["default_output_format"] == "webp"
    assert overlay["models"][GPT]["n_max"] == 2 and overlay["models"]["openai/dall-e-3"]["n_max"] == 2
    assert "512x512" not in overlay["models"][DALLE2]["sizes"]
    assert overlay["models"][DALLE2]["default_size"] == "256x256"


def test_conflicting_prices_are_not_claimed_and_do_not_flip(tmp_path: Path) -> None:
    # Two recordings of one price that disagree: the first is suggested, the second stays reported, and a second
    # run with the suggestion keeps the first rather than trading it for the second.
    requests = [_generation({"model": DALLE2, "prompt": p, "size": "256x256"}) for p in "ab"]
    cassette = _recorded(tmp_path / "a", {"models": {DALLE2: {"prices": {"standard": {"*": 0.1}}}}}, requests[:1])
    _recorded(tmp_path / "a", {"models": {DALLE2: {"prices": {"standard": {"*": 0.2}}}}}, requests[1:])
    first, again = _converges(cassette)
    assert [(d.exchange, d.kind, d.catalog) for d in first.differences] == [(1, "cost", True), (2, "cost", False)]
    assert first.suggestion["models"][DALLE2]["prices"]["standard"]["256x256"] == 0.1
    assert [(d.exchange, d.kind, d.catalog) for d in again.differences] == [(2, "cost", False)]


_OVERLAYS = st.fixed_dictionaries(
    {},
    optional={
        "refusal_status": st.sampled_from([400, 502]),
        "n_max": st.integers(1, 3),
        "price": st.sampled_from([0.01, 0.02, 0.5]),
        "edit_price": st.sampled_from([0.03, 0.04]),
        "sizes": st.sampled_from([["256x256", "512x512"], ["256x256", "1024x1024"]]),
        "revised_prompt": st.booleans(),
        "report_fields": st.sampled_from([["size"], ["output_format", "size", "quality"]]),
        "response_format": st.sampled_from(["url", "b64_json"]),
    },
)
_REQUESTS = st.lists(
    st.tuples(
        st.booleans(),  # an edit
        st.integers(1, 3),  # n
        st.sampled_from(["256x256", "512x512", None]),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_OVERLAYS, _REQUESTS)
def test_random_small_cassettes_settle(tmp_path_factory: pytest.TempPathFactory, knobs: Any, asked: Any) -> None:
    entry: dict[str, Any] = {}
    if "n_max" in knobs:
        entry["n_max"] = knobs["n_max"]
    if "price" in knobs:
        entry["prices"] = {"standard": {"256x256": knobs["price"], "512x512": 0.018, "1024x1024": 0.02}}
    if "edit_price" in knobs:
        entry["edit_prices"] = {"standard": {"256x256": knobs["edit_price"]}}
    if "sizes" in knobs:
        entry["sizes"] = knobs["sizes"]
        entry["default_size"] = "256x256"
    for key in ("revised_prompt", "report_fields"):
        if key in knobs:
            entry[key] = knobs[key]
    if "response_format" in knobs:
        entry["default_response_format"] = knobs["response_format"]
    real: dict[str, Any] = {"models": {DALLE2: entry}}
    if "refusal_status" in knobs:
        real["refusal_status"] = knobs["refusal_status"]
    requests = []
    for index, (edit, n, size) in enumerate(asked):
        fields: dict[str, Any] = {"model": DALLE2, "prompt": f"p{index}", "n": n}
        if size is not None:
            fields["size"] = size
        requests.append(_edit(fields) if edit else _generation(fields))
    _converges(_recorded(tmp_path_factory.mktemp("c"), real, requests))


def test_a_suggestion_that_is_no_catalog_explains_nothing_and_is_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from edenfake.drift import suggestion

    cassette = _recorded(
        tmp_path / "c", {"models": {DALLE2: {"n_max": 1}}}, [_generation({"model": DALLE2, "prompt": "a", "n": 2})]
    )
    monkeypatch.setattr(suggestion.Suggestions, "overlay", lambda self: {"models": {DALLE2: {"n_max": 0}}})
    report = drift(Cassette.load(cassette))
    assert [(d.kind, d.catalog) for d in report.differences] == [("status", False)]
    assert report.notes[0].startswith("the suggested catalog overlay is not a catalog: ")
    written = tmp_path / "s.json"
    assert main(["drift", str(cassette), "--suggest-catalog", str(written)]) == 2
    assert "could not write the suggested catalog" in capsys.readouterr().err and not written.exists()
