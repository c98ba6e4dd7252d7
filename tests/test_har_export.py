"""The journal as a HAR 1.2 log: ``eden.calls.to_har()`` through the mock, ``GET /_edenfake/calls.har`` from a
live server, each export checked against a HAR 1.2 JSON Schema written from the spec (``har-1.2.schema.json``,
a test resource), no credential in any of them, the read as guarded as the journal's; then the export opened in
headless Chromium, by a tiny HAR viewer page and by playwright's own ``route_from_har``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import jsonschema
import openai
import pytest

import edenfake
from edenfake import EdenFake
from tests.helpers import FROZEN, chromium_context, data_url, png, strict_json

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

    from edenfake.server import LiveServer

HERE = Path(__file__).resolve().parent
SCHEMA = json.loads((HERE / "har-1.2.schema.json").read_text(encoding="utf-8"))
VIEWER = HERE / "pages" / "har-viewer.html"
GENERATE = "/v3/images/generations"
EDIT = "/v3/images/edits"
GPT = "openai/gpt-image-1"
#: planted in every place a client may put a credential
SECRET = "sk-planted-4f1d9c"


def valid_har(har: Any) -> dict[str, Any]:
    """``har`` checked against the HAR 1.2 schema, and strict JSON (no NaN) with no planted secret in it."""
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(har)
    text = json.dumps(har, allow_nan=False)
    assert SECRET not in text
    assert har["log"]["version"] == "1.2" and har["log"]["creator"]["name"] == "edenfake"
    return dict(har)


def test_the_har_schema_refuses_what_the_spec_does_not_allow() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    with edenfake.mock() as eden, _sdk("https://api.edenai.run/v3") as client:
        client.images.generate(model=GPT, prompt="x", quality="low")
    har = valid_har(eden.calls.to_har())
    entry = har["log"]["entries"][0]
    broken: list[dict[str, Any]] = [
        {"log": {**har["log"], "entries": [{k: v for k, v in entry.items() if k != "timings"}]}},
        {"log": {**har["log"], "entries": [{**entry, "response": {**entry["response"], "content": {"size": 1}}}]}},
        {"log": {**har["log"], "entries": [{**entry, "startedDateTime": "yesterday"}]}},
        {"log": {**har["log"], "entries": [{**entry, "extra": 1}]}},  # a custom field must start with "_"
        {"log": {k: v for k, v in har["log"].items() if k != "creator"}},
    ]
    for document in broken:
        with pytest.raises(jsonschema.ValidationError):
            valid_har(document)


def _sdk(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=SECRET, base_url=base_url, max_retries=0)


def _every_kind_of_call(client: openai.OpenAI, eden: Any) -> None:
    """A generation, a JSON edit, a multipart edit, a refused request, a 500 fault, a timeout, a disconnect."""
    client.images.generate(model=GPT, prompt="a red fox", quality="low")
    client.post(
        "/images/edits",
        body={"model": GPT, "prompt": "make it blue", "images": [{"image_url": data_url(png())}]},
        cast_to=httpx.Response,
    )
    client.images.edit(model=GPT, prompt="add a hat", image=("fox.png", png(32, 32), "image/png"))
    with pytest.raises(openai.UnprocessableEntityError):
        client.images.generate(model=GPT, prompt="x", n=0)
    eden.fail(500)
    with pytest.raises(openai.InternalServerError):
        client.images.generate(model=GPT, prompt="x")
    eden.fail("timeout", hang=2)  # the client gives up long before: a loaded machine may be slow to send
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.5).images.generate(model=GPT, prompt="x")
    eden.fail("disconnect")
    with pytest.raises(openai.APIConnectionError):
        client.images.generate(model=GPT, prompt="x")


def _check_every_kind(har: dict[str, Any], base_url: str) -> None:
    entries = har["log"]["entries"]
    assert [(e["request"]["method"], e["request"]["url"], e["response"]["status"]) for e in entries] == [
        ("POST", f"{base_url}{GENERATE}", 200),
        ("POST", f"{base_url}{EDIT}", 200),
        ("POST", f"{base_url}{EDIT}", 200),
        ("POST", f"{base_url}{GENERATE}", 422),
        ("POST", f"{base_url}{GENERATE}", 500),
        ("POST", f"{base_url}{GENERATE}", 0),
        ("POST", f"{base_url}{GENERATE}", 0),
    ]
    generation, json_edit, multipart, refused, failed, timeout, dropped = entries
    headers = {h["name"].lower(): h["value"] for h in generation["request"]["headers"]}
    assert headers["authorization"] == "Bearer ***"
    assert json.loads(generation["request"]["postData"]["text"])["prompt"] == "a red fox"
    answer = json.loads(generation["response"]["content"]["text"])
    assert generation["response"]["content"]["mimeType"] == "application/json"
    assert answer["data"][0]["b64_json"]["format"] == "png"  # the journal's digest, no image inlined
    assert len(answer["data"][0]["b64_json"]["sha256"]) == 64
    assert json.loads(json_edit["request"]["postData"]["text"])["prompt"] == "make it blue"
    post = multipart["request"]["postData"]
    assert post["mimeType"].startswith("multipart/form-data") and "text" not in post
    fields = {p["name"]: p for p in post["params"]}
    assert fields["prompt"]["value"] == "add a hat" and fields["model"]["value"] == GPT
    upload = next(p for p in post["params"] if "fileName" in p)
    assert upload["fileName"] == "fox.png" and upload["contentType"] == "image/png"
    assert upload["_size"] == len(png(32, 32)) and "value" not in upload  # size and digest, never the bytes
    assert json.loads(refused["response"]["content"]["text"])["detail"][0]["loc"] == ["body", "n"]
    assert failed["_edenfake"]["fault"] == "500" and failed["response"]["statusText"] == "Internal Server Error"
    for entry, fault in ((timeout, "timeout"), (dropped, "disconnect")):
        assert entry["response"]["_error"] == fault and entry["_edenfake"]["fault"] == fault
        assert entry["response"]["content"] == {"size": 0, "mimeType": ""}
    for entry in entries:
        assert entry["time"] == entry["timings"]["wait"] >= 0
        assert entry["time"] == sum(v for v in entry["timings"].values() if v != -1)


# -- through the mock -----------------------------------------------------------------------------------


def test_the_mock_exports_every_kind_of_call_as_a_valid_har() -> None:
    with edenfake.mock(clock=FROZEN) as eden, _sdk("https://api.edenai.run/v3") as client:
        _every_kind_of_call(client, eden)
    har = valid_har(eden.calls.to_har())
    _check_every_kind(har, "https://api.edenai.run")
    assert {e["startedDateTime"] for e in har["log"]["entries"]} == {"2026-05-26T10:41:43.000Z"}  # the fake clock
    assert har["log"]["comment"] == "edenfake's journal: calls 0 to 6 of the 7 it holds (0 older dropped)"


def test_no_credential_reaches_the_export_wherever_it_was_sent() -> None:
    with edenfake.mock() as eden, httpx.Client(base_url="https://api.edenai.run") as http:
        http.post(
            f"{GENERATE}?api_key={SECRET}",
            headers={"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET, "Cookie": f"session={SECRET}"},
            json={"model": GPT, "prompt": "x", "extra_headers": {"Authorization": f"Bearer {SECRET}", "X-Trace": "t"}},
        )
        http.post(
            EDIT,
            headers={"Authorization": f"Bearer {SECRET}"},
            data={"model": GPT, "prompt": "x", "extra_headers": f"Authorization: {SECRET}"},
            files={"image": ("a.png", png(), "image/png")},
        )
    har = valid_har(eden.calls.to_har())  # valid_har: the secret appears nowhere
    first = har["log"]["entries"][0]["request"]
    assert first["url"] == f"https://api.edenai.run{GENERATE}" and first["queryString"] == []
    assert json.loads(first["postData"]["text"])["extra_headers"] == {"Authorization": "***", "X-Trace": "t"}
    assert {h["name"]: h["value"] for h in first["headers"]}["x-api-key"] == "***"


def test_an_empty_journal_is_a_valid_har_with_no_entry(tmp_path: Path) -> None:
    with edenfake.mock() as eden:
        har = valid_har(eden.calls.to_har())
        assert har["log"]["entries"] == [] and "no call" in har["log"]["comment"]
        written = eden.calls.save_har(tmp_path / "empty.har")
    assert strict_json(written.read_bytes()) == har


def test_save_har_writes_what_to_har_gives_and_pages_as_asked(tmp_path: Path) -> None:
    with edenfake.mock() as eden, _sdk("https://api.edenai.run/v3") as client:
        for prompt in ("one", "two", "three"):
            client.images.generate(model=GPT, prompt=prompt, quality="low")
        path = eden.calls.save_har(tmp_path / "calls.har", base_url="http://fake.test:1234", offset=1, limit=1)
        whole = eden.calls.to_har()
    har = valid_har(strict_json(path.read_text(encoding="utf-8")))
    [entry] = har["log"]["entries"]
    assert entry["request"]["url"] == f"http://fake.test:1234{GENERATE}"
    assert json.loads(entry["request"]["postData"]["text"])["prompt"] == "two"
    assert [json.loads(e["request"]["postData"]["text"])["prompt"] for e in whole["log"]["entries"]] == [
        "one",
        "two",
        "three",
    ]


def test_the_export_holds_what_the_bounded_journal_holds() -> None:
    fake = EdenFake(clock=FROZEN, journal_size=3)
    with edenfake.mock(fake) as eden, _sdk("https://api.edenai.run/v3") as client:
        for i in range(5):
            client.images.generate(model=GPT, prompt=f"p{i}", quality="low")
    har = valid_har(eden.calls.to_har())
    assert [json.loads(e["request"]["postData"]["text"])["prompt"] for e in har["log"]["entries"]] == [
        "p2",
        "p3",
        "p4",
    ]
    assert har["log"]["comment"].endswith("of the 3 it holds (2 older dropped)")


# -- from a live server ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with edenfake.serve() as live:
        yield live


def test_a_live_server_answers_calls_har_as_a_download(server: LiveServer) -> None:
    server.reset()
    with _sdk(server.base_url) as client:
        _every_kind_of_call(client, server)
    with httpx.Client(base_url=server.url) as http:
        r = http.get("/_edenfake/calls.har")
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert r.headers["content-disposition"] == 'attachment; filename="edenfake-calls.har"'
        har = valid_har(strict_json(r.content))
        _check_every_kind(har, server.url)
        page = valid_har(http.get("/_edenfake/calls.har", params={"offset": 5, "limit": 1}).json())
        assert [e["response"]["_error"] for e in page["log"]["entries"]] == ["timeout"]
        assert valid_har(http.get("/_edenfake/calls.har", params={"offset": 99}).json())["log"]["entries"] == []
        too_many = http.get("/_edenfake/calls.har", params={"limit": 1001})
        assert too_many.status_code == 422 and too_many.json()["detail"][0]["loc"] == ["query", "limit"]
    assert SECRET not in r.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Host": "evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
    ids=["foreign-origin", "rebound-host", "cross-site-without-origin"],
)
def test_another_site_cannot_read_the_export(server: LiveServer, headers: dict[str, str]) -> None:
    server.reset()
    with _sdk(server.base_url) as client:
        client.images.generate(model=GPT, prompt="private", quality="low")
    url = f"{server.url}/_edenfake/calls.har"
    refused = httpx.get(url, headers=headers)
    assert refused.status_code == 403
    assert "private" not in refused.text and "log" not in refused.json()
    assert "private" in httpx.get(url).text  # the same read, from this machine, is answered


def test_an_admin_token_guards_the_export() -> None:
    with edenfake.serve(admin_token="s3cret-admin") as guarded:
        assert httpx.get(f"{guarded.url}/_edenfake/calls.har").status_code == 401
        ok = httpx.get(f"{guarded.url}/_edenfake/calls.har", headers={"Authorization": "Bearer s3cret-admin"})
        assert ok.status_code == 200 and valid_har(ok.json())["log"]["entries"] == []


# -- in Chromium ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    with chromium_context() as context:
        yield context


def test_a_har_viewer_in_chromium_lists_the_live_export(
    browser: BrowserContext, server: LiveServer, tmp_path: Path
) -> None:
    server.reset()
    with _sdk(server.base_url) as client:
        client.images.generate(model=GPT, prompt="a fox", quality="low")
        with pytest.raises(openai.UnprocessableEntityError):
            client.images.generate(model=GPT, prompt="x", n=0)
    exported = httpx.get(f"{server.url}/_edenfake/calls.har")
    path = tmp_path / "edenfake-calls.har"
    path.write_bytes(exported.content)
    sizes = [e["response"]["content"]["size"] for e in exported.json()["log"]["entries"]]
    tab = browser.new_page()
    try:
        tab.goto(VIEWER.as_uri())
        tab.set_input_files("#file", str(path))
        tab.wait_for_function("() => document.getElementById('status').textContent.startsWith('HAR')")
        rows = tab.evaluate(
            "() => [...document.querySelectorAll('#entries tr')].map(r => [...r.cells].map(c => c.textContent))"
        )
        status = tab.text_content("#status")
    finally:
        tab.close()
    assert status == "HAR 1.2 by edenfake: 2 entries"
    assert rows == [
        ["POST", f"{server.url}{GENERATE}", "200", str(sizes[0])],
        ["POST", f"{server.url}{GENERATE}", "422", str(sizes[1])],
    ]
    assert sizes[0] > 0


def test_chromium_replays_a_request_from_the_export_with_route_from_har(
    browser: BrowserContext, tmp_path: Path
) -> None:
    with edenfake.mock() as eden, _sdk("https://api.edenai.run/v3") as client:
        models = client.get("/images/models", cast_to=httpx.Response).json()
        client.images.generate(model=GPT, prompt="a replayed fox", quality="low")
        path = eden.calls.save_har(tmp_path / "calls.har")
    generated = json.loads(json.loads(path.read_text())["log"]["entries"][1]["response"]["content"]["text"])
    # The HAR answers everything: api.edenai.run is out of reach here, and a request the HAR lacks is aborted.
    tab = browser.new_page()
    try:
        tab.route_from_har(str(path), not_found="abort")
        tab.goto("https://api.edenai.run/v3/images/models")
        shown = json.loads(tab.inner_text("body"))
        replayed = tab.evaluate(
            """body => fetch('/v3/images/generations', {method: 'POST', headers: {'content-type': 'application/json'},
                  body}).then(r => r.json().then(json => [r.status, json]))""",
            json.dumps({"model": GPT, "prompt": "a replayed fox", "quality": "low"}, separators=(",", ":")),
        )
    finally:
        tab.close()
    assert shown == models
    assert replayed == [200, generated]


def test_the_consoles_download_link_saves_the_journal_as_a_har(browser: BrowserContext, server: LiveServer) -> None:
    server.reset()
    with _sdk(server.base_url) as client:
        client.images.generate(model=GPT, prompt="downloaded", quality="low")
    tab = browser.new_page()
    try:
        tab.goto(f"{server.url}/_edenfake/")
        with tab.expect_download() as download:
            tab.click("a[href='/_edenfake/calls.har']", timeout=5000)
        saved = Path(download.value.path())
        name = download.value.suggested_filename
    finally:
        tab.close()
    har = valid_har(strict_json(saved.read_bytes()))
    assert name == "edenfake-calls.har"
    assert [json.loads(e["request"]["postData"]["text"])["prompt"] for e in har["log"]["entries"]] == ["downloaded"]
