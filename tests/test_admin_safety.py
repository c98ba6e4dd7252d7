"""A web page the developer visits cannot drive or read a running fake: every kind of request a browser sends
on a page's behalf without asking the server (form posts, no-cors fetches, beacons, images), under a Host that
is not the fake's (DNS rebinding) or from an Origin of another site, is refused before it touches any state.

First over HTTP against a live server, each kind of request written out by hand; then from pages in headless
Chromium (Debian's, through playwright's Python package; skipped, saying so, without them): a page on another
port of 127.0.0.1, a page of another site, and a page of a name rebound to 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

import edenfake
from edenfake import EdenFake, FakeRequest, FakeResponse
from edenfake.server import LiveServer
from tests.conftest import check_against_contract
from tests.helpers import AUTH, FROZEN, chromium_context, cli_running, run_python

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

GENERATE = "/v3/images/generations"
BODY = {"model": "openai/gpt-image-1", "prompt": "a secret prompt", "quality": "low"}
#: a request answered with a URL to an image the fake hosts
URL_BODY = {"model": "openai/dall-e-2", "prompt": "a boat", "size": "256x256", "response_format": "url"}
JSON = {"Content-Type": "application/json"}
SECRET = "a secret prompt"


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with edenfake.serve(clock=FROZEN, assert_all_faults_used=False) as server:
        yield server


@pytest.fixture
def server(live: LiveServer) -> Iterator[LiveServer]:
    live.reset()
    live.credits = 1.0
    live.fail(503, times=5, match={"model": "openai/dall-e-3"})  # a fault a test queued: no page may use it up
    yield live
    live.reset()


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url) as client:
        client.event_hooks["response"].append(check_against_contract)
        yield client


def untouched(server: LiveServer) -> None:
    """The fake's state is what the fixture made it: no call journalled, nothing spent, the fault still queued."""
    assert server.calls.count == 0
    assert server.credits == 1.0
    assert [(f.what, f.times, f.used) for f in server.fake.faults.faults] == [(503, 5, 0)]
    assert server.fake.faults.chaos_rate == 0 and server.fake.rate_limiter is None


def refused(response: httpx.Response, code: str) -> dict[str, Any]:
    assert response.status_code == 403, response.text[:300]
    body: dict[str, Any] = response.json()
    assert body["error_code"] == code, body
    return body


# -- changes to the admin API, without an admin token ------------------------------------------------------

#: each change a page could send without asking, then the same change as JSON (taken)
CROSS_SITE_CHANGES = [
    pytest.param(
        "POST",
        "/_edenfake/faults",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"fail=503",
        {"fail": 503},
        id="form-urlencoded",
    ),
    pytest.param(
        "POST",
        "/_edenfake/faults",
        {"Content-Type": "text/plain"},
        b'{"fail": 503, "times": null}',
        {"fail": 503, "times": None},
        id="text-plain-json",
    ),
    pytest.param(
        "POST",
        "/_edenfake/faults",
        {"Content-Type": "text/plain;charset=UTF-8"},
        b'{"fail":503,"times":null,"x":"="}',
        {"fail": 503},
        id="text-plain-form-trick",
    ),
    pytest.param(
        "POST",
        "/_edenfake/faults",
        {"Content-Type": "multipart/form-data; boundary=b"},
        b'--b\r\nContent-Disposition: form-data; name="fail"\r\n\r\n503\r\n--b--\r\n',
        {"fail": 503},
        id="multipart",
    ),
    pytest.param("POST", "/_edenfake/faults", {}, b'{"fail": 503}', {"fail": 503}, id="json-without-content-type"),
    pytest.param(
        "PUT", "/_edenfake/credits", {"Content-Type": "text/plain"}, b'{"credits": 0}', {"credits": 0}, id="put-text"
    ),
    pytest.param("PUT", "/_edenfake/chaos", {}, b'{"rate": 1}', {"rate": 0.5}, id="put-no-type"),
    pytest.param("POST", "/_edenfake/reset", {}, b"", None, id="reset-no-body"),
    pytest.param(
        "POST", "/_edenfake/reset", {"Content-Type": "application/x-www-form-urlencoded"}, b"", None, id="reset-form"
    ),
]


