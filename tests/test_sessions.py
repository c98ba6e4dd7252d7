"""Sessions: ``X-Edenfake-Session: NAME`` gives a name its own state on one fake, through the HTTP door and the
in-process mock; the bound, the listing, bad names, the guard, and one server shared by pytest-xdist workers. (The
console's session picker is tested with the console's other browser tests, in tests/test_console.py.)"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import edenfake
from edenfake import EdenFake
from edenfake.server import LiveServer
from tests.helpers import EDENFAKE_PLUGIN, START_ENV, Early, pytest_run, report_sections, run_pytest

XDIST_INSTALLED = importlib.util.find_spec("xdist") is not None
GEN = "/v3/images/generations"
AUTH = {"Authorization": "Bearer sk-test"}
JSON = {"Content-Type": "application/json"}
BODY = {"model": "openai/dall-e-2", "prompt": "a red fox", "size": "256x256", "response_format": "url"}


def under(name: str) -> dict[str, str]:
    return {"X-Edenfake-Session": name}


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with edenfake.serve(max_sessions=8) as served:
        yield served


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    server.reset()
    server.fake.sessions.clear()
    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        yield client


def test_a_fault_queued_in_one_session_answers_only_its_requests(http: httpx.Client) -> None:
    assert http.post("/_edenfake/faults", json={"fail": 503}, headers=under("a")).status_code == 201
    assert http.post(GEN, json=BODY).status_code == 200  # the default session
    assert http.post(GEN, json=BODY, headers=under("b")).status_code == 200
    assert http.post(GEN, json=BODY, headers=under("a")).status_code == 503
    assert http.post(GEN, json=BODY, headers=under("a")).status_code == 200
    assert http.get("/_edenfake/faults").json()["faults"] == []


def test_each_session_journals_only_its_own_calls(http: httpx.Client) -> None:
    for name, prompt in [("a", "one"), ("b", "two"), ("a", "three")]:
        http.post(GEN, json={**BODY, "prompt": prompt}, headers=under(name))
    http.post(GEN, json={**BODY, "prompt": "default"})
    prompts = {
        name: [c["json"]["prompt"] for c in http.get("/_edenfake/calls", headers=under(name)).json()["calls"]]
        for name in ("a", "b")
    }
    assert prompts == {"a": ["one", "three"], "b": ["two"]}
    assert [c["json"]["prompt"] for c in http.get("/_edenfake/calls").json()["calls"]] == ["default"]


def test_credits_latency_and_rate_limit_are_each_sessions_own(http: httpx.Client) -> None:
    http.put("/_edenfake/credits", json={"credits": 0.02}, headers=under("poor"))
    http.put("/_edenfake/latency", json={"seconds": 0.25}, headers=under("slow"))
    http.put("/_edenfake/rate-limit", json={"per_second": 1}, headers=under("limited"))
    assert http.post(GEN, json=BODY, headers=under("poor")).status_code == 200
    assert http.post(GEN, json=BODY, headers=under("poor")).status_code == 402
    assert [http.post(GEN, json=BODY, headers=under("rich")).status_code for _ in range(2)] == [200, 200]
    states = {n: http.get("/_edenfake/state", headers=under(n)).json() for n in ("poor", "slow", "limited", "rich")}
    assert states["poor"]["credits"] == pytest.approx(0.004) and states["rich"]["credits"] is None
    assert states["slow"]["latency"] == 0.25 and states["rich"]["latency"] == 0.0
    assert states["limited"]["rate_limit"] == 1 and states["rich"]["rate_limit"] is None
    http.post("/_edenfake/clock", json={"at": 1_800_000_000}, headers={**JSON, **under("limited")})  # shared
    limited = [http.post(GEN, json=BODY, headers=under("limited")).status_code for _ in range(2)]
    assert limited == [200, 429]
    assert "x-ratelimit-limit" not in http.post(GEN, json=BODY).headers
    http.put("/_edenfake/clock", json={"at": None})


def test_uploads_are_each_sessions_own(http: httpx.Client) -> None:
    files = {"file": ("a.png", b"\x89PNG\r\n\x1a\nnot-really", "image/png")}
    uploaded = http.post("/v3/upload", files=files, headers=under("a"))
    assert uploaded.status_code == 200, uploaded.text
    listed = {n: http.get("/v3/upload", headers=under(n)).json() for n in ("a", "b")}
    assert len(json.dumps(listed["a"])) > len(json.dumps(listed["b"]))
    assert uploaded.json()["file_id"] in json.dumps(listed["a"])
    assert uploaded.json()["file_id"] not in json.dumps(listed["b"]) + json.dumps(http.get("/v3/upload").json())


def test_a_hosted_image_is_fetched_by_its_url_without_the_header_and_hidden_from_other_sessions(
    http: httpx.Client,
) -> None:
    answer = http.post(GEN, json={**BODY, "prompt": "only in a"}, headers=under("a")).json()
    url = answer["data"][0]["url"]
    assert url.endswith("?session=a")
    assert httpx.get(url).status_code == 200  # no header: a browser, LangChain
    bare = url.partition("?")[0]
    assert httpx.get(bare).status_code == 404  # the default session never answered it
    assert httpx.get(bare, headers=under("b")).status_code == 404
    assert httpx.get(url, headers=under("b")).status_code == 404  # the header decides, not the query
    assert httpx.get(bare, headers=under("a")).status_code == 200
    assert httpx.get(bare + "?session=nobody").status_code == 404  # the query never creates a session
    assert "nobody" not in [s["name"] for s in http.get("/_edenfake/sessions").json()["sessions"]]


def test_reset_under_a_session_resets_it_alone(http: httpx.Client) -> None:
    http.post(GEN, json=BODY, headers=under("a"))
    http.post(GEN, json=BODY, headers=under("b"))
    http.post("/_edenfake/faults", json={"fail": 500}, headers=under("b"))
    http.post(GEN, json=BODY)
    assert http.post("/_edenfake/reset", headers={**JSON, **under("b")}).json()["calls"] == 0
    counts = {n: http.get("/_edenfake/state", headers=under(n)).json()["calls"] for n in ("a", "b")}
    assert counts == {"a": 1, "b": 0}
    assert http.get("/_edenfake/state").json()["calls"] == 1
    assert http.get("/_edenfake/faults", headers=under("b")).json()["faults"] == []


def test_the_listing_and_dropping_a_session(http: httpx.Client) -> None:
    http.put("/_edenfake/credits", json={"credits": 5.0}, headers=under("x"))
    http.post(GEN, json=BODY, headers=under("x"))
    http.post("/_edenfake/faults", json={"fail": 502, "times": 2}, headers=under("x"))
    http.get("/_edenfake/state", headers=under("a-reader"))  # a read creates no session
    http.post("/_edenfake/reset", headers={**under("y"), **JSON})  # a change does
    listing = http.get("/_edenfake/sessions").json()
    assert listing["max_sessions"] == 8 and listing["count"] == 2
    x, y = listing["sessions"]
    assert (x["name"], x["calls"], x["faults_queued"], x["credits"]) == ("x", 1, 1, pytest.approx(4.984))
    assert (y["name"], y["calls"], y["credits"]) == ("y", 0, None) and y["last_used"] >= x["last_used"]
    assert http.delete("/_edenfake/sessions/x", headers=JSON).json() == {"name": "x", "dropped": True}
    assert http.delete("/_edenfake/sessions/x", headers=JSON).status_code == 404
    assert http.get("/_edenfake/state", headers=under("x")).json()["credits"] is None  # as a fresh session
    assert [s["name"] for s in http.get("/_edenfake/sessions").json()["sessions"]] == ["y"]  # and not made again


def test_past_max_sessions_the_least_recently_used_is_dropped_and_comes_back_fresh() -> None:
    with edenfake.serve(max_sessions=2) as served, httpx.Client(base_url=served.url, headers=AUTH) as http:
        for name in ("s1", "s2"):
            http.post(GEN, json=BODY, headers=under(name))
        http.get("/_edenfake/state", headers=under("s1"))  # s1 used last: s2 is the oldest idle
        http.post(GEN, json=BODY, headers=under("s3"))
        listing = http.get("/_edenfake/sessions").json()
        assert [s["name"] for s in listing["sessions"]] == ["s1", "s3"] and listing["dropped"] == 1
        # Reading a dropped session sees a fresh one, and neither makes it again nor drops another for it.
        assert http.get("/_edenfake/state", headers=under("s2")).json()["calls"] == 0
        assert http.get("/_edenfake/calls", headers=under("s2")).json()["count"] == 0
        assert [s["name"] for s in http.get("/_edenfake/sessions").json()["sessions"]] == ["s1", "s3"]
        http.post(GEN, json=BODY, headers=under("s2"))  # a call to the API makes it again, dropping the oldest
        assert [s["name"] for s in http.get("/_edenfake/sessions").json()["sessions"]] == ["s3", "s2"]


def test_reads_under_a_session_header_never_make_a_session_nor_drop_one() -> None:
    with edenfake.serve(max_sessions=2) as served, httpx.Client(base_url=served.url, headers=AUTH) as http:
        http.post(GEN, json=BODY, headers=under("worker-a"))
        http.post(GEN, json=BODY, headers=under("worker-b"))
        reads = ["/healthz", "/_edenfake/state", "/_edenfake/calls", "/_edenfake/faults", "/_edenfake/catalog",
                 "/_edenfake/calls.har", "/openapi.json", "/_edenfake/", "/_edenfake/images/0123abcd.png"]  # fmt: skip
        for i, path in enumerate(reads):
            for method in ("GET", "HEAD"):
                http.request(method, path, headers=under(f"probe-{i}"))
        listing = http.get("/_edenfake/sessions").json()
        assert [s["name"] for s in listing["sessions"]] == ["worker-a", "worker-b"] and listing["dropped"] == 0
        assert http.get("/_edenfake/calls", headers=under("worker-a")).json()["count"] == 1  # its journal kept


def test_admin_requests_refused_for_their_token_create_no_session_and_drop_none() -> None:
    # Without the admin token, naming sessions on refused requests evicted a worker's session (its fault, credits)
    admin = {"Authorization": "Bearer admin-t", "Content-Type": "application/json"}
    with edenfake.serve(max_sessions=2, admin_token="admin-t") as served, httpx.Client(base_url=served.url) as http:
        http.put("/_edenfake/credits", json={"credits": 0.5}, headers={**admin, **under("worker-a")})
        http.post("/_edenfake/faults", json={"fail": 503}, headers={**admin, **under("worker-a")})
        for i in range(5):
            for token in ({}, {"Authorization": "Bearer wrong"}):
                headers = {"Content-Type": "application/json", **token, **under(f"x{i}")}
                refused = http.post("/_edenfake/faults", json={"fail": 503}, headers=headers)
                assert refused.status_code == 401 and refused.json()["error_code"] == "UNAUTHORIZED"
        listing = http.get("/_edenfake/sessions", headers=admin).json()
        assert [s["name"] for s in listing["sessions"]] == ["worker-a"] and listing["dropped"] == 0
        state = http.get("/_edenfake/state", headers={**admin, **under("worker-a")}).json()
        assert state["credits"] == 0.5 and len(state["faults"]) == 1


@pytest.mark.parametrize("name", ["", "x" * 65, "has space", "semi;colon", "slash/name", "é"])
def test_a_bad_session_name_is_a_400_naming_the_header_and_the_rule(http: httpx.Client, name: str) -> None:
    for method, path in [("POST", GEN), ("GET", "/_edenfake/calls"), ("POST", "/_edenfake/reset")]:
        r = http.request(method, path, json=BODY, headers={"X-Edenfake-Session": name.encode()})
        assert r.status_code == 400, (method, path, r.text)
        assert r.json()["error_code"] == "INVALID_SESSION"
        assert r.json()["detail"].startswith("X-Edenfake-Session: a session name is 1 to 64 characters")
    assert http.get("/_edenfake/sessions").json()["count"] == 0
    assert http.get("/_edenfake/state").json()["calls"] == 0  # nothing journalled


def test_a_bad_name_in_the_query_or_the_path_is_a_400_naming_it(http: httpx.Client) -> None:
    r = http.get("/_edenfake/images/x.png?session=a%20b")
    assert r.status_code == 400 and r.json()["detail"].startswith("session (query): a session name is")
    r = http.delete("/_edenfake/sessions/a%20b", headers=JSON)
    assert r.status_code == 400 and r.json()["detail"].startswith("name (path): a session name is")


def test_a_page_elsewhere_cannot_list_or_create_sessions(http: httpx.Client) -> None:
    evil = {"Origin": "https://evil.example"}
    assert http.get("/_edenfake/sessions", headers=evil).status_code == 403
    assert http.post(GEN, json=BODY, headers={**evil, **under("planted")}).status_code == 403
    assert http.post("/_edenfake/faults", json={"fail": 500}, headers={**evil, **under("p2")}).status_code == 403
    r = http.get("/_edenfake/images/x.png?session=p3", headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 404  # an <img> may load an image, and finds no session to create
    assert http.get("/_edenfake/sessions").json()["count"] == 0


def test_the_header_works_in_process_through_the_mock() -> None:
    with edenfake.mock() as eden:
        eden.fake.fail(500)  # the default session's
        client = httpx.Client(base_url="https://api.edenai.run", headers=AUTH)
        ok = client.post(GEN, json=BODY, headers=under("worker-1"))
        assert ok.status_code == 200 and ok.json()["data"][0]["url"].endswith("?session=worker-1")
        assert client.post("/_edenfake/faults", json={"fail": 429}, headers=under("worker-1")).status_code == 201
        assert client.post(GEN, json=BODY, headers=under("worker-2")).status_code == 200
        assert client.post(GEN, json=BODY, headers=under("worker-1")).status_code == 429
        assert client.post(GEN, json=BODY).status_code == 500
        assert eden.calls.count == 1  # the handle reads the default session
        counts = {s["name"]: s["calls"] for s in eden.fake.sessions.listing()}
        assert counts == {"worker-1": 2, "worker-2": 1}


def test_handles_say_which_headers_put_a_client_in_their_session() -> None:
    from edenfake._sessions import RemoteSession

    fake = EdenFake()
    with edenfake.serve(fake) as served:
        assert served.session_headers == {}
        remote = RemoteSession(served.url, "w1")
        assert remote.session_headers == {"X-Edenfake-Session": "w1"}
        remote.fail(503)
        remote.credits = 1.0
        r = httpx.post(remote.base_url + "/images/generations", json=BODY, headers={**AUTH, **remote.session_headers})
        assert r.status_code == 503 and remote.unused_faults() == [] and remote.credits == 1.0
        assert [c.status for c in remote.calls] == [503] and fake.calls.count == 0
        remote.reset()
        assert remote.calls == [] and remote.credits is None


def test_a_remote_sessions_handle_asks_and_sets_what_the_in_process_one_does() -> None:
    """Under --edenfake-shared-server a worker holds a RemoteSession: its journal answers the same questions
    (count, last, filter, the assertions), and rate_limit, latency, chaos and assert_all_faults_used exist
    under the in-process handle's names, for this session only."""
    from edenfake._sessions import RemoteSession

    fake = EdenFake(clock=1_800_000_000)  # frozen: the two rate-limited requests share one second
    with edenfake.serve(fake, assert_all_faults_used=False) as served:
        remote = RemoteSession(served.url, "w1")
        headers = {**AUTH, **remote.session_headers}
        remote.calls.assert_not_called()
        assert remote.calls.count == 0 and len(remote.calls) == 0
        with pytest.raises(AssertionError, match="received no request"):
            remote.calls.last  # noqa: B018
        httpx.post(remote.base_url + "/images/generations", json=BODY, headers=headers)
        calls = remote.calls
        assert calls.count == 1 and calls.last.prompt == BODY["prompt"] and calls[0].status == 200
        calls.assert_called(times=1, path="/v3/images/generations")
        calls.assert_called_with(prompt=BODY["prompt"])
        assert calls.filter(status=200) == [calls.last] and calls.filter(status=500) == []
        with pytest.raises(AssertionError, match="expected no request, got 1"):
            calls.assert_not_called()
        remote.rate_limit(1)
        statuses = [httpx.post(remote.base_url + "/images/generations", json=BODY, headers=headers).status_code]
        statuses.append(httpx.post(remote.base_url + "/images/generations", json=BODY, headers=headers).status_code)
        assert statuses == [200, 429]
        remote.rate_limit(None)
        remote.chaos(1.0, statuses=[502], seed=1)
        assert httpx.post(remote.base_url + "/images/generations", json=BODY, headers=headers).status_code == 502
        remote.chaos(0.0)
        remote.latency((0.0, 0.01), seed=3)
        assert remote.admin("GET", "state")["latency"] == [0.0, 0.01]
        remote.fail(503, match={"model": "openai/dall-e-3"})
        with pytest.raises(AssertionError) as unused:
            remote.assert_all_faults_used()
        assert (
            "1 queued fault(s) never answered a request:\n  fail(503, match={'model': 'openai/dall-e-3'}, 1 of 1 left)"
            in str(unused.value)
        )
        assert fake.calls.count == 0  # the default session saw none of it


