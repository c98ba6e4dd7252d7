"""The console at /_edenfake/: the page and what it reads (the catalog, images hosted by their sha256), then
the page itself in headless Chromium against a live server, driven as a developer would drive it.

The browser tests need Debian's ``chromium`` and playwright's Python package (never a downloaded browser);
without them they are skipped, saying so. ``EDENFAKE_UPDATE_SCREENSHOT=1`` writes the README's screenshot,
``docs/console.png``, from the run."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import re
import shutil
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import openai
import pytest
from PIL import Image
from starlette.testclient import TestClient

import edenfake
from edenfake import EdenFake, contracts, create_app, inspect_image
from edenfake.faults import FAULT_NAMES, FAULT_STATUSES
from edenfake.journal import MAX_INPUT_IMAGES
from edenfake.routes.console import page
from tests.helpers import chromium_context, data_url, png

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

    from edenfake.server import LiveServer

GENERATE = "/v3/images/generations"
EDIT = "/v3/images/edits"
#: a mask for a 512x512 canvas: transparent everywhere (edit it all)
MASK_512 = png(512, 512, mode="RGBA", colour=(0, 0, 0, 0))
DOCS = Path(__file__).resolve().parent.parent / "docs"


# -- the page and the routes it reads (no browser) ----------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.fault_options: list[str] = []
        self.ids: set[str] = set()
        self.labelled: set[str] = set()
        self.controls: list[str] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.links += [v for k, v in attrs if k in ("src", "href", "action") and v is not None]
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "select":
            self._select = a.get("id")
        if tag == "option" and self._select == "fault-what":
            self.fault_options.append(str(a["value"]))
        if tag == "label" and a.get("for"):
            self.labelled.add(str(a["for"]))
        if tag in ("input", "select") and a.get("type") != "checkbox":
            self.controls.append(str(a.get("id")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def _parsed() -> _Page:
    parser = _Page()
    parser.feed(page().decode())
    return parser


def test_the_page_is_served_small_and_self_contained(client: TestClient) -> None:
    r = client.get("/_edenfake/", headers={"Authorization": ""})
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.content == page() and len(r.content) < 64 * 1024
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    # Only the page's own script runs, named by its hash: markup that reached the page could not run a script.
    script_src = re.search(r"script-src ([^;]*)", csp)
    assert script_src and re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", script_src.group(1)), csp
    # Nothing loaded from elsewhere: every link is this page, this fake, or an empty data: icon.
    assert all(link.startswith(("#", "/", "data:")) for link in _parsed().links), _parsed().links
    assert not re.search(r"https?://", r.text)


def test_the_page_without_its_slash_redirects_to_it(client: TestClient) -> None:
    r = client.get("/_edenfake", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/_edenfake/"


def test_the_page_offers_every_fault_kind_and_labels_every_control() -> None:
    parsed = _parsed()
    assert sorted(parsed.fault_options) == sorted([*map(str, FAULT_STATUSES), *FAULT_NAMES])
    unlabelled = [c for c in parsed.controls if c not in parsed.labelled]
    assert not unlabelled, f"controls without a visible label: {unlabelled}"


def test_the_page_calls_only_routes_of_the_admin_api() -> None:
    paths = set(re.findall(r"/_edenfake/[a-z-]*", page().decode()))
    table = contracts.route_table()
    for path in {p for p in paths if not p.startswith("/_edenfake/images")} - {"/_edenfake/"}:
        methods = table.methods(path)
        assert methods is not None and all(r.admin for r in methods.values()), path


def test_the_catalog_is_read_without_an_api_token_and_leaves_no_call(client: TestClient) -> None:
    r = client.get("/_edenfake/catalog", headers={"Authorization": ""})
    assert r.status_code == 200
    assert contracts.violations("catalog", r.json()) == []
    assert r.json()["blocked_marker"] == "[edenfake:blocked]"
    assert r.json()["models"]["openai/gpt-image-1"]["prices"]["low"]["1024x1024"] == 0.011
    assert client.get("/_edenfake/state").json()["calls"] == 0


def test_with_an_admin_token_the_catalog_needs_it_and_the_page_does_not() -> None:
    with TestClient(create_app(EdenFake(admin_token="s3cret"))) as c:
        assert c.get("/_edenfake/").status_code == 200
        assert c.get("/_edenfake/catalog").status_code == 401
        assert c.get("/_edenfake/catalog", headers={"Authorization": "Bearer s3cret"}).status_code == 200


@pytest.mark.parametrize(
    ("output_format", "ext", "media"), [("png", "png", "image/png"), ("jpeg", "jpg", "image/jpeg")]
)
def test_base64_images_are_hosted_by_the_sha256_the_journal_keeps(
    client: TestClient, output_format: str, ext: str, media: str
) -> None:
    body = {"model": "openai/gpt-image-1", "prompt": "a fox", "quality": "low", "n": 2, "output_format": output_format}
    answer = client.post(GENERATE, json=body).json()
    digests = [d["b64_json"] for d in client.get("/_edenfake/calls").json()["calls"][0]["response"]["data"]]
    for item, digest in zip(answer["data"], digests, strict=True):
        image = client.get(f"/_edenfake/images/{digest['sha256']}.{ext}")
        assert image.status_code == 200 and image.headers["content-type"] == media
        assert hashlib.sha256(image.content).hexdigest() == digest["sha256"]
        assert image.content == __import__("base64").b64decode(item["b64_json"])


def test_hosted_images_stay_within_the_stores_bound_and_go_with_reset() -> None:
    fake = EdenFake(url_store_bytes=100_000)  # room for about four placeholders of 20 kB
    with TestClient(create_app(fake), headers={"Authorization": "Bearer t"}) as c:
        names = []
        for i in range(12):
            c.post(GENERATE, json={"model": "openai/gpt-image-1", "prompt": f"fox {i}", "quality": "low"})
            digest = c.get("/_edenfake/calls", params={"offset": i}).json()["calls"][0]["response"]["data"][0]
            names.append(f"{digest['b64_json']['sha256']}.png")
        assert fake.urls.size_bytes <= 100_000
        assert c.get(f"/_edenfake/images/{names[0]}").status_code == 404  # the oldest went first
        assert c.get(f"/_edenfake/images/{names[-1]}").status_code == 200
        c.post("/_edenfake/reset", headers={"Content-Type": "application/json"})
        assert c.get(f"/_edenfake/images/{names[-1]}").status_code == 404


def test_an_edits_inputs_are_journalled_and_hosted_for_the_page(client: TestClient) -> None:
    """Each input of an edit, however it came (a file part, a data: URL, an uploaded file, a remote URL, the
    mask), is listed in the journal; those the fake has are hosted by their sha256, beside the answer's images."""
    canvas, other = png(512, 512, mode="RGBA"), png(256, 128, colour=(200, 40, 40))
    files = [("image[]", ("a.png", canvas, "image/png")), ("image[]", ("b.png", other, "image/png"))]
    data = {"model": "openai/gpt-image-1", "prompt": "add a hat", "quality": "low"}
    answer = client.post(EDIT, data=data, files=[*files, ("mask", ("m.png", MASK_512, "image/png"))])
    assert answer.status_code == 200
    assert inspect_image(base64.b64decode(answer.json()["data"][0]["b64_json"])).edit_of == "512x512"
    inputs = client.get("/_edenfake/calls").json()["calls"][-1]["inputs"]
    assert [(i["role"], i["width"], i["height"], i["format"], i["hosted"]) for i in inputs] == [
        ("image", 512, 512, "png", True),
        ("image", 256, 128, "png", True),
        ("mask", 512, 512, "png", True),  # the mask, last
    ]
    for sent, listed in zip((canvas, other, MASK_512), inputs, strict=True):
        assert listed["sha256"] == hashlib.sha256(sent).hexdigest() and listed["bytes"] == len(sent)
        hosted = client.get(f"/_edenfake/images/{listed['sha256']}.png")
        assert hosted.status_code == 200 and hosted.content == sent and hosted.headers["content-type"] == "image/png"
    file_id = client.post("/v3/upload", files={"file": ("c.png", other, "image/png")}).json()["file_id"]
    body = {**data, "images": [{"file_id": file_id}, {"image_url": data_url(canvas)}]}
    assert client.post(EDIT, json=body).status_code == 200
    inputs = client.get("/_edenfake/calls").json()["calls"][-1]["inputs"]
    assert [(i["sha256"], i["hosted"]) for i in inputs] == [
        (hashlib.sha256(d).hexdigest(), True) for d in (other, canvas)
    ]
    # A remote URL is not fetched: listed, with nothing known of it but its hash, and named so on the image.
    remote = {"model": "openai/dall-e-2", "prompt": "x", "images": [{"image_url": "https://example.com/fox.png"}]}
    answer = client.post(EDIT, json={**remote, "response_format": "b64_json"})
    assert answer.status_code == 200
    assert inspect_image(base64.b64decode(answer.json()["data"][0]["b64_json"])).edit_of == "url"
    (listed,) = client.get("/_edenfake/calls").json()["calls"][-1]["inputs"]
    assert (listed["format"], listed["width"], listed["bytes"], listed["hosted"]) == (None, None, None, False)
    # The contract states the journal's bound: as many images as it lists, and the mask.
    assert contracts.load("admin")["$defs"]["Call"]["properties"]["inputs"]["maxItems"] == MAX_INPUT_IMAGES + 1
    assert f"const MAX_INPUTS = {MAX_INPUT_IMAGES + 1};" in page().decode()
    # A generation lists none.
    client.post(GENERATE, json={"model": "openai/gpt-image-1", "prompt": "a fox", "quality": "low"})
    assert client.get("/_edenfake/calls").json()["calls"][-1]["inputs"] == []