@pytest.mark.parametrize(("method", "path", "headers", "body", "as_json"), CROSS_SITE_CHANGES)
def test_a_change_a_page_could_send_cross_site_is_refused_and_taken_as_json(
    server: LiveServer,
    http: httpx.Client,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    as_json: dict[str, Any] | None,
) -> None:
    server.fake.calls.record("POST", GENERATE, [], b"{}", 200, None, at=FROZEN)  # a call a reset would drop
    # as a page on another port of this machine sends it, and as a client without an Origin does
    for origin in ({"Origin": f"http://127.0.0.1:{server.port + 1}"}, {}):
        r = http.request(method, path, headers={**origin, **headers}, content=body)
        detail = refused(r, "ADMIN_NEEDS_JSON")["detail"]
        assert "Content-Type: application/json" in detail and "--admin-token" in detail
    # A page that asks first (the only way it may send JSON, or a DELETE) is granted nothing: its browser stops.
    preflight = {
        "Origin": f"http://127.0.0.1:{server.port + 1}",
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type",
    }
    asked = http.options(path, headers=preflight)
    assert not 200 <= asked.status_code < 300
    assert not [h for h in asked.headers if h.lower().startswith("access-control-")], asked.headers
    assert server.calls.count == 1
    server.fake.calls.clear()
    untouched(server)
    # the same change, as JSON: taken (bodiless ones say JSON too)
    sent = http.request(method, path, json=as_json) if as_json is not None else http.request(method, path, headers=JSON)
    assert 200 <= sent.status_code < 300, sent.text[:300]


@pytest.mark.parametrize("path", ["/_edenfake/faults", "/_edenfake/calls"])
def test_a_delete_needs_no_content_type_since_no_page_can_send_one_without_asking(
    server: LiveServer, http: httpx.Client, path: str
) -> None:
    # A browser sends a DELETE to another origin only after a preflight (never from a form, a beacon or
    # no-cors fetch), which the fake grants nothing: the Origin and Host checks still hold.
    other = {"Origin": f"http://127.0.0.1:{server.port + 1}"}
    asked = http.options(path, headers={**other, "Access-Control-Request-Method": "DELETE"})
    assert not 200 <= asked.status_code < 300 and "access-control-allow-methods" not in asked.headers
    for headers in ({}, {"Content-Type": "text/plain"}, other):
        server.fail(500)
        server.fake.calls.record("POST", GENERATE, [], b"{}", 200, None, at=FROZEN)
        assert http.delete(path, headers=headers).status_code == 200
        assert (server.fake.faults.faults == []) if path.endswith("faults") else (server.calls.count == 0)
        server.reset()
    refused(http.delete(path, headers={"Origin": "https://evil.example"}), "ORIGIN_NOT_ALLOWED")
    refused(http.delete(path, headers={"Host": "evil.example"}), "HOST_NOT_ALLOWED")


def test_a_reset_takes_the_empty_object_its_contract_states_or_no_body(server: LiveServer, http: httpx.Client) -> None:
    for body in (b"{}", b"", b" {} "):
        server.fail(500)
        assert http.post("/_edenfake/reset", headers=JSON, content=body).status_code == 200
        assert server.fake.faults.faults == []
    server.fail(500)
    for body in (b'{"all": true}', b"[]", b"null", b" " * 2_000_000):  # the last: past the admin bound, 413
        assert http.post("/_edenfake/reset", headers=JSON, content=body).status_code in (400, 413, 422)
    assert len(server.fake.faults.faults) == 1  # a refused reset resets nothing
    server.reset()


# -- Host: DNS rebinding -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:{port}",
        "EVIL.EXAMPLE:{port}",
        "localhost.",
        "localhost.:{port}",
        "127.0.0.1.",
        "localhost.evil.example",
        "evil-localhost",
        "127.0.0.1.nip.io",
        "::1",
        "[::1",
        "localhost:{port}:1",
        "localhost:port",
        "user@localhost",
        "localhost/x",
        "localhost\\.x",
    ],
)
def test_a_foreign_host_reads_and_changes_nothing(server: LiveServer, http: httpx.Client, host: str) -> None:
    name = host.format(port=server.port)
    server.fake.calls.record("POST", GENERATE, [], b'{"prompt": "a secret prompt"}', 200, None, at=FROZEN)
    reads = ["/_edenfake/calls", "/_edenfake/state", "/_edenfake/faults", "/_edenfake/catalog", "/_edenfake/"]
    for path in reads:
        r = http.get(path, headers={"Host": name})
        body = refused(r, "HOST_NOT_ALLOWED")
        assert SECRET not in r.text and "--allowed-host" in body["detail"]
    refused(http.post("/_edenfake/faults", json={"fail": 503}, headers={"Host": name}), "HOST_NOT_ALLOWED")
    refused(http.post("/_edenfake/reset", headers={"Host": name, **JSON}), "HOST_NOT_ALLOWED")
    refused(http.post(GENERATE, json=BODY, headers={"Host": name, **AUTH}), "HOST_NOT_ALLOWED")
    refused(http.get("/v3/images/models", headers={"Host": name, **AUTH}), "HOST_NOT_ALLOWED")
    server.fake.calls.clear()
    untouched(server)
    assert http.get("/_edenfake/calls").json()["count"] == 0  # under its own name, read as ever


