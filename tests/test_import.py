"""edenfake import: HAR logs that headless Chromium wrote (playwright's record_har_path) and vcrpy cassettes of
httpx and requests, recorded against the stand-in upstream, made into cassettes that replay its bytes (the mock
and a live server), drift-check like recorded ones, and hold no secret."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx
import pytest
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import Receive, Scope, Send

import edenfake
from edenfake.cassettes.format import Cassette
from edenfake.cli import main
from tests.helpers import CHROMIUM_ARGS, chromium_or_skip, run_pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

from tests.recording_upstream import CANVAS, SECRET_TOKEN, SECRETS, StandIn, served

GENERATION = {"model": "openai/gpt-image-1", "prompt": "a red fox", "quality": "low"}
URL_GENERATION = {"model": "openai/dall-e-2", "prompt": "a boat", "size": "256x256", "response_format": "url"}
EDIT_FIELDS = {"model": "openai/gpt-image-1", "prompt": "add a hat", "quality": "low"}
BLOB_LOST = "its request body was not kept (Chromium leaves out a body built from a Blob or File)"
TEXT_LOST = "its request body was written as text, replacing the bytes that are not UTF-8 (lossy)"
PAGE = b"<!doctype html><title>a page that calls Eden</title>"

# The page's calls: a JSON generation, a URL generation whose image it then downloads, a FormData edit, and a
# request that is not Eden's.
CALLS = r"""async ([token, generation, urlGeneration, fields, canvas]) => {
  const auth = {Authorization: "Bearer " + token};
  const json = {...auth, "Content-Type": "application/json"};
  await (await fetch("/v3/images/generations",
    {method: "POST", headers: json, body: JSON.stringify(generation)})).text();
  const answer = await (await fetch("/v3/images/generations",
    {method: "POST", headers: json, body: JSON.stringify(urlGeneration)})).json();
  await (await fetch(answer.data[0].url)).arrayBuffer();
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const bytes = Uint8Array.from(atob(canvas), c => c.charCodeAt(0));
  form.append("image", new Blob([bytes], {type: "image/png"}), "canvas.png");
  await (await fetch("/v3/images/edits", {method: "POST", headers: auth, body: form})).text();
  // the same edit as bytes the page wrote itself: Chromium reports those
  const boundary = "----pageboundary7MA4YWxkTrZu0gW";
  const enc = new TextEncoder();
  const chunks = Object.entries(fields).map(([k, v]) =>
    enc.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`));
  chunks.push(enc.encode(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="canvas.png"\r\n` +
    "Content-Type: image/png\r\n\r\n"), bytes, enc.encode(`\r\n--${boundary}--\r\n`));
  const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((at, c) => (body.set(c, at), at + c.length), 0);
  await (await fetch("/v3/images/edits", {method: "POST", body,
    headers: {...auth, "Content-Type": "multipart/form-data; boundary=" + boundary}})).text();
  await (await fetch("/not-eden/status")).text();
}"""


class Upstream:
    """The stand-in, serving a page too (the origin the page's calls go to), its answers gzip-compressed when
    ``gzip`` (to whoever accepts gzip)."""

    def __init__(self, *, gzip: bool = False) -> None:
        self.stand_in = StandIn()
        self._app: Any = GZipMiddleware(self.stand_in, minimum_size=0) if gzip else self.stand_in

    @property
    def base_url(self) -> str:
        return self.stand_in.base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self.stand_in.base_url = value

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/page":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
            await send({"type": "http.response.body", "body": PAGE})
            return
        await self._app(scope, receive, send)


def _written(directory: Path) -> Iterator[bytes]:
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            yield path.read_bytes()


def _no_secret(directory: Path) -> None:
    for data in _written(directory):
        for secret in SECRETS:
            assert secret.encode() not in data


def _imported(sources: list[Path], out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["import", *map(str, sources), "--out", str(out)]) == 0
    said = capsys.readouterr()
    assert said.err == ""
    assert said.out.count("\n") == 1
    return said.out


def _replayed_by(client: httpx.Client, stand_in: StandIn) -> None:
    """Each Eden request of the session again, answered with the bytes the stand-in sent."""
    sent = [s for s in stand_in.sent if s.path.startswith("/v3/")]
    assert [s.path for s in sent][:3] == ["/v3/images/generations"] * 2 + ["/v3/images/edits"]
    assert client.post("/v3/images/generations", json=GENERATION).content == sent[0].body
    replayed = client.post("/v3/images/generations", json=URL_GENERATION)
    recorded, now = json.loads(sent[1].body), replayed.json()
    # the URL image: the replay serves the same bytes the page downloaded, from its own address
    name = recorded["data"][0]["url"].split("/cdn/", 1)[1].split("?", 1)[0]
    original = stand_in.fake.urls.get(name)
    assert original is not None
    assert client.get(now["data"][0]["url"]).content == original[0]
    recorded["data"][0]["url"] = now["data"][0]["url"] = "<url>"
    assert now == recorded
    files = {"image": ("canvas.png", CANVAS, "image/png")}
    assert client.post("/v3/images/edits", data=EDIT_FIELDS, files=files).content == sent[-1].body


def _drift_kinds(cassette: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    assert main(["drift", str(cassette), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    return {kind: value["count"] for kind, value in report["kinds"].items()}


# -- HAR from headless Chromium ----------------------------------------------------------------------------------


def _record_har(browser: Browser, har: Path, content: Literal["attach", "embed"]) -> StandIn:
    upstream = Upstream()
    with served(upstream):
        context = browser.new_context(record_har_path=str(har), record_har_content=content)
        page = context.new_page()
        page.goto(upstream.base_url + "/page")
        canvas = base64.b64encode(CANVAS).decode()
        page.evaluate(CALLS, [SECRET_TOKEN, GENERATION, URL_GENERATION, EDIT_FIELDS, canvas])
        context.close()  # writes the HAR
    assert SECRET_TOKEN.encode() in har.read_bytes()  # the log holds the token: the import must not
    return upstream.stand_in


@pytest.fixture(scope="module")
def hars(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, StandIn]]:
    """A session recorded by headless Chromium with each of playwright's ways of keeping bodies."""
    chromium = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    found = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            for content in ("attach", "embed"):
                har = tmp_path_factory.mktemp(content) / "session.har"
                found[content] = har, _record_har(browser, har, content)
        finally:
            browser.close()
    return found


@pytest.fixture
def attached_har(hars: dict[str, tuple[Path, StandIn]]) -> tuple[Path, StandIn]:
    return hars["attach"]


def test_a_chromium_har_imports_and_replays_the_upstreams_bytes(
    attached_har: tuple[Path, StandIn], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    har, stand_in = attached_har
    out = tmp_path / "cassette"
    said = _imported([har], out, capsys)
    # the page and the status request are not Eden's; the image download becomes the URL answer's file; the
    # FormData edit's body is not in the log (Chromium reports no body built from a Blob), its twin's is
    assert said.startswith(f"edenfake import: 3 exchange(s) imported into {out} (1 image download(s) kept")
    assert said.endswith(f"3 skipped: 2 not an Eden route, 1 {BLOB_LOST}\n")
    assert [e.request["path"] for e in Cassette.load(out).exchanges] == [
        "/v3/images/generations",
        "/v3/images/generations",
        "/v3/images/edits",
    ]
    _no_secret(out)
    with edenfake.mock(replay=out, unmatched="error"), httpx.Client(base_url="https://api.edenai.run") as client:
        _replayed_by(client, stand_in)
    with edenfake.serve(replay=out, unmatched="error") as live, httpx.Client(base_url=live.url) as client:
        _replayed_by(client, stand_in)


def test_a_chromium_har_drift_checks_finding_the_planted_differences(
    attached_har: tuple[Path, StandIn], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cassette"
    _imported([attached_har[0]], out, capsys)
    kinds = _drift_kinds(out, capsys)
    # the stand-in's gpt-image-1 costs 0.02 a low image, and its image answers carry request_id
    assert kinds["cost"] == 2
    assert kinds["field_only_in_recording"] == 3


def test_an_embedded_har_skips_the_edit_whose_image_chromium_wrote_as_text(
    hars: dict[str, tuple[Path, StandIn]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    har = hars["embed"][0]
    out = tmp_path / "cassette"
    said = _imported([har], out, capsys)
    assert said.startswith("edenfake import: 2 exchange(s) imported")
    assert said.endswith(f"4 skipped: 2 not an Eden route, 1 {BLOB_LOST}, 1 {TEXT_LOST}\n")
    _no_secret(out)
    assert [e.request["path"] for e in Cassette.load(out).exchanges] == ["/v3/images/generations"] * 2


# -- vcrpy cassettes of httpx and requests ------------------------------------------------------------------------


def _record_vcr(cassette: Path, *, decode: bool) -> StandIn:
    requests = pytest.importorskip("requests")
    vcr = pytest.importorskip("vcr")
    upstream = Upstream(gzip=True)
    auth = {"Authorization": f"Bearer {SECRET_TOKEN}"}
    with served(upstream), vcr.use_cassette(str(cassette), record_mode="all", decode_compressed_response=decode):
        base = upstream.base_url
        with httpx.Client(base_url=base, headers=auth) as client:
            assert client.post("/v3/images/generations", json=GENERATION).status_code == 200
            answer = requests.post(base + "/v3/images/generations", json=URL_GENERATION, headers=auth, timeout=30)
            assert answer.headers["content-encoding"] == "gzip"
            assert requests.get(answer.json()["data"][0]["url"], timeout=30).status_code == 200
            files = {"image": ("canvas.png", CANVAS, "image/png")}
            assert client.post("/v3/images/edits", data=EDIT_FIELDS, files=files).status_code == 200
            client.get("/not-eden/status")
    text = cassette.read_text()
    assert "interactions:" in text and SECRET_TOKEN in text
    assert ("content-encoding:\n      - gzip" in text.lower()) is not decode  # undecoded, kept gzipped
    return upstream.stand_in


@pytest.fixture(scope="module")
def vcr_cassettes(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, tuple[Path, StandIn]]:
    """The session recorded by vcrpy, with decode_compressed_response off (False) and on (True)."""
    found = {}
    for decode in (False, True):
        source = tmp_path_factory.mktemp("vcr") / "cassettes" / "test_app" / "test_session.yaml"  # pytest-recording
        found[decode] = source, _record_vcr(source, decode=decode)
    return found


@pytest.mark.parametrize("decode", [False, True], ids=["compressed", "decode_compressed_response"])
def test_a_vcrpy_cassette_imports_replays_and_drift_checks(
    decode: bool,
    vcr_cassettes: dict[bool, tuple[Path, StandIn]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source, stand_in = vcr_cassettes[decode]
    out = tmp_path / "cassette"
    said = _imported([source], out, capsys)
    assert said.startswith(f"edenfake import: 3 exchange(s) imported into {out} (1 image download(s) kept")
    assert "1 skipped: 1 not an Eden route" in said
    _no_secret(out)
    with edenfake.mock(replay=out, unmatched="error"), httpx.Client(base_url="https://api.edenai.run") as client:
        _replayed_by(client, stand_in)
    kinds = _drift_kinds(out, capsys)
    assert kinds["cost"] == 2 and kinds["field_only_in_recording"] == 3


def test_sources_of_both_formats_make_one_cassette_found_by_content_not_name(
    attached_har: tuple[Path, StandIn],
    vcr_cassettes: dict[bool, tuple[Path, StandIn]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    yaml_source = vcr_cassettes[False][0]
    # names that say nothing, or the wrong thing
    har = tmp_path / "a.yaml"
    har.write_bytes(attached_har[0].read_bytes())
    for attached in attached_har[0].parent.iterdir():
        if attached.name != attached_har[0].name:
            (tmp_path / attached.name).write_bytes(attached.read_bytes())
    vcr_source = tmp_path / "b.har"
    vcr_source.write_bytes(yaml_source.read_bytes())
    out = tmp_path / "cassette"
    said = _imported([har, vcr_source], out, capsys)
    assert said.startswith(f"edenfake import: 6 exchange(s) imported into {out} (2 image download(s) kept")
    assert len(Cassette.load(out)) == 6
    _no_secret(out)


MARKED = """
import json, httpx, pytest

@pytest.mark.edenfake(cassette=True)
def test_fox(edenfake):
    answer = httpx.post("https://api.edenai.run/v3/images/generations", json=json.loads(%r),
                        headers={"Authorization": "Bearer any"})
    assert answer.content == bytes.fromhex(%r)
    assert edenfake.calls[0].status == 200
"""


def test_an_imported_cassette_replays_through_the_pytest_marker(
    vcr_cassettes: dict[bool, tuple[Path, StandIn]], pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    source, stand_in = vcr_cassettes[False]
    # where the marker's cassette=True looks: cassettes/<module>/<test>/ beside the test file
    _imported([source], pytester.path / "cassettes" / "test_marked" / "test_fox", capsys)
    pytester.makepyfile(test_marked=MARKED % (json.dumps(GENERATION), stand_in.sent[0].body.hex()))
    run_pytest(pytester).assert_outcomes(passed=1)
