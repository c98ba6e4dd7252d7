"""Every kind of difference drift reports names a remedy a user can apply without editing edenfake: a catalog
overlay key that exists, the ``--allow-extra-field`` option, or what to report. ``edenfake drift --explain
KIND`` prints it; the table and the JSON report carry it on every difference."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from edenfake import Catalog, FakeRequest, contracts
from edenfake.cassettes.format import Cassette
from edenfake.cassettes.matching import describe_request
from edenfake.cassettes.writing import Writer, describe_response
from edenfake.cli import main
from edenfake.drift import KINDS, DriftKind, drift
from tests.helpers import png

#: words of a remedy that name something: a catalog key, an option, a file
_NAMED = re.compile(r"--[a-z-]+|\b[a-z]+(?:_[a-z]+)+\b")
#: what a remedy may name besides the catalog's keys: drift's own options and kinds' names
_OPTIONS = {"--suggest-catalog", "--allow-extra-field", "--catalog", "--explain"}


#: the fields of requests and answers, which a remedy may name as what it is about
_FIELDS = {*contracts.load("generation-request")["properties"], "b64_json", "revised_prompt"}


def _catalog_keys() -> set[str]:
    schema = contracts.load("catalog")
    return set(schema["properties"]) | set(schema["$defs"]["Model"]["properties"])


def test_every_kind_has_a_summary_a_remedy_and_an_explanation() -> None:
    assert list(KINDS)[:3] == ["status", "error_code", "field_only_in_recording"]
    for name, kind in KINDS.items():
        assert isinstance(kind, DriftKind) and kind.name == name
        assert kind.summary and "\n" not in kind.summary
        assert len(kind.explanation) > len(kind.summary) and kind.remedy


def test_every_remedy_names_only_catalog_keys_and_options_that_exist() -> None:
    keys = _catalog_keys()
    for kind in KINDS.values():
        for named in _NAMED.findall(kind.remedy):
            if named.startswith("--"):
                assert named in _OPTIONS, (kind.name, named)
            else:  # a catalog key, or a request's or an answer's field the remedy is about
                assert named in keys | _FIELDS or named in KINDS, (kind.name, named)


def test_a_remedy_either_names_a_catalog_key_or_option_or_says_to_report_it() -> None:
    keys = _catalog_keys()
    for kind in KINDS.values():
        named = set(_NAMED.findall(kind.remedy))
        assert named & (keys | _OPTIONS) or "report it" in kind.remedy, kind.name


@pytest.mark.parametrize("kind", list(KINDS))
def test_explain_prints_the_explanation_and_the_remedy(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drift", "--explain", kind]) == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    assert flat.startswith(f"{kind}: {KINDS[kind].summary}")
    assert " ".join(KINDS[kind].explanation.split()) in flat
    assert f"What to do: {' '.join(KINDS[kind].remedy.split())}" in flat
    assert all(len(line) <= 100 for line in out.splitlines())


@pytest.mark.parametrize("asked", ["nope", "", "x" * 100_000, "a\nb\x1b\ud800"])
def test_explain_of_an_unknown_kind_is_one_line_listing_the_kinds(
    asked: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["drift", "--explain", asked]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith(f"edenfake drift: --explain: the kinds are {', '.join(KINDS)}; not ")
    assert len(line) < 1000 and line.isprintable()


def test_explain_of_a_misspelt_kind_names_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drift", "--explain", "costs"]) == 2
    assert capsys.readouterr().err.endswith("; not 'costs' (did you mean cost?)\n")


def test_drift_without_a_cassette_or_explain_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drift"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == "edenfake drift: a cassette directory is needed (edenfake drift DIR), or --explain KIND"


def _cassette(directory: Path, answer: dict[str, Any]) -> Path:
    writer = Writer(directory)
    body = json.dumps({"model": "openai/dall-e-2", "prompt": "a", "size": "256x256", "response_format": "b64_json"})
    request = FakeRequest("POST", "/v3/images/generations", [("content-type", "application/json")], body.encode())
    raw = json.dumps(answer).encode()
    kept = describe_response(200, {"content-type": "application/json"}, raw, lambda url, limit: b"")
    writer.append(describe_request(request), kept, duration_ms=1)
    return directory


def _answer(**extra: Any) -> dict[str, Any]:
    from edenfake import EdenFake

    fake = EdenFake()
    body = {"model": "openai/dall-e-2", "prompt": "a", "size": "256x256", "response_format": "b64_json"}
    headers = [("content-type", "application/json"), ("authorization", "Bearer t")]
    answer = json.loads(
        fake.answer(FakeRequest("POST", "/v3/images/generations", headers, json.dumps(body).encode())).body
    )
    assert base64.b64decode(answer["data"][0]["b64_json"]) != png(1, 1)
    return {**answer, **extra}


def test_allow_extra_field_stops_field_only_in_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cassette = _cassette(tmp_path / "c", _answer(request_id="r-1", trace={"id": 1}))
    assert main(["drift", str(cassette), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    rows = report["differences"]
    assert [(d["kind"], d["catalog"]) for d in rows] == [("field_only_in_recording", False)] * 2
    assert all(d["remedy"] == KINDS["field_only_in_recording"].remedy for d in rows)
    assert report["kinds"]["field_only_in_recording"]["remedy"] == KINDS["field_only_in_recording"].remedy
    assert main(["drift", str(cassette), "--allow-extra-field", "request_id"]) == 1
    assert "'trace' (object) only in the recording" in capsys.readouterr().out
    args = ["drift", str(cassette), "--allow-extra-field", "request_id", "--allow-extra-field", "trace"]
    assert main(args) == 0
    assert "no drift" in capsys.readouterr().out
    # the same, kept in a catalog
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"models": {}, "answer_extra_fields": ["request_id", "trace"]}))
    assert main(["drift", str(cassette), "--catalog", str(catalog)]) == 0
    assert Catalog.load(catalog).answer_extra_fields == ("request_id", "trace")
    assert drift(Cassette.load(cassette), allow_extra_fields=["trace", "request_id"]).differences == []
    [found] = drift(Cassette.load(cassette), allow_extra_fields=["trace"]).differences
    assert found.remedy == KINDS["field_only_in_recording"].remedy and "'request_id'" in found.detail


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([""], "--allow-extra-field: a field name has 1 to 60 characters, not 0"),
        (["x" * 61], "--allow-extra-field: a field name has 1 to 60 characters, not 61"),
        ([f"f{i}" for i in range(101)], "--allow-extra-field: at most 100 names, not 101"),
    ],
)
def test_allow_extra_field_is_bounded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], names: list[str], message: str
) -> None:
    cassette = _cassette(tmp_path / "c", _answer())
    args = [arg for name in names for arg in ("--allow-extra-field", name)]
    assert main(["drift", str(cassette), *args]) == 2
    assert capsys.readouterr().err == f"edenfake drift: {message}\n"


@pytest.mark.parametrize("fields", [[""], ["x" * 61], [5], "request_id", [f"f{i}" for i in range(101)], ["a", "a"]])
def test_answer_extra_fields_in_a_catalog_is_checked(fields: Any) -> None:
    with pytest.raises(Exception, match="answer_extra_fields"):
        Catalog.from_data({"models": {}, "answer_extra_fields": fields})


def test_the_table_gives_each_kind_its_remedy_and_points_to_explain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = _cassette(tmp_path / "c", _answer(request_id="r-1", cost=1))
    assert main(["drift", str(cassette)]) == 1
    lines = capsys.readouterr().out.splitlines()
    for kind in ("field_only_in_recording", "cost"):
        [row] = [i for i, line in enumerate(lines) if line.startswith(kind)]
        assert lines[row + 1].strip() == f"what to do: {KINDS[kind].remedy}"
    assert lines[-1].endswith("What a kind means, and what to do: edenfake drift --explain KIND")
    assert "docs/drift.md" not in "\n".join(lines)