def test_a_hosted_image_is_not_served_under_a_foreign_host(server: LiveServer, http: httpx.Client) -> None:
    item = http.post(GENERATE, json=URL_BODY, headers=AUTH).json()["data"][0]
    path = httpx.URL(item["url"]).path
    hosted = http.get(path)
    assert hosted.status_code == 200 and hosted.headers["x-content-type-options"] == "nosniff"  # never a page
    refused(http.get(path, headers={"Host": "rebound.example"}), "HOST_NOT_ALLOWED")


@pytest.mark.parametrize(
    ("host", "near_miss"),
    [
        ("127.0.0.1:{port}", "127.0.0.1.:{port}"),
        ("127.0.0.1", "127.0.0.1.nip.io"),
        ("127.9.8.7:{port}", "127.9.8.7.evil.example:{port}"),
        ("localhost:{port}", "localhost.:{port}"),
        ("LOCALHOST:{port}", "LOCALHOST.EVIL.EXAMPLE:{port}"),
        ("LocalHost", "LocalHost."),
        ("app.localhost:{port}", "app.localhost.evil.example:{port}"),
        ("[::1]:{port}", "::1"),
        ("[::1]", "[::1"),
        ("[::ffff:127.0.0.1]:{port}", "::ffff:127.0.0.1"),
        ("192.168.1.20:{port}", "192-168-1-20.nip.io:{port}"),  # an IP address: no page can rebind one
        ("[2001:db8::1]:{port}", "2001.db8.evil.example"),
    ],
)
def test_loopback_names_and_ip_addresses_are_this_fake_and_near_misses_are_not(
    server: LiveServer, http: httpx.Client, host: str, near_miss: str
) -> None:
    miss = near_miss.format(port=server.port)
    refused(http.post("/_edenfake/faults", json={"fail": 500}, headers={"Host": miss}), "HOST_NOT_ALLOWED")
    refused(http.post(GENERATE, json=BODY, headers={"Host": miss, **AUTH}), "HOST_NOT_ALLOWED")
    untouched(server)
    name = host.format(port=server.port)
    assert http.get("/_edenfake/state", headers={"Host": name}).status_code == 200
    assert http.post("/_edenfake/faults", json={"fail": 500}, headers={"Host": name}).status_code == 201
    assert http.post(GENERATE, json=BODY, headers={"Host": name, **AUTH}).status_code == 500  # that fault


def test_allowed_hosts_names_a_fake_reached_by_a_name() -> None:
    fake = EdenFake(clock=FROZEN, allowed_hosts=["edenfake", "Images.Internal"])
    with edenfake.serve(fake) as server, httpx.Client(base_url=server.url) as http:
        http.event_hooks["response"].append(check_against_contract)
        for host in ("edenfake", "edenfake:8000", "images.internal", "IMAGES.INTERNAL:1"):
            assert http.post(GENERATE, json=BODY, headers={"Host": host, **AUTH}).status_code == 200, host
            assert http.get("/_edenfake/calls", headers={"Host": host}).status_code == 200
        origin = {"Host": "edenfake:8000", "Origin": "http://edenfake:3000"}
        assert http.post("/_edenfake/faults", json={"fail": 500}, headers=origin).status_code == 201
        assert server.calls.count == 4
        for host in ("edenfake.", "other", "sub.edenfake"):
            refused(http.get("/_edenfake/calls", headers={"Host": host}), "HOST_NOT_ALLOWED")
        server.reset()


def test_allowed_host_on_the_command_line() -> None:
    with (
        cli_running("serve", "--port", "0", "--quiet", "--allowed-host", "edenfake") as (_, url),
        httpx.Client(base_url=url) as http,
    ):
        assert http.get("/_edenfake/state", headers={"Host": "edenfake:8000"}).status_code == 200
        refused(http.get("/_edenfake/state", headers={"Host": "other:8000"}), "HOST_NOT_ALLOWED")