def test_an_input_over_the_hosting_bound_is_listed_not_hosted(client: TestClient) -> None:
    from edenfake.routes.edits import MAX_HOSTED_INPUT_BYTES

    side = math.isqrt(MAX_HOSTED_INPUT_BYTES // 3) + 8  # noise does not compress: a PNG over the bound
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG", compress_level=0)
    big = out.getvalue()
    assert len(big) > MAX_HOSTED_INPUT_BYTES
    data = {"model": "openai/gpt-image-1", "prompt": "add a hat", "quality": "low"}
    assert client.post(EDIT, data=data, files={"image": ("big.png", big, "image/png")}).status_code == 200
    (listed,) = client.get("/_edenfake/calls").json()["calls"][-1]["inputs"]
    assert (listed["bytes"], listed["hosted"], listed["width"]) == (len(big), False, side)
    assert client.get(f"/_edenfake/images/{listed['sha256']}.png").status_code == 404


# -- the page in a browser ----------------------------------------------------------------------------------

#: the page reads the journal every 150 ms here (every second by default), so each test takes a moment
FAST = "poll=150"


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    with chromium_context(viewport={"width": 1440, "height": 900}) as context:
        yield context


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with edenfake.serve() as live:
        yield live


@pytest.fixture
def console(browser: BrowserContext, server: LiveServer) -> Iterator[Page]:
    server.reset()
    tab = browser.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    # A refused resource or inline code (the CSP) is a console error; a thumbnail gone with a reset is not.
    tab.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    tab.goto(f"{server.url}/_edenfake/#{FAST}")
    _until(tab, "() => document.getElementById('status-line').textContent.startsWith('live')")
    yield tab
    tab.close()
    server.reset()
    assert not problems, problems  # no script error, no refused resource (the CSP holds)


def _until(tab: Page, predicate: str, timeout: float = 5.0) -> Any:
    # Polled from here: the page's CSP forbids the string evaluation playwright's wait_for_function uses.
    deadline = time.monotonic() + timeout
    while True:
        value = tab.evaluate(predicate)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s: {predicate}")
        time.sleep(0.03)


def _rows(tab: Page) -> list[list[str]]:
    result: list[list[str]] = tab.evaluate(
        "() => [...document.querySelectorAll('#calls tr')].filter(r => !r.hidden)"
        ".map(r => [...r.cells].map(c => c.innerText.trim()))"
    )
    return result


def _sdk(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(api_key="t", base_url=server.base_url, max_retries=0)


@pytest.fixture(scope="module")
def sdk(server: LiveServer) -> Iterator[openai.OpenAI]:
    with _sdk(server) as client:
        yield client


def _rows_at_least(n: int) -> str:
    return f"() => document.querySelectorAll('#calls tr').length >= {n}"


def _thumbnails_loaded(n: int) -> str:
    return (
        "() => { const images = [...document.querySelectorAll('#calls img')];"
        f" return images.length >= {n} && images.every(i => i.complete && i.naturalWidth > 0); }}"
    )


def test_sdk_requests_appear_without_a_reload_with_their_thumbnails(
    console: Page, server: LiveServer, sdk: openai.OpenAI
) -> None:
    client = sdk
    client.images.generate(model="openai/gpt-image-1", prompt="a red fox in the snow", quality="low", n=2)
    client.images.generate(model="openai/dall-e-2", prompt="a boat", size="256x256")  # a url answer
    _until(console, _rows_at_least(2))
    newest, oldest = _rows(console)
    assert newest[1:5] == ["generations", "openai/dall-e-2", "a boat", "200"]
    assert oldest[2:5] == ["openai/gpt-image-1", "a red fox in the snow", "200"]
    assert (newest[7], oldest[7]) == ("$0.016", "$0.022")
    _until(console, _thumbnails_loaded(3))
    # Served by the fake, never inlined from the journal.
    sources = console.evaluate("() => [...document.querySelectorAll('#calls img')].map(i => i.getAttribute('src'))")
    assert all(re.fullmatch(r"/_edenfake/images/[0-9a-f]+\.png", s) for s in sources), sources
    assert console.text_content("#spent") == "$0.038"
    # A thumbnail opens the full image.
    with console.context.expect_page() as opened:
        console.click("#calls tr:last-child a")
    full = opened.value
    full.wait_for_load_state()
    assert (
        full.url.startswith(server.url + "/_edenfake/images/")
        and full.evaluate("() => document.images[0].naturalWidth") == 1024
    )
    full.close()


def test_a_long_prompt_is_clamped_and_expands_in_place_shown_once(
    console: Page, server: LiveServer, sdk: openai.OpenAI
) -> None:
    prompt = " ".join(["a lighthouse on a cliff at dusk, waves breaking below, gulls overhead, in thick oils"] * 3)
    sdk.images.generate(model="openai/gpt-image-1", prompt=prompt, quality="low")
    _until(console, _rows_at_least(1))
    toggle = console.locator("#calls button.prompt")
    shown = f"() => document.body.innerText.split({json.dumps(prompt)}).length - 1"
    clipped = (
        "() => { const b = document.querySelector('#calls button.prompt'); return b.scrollHeight > b.clientHeight; }"
    )
    line = console.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#calls td.prompt')).lineHeight)")
    closed = toggle.bounding_box()
    assert closed is not None and closed["height"] <= 3 * line + 2 and console.evaluate(clipped)
    assert toggle.get_attribute("aria-expanded") == "false" and console.evaluate(shown) == 1
    toggle.focus()
    console.keyboard.press("Enter")  # a button: Enter and Space work, and a screen reader says what it does
    opened = toggle.bounding_box()
    assert toggle.get_attribute("aria-expanded") == "true" and opened is not None
    assert opened["height"] > closed["height"] + line and not console.evaluate(clipped)  # the whole text, in place
    assert console.evaluate(shown) == 1 and toggle.inner_text() == prompt  # once, not a short and a full copy
    assert console.locator("#calls td.prompt").inner_text() == prompt
    console.keyboard.press("Space")
    assert toggle.get_attribute("aria-expanded") == "false" and console.evaluate(clipped)


def test_a_fault_queued_from_the_page_answers_the_next_request(
    console: Page, server: LiveServer, sdk: openai.OpenAI
) -> None:
    console.select_option("#fault-what", "content_policy")
    console.select_option("#fault-model", "openai/gpt-image-1")
    call = console.locator("#form-fault pre.call").inner_text()
    assert call.splitlines() == [
        "POST /_edenfake/faults",
        json.dumps(
            {"fail": "content_policy", "times": 1, "match": {"model": "openai/gpt-image-1"}}, separators=(",", ":")
        ),
    ]
    console.click("text=Queue fault")
    _until(console, "() => document.querySelector('#form-fault output').textContent.startsWith('201')")
    with pytest.raises(openai.BadRequestError) as info:
        sdk.images.generate(model="openai/gpt-image-1", prompt="a fox")
    assert info.value.code == "moderation_blocked"
    _until(console, _rows_at_least(1))
    row = _rows(console)[0]
    assert row[4:7] == ["400", "PROVIDER_ERROR (moderation_blocked)", "content_policy"]
    assert server.calls.count == 1


def test_the_controls_are_usable_from_the_keyboard(console: Page, server: LiveServer) -> None:
    console.focus("#fault-what")
    console.keyboard.press("End")  # the last kind: disconnect
    console.keyboard.press("Tab")  # times
    console.keyboard.press("Tab")  # every request
    console.keyboard.press("Space")
    for _ in range(3):  # model, retry-after, then the button
        console.keyboard.press("Tab")
    assert console.evaluate("() => document.activeElement.textContent") == "Queue fault"
    console.keyboard.press("Enter")
    _until(console, "() => document.querySelector('#form-fault output').textContent.startsWith('201')")
    assert [(f.what, f.times) for f in server.fake.faults.faults] == [("disconnect", None)]


def test_controls_show_their_call_and_set_credits_latency_chaos_rate_limit_and_clock(
    console: Page, server: LiveServer
) -> None:
    steps = [
        ("#credits", "0.5", "form-credits", "PUT /_edenfake/credits", {"credits": 0.5}),
        ("#latency", "0.01", "form-latency", "PUT /_edenfake/latency", {"seconds": 0.01}),
        ("#chaos", "0.25", "form-chaos", "PUT /_edenfake/chaos", {"rate": 0.25}),
        ("#rate", "7", "form-rate", "PUT /_edenfake/rate-limit", {"per_second": 7}),
        ("#clock-value", "60", "form-clock", "PUT /_edenfake/clock", {"advance": 60}),
    ]
    before = server.clock.now()
    for selector, value, form, call, body in steps:
        console.fill(selector, value)
        shown = console.locator(f"#{form} pre.call").inner_text().splitlines()
        assert shown == [call, json.dumps(body, separators=(",", ":"))]
        console.click(f"#{form} button[type=submit]")
        _until(console, f"() => document.querySelector('#{form} output').textContent.startsWith('200')")
    assert server.credits == 0.5 and server.fake.faults.latency == 0.01 and server.fake.faults.chaos_rate == 0.25
    assert server.fake.rate_limiter is not None and server.fake.rate_limiter.per_second == 7
    assert server.clock.frozen and server.clock.now() >= before + 60
    _until(console, "() => document.getElementById('credits-left').textContent === '$0.5'")
    # A value the admin API refuses shows its reason (one the contract's bounds let through: the step is within
    # them, the clock it leads to is not).
    console.fill("#clock-value", "253399622399")
    console.click("#form-clock button[type=submit]")
    _until(
        console, "() => document.querySelector('#form-clock output').textContent.startsWith('422 advance: the clock')"
    )
    text = console.locator("#form-clock output").inner_text()
    assert "advance: advance" not in text  # the field is named once


#: each number input of the console, the admin contract's property that bounds it, and a value within them
BOUNDED_INPUTS = [
    ("#fault-times", "FaultRequest", "times", "3"),
    ("#fault-retry", "FaultRequest", "retry_after", "0.25"),
    ("#credits", "CreditsRequest", "credits", "0.5"),
    ("#latency", "LatencyBounds", None, "0.5"),
    ("#chaos", "ChaosRequest", "rate", "0.33"),
    ("#rate", "RateLimitRequest", "per_second", "7"),
]


def test_the_controls_take_their_bounds_from_the_admin_contract(console: Page, server: LiveServer) -> None:
    """The browser accepts what the admin API accepts: each input's min, max and step are the contract's, read
    from GET /openapi.json, and the page states none of its own."""
    assert not re.search(r'<input[^>]* (min|max)="', page().decode()), "a bound written in the page"
    _until(console, "() => document.documentElement.dataset.bounds === 'contract'")
    admin = contracts.load("admin")["$defs"]
    for selector, definition, prop, inside in BOUNDED_INPUTS:
        schema = admin[definition] if prop is None else admin[definition]["properties"][prop]
        shown = console.evaluate(
            f"() => {{ const i = document.querySelector('{selector}'); return [i.min, i.max, i.step]; }}"
        )
        integer = "integer" in ([schema["type"]] if isinstance(schema.get("type"), str) else schema.get("type", []))
        assert shown == [str(schema.get("minimum", "")), str(schema.get("maximum", "")), "1" if integer else "any"], (
            selector
        )
        outside = [str(schema["maximum"] * 2), "-1", *(["2.5"] if integer else [])]
        for value, valid in ((inside, True), *((v, False) for v in outside)):
            console.fill(selector, value)
            ok = console.evaluate(f"() => document.querySelector('{selector}').checkValidity()")
            assert ok is valid, (selector, value)
    for mode in ("at", "advance"):
        console.select_option("#clock-mode", mode)
        bounds = contracts.load("admin")["$defs"]["ClockRequest"]["properties"][mode]
        assert console.evaluate("() => document.getElementById('clock-value').max") == str(bounds["maximum"])
    # Past the bound the browser does not send the form at all: nothing changes.
    console.fill("#credits", str(admin["CreditsRequest"]["properties"]["credits"]["maximum"] * 5))
    console.click("#form-credits button[type=submit]")
    assert console.evaluate("() => document.getElementById('credits').validity.rangeOverflow")
    assert server.credits is None


def test_reset_empties_the_journal(console: Page, server: LiveServer, sdk: openai.OpenAI) -> None:
    client = sdk
    for prompt in ("one", "two"):
        client.images.generate(model="openai/gpt-image-1", prompt=prompt, quality="low")
    _until(console, _rows_at_least(2))
    assert console.locator("#form-reset pre.call").inner_text() == "POST /_edenfake/reset"
    console.click("text=Reset the fake")
    _until(console, "() => document.querySelectorAll('#calls tr').length === 0")
    assert server.calls.count == 0 and console.text_content("#spent") == "$0"
    client.images.generate(model="openai/gpt-image-1", prompt="three", quality="low")
    _until(console, _rows_at_least(1))
    assert [r[3] for r in _rows(console)] == ["three"]


def test_a_reset_elsewhere_is_followed(console: Page, server: LiveServer, sdk: openai.OpenAI) -> None:
    client = sdk
    client.images.generate(model="openai/gpt-image-1", prompt="before", quality="low")
    _until(console, _rows_at_least(1))
    server.reset()  # a test suite's reset between two tests: the journal starts again
    for prompt in ("after 1", "after 2"):
        client.images.generate(model="openai/gpt-image-1", prompt=prompt, quality="low")
    _until(
        console,
        "() => [...document.querySelectorAll('#calls tr')].map(r => r.cells[3].innerText).join() === 'after 2,after 1'",
    )
    assert console.text_content("#spent") == "$0.022"


def test_calls_the_journal_drops_are_counted_not_duplicated(browser: BrowserContext) -> None:
    with edenfake.serve(journal_size=3) as small, _sdk(small) as client:
        tab = browser.new_page()
        try:
            tab.goto(f"{small.url}/_edenfake/#{FAST}")
            for i in range(1, 3):
                client.images.generate(model="openai/gpt-image-1", prompt=str(i), quality="low")
            _until(tab, _rows_at_least(2))
            for i in range(3, 9):  # faster than the page reads: the journal drops the oldest meanwhile
                client.images.generate(model="openai/gpt-image-1", prompt=str(i), quality="low")
            _until(tab, "() => document.querySelector('#calls tr td:nth-child(4)').innerText === '8'")
            prompts = [int(r[3]) for r in _rows(tab)]
            assert prompts == sorted(set(prompts), reverse=True) and prompts[-2:] == [2, 1]
            read = len(prompts)
            skipped = f", {8 - read} skipped" if read < 8 else ""
            assert tab.text_content("#journal-note") == f"({read} read{skipped}; newest first)"
            assert tab.text_content("#spent") == f"${round(0.011 * read, 6)}"
        finally:
            tab.close()


def test_filters_by_status_and_model(console: Page, server: LiveServer, sdk: openai.OpenAI) -> None:
    client = sdk
    client.images.generate(model="openai/gpt-image-1", prompt="a", quality="low")
    client.images.generate(model="openai/dall-e-2", prompt="b", size="256x256")
    with pytest.raises(openai.BadRequestError):
        client.images.generate(model="openai/dall-e-2", prompt="c", size="999x999")
    _until(console, _rows_at_least(3))
    console.select_option("#filter-status", "4")
    assert [r[3] for r in _rows(console)] == ["c"]
    console.select_option("#filter-status", "")
    console.select_option("#filter-model", "openai/dall-e-2")
    assert [r[3] for r in _rows(console)] == ["c", "b"]


def test_the_catalog_and_money_per_model(console: Page, server: LiveServer, sdk: openai.OpenAI) -> None:
    models = console.evaluate("() => [...document.querySelectorAll('#models tr')].map(r => r.cells[0].innerText)")
    assert len(models) == len(server.fake.catalog) and models[0].startswith("openai/gpt-image-1")
    assert "moderation_blocked" in console.locator("#models tr").first.inner_text()
    client = sdk
    client.images.generate(model="openai/gpt-image-1", prompt="a", quality="low")
    client.images.generate(model="openai/gpt-image-1", prompt="b", quality="low", n=3)
    # a refresh may land between the two calls: wait for the one that has seen both
    rows = "document.querySelectorAll('#per-model tr')"
    _until(console, f"() => {rows}.length === 1 && {rows}[0].cells[1].innerText.trim() === '2'")
    assert console.locator("#per-model tr").inner_text().split() == ["openai/gpt-image-1", "2", "4", "$0.044"]


def test_with_an_admin_token_the_page_reads_it_from_the_fragment(browser: BrowserContext) -> None:
    with edenfake.serve(admin_token="s3cret") as guarded:
        tab = browser.new_page()
        try:
            tab.goto(f"{guarded.url}/_edenfake/#{FAST}")
            _until(tab, "() => !document.getElementById('token-panel').hidden")
            tab.fill("#token-input", "s3cret")
            tab.keyboard.press("Enter")
            _until(tab, "() => document.getElementById('status-line').textContent.startsWith('live')")
            tab.goto(f"{guarded.url}/_edenfake#token=s3cret&{FAST}")  # the redirect keeps the fragment
            _until(tab, "() => document.getElementById('status-line').textContent.startsWith('live')")
            with _sdk(guarded) as client:
                client.images.generate(model="openai/gpt-image-1", prompt="guarded", quality="low")
            _until(tab, _rows_at_least(1))
            assert tab.evaluate("() => document.getElementById('token-panel').hidden")
        finally:
            tab.close()


def test_the_console_picks_a_session_and_shows_its_calls_and_images(browser: BrowserContext) -> None:
    """The session picker (``X-Edenfake-Session``, tests/test_sessions.py): the page shows the chosen session's
    calls and hosted images, and its reset empties that session alone."""

    def under(name: str) -> dict[str, str]:
        return {"X-Edenfake-Session": name}

    body = {"model": "openai/dall-e-2", "prompt": "a red fox", "size": "256x256", "response_format": "url"}
    rows = "() => [...document.querySelectorAll('#calls tr')].map(r => r.cells[3] && r.cells[3].innerText.trim())"
    loaded = "() => [...document.querySelectorAll('#calls img')].every(i => i.complete && i.naturalWidth > 0)"
    generate = "/v3/images/generations"
    with edenfake.serve() as served, httpx.Client(base_url=served.url, headers={"Authorization": "Bearer t"}) as http:
        http.post(generate, json={**body, "prompt": "in default"})
        http.post(generate, json={**body, "prompt": "in a"}, headers=under("a"))
        http.post(generate, json={**body, "prompt": "in b"}, headers=under("b"))
        tab = browser.new_page()
        try:
            tab.goto(f"{served.url}/_edenfake/#{FAST}")
            _until(tab, f"() => JSON.stringify(({rows})()) === '[\"in default\"]'", timeout=10)
            _until(tab, "() => document.querySelectorAll('#session-select option').length === 3", timeout=10)
            tab.select_option("#session-select", "b")
            _until(tab, f"() => JSON.stringify(({rows})()) === '[\"in b\"]'", timeout=10)
            _until(tab, f"() => document.querySelectorAll('#calls img').length > 0 && ({loaded})()", timeout=10)
            assert "?session=b" in tab.evaluate("() => document.querySelector('#calls img').src")
            tab.click("text=Reset the fake")
            _until(tab, "() => document.querySelectorAll('#calls tr').length === 0", timeout=10)
        finally:
            tab.close()
        counts = {n: http.get("/_edenfake/state", headers=under(n)).json()["calls"] for n in ("a", "b")}
        assert counts == {"a": 1, "b": 0} and http.get("/_edenfake/state").json()["calls"] == 1


#: an edit's input: a 512x512 PNG of one colour
FOX = png(512, 512, mode="RGBA", colour=(200, 90, 30, 255))
LONG_PROMPT = "a lighthouse on a cliff at dusk, waves breaking below, gulls overhead, painted in thick oils"


def _fill(server: LiveServer, client: openai.OpenAI) -> None:
    """A journal as a developer sees it: generations, an edit, a refusal, a fault and a refused size."""
    client.images.generate(
        model="openai/gpt-image-1",
        prompt="a red fox in the snow, morning light",
        quality="low",
        n=2,
        extra_headers={"X-EdenAI-Tags": "client=acme,suite=smoke"},
    )
    client.images.generate(model="openai/dall-e-2", prompt="a sailing boat on a calm lake", size="256x256")
    client.images.edit(
        model="openai/gpt-image-1", image=("fox.png", FOX, "image/png"), prompt="the same fox, in a blue coat"
    )
    client.images.generate(model="google/imagen-4.0-generate-001", prompt=LONG_PROMPT)
    with pytest.raises(openai.BadRequestError):
        client.images.generate(model="openai/gpt-image-1", prompt="something [edenfake:blocked]")
    server.fail(503, match={"model": "openai/dall-e-3"})
    with pytest.raises(openai.InternalServerError):
        client.images.generate(model="openai/dall-e-3", prompt="a castle")
    with pytest.raises(openai.BadRequestError):
        client.images.generate(model="openai/gpt-image-1", prompt="a fox", size="999x999")


#: the boxes of the page's thumbnails and the viewport's width, and whether anything scrolls sideways
_GEOMETRY = """() => ({
    width: innerWidth,
    page: document.documentElement.scrollWidth,
    regions: [...document.querySelectorAll('.scroll')].map(r => r.scrollWidth - r.clientWidth),
    thumbs: [...document.querySelectorAll('#calls img')].map(i => i.getBoundingClientRect().toJSON()),
})"""


def _edit_row(tab: Page) -> dict[str, Any]:
    found: dict[str, Any] = tab.evaluate(
        """() => { const row = [...document.querySelectorAll('#calls tr')].find(r => r.cells[1].innerText === 'edits');
        const box = (s) => [...row.querySelectorAll(s)].map(i => ({src: i.getAttribute('src'), alt: i.alt,
            natural: i.naturalWidth, ...i.getBoundingClientRect().toJSON()}));
        return {inputs: box('a.input img'), outputs: box('a.output img')}; }"""
    )
    return found


def test_at_800_pixels_wide_nothing_scrolls_sideways_and_thumbnails_are_large(
    console: Page, server: LiveServer, sdk: openai.OpenAI
) -> None:
    console.set_viewport_size({"width": 800, "height": 900})
    # What no layout plans for: a prompt without a space, a model id of 200 characters, a path of 300.
    sdk.images.generate(model="openai/gpt-image-1", prompt="y" * 2000, quality="low")
    with pytest.raises(openai.UnprocessableEntityError):
        sdk.images.generate(model="m" * 200, prompt="a fox")
    assert httpx.get(f"{server.url}/v3/{'p' * 300}").status_code == 404
    _until(console, _rows_at_least(3))
    shown = console.evaluate(_GEOMETRY)
    assert shown["page"] <= shown["width"] == 800 and all(extra <= 0 for extra in shown["regions"]), shown
    server.reset()
    _until(console, "() => document.querySelectorAll('#calls tr').length === 0")
    _fill(server, sdk)
    _until(console, _rows_at_least(7))
    _until(console, _thumbnails_loaded(5))
    shown = console.evaluate(_GEOMETRY)
    assert shown["page"] <= shown["width"] == 800 and all(extra <= 0 for extra in shown["regions"]), shown
    for box in shown["thumbs"]:
        assert box["width"] >= 64 and box["height"] >= 64 and box["left"] >= 0 and box["right"] <= 800, box
    # The columns that matter stay; fault, cost and time taken move under the status.
    headers = console.evaluate(
        "() => [...document.querySelectorAll('#journal th')].filter(h => h.getBoundingClientRect().width > 0)"
        ".map(h => [h.innerText, h.getBoundingClientRect().right])"
    )
    assert [h for h, _ in headers] == ["Time", "Route", "Model", "Prompt", "Status", "Error code", "Images"]
    assert all(right <= 800 for _, right in headers)
    _until(console, _thumbnails_loaded(6))  # 2 + 1 + the edit's input and output + 1
    rows = _rows(console)
    assert [r[4].split("\n")[:2] for r in (rows[1], rows[-1])] == [["503", "fault 503"], ["200", "$0.022"]]
    assert re.fullmatch(r"[0-9.]+ ms", rows[-1][4].split("\n")[2])
    assert [r[5] for r in rows[:3]] == [
        "PROVIDER_ERROR (size)",
        "SERVICE_UNAVAILABLE",
        "PROVIDER_ERROR (moderation_blocked)",
    ]
    edit = _edit_row(console)
    (given,), (made,) = edit["inputs"], edit["outputs"]
    assert given["right"] < made["left"] and given["top"] == made["top"]  # beside it, not under it


def test_an_edit_row_shows_its_input_beside_the_output(console: Page, server: LiveServer, sdk: openai.OpenAI) -> None:
    answer = sdk.images.edit(model="openai/gpt-image-1", image=("fox.png", FOX, "image/png"), prompt="a blue coat")
    _until(console, _rows_at_least(1))
    _until(console, _thumbnails_loaded(2))
    edit = _edit_row(console)
    (given,), (made,) = edit["inputs"], edit["outputs"]
    assert given["src"] == f"/_edenfake/images/{hashlib.sha256(FOX).hexdigest()}.png" and given["natural"] == 512
    assert given["alt"] == "input 1 (512x512 PNG)" and made["alt"] == "edit output 1 from openai/gpt-image-1"
    assert given["right"] < made["left"] and given["top"] == made["top"]
    # The output is the answer's image, and says on itself what it was made from.
    (item,) = answer.data or []
    sent = base64.b64decode(item.b64_json or "")
    assert made["src"] == f"/_edenfake/images/{hashlib.sha256(sent).hexdigest()}.png"
    assert inspect_image(sent).edit_of == "512x512"
    # A generation's row has no input, and no arrow.
    sdk.images.generate(model="openai/gpt-image-1", prompt="a fox", quality="low")
    _until(console, _rows_at_least(2))
    assert console.evaluate("() => document.querySelector('#calls tr').querySelectorAll('a.input, .arrow').length") == 0


def test_request_tags_show_as_chips_when_the_journal_has_them(
    console: Page, server: LiveServer, sdk: openai.OpenAI
) -> None:
    """A call's tags (the X-EdenAI-Tags header and the body's, merged) show as chips; an untagged call has none."""
    sdk.images.generate(
        model="openai/gpt-image-1",
        prompt="tagged",
        quality="low",
        extra_headers={"X-EdenAI-Tags": "run=nightly-42"},
        extra_body={"tags": {"client": "acme"}},
    )
    sdk.images.generate(model="openai/gpt-image-1", prompt="plain", quality="low")
    _until(console, _rows_at_least(2))
    chips = console.evaluate(
        "() => [...document.querySelectorAll('#calls tr')]"
        ".map(r => [...r.querySelectorAll('.tags li')].map(l => l.innerText))"
    )
    assert [sorted(c) for c in chips] == [[], ["client=acme", "run=nightly-42"]]
    assert server.calls[0].tags == {"client": "acme", "run": "nightly-42"}
    assert [r[3].split("\n")[0] for r in _rows(console)] == ["plain", "tagged"]


def test_the_screenshot(console: Page, server: LiveServer, tmp_path: Path, sdk: openai.OpenAI) -> None:
    """The README's picture of the console at 1200x800, taken from a run: a few answers, an edit with its input
    beside its output, a refusal and a fault."""
    console.set_viewport_size({"width": 1200, "height": 800})
    _fill(server, sdk)
    _until(console, _rows_at_least(7))
    _until(console, _thumbnails_loaded(6))
    console.select_option("#fault-what", "content_policy")
    shown = console.evaluate(_GEOMETRY)
    assert shown["page"] <= shown["width"] and all(extra <= 0 for extra in shown["regions"]), shown
    shot = tmp_path / "console.png"
    console.screenshot(path=str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("EDENFAKE_UPDATE_SCREENSHOT"):
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS / "console.png")


def test_the_page_reads_little_each_refresh(browser: BrowserContext, server: LiveServer, sdk: openai.OpenAI) -> None:
    """Idle, one small journal read a refresh (and the state every fifth): the page never loads the API."""
    server.reset()
    sdk.images.generate(model="openai/gpt-image-1", prompt="a fox", quality="low")
    tab = browser.new_page()
    reads: list[tuple[str, int]] = []
    tab.on("response", lambda r: reads.append((r.url, int(r.headers.get("content-length", "0")))))
    try:
        tab.goto(f"{server.url}/_edenfake/#{FAST}")
        _until(tab, _rows_at_least(1))
        tab.wait_for_timeout(200)
        reads.clear()
        tab.wait_for_timeout(1000)  # six or seven refreshes (the page's events are read while playwright waits)
        journal = [size for url, size in reads if "/_edenfake/calls" in url]
        state = [url for url, _ in reads if url.endswith("/_edenfake/state")]
        assert 4 <= len(journal) <= 9 and len(state) <= len(journal) // 4 + 1
        assert max(journal) < 2000  # the newest call only, as proof the journal was not emptied
        assert all(u.split("/_edenfake/")[1].split("?")[0] in ("calls", "state") for u, _ in reads)
    finally:
        tab.close()
        server.reset()


def test_the_page_never_needs_an_api_token() -> None:
    """The console reads the catalog from the admin API: a fake that accepts only some API tokens still shows it,
    and the journal stays free of the page's reads."""
    with edenfake.serve(tokens=["only-this"]) as locked, httpx.Client(base_url=locked.url) as http:
        assert http.get("/_edenfake/catalog").status_code == 200
        assert http.get("/v3/images/models").status_code == 401
        assert locked.calls.count == 1


def test_download_har_saves_the_picked_sessions_journal_with_the_pages_token(
    browser: BrowserContext, tmp_path: Path
) -> None:
    body = {"model": "openai/dall-e-2", "prompt": "in s1", "size": "256x256", "response_format": "url"}
    with edenfake.serve(admin_token="s3cret") as guarded, httpx.Client(base_url=guarded.url) as http:
        auth = {"Authorization": "Bearer t"}
        for _ in range(3):
            http.post("/v3/images/generations", json=body, headers={**auth, "X-Edenfake-Session": "s1"})
        http.post("/v3/images/generations", json={**body, "prompt": "in default"}, headers=auth)
        tab = browser.new_page()
        try:
            tab.goto(f"{guarded.url}/_edenfake/#token=s3cret&{FAST}")
            _until(tab, "() => document.getElementById('status-line').textContent.startsWith('live')")
            _until(tab, "() => document.querySelectorAll('#session-select option').length === 2", timeout=10)
            tab.select_option("#session-select", "s1")
            with tab.expect_download() as caught:
                tab.click("text=Download HAR")
            saved = tmp_path / "calls.har"
            caught.value.save_as(saved)
            assert caught.value.suggested_filename == "edenfake-calls-s1.har"
        finally:
            tab.close()
    entries = json.loads(saved.read_text())["log"]["entries"]
    prompts = [json.loads(e["request"]["postData"]["text"])["prompt"] for e in entries]
    assert prompts == ["in s1"] * 3


@pytest.mark.parametrize("poll", ["Infinity", "3000000000", "1e400"])
def test_a_huge_poll_interval_reads_the_journal_once_a_minute_not_back_to_back(
    browser: BrowserContext, server: LiveServer, poll: str
) -> None:
    # A timer's delay past 2^31 ms fires at once: unbounded, #poll=Infinity read the journal ~30 times a second
    tab = browser.new_page()
    reads: list[str] = []
    tab.on(
        "request", lambda r: reads.append(r.url) if "/_edenfake/calls?" in r.url or r.url.endswith("/calls") else None
    )
    try:
        tab.goto(f"{server.url}/_edenfake/#poll={poll}")
        _until(tab, "() => document.getElementById('status-line').textContent.startsWith('live')")
        time.sleep(1.5)
        assert len(reads) <= 3, reads
    finally:
        tab.close()