CONSUMER = """
import os, pathlib, httpx, pytest

BODY = {"model": "openai/dall-e-2", "prompt": "p", "size": "256x256"}

@pytest.mark.parametrize("i", range(4))
def test_each_worker_sees_only_its_own_fault_and_calls(edenfake_server, i):
    me = os.environ["PYTEST_XDIST_WORKER"]
    headers = {"Authorization": "Bearer t", **edenfake_server.session_headers}
    edenfake_server.fail(503)
    url = edenfake_server.base_url + "/images/generations"
    first = httpx.post(url, json={**BODY, "prompt": f"{me}-{i}"}, headers=headers)
    second = httpx.post(url, json={**BODY, "prompt": f"{me}-{i}"}, headers=headers)
    assert (first.status_code, second.status_code) == (503, 200)
    prompts = [c.prompt for c in edenfake_server.calls]
    assert prompts == [f"{me}-{i}"] * 2, prompts
    out = pathlib.Path(os.environ["SEEN"]) / f"{me}-{i}.json"
    out.write_text(__import__("json").dumps({"url": edenfake_server.url, "prompts": prompts}))
"""


def shared_server_run(where: Path) -> tuple[pytest.RunResult, list[dict[str, Any]]]:
    """CONSUMER on two xdist workers sharing one server: the run, and what each test saw."""
    (where / "test_consumer.py").write_text(CONSUMER)
    seen = where / "seen"
    seen.mkdir()
    args = ("-n", "2", "--dist", "each", "--edenfake-shared-server")
    result = pytest_run(where, *args, plugins=(EDENFAKE_PLUGIN, "xdist.plugin"), env={**START_ENV, "SEEN": str(seen)})
    return result, [json.loads(p.read_text()) for p in sorted(seen.iterdir())]


