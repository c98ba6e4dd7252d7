"""The pytest plugin's cassettes when things go wrong: a fixture that cannot start (a bad marker value, a broken
cassette to extend) leaves no staging directory beside the cassettes, and recording from a hostile upstream
(tests/recording_upstream.py's ``Hostile``) through the in-process mock keeps no secret, never answers 500,
leaves a journal that reads and a cassette that replays, and saves nothing past the recorder's bound."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import run_pytest
from tests.hostile_upstream import HOSTILE_SIGNATURE, HOSTILE_TOKEN, Hostile, spellings
from tests.recording_upstream import served

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hostile() -> Iterator[Hostile]:
    with served(Hostile()) as app:
        yield app


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run_pytest(pytester, *args)


def test_a_fixture_that_cannot_start_leaves_no_staging_directory(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(
        test_app="""
import pytest

@pytest.mark.edenfake(cassette=True, credits=-1)
def test_bad_value(edenfake):
    pass

@pytest.mark.edenfake(cassette="broken")
def test_broken(edenfake):
    pass

@pytest.mark.edenfake(cassette=True)
def test_fine(edenfake):
    pass
"""
    )
    folder = pytester.path / "cassettes" / "test_app"
    (folder / "broken" / "files").mkdir(parents=True)
    line = {
        "request": {"method": "POST", "path": "/v3/images/edits", "form": {}, "files": ["x"]},
        "response": {"status": 200, "json": {}},
    }
    (folder / "broken" / "exchanges.jsonl").write_text(json.dumps(line) + "\n")
    before = (folder / "broken" / "exchanges.jsonl").read_bytes()
    for mode in ("once", "rewrite"):
        result = _run(pytester, f"--edenfake-record={mode}", "--edenfake-upstream=http://127.0.0.1:9")
        # nothing staged is left; the test that passed has its (empty) cassette
        assert sorted(p.name for p in folder.iterdir()) == ["broken", "test_fine"], mode
        if mode == "once":
            result.assert_outcomes(passed=1, errors=2)
            result.stdout.fnmatch_lines(["*exchanges.jsonl line 1: $.request.files[[]0[]]: *"])
        else:  # rewrite records afresh: the broken cassette is not read
            result.assert_outcomes(passed=2, errors=1)
        result.stdout.fnmatch_lines(["*credits*-1*"])
    assert (folder / "broken" / "exchanges.jsonl").read_bytes() == before


HEAD = """
import httpx, pytest

AUTH = {"Authorization": "Bearer TOKEN"}
URL = "https://api.edenai.run/v3/images/generations"

def post(mode):
    return httpx.post(URL, json={"model": "openai/gpt-image-1", "prompt": mode}, headers=AUTH)
"""
HOSTILE = """
@pytest.mark.edenfake(cassette=True)
def test_hostile(edenfake):
    answers = [post(mode) for mode in ("echo-escaped", "signed-upper", "bad-url", "bad-header", "nan")]
    assert [a.status_code for a in answers] == [401, 200, 200, 200, 200]
    assert "x-trace" not in answers[3].headers
    assert [c.status for c in edenfake.calls] == [401, 200, 200, 200, 200]  # the journal reads
    assert set(edenfake.calls[4].response) == {"not_json"}
"""
BOMB = """
@pytest.mark.edenfake(cassette=True)
def test_bomb(edenfake):
    answer = post("gzip-bomb")
    assert answer.status_code == 502 and answer.json()["error_code"] == "PROVIDER_ERROR"
"""


def test_recording_from_a_hostile_upstream_through_the_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, hostile: Hostile
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_app=HEAD.replace("TOKEN", HOSTILE_TOKEN) + HOSTILE + BOMB)
    result = _run(pytester, "--edenfake-record=once", f"--edenfake-upstream={hostile.base_url}")
    # the bomb's test passes (it got its 502), and its cassette is refused at teardown: nothing was recorded
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*the cassette *test_bomb was not saved:*", "*larger than 67108864 bytes*"])
    result.stdout.no_fnmatch_line("*Traceback*")
    folder = pytester.path / "cassettes" / "test_app"
    assert sorted(p.name for p in folder.iterdir()) == ["test_hostile"]
    raw = b"".join(p.read_bytes() for p in (folder / "test_hostile").rglob("*") if p.is_file())
    for secret in (HOSTILE_TOKEN, HOSTILE_SIGNATURE):
        for spelled in {*spellings(secret), urllib.parse.quote(secret, safe="").lower()}:
            assert spelled.encode() not in raw, spelled
    pytester.makepyfile(test_app=HEAD.replace("TOKEN", "another-token") + HOSTILE)
    _run(pytester).assert_outcomes(passed=1)  # the cassette replays, offline


@pytest.mark.parametrize("name", ["", "  ", ".", ".."])
def test_a_cassette_name_with_nothing_in_it_is_refused(name: str) -> None:
    from edenfake.cassettes.session import cassette_dir

    with pytest.raises(ValueError, match="cassette= takes True or a name that is not empty"):
        cassette_dir("tests/test_x.py", "test_y", name)
    assert cassette_dir("tests/test_x.py", "test_y", "a b/c").name == "a_b_c"  # a name is made safe


@pytest.mark.parametrize(
    ("upstream", "rule"),
    [
        ("ftp://127.0.0.1:9", "an http:// or https:// URL"),
        ("http://[::1", "an http:// or https:// URL"),
        ("https://user:secret@api.edenai.run", "no credentials or query"),
        ("http://" + "x" * 5000, "longer than a DNS name may be"),  # a long one is cut, not echoed whole
    ],
)
def test_a_bad_upstream_is_one_usage_error_before_any_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, upstream: str, rule: str
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(
        "import pytest\n\n"
        + "".join(f"@pytest.mark.edenfake(cassette=True)\ndef test_{i}(edenfake):\n    pass\n\n" for i in range(3))
    )
    result = _run(pytester, "--edenfake-record=once", f"--edenfake-upstream={upstream}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if "--edenfake-upstream" in line]
    assert len(errors) == 1 and rule in errors[0] and len(errors[0]) < 400, result.stderr.lines
    assert "secret" not in result.stderr.str() and not (pytester.path / "cassettes").exists()
