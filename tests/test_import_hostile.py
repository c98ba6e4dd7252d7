"""edenfake import of files that are not recordings, are cut short, too big or hostile: one line naming the file
and the rule, exit 2, nothing written. An entry of a sound file that cannot be imported (a gzip bomb, a
multipart body without a boundary, a body the recorder left out) is skipped and counted by reason instead."""

from __future__ import annotations

import base64
import gzip
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import edenfake
from edenfake.cassettes import har as har_module
from edenfake.cassettes.format import Cassette
from edenfake.cassettes.har import SourceError
from edenfake.cassettes.importing import read_source
from edenfake.cli import main
from tests.helpers import png

TOKEN = "sk-hostile-0a1b2c3d4e5f60718293"
ANSWER = {"data": [{"b64_json": base64.b64encode(png(8, 8)).decode()}], "created": 1, "cost": 0.01}


def _entry(body: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """A HAR entry of a generation (as devtools writes one), with ``changes`` made to it."""
    entry: dict[str, Any] = {
        "startedDateTime": "2026-12-01T10:00:00.000Z",
        "time": 12.5,
        "request": {
            "method": "POST",
            "url": "https://api.edenai.run/v3/images/generations?key=" + TOKEN,
            "httpVersion": "HTTP/1.1",
            "headers": [
                {"name": "Authorization", "value": f"Bearer {TOKEN}"},
                {"name": "Content-Type", "value": "application/json"},
            ],
            "postData": {"mimeType": "application/json", "text": json.dumps(body or {"model": "openai/gpt-image-1"})},
        },
        "response": {
            "status": 200,
            "headers": [{"name": "Content-Type", "value": "application/json"}],
            "content": {"size": 10, "mimeType": "application/json", "text": json.dumps(ANSWER)},
        },
    }
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = entry
        for key in parents:
            target = target[key]
        target[last] = value
    return entry


def _har(*entries: dict[str, Any]) -> bytes:
    return json.dumps(
        {"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": entries}}
    ).encode()


VCR = """interactions:
- request:
    body: '{"model": "openai/gpt-image-1", "prompt": "a fox"}'
    headers:
      Authorization:
      - Bearer TOKEN
      Content-Type:
      - application/json
    method: POST
    uri: https://api.edenai.run/v3/images/generations
  response:
    body:
      string: 'ANSWER'
    headers:
      Content-Type:
      - application/json
    status:
      code: 200
      message: OK
version: 1
""".replace("TOKEN", TOKEN).replace("ANSWER", json.dumps(ANSWER))


def _refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, name: str = "source") -> str:
    source = tmp_path / name
    source.write_bytes(data)
    out = tmp_path / "out"
    assert main(["import", str(source), "--out", str(out)]) == 2
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err.startswith(f"edenfake import: {source}") and said.err.count("\n") == 1
    assert "Traceback" not in said.err and TOKEN not in said.err
    assert not out.exists()
    return said.err