#: the xdist run: it runs only processes of its own, so ``prestart`` queues it on the background thread
SHARED_SERVER_RUN = Early(shared_server_run)


def prestart(config: pytest.Config, names: set[str]) -> None:
    if "test_xdist_workers_share_one_server_each_in_its_own_session" in names and XDIST_INSTALLED:
        SHARED_SERVER_RUN.queue(config)


def test_xdist_workers_share_one_server_each_in_its_own_session(tmp_path: Path) -> None:
    pytest.importorskip("xdist")
    result, found = SHARED_SERVER_RUN.result(tmp_path)
    result.assert_outcomes(passed=8)
    assert len(found) == 8 and len({f["url"] for f in found}) == 1  # one server
    prompts = [p for f in found for p in f["prompts"]]
    assert {p.split("-")[0] for p in prompts} == {"gw0", "gw1"}
    assert len(prompts) == 16 and all(prompts.count(p) == 2 for p in prompts)  # disjoint journals


def test_each_session_replays_a_cassette_from_its_own_position(tmp_path: Path) -> None:
    from edenfake import FakeRequest
    from edenfake.cassettes.matching import describe_request
    from edenfake.cassettes.writing import Writer, describe_response

    def request(session: str | None) -> FakeRequest:
        headers = [("content-type", "application/json"), ("authorization", "Bearer t")]
        headers += [] if session is None else [("x-edenfake-session", session)]
        return FakeRequest("POST", GEN, headers, json.dumps(BODY).encode())

    writer = Writer(tmp_path / "c")
    for n in (1, 2):  # the same request twice: the first answer, then the second
        answer = json.dumps({"data": [{"url": None, "b64_json": "AAAA"}], "created": n}).encode()
        writer.append(
            describe_request(request(None)), describe_response(200, JSON, answer, lambda u, limit: "no"), duration_ms=1
        )
    fake = EdenFake(replay=tmp_path / "c", unmatched="error")
    created = [fake.answer(request(s)).json()["created"] for s in ("a", "a", "b", None, "b", None)]
    assert created == [1, 2, 1, 1, 2, 2]
    fake.answer(FakeRequest("POST", "/_edenfake/reset", [("x-edenfake-session", "a"), *JSON.items()]))
    assert [fake.answer(request(s)).json()["created"] for s in ("a", "b")] == [1, 2]