# -- Origin ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://evil.example:{port}",
        "null",
        "NULL",
        "http://localhost.evil.example",
        "http://127.0.0.1.evil.example:{port}",
        "http://192.168.1.20:{port}",  # a page of another machine (an IP origin can be anyone's)
        "file://",
        "chrome-extension://abcdef",
        "http://",
        "http://localhost:{port}/path",
        "javascript:alert(1)",
    ],
)
def test_a_page_of_another_site_changes_and_reads_nothing(server: LiveServer, http: httpx.Client, origin: str) -> None:
    headers = {"Origin": origin.format(port=server.port)}
    refused(http.post("/_edenfake/faults", json={"fail": 503, "times": None}, headers=headers), "ORIGIN_NOT_ALLOWED")
    refused(http.put("/_edenfake/credits", json={"credits": 0}, headers=headers), "ORIGIN_NOT_ALLOWED")
    refused(http.post("/_edenfake/reset", headers={**headers, **JSON}), "ORIGIN_NOT_ALLOWED")
    refused(http.get("/_edenfake/calls", headers=headers), "ORIGIN_NOT_ALLOWED")
    # the simple POSTs a form sends to the API: not journalled, not charged, no fault used up
    form = {"Content-Type": "multipart/form-data; boundary=b", **headers}
    refused(http.post("/v3/upload", content=b"--b--\r\n", headers=form), "ORIGIN_NOT_ALLOWED")
    refused(http.post(GENERATE, content=b"{}", headers={"Content-Type": "text/plain", **headers}), "ORIGIN_NOT_ALLOWED")
    refused(
        http.post(GENERATE, json={**BODY, "model": "openai/dall-e-3"}, headers={**headers, **AUTH}),
        "ORIGIN_NOT_ALLOWED",
    )
    untouched(server)


@pytest.mark.parametrize(
    ("origin", "near_miss"),
    [
        ("http://127.0.0.1:{port}", "http://127.0.0.1.evil.example:{port}"),
        ("http://localhost:5173", "http://localhost.:5173"),
        ("http://127.0.0.1:3000", "http://127.0.0.2.nip.io:3000"),
        ("https://app.localhost", "https://app.localhost.evil.example"),
        ("http://[::1]:8080", "http://[::2]:8080"),
        ("HTTP://LOCALHOST:{port}", "HTTP://LOCALHOST:{port}/"),
    ],
)
def test_this_machines_pages_may_send_json_and_near_misses_may_not(
    server: LiveServer, http: httpx.Client, origin: str, near_miss: str
) -> None:
    miss = {"Origin": near_miss.format(port=server.port)}
    refused(http.post("/_edenfake/faults", json={"fail": 500}, headers=miss), "ORIGIN_NOT_ALLOWED")
    untouched(server)
    headers = {"Origin": origin.format(port=server.port)}
    assert http.post("/_edenfake/faults", json={"fail": 500}, headers=headers).status_code == 201
    assert http.get("/_edenfake/calls", headers=headers).status_code == 200


def test_the_fakes_own_page_under_an_ip_address_is_its_own_origin(server: LiveServer, http: httpx.Client) -> None:
    """The console opened at http://192.168.1.20:PORT sends its own origin: the same as the Host it names."""
    own = {"Host": f"192.168.1.20:{server.port}", "Origin": f"http://192.168.1.20:{server.port}"}
    assert http.post("/_edenfake/faults", json={"fail": 500}, headers=own).status_code == 201
    other_port = {"Host": f"192.168.1.20:{server.port}", "Origin": f"http://192.168.1.20:{server.port + 1}"}
    refused(http.post("/_edenfake/faults", json={"fail": 500}, headers=other_port), "ORIGIN_NOT_ALLOWED")


# -- Sec-Fetch-Site: cross-site requests without an Origin (images, scripts, links) ---------------------------