def test_a_sound_har_and_a_sound_vcrpy_cassette_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the baseline the hostile files below are made from
    (tmp_path / "a").write_bytes(_har(_entry()))
    (tmp_path / "b").write_text(VCR)
    (tmp_path / "c").write_text(json.dumps(yaml.safe_load(VCR)))  # vcrpy's JSON serializer
    sources = [str(tmp_path / name) for name in "abc"]
    assert main(["import", *sources, "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.startswith("edenfake import: 3 exchange(s) imported")
    assert len(Cassette.load(tmp_path / "out")) == 3
    for path in (tmp_path / "out").rglob("*"):
        assert not path.is_file() or TOKEN.encode() not in path.read_bytes()


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (png(4, 4), "not a HAR log or a vcrpy cassette: not UTF-8 text"),
        (b"just some words\n", 'not a HAR log (a JSON object with "log") or a vcrpy cassette'),
        (b"", "empty: not a HAR log or a vcrpy cassette"),
        (_har(_entry())[:-40], "not JSON"),
        (b"[1, 2]", 'not a HAR log (a JSON object with "log")'),
        (b"[" * 200 + b"]" * 200, 'not a HAR log (a JSON object with "log")'),  # never parsed: no format is a list
        (b'{"log":' * 100 + b"{}" + b"}" * 100, "nested too deeply"),
        (b'{"other": 1}', 'no "log" object'),
        (b'{"log": {"entries": {}}}', "$.log.entries: must be an array"),
        (_har(_entry(response__status="200")), "$.log.entries[0].response.status: must be an integer"),
        (_har(_entry(request__headers=[{"name": 1, "value": "x"}])), "request.headers[0].name: must be a string"),
        (_har(_entry(request__method=None)), "$.log.entries[0].request.method: is missing"),
        (_har({"request": {}}), "$.log.entries[0].response: is missing"),
        (
            _har(_entry(response__content={"size": 3, "text": "@@not base64@@", "encoding": "base64"})),
            'content.text: is not base64, though its "encoding" says it is',
        ),
        (_har(_entry(response__content={"text": "x", "encoding": "rot13"})), "is not an encoding HAR readers know"),
        (_har(_entry(response__content={"_file": "../../etc/passwd"})), "must be a plain file name beside the log"),
    ],
    ids=[
        "png",
        "words",
        "empty",
        "truncated-json",
        "json-array",
        "deep-array",
        "deep-json",
        "no-log",
        "entries-type",
        "status-type",
        "header-type",
        "method-missing",
        "response-missing",
        "base64-garbage",
        "encoding-unknown",
        "attachment-escape",
    ],
)
def test_a_har_that_cannot_be_read_is_one_line_and_exit_2(
    data: bytes, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert said in _refused(tmp_path, capsys, data, "x.har")


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)
)


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (VCR[: VCR.index("string:") + 20].encode(), "not YAML"),
        (VCR[: VCR.index("  response:")].encode(), "interactions[0]: must hold a request mapping and a response"),
        (BOMB.encode(), "holds a YAML anchor or alias, which no vcrpy cassette does"),
        (b"interactions: !!python/object/apply:os.system ['true']\n", "holds the YAML tag !!python/object/apply"),
        (b"interactions: !!set {a}\n", "holds the YAML tag !!set; only !!binary is read"),
        (b"interactions:\n- !custom 1\n", "holds the YAML tag !custom"),
        (b"a: " + b"[" * 100 + b"]" * 100 + b"\n", "nested more than 64 levels deep"),
        (b"interactions: 3\n", 'no "interactions" list'),
        (VCR.replace("code: 200", "code: '200'").encode(), "interactions[0].response.status: must hold an integer"),
        (VCR.replace("body: '{", "body: !!binary '{").encode(), "not YAML"),
    ],
    ids=[
        "truncated",
        "truncated-at-entry",
        "alias-bomb",
        "python-tag",
        "set-tag",
        "local-tag",
        "deep",
        "interactions-type",
        "status-type",
        "binary-garbage",
    ],
)
def test_a_vcrpy_cassette_that_cannot_be_read_is_one_line_and_exit_2(
    data: bytes, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert said in _refused(tmp_path, capsys, data, "cassette.yaml")


def test_a_source_past_the_bound_is_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(har_module, "MAX_SOURCE_BYTES", 1000)
    said = _refused(tmp_path, capsys, _har(*[_entry()] * 4))
    assert "bytes, more than the 1000 a source may hold" in said


def test_without_pyyaml_a_yaml_source_says_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    assert "pip install 'edenfake[vcr]'" in _refused(tmp_path, capsys, VCR.encode())
    # a HAR needs nothing
    (tmp_path / "a.har").write_bytes(_har(_entry()))
    assert main(["import", str(tmp_path / "a.har"), "--out", str(tmp_path / "c")]) == 0


def test_an_existing_cassette_is_never_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "exchanges.jsonl").write_text("")
    (tmp_path / "a.har").write_bytes(_har(_entry()))
    assert main(["import", str(tmp_path / "a.har"), "--out", str(tmp_path / "out")]) == 2
    assert "already exists and is not an empty directory" in capsys.readouterr().err
    assert (tmp_path / "out" / "exchanges.jsonl").read_text() == ""


def _gzip_vcr(body: bytes) -> str:
    compressed = base64.b64encode(gzip.compress(body, 9)).decode()
    return VCR.replace(f"string: '{json.dumps(ANSWER)}'", f"string: !!binary |\n        {compressed}").replace(
        "      Content-Type:\n      - application/json\n    status",
        "      Content-Encoding:\n      - gzip\n      Content-Type:\n      - application/json\n    status",
    )


