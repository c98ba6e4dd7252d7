"""Cassettes in a consumer's test suite: ``@pytest.mark.edenfake(cassette=True)`` with ``--edenfake-record``,
driven through real pytest runs against the stand-in upstream (tests/recording_upstream.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import EDENFAKE_PLUGIN, XDIST, run_pytest
from tests.recording_upstream import SECRET_TOKEN, SECRETS, STATUSES, StandIn, same_answer, served

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

ROOT = Path(__file__).resolve().parents[1]

SESSION_TEST = """
import json, os, httpx, pytest
from tests.recording_upstream import session

@pytest.mark.edenfake(cassette=True)
def test_session(edenfake):
    token = os.environ["TOKEN"]
    got = session("https://api.edenai.run/v3", token)
    with open(os.environ["BODIES"], "w") as f:
        json.dump([b.decode() for b in got], f)
    assert [c.status for c in edenfake.calls] == STATUSES
    if os.environ.get("FETCH"):  # the images behind URL answers, fetched as a client would
        urls = [item["url"] for body in got for item in json.loads(body).get("data", []) if item.get("url")]
        with open(os.environ["URLS"], "w") as f:
            json.dump([httpx.get(u).content.hex() for u in urls], f)
"""


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandIn]:
    with served() as app:
        yield app


@pytest.fixture
def env(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("TOKEN", SECRET_TOKEN)
    monkeypatch.setenv("BODIES", str(pytester.path / "bodies.json"))
    return pytester.path


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run_pytest(pytester, *args, plugins=(EDENFAKE_PLUGIN, XDIST))


def test_once_records_the_cassette_and_a_plain_run_replays_it_offline(
    pytester: pytest.Pytester, env: Path, stand_in: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_app=SESSION_TEST.replace("STATUSES", repr(STATUSES)))
    before = len(stand_in.sent)
    _run(pytester, "--edenfake-record=once", f"--edenfake-upstream={stand_in.base_url}").assert_outcomes(passed=1)
    sent = stand_in.sent[before:]
    assert [s.status for s in sent] == STATUSES
    recorded = json.loads((env / "bodies.json").read_text())
    assert [b.encode() for b in recorded] == [s.body for s in sent]  # forwarded unchanged
    cassette = env / "cassettes" / "test_app" / "test_session"
    lines = (cassette / "exchanges.jsonl").read_text().splitlines()
    assert len(lines) == len(STATUSES)
    assert not [p for p in (env / "cassettes" / "test_app").iterdir() if p.name.startswith(".")]  # no staging left
    for path in (p for p in cassette.rglob("*") if p.is_file()):
        assert not any(secret.encode() in path.read_bytes() for secret in SECRETS), path

    # A plain run replays it: another token, nothing reaches the upstream, the upstream's bytes come back.
    monkeypatch.setenv("TOKEN", "t")
    monkeypatch.setenv("URLS", str(env / "images.json"))
    monkeypatch.setenv("FETCH", "1")
    _run(pytester).assert_outcomes(passed=1)
    assert len(stand_in.sent) == before + len(STATUSES)
    replayed = [b.encode() for b in json.loads((env / "bodies.json").read_text())]
    images = iter(bytes.fromhex(h) for h in json.loads((env / "images.json").read_text()))
    for original, again in zip(sent, replayed, strict=True):
        same_answer(original.body, again, lambda url: next(images), stand_in)


def test_a_test_that_fails_while_recording_leaves_no_cassette(
    pytester: pytest.Pytester, env: Path, stand_in: StandIn
) -> None:
    pytester.makepyfile(
        test_app="""
import httpx, pytest

@pytest.mark.edenfake(cassette="named")
def test_fails(edenfake):
    r = httpx.post("https://api.edenai.run/v3/images/generations", json={"model": "openai/dall-e-2", "prompt": "a"},
                   headers={"Authorization": "Bearer TOKEN"})
    assert r.status_code == 200
    assert False, "the test's own failure"
""".replace("TOKEN", SECRET_TOKEN)
    )
    result = _run(pytester, "--edenfake-record=rewrite", f"--edenfake-upstream={stand_in.base_url}")
    result.assert_outcomes(failed=1)
    assert not (env / "cassettes" / "test_app").exists() or not list((env / "cassettes" / "test_app").iterdir())


def test_once_adds_what_is_missing_and_rewrite_records_afresh(
    pytester: pytest.Pytester, env: Path, stand_in: StandIn
) -> None:
    source = """
import httpx, pytest
AUTH = {"Authorization": "Bearer %s"}
URL = "https://api.edenai.run/v3/images/generations"

@pytest.mark.edenfake(cassette=True)
def test_prompts(edenfake):
    for prompt in PROMPTS:
        assert httpx.post(URL, json={"model": "openai/dall-e-2", "prompt": prompt, "size": "256x256"},
                          headers=AUTH).status_code == 200