def test_a_cross_site_embed_without_an_origin_is_refused_but_images_and_the_console(
    server: LiveServer, http: httpx.Client
) -> None:
    cross = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
    refused(http.get("/v3/images/models", headers={**cross, **AUTH}), "CROSS_SITE_REQUEST")
    refused(http.get("/_edenfake/calls", headers=cross), "CROSS_SITE_REQUEST")
    refused(http.get("/openapi.json", headers=cross), "CROSS_SITE_REQUEST")
    item = http.post(GENERATE, json=URL_BODY, headers=AUTH).json()["data"][0]
    assert http.get(httpx.URL(item["url"]).path, headers=cross).status_code == 200
    navigate = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    assert http.get("/_edenfake/", headers=navigate).status_code == 200
    assert http.get("/_edenfake/calls", headers={"Sec-Fetch-Site": "same-site"}).status_code == 200
    assert http.get("/_edenfake/calls", headers={"Sec-Fetch-Site": "none"}).status_code == 200


# -- with an admin token, and through the in-process mock ---------------------------------------------------


def test_with_an_admin_token_the_bearer_header_is_the_guard() -> None:
    with (
        edenfake.serve(clock=FROZEN, admin_token="s3cret") as server,
        httpx.Client(base_url=server.url) as http,
    ):
        http.event_hooks["response"].append(check_against_contract)
        bearer = {"Authorization": "Bearer s3cret"}
        assert http.post("/_edenfake/reset", headers=bearer).status_code == 200  # no page can send this header
        assert http.post("/_edenfake/reset").status_code == 401
        assert http.request("DELETE", "/_edenfake/faults", headers={"Content-Type": "text/plain"}).status_code == 401
        refused(http.get("/_edenfake/calls", headers={"Host": "evil.example", **bearer}), "HOST_NOT_ALLOWED")
        refused(
            http.post("/_edenfake/reset", headers={"Origin": "https://evil.example", **bearer}), "ORIGIN_NOT_ALLOWED"
        )


@pytest.mark.parametrize("token", ["", " ", "\t", " s3cret", "s3cret "])
def test_an_empty_or_padded_admin_token_is_refused(token: str) -> None:
    with pytest.raises(ValueError, match="admin_token"):
        EdenFake(admin_token=token)


@pytest.mark.parametrize("token", ["", "   "])
def test_the_cli_refuses_an_empty_admin_token_in_one_line(token: str) -> None:
    result = run_python("-m", "edenfake", "serve", "--port", "0", "--admin-token", token)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--admin-token" in lines[0] and "Traceback" not in result.stderr, result.stderr


def test_only_doors_a_browser_reaches_are_guarded(http: httpx.Client) -> None:
    """No browser reaches the in-process mock: its requests name api.edenai.run and send what they like. The
    same requests to the live server are refused."""
    page = {"Origin": "null", "Sec-Fetch-Site": "cross-site"}
    refused(http.post("/_edenfake/reset", headers=page), "ORIGIN_NOT_ALLOWED")
    refused(http.post("/_edenfake/faults", content=b'{"fail": 500}'), "ADMIN_NEEDS_JSON")
    with edenfake.mock(clock=FROZEN) as eden, httpx.Client() as client:
        eden.fail(500)
        admin = "https://api.edenai.run/_edenfake"
        assert client.post(f"{admin}/reset", headers=page).status_code == 200
        assert client.post(f"{admin}/faults", content=b'{"fail": 500}').status_code == 201
        assert client.request("DELETE", f"{admin}/faults").json() == {"faults": []}


def test_a_refusal_is_one_log_line(server: LiveServer, http: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="edenfake"):
        # the server decodes %0D%0A in the path: a CR LF the log line must not carry
        r = http.get("/_edenfake/images/x%0D%0AX-Injected:%201.png", headers={"Host": "evil.example"})
        refused(r, "HOST_NOT_ALLOWED")
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0] and "\r" not in lines[0], lines
    assert "403 refused: HOST_NOT_ALLOWED" in lines[0]


# -- from pages in a real browser ---------------------------------------------------------------------------

#: every way a page sends a request without asking the server first, then one that asks (CORS), each to the
#: fake at FAKE; the page records what its browser let it see
ATTACK = (Path(__file__).parent / "pages" / "cross_site.html").read_text()

#: a name the browser resolves to 127.0.0.1, as a page's own DNS does after rebinding
REBOUND = "rebound.test"


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    args = [
        f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1",
        # Recent Chromium may itself hold back a public page's requests to this machine; other browsers do
        # not, and what is tested here is the fake's own refusal, so let them through.
        "--disable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,"
        "PrivateNetworkAccessRespectPreflightResults,LocalNetworkAccessChecks",
    ]
    with chromium_context(args) as context:
        yield context