def test_entries_of_a_sound_file_that_cannot_be_imported_are_skipped_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "session.yaml"
    sound = _gzip_vcr(json.dumps(ANSWER).encode())
    bomb = _gzip_vcr(b"0" * (har_module.MAX_BODY_BYTES + 1))
    corrupt = _gzip_vcr(b"x" * 100).replace("H4sI", "H4sJ", 1)
    interactions = [text.split("interactions:\n", 1)[1].rsplit("version: 1", 1)[0] for text in (sound, bomb, corrupt)]
    source.write_text("interactions:\n" + "".join(interactions) + "version: 1\n")
    multipart = _entry(
        request__url="https://api.edenai.run/v3/images/edits",
        request__headers=[{"name": "Content-Type", "value": "multipart/form-data"}],
        request__postData={"mimeType": "multipart/form-data", "text": "--x\r\n\r\n--x--\r\n"},
    )
    blob = _entry(request__postData=None, request__bodySize=100)
    failed = _entry(response__status=0, response__content={"size": 0})
    other = _entry(request__url="https://example.com/v1/images/generations")
    preflight = _entry(request__method="OPTIONS")
    summary = {"data": [{"b64_json": {"sha256": "ab" * 32, "bytes": 10}}]}
    journal = _entry(response__content={"size": 9, "mimeType": "application/json", "text": json.dumps(summary)})
    (tmp_path / "b.har").write_bytes(_har(multipart, blob, failed, other, preflight, journal))
    out = tmp_path / "out"
    assert main(["import", str(source), str(tmp_path / "b.har"), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"edenfake import: 1 exchange(s) imported into {out}; 8 skipped: ")
    for reason in (
        f"1 its answer decodes to more than {har_module.MAX_BODY_BYTES} bytes (gzip)",
        "1 its answer is not valid gzip",
        "1 its multipart body cannot be read (multipart/form-data needs a boundary parameter in Content-Type)",
        "1 its request body was not kept",
        "1 it has no answer (status 0",
        "1 not an Eden route",
        "1 OPTIONS is not a method of /v3/images/generations",
        "1 its answer's images are summaries, not their bytes (a HAR of an edenfake journal)",
    ):
        assert reason in said
    assert Cassette.load(out).exchanges[0].response["json"]["cost"] == 0.01


def test_nothing_importable_writes_nothing_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.har").write_bytes(_har(_entry(request__url="https://example.com/")))
    assert main(["import", str(tmp_path / "a.har"), "--out", str(tmp_path / "out")]) == 1
    said = capsys.readouterr().err
    nothing = f"nothing written to {tmp_path / 'out'}"
    assert said == f"edenfake import: 0 exchange(s) imported ({nothing}); 1 skipped: 1 not an Eden route\n"
    assert not (tmp_path / "out").exists()


def test_drift_of_a_cassette_none_of_whose_requests_can_be_sent_is_no_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An imported request whose body was not readable is kept without it and left out of drift: when that
    is every one, drift says nothing was compared and exits 2, never "no drift"."""
    unreadable = _entry(request__postData={"mimeType": "application/json", "text": "{not json"})
    (tmp_path / "har").write_bytes(_har(unreadable))
    assert main(["import", str(tmp_path / "har"), "--out", str(tmp_path / "none")]) == 0
    capsys.readouterr()
    assert main(["drift", str(tmp_path / "none")]) == 2
    out = capsys.readouterr().out
    assert "nothing compared: none of the 1 exchange(s) could be sent" in out and "no drift" not in out
    (tmp_path / "two").write_bytes(_har(unreadable, _entry({"model": "openai/gpt-image-1", "prompt": "a fox"})))
    assert main(["import", str(tmp_path / "two"), "--out", str(tmp_path / "some")]) == 0
    capsys.readouterr()
    assert main(["drift", str(tmp_path / "some"), "--json"]) in (0, 1)
    report = json.loads(capsys.readouterr().out)
    assert (report["exchanges"], report["compared"]) == (2, 1)


def test_secrets_in_fields_named_like_secrets_are_scrubbed_and_replay_still_matches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A request's metadata api_key and an answer's token are kept as "***" (everywhere they are spelled), and
    a request that differs from the recorded one only by such a field is answered from the cassette."""
    body = {"model": "openai/gpt-image-1", "prompt": "a fox", "metadata": {"api_key": "METASECRET1234567"}}
    answer = {
        **ANSWER,
        "api_key": "RESPBODYSECRET99",
        "session": {"token": "sk-live-RESPTOKEN42"},
        "note": "sk-live-RESPTOKEN42",
    }
    (tmp_path / "har").write_bytes(_har(_entry(body, response__content={"size": 1, "text": json.dumps(answer)})))
    assert main(["import", str(tmp_path / "har"), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            kept = path.read_bytes()
            for secret in (b"METASECRET1234567", b"RESPBODYSECRET99", b"sk-live-RESPTOKEN42"):
                assert secret not in kept, (path.name, secret)
    other_key = {**body, "metadata": {"api_key": "ANOTHER-KEY-0987654"}}
    with edenfake.mock(replay=tmp_path / "out", unmatched="error") as eden:
        got = httpx.post(
            "https://api.edenai.run/v3/images/generations", json=other_key, headers={"Authorization": "Bearer t"}
        )
    assert got.status_code == 200 and got.json()["api_key"] == "***" and eden.calls.last.replayed


def test_an_entry_whose_url_does_not_parse_is_skipped_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "har").write_bytes(_har(_entry(request__url="http://[::1"), _entry({"model": "openai/gpt-image-1"})))
    assert main(["import", str(tmp_path / "har"), "--out", str(tmp_path / "out")]) == 0
    assert "1 exchange(s) imported" in capsys.readouterr().out and len(Cassette.load(tmp_path / "out")) == 1


def test_a_json_list_is_refused_as_no_format_without_pyyaml_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # as a plain install has it: PyYAML is the vcr extra's
    source = tmp_path / "list.json"
    source.write_bytes(b" [] ")
    with pytest.raises(SourceError, match=r'not a HAR log \(a JSON object with "log"\) or a vcrpy cassette') as caught:
        read_source(source)
    assert "PyYAML" not in str(caught.value)