def test_the_live_fixture_drops_a_tests_named_sessions_after_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_two="""
import httpx

HEADERS = {"Authorization": "Bearer t", "X-Edenfake-Session": "mine", "Content-Type": "application/json"}

def test_first_queues_a_fault_it_does_not_use(edenfake_server):
    httpx.post(edenfake_server.url + "/_edenfake/faults", json={"fail": 500}, headers=HEADERS)

def test_second_finds_a_fresh_session(edenfake_server):
    assert httpx.get(edenfake_server.url + "/_edenfake/faults", headers=HEADERS).json()["faults"] == []
"""
    )
    run_pytest(pytester).assert_outcomes(passed=2)


def test_a_failing_test_on_the_shared_server_reports_its_sessions_calls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_fails="""
import httpx

def test_fails_live(edenfake_server):
    headers = {"Authorization": "Bearer sk-secret", **edenfake_server.session_headers}
    r = httpx.post(edenfake_server.base_url + "/images/generations", json={"prompt": "a"}, headers=headers)
    assert r.is_success
"""
    )
    result = run_pytest(pytester, "--edenfake-shared-server")
    result.assert_outcomes(failed=1)
    assert report_sections(result.stdout.str()) == {
        "test_fails_live": "#1 POST /v3/images/generations -> 422: body.model: Field required"
    }


def test_a_refused_session_name_is_escaped_once() -> None:
    with edenfake.mock():
        r = httpx.get(
            "https://api.edenai.run/v3/images/models",
            headers=[(b"Authorization", b"Bearer t"), (b"X-Edenfake-Session", b"a\x01b")],
        )
    assert (r.status_code, r.json()["error_code"]) == (400, "INVALID_SESSION")
    assert r.json()["detail"].endswith("(got 'a\\x01b')"), r.json()["detail"]