@pytest.fixture
def seen(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, int]]:
    """Every request that reached the fake, with the status it answered."""
    found: list[tuple[str, str, int]] = []
    answer = server.fake.answer

    def recorded(request: FakeRequest) -> FakeResponse:
        response = answer(request)
        found.append((request.method, request.path, response.status))
        return response

    monkeypatch.setattr(server.fake, "answer", recorded)
    return found


@contextmanager
def page_server(html: str) -> Iterator[str]:
    """A second web server on 127.0.0.1 (another port: another origin) serving ``html``; its URL."""
    body = html.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Page) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_address[1]}/attack.html"
        finally:
            httpd.shutdown()


def attacked(browser: BrowserContext, url: str) -> dict[str, Any]:
    """Open ``url`` (the attack page), wait until it has made every attempt; what it saw of each."""
    tab = browser.new_page()
    try:
        tab.goto(url)
        deadline = time.monotonic() + 30
        while not tab.evaluate("() => window.done === true"):
            assert time.monotonic() < deadline, tab.evaluate("() => results")
            time.sleep(0.05)
        results: dict[str, Any] = dict(tab.evaluate("() => results"))
        tab.wait_for_timeout(500)  # beacons go out after the page moves on
        return results
    finally:
        tab.close()


def attack_page(fake_url: str, *, with_api: bool) -> str:
    return ATTACK.replace("__FAKE_URL__", json.dumps(fake_url)).replace("__WITH_API__", json.dumps(with_api))


def changes(seen: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    return [s for s in seen if s[0] in ("POST", "PUT", "DELETE")]


def test_a_page_on_another_port_of_this_machine_cannot_change_the_fake(
    browser: BrowserContext, server: LiveServer, seen: list[tuple[str, str, int]]
) -> None:
    with page_server(attack_page(server.url, with_api=False)) as url:
        results = attacked(browser, url)
    untouched(server)
    # The page's requests did reach the fake, and each change was refused there; the ones that ask first
    # (a JSON body, a DELETE) were never sent, their preflight answered without a grant.
    sent = changes(seen)
    assert len(sent) >= 8, (seen, results)
    assert {status for _, _, status in sent} == {403}, seen
    assert ("OPTIONS", "/_edenfake/faults", 405) in seen and ("OPTIONS", "/_edenfake/calls", 405) in seen
    assert results["cors json"] == results["cors delete"] == "threw TypeError"
    assert results["cors read"] == "threw TypeError"  # no CORS: the page cannot read the journal either


def test_a_page_of_another_site_cannot_change_the_fake_or_spend_through_the_api(
    browser: BrowserContext, server: LiveServer, seen: list[tuple[str, str, int]]
) -> None:
    evil = "http://evil.test/attack.html"
    page = attack_page(server.url, with_api=True)
    browser.route(evil, lambda route: route.fulfill(status=200, content_type="text/html", body=page))
    try:
        results = attacked(browser, evil)
    finally:
        browser.unroute(evil)
    untouched(server)  # nothing journalled, charged or used up: the API's simple requests were refused too
    sent = changes(seen)
    assert len(sent) >= 10, (seen, results)
    assert {status for method, _, status in seen if method != "OPTIONS"} == {403}, seen
    assert any(path.startswith("/v3/") for _, path, _ in sent), seen


def test_a_page_of_a_name_rebound_to_this_machine_reads_and_changes_nothing(
    browser: BrowserContext, server: LiveServer, seen: list[tuple[str, str, int]]
) -> None:
    """After DNS rebinding the page is the fake's origin to its browser: same-origin reads and JSON posts are
    allowed by the browser, and the fake refuses them by their Host."""
    server.fake.calls.record("POST", GENERATE, [], json.dumps(BODY).encode(), 200, None, at=FROZEN)
    origin = f"http://{REBOUND}:{server.port}"
    script = (Path(__file__).parent / "pages" / "rebound.html").read_text()
    browser.route(
        f"{origin}/attack.html", lambda route: route.fulfill(status=200, content_type="text/html", body=script)
    )
    try:
        results = attacked(browser, f"{origin}/attack.html")
    finally:
        browser.unroute(f"{origin}/attack.html")
    assert set(results) == {"calls", "state", "fault", "reset", "generate"}
    for name, (status, text) in results.items():
        assert status == 403 and "HOST_NOT_ALLOWED" in text and SECRET not in text, (name, status, text[:200])
    assert server.calls.count == 1  # the call journalled before, still there
    server.fake.calls.clear()
    untouched(server)
    assert len(seen) == 5