"""
    upstream = f"--edenfake-upstream={stand_in.base_url}"
    lines = env / "cassettes" / "test_app" / "test_prompts" / "exchanges.jsonl"
    pytester.makepyfile(test_app=(source % SECRET_TOKEN).replace("PROMPTS", "['a', 'b']"))
    _run(pytester, "--edenfake-record=once", upstream).assert_outcomes(passed=1)
    first = lines.read_text().splitlines()
    assert len(first) == 2

    pytester.makepyfile(test_app=(source % SECRET_TOKEN).replace("PROMPTS", "['a', 'b', 'c']"))
    result = _run(pytester)  # replay only: 'c' was never recorded
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*404*"])
    before = len(stand_in.sent)
    _run(pytester, "--edenfake-record=once", upstream).assert_outcomes(passed=1)
    assert len(stand_in.sent) == before + 1  # only the missing one went out
    second = lines.read_text().splitlines()
    assert second[:2] == first and len(second) == 3

    _run(pytester, "--edenfake-record=rewrite", upstream).assert_outcomes(passed=1)
    assert len(stand_in.sent) == before + 4
    assert len(lines.read_text().splitlines()) == 3
    _run(pytester).assert_outcomes(passed=1)


def test_a_replay_run_without_a_cassette_says_how_to_record_one(pytester: pytest.Pytester, env: Path) -> None:
    pytester.makepyfile(
        test_app="""
import pytest

@pytest.mark.edenfake(cassette=True)
def test_x(edenfake):
    pass
"""
    )
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no cassette at *cassettes/test_app/test_x*--edenfake-record=once*"])


def test_a_test_that_sends_nothing_upstream_records_an_empty_cassette_that_replays(
    pytester: pytest.Pytester, env: Path, stand_in: StandIn
) -> None:
    # Every request answered by a fault (an outage test, the failure matrix), or none sent: the recording run
    # leaves a cassette with no exchange, so that the next plain run (CI's) replays instead of asking for one
    pytester.makepyfile(
        test_app="""
import httpx, pytest

@pytest.mark.edenfake(cassette=True)
def test_outage(edenfake):
    edenfake.fail(503)
    r = httpx.post("https://api.edenai.run/v3/images/generations", json={"model": "openai/gpt-image-1",
                   "prompt": "x"}, headers={"Authorization": "Bearer any"})
    assert r.status_code == 503

@pytest.mark.edenfake(cassette=True)
def test_nothing(edenfake):
    pass
"""
    )
    before = len(stand_in.sent)
    _run(pytester, "--edenfake-record=once", f"--edenfake-upstream={stand_in.base_url}").assert_outcomes(passed=2)
    assert len(stand_in.sent) == before  # nothing reached the upstream
    for name in ("test_outage", "test_nothing"):
        assert (env / "cassettes" / "test_app" / name / "exchanges.jsonl").read_bytes() == b""
    _run(pytester).assert_outcomes(passed=2)  # replayed offline
    _run(pytester, "--edenfake-record=rewrite", f"--edenfake-upstream={stand_in.base_url}").assert_outcomes(passed=2)
    _run(pytester).assert_outcomes(passed=2)


def test_parallel_workers_each_record_their_own_cassette(
    pytester: pytest.Pytester, env: Path, stand_in: StandIn
) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(
        test_app="""
import httpx, pytest

@pytest.mark.parametrize("i", range(6))
@pytest.mark.edenfake(cassette=True)
def test_each(edenfake, i):
    for n in range(3):
        r = httpx.post("https://api.edenai.run/v3/images/generations",
                       json={"model": "openai/gpt-image-1", "prompt": f"{i}-{n}", "quality": "low"},
                       headers={"Authorization": "Bearer TOKEN"})
        assert r.status_code == 200
""".replace("TOKEN", SECRET_TOKEN)
    )
    result = _run(pytester, "-n", "2", "--edenfake-record=once", f"--edenfake-upstream={stand_in.base_url}")
    result.assert_outcomes(passed=6)
    folder = env / "cassettes" / "test_app"
    assert sorted(p.name for p in folder.iterdir()) == [f"test_each_{i}_" for i in range(6)]
    for i in range(6):
        lines = (folder / f"test_each_{i}_" / "exchanges.jsonl").read_text().splitlines()
        assert [json.loads(line)["request"]["json"]["prompt"] for line in lines] == [f"{i}-{n}" for n in range(3)]
    _run(pytester, "-n", "2").assert_outcomes(passed=6)


def test_the_marker_names_cassette_and_refuses_it_with_replay(pytester: pytest.Pytester, env: Path) -> None:
    pytester.makepyfile(
        test_app="""
import pytest

@pytest.mark.edenfake(cassete=True)
def test_misspelt(edenfake):
    pass

@pytest.mark.edenfake(cassette=True, replay="x")
def test_both(edenfake):
    pass

@pytest.mark.edenfake(cassette=True)
def test_server(edenfake_server):
    pass
"""
    )
    result = _run(pytester)
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*unknown option 'cassete'; did you mean 'cassette'?*"])
    result.stdout.fnmatch_lines(["*cassette= or replay=, not both*"])
    result.stdout.fnmatch_lines(
        ["*edenfake_server is shared by the session and cannot take *cassette* from the marker*"]
    )
