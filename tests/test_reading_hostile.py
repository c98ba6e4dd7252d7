"""Hostile bodies, through every door they reach: JSON crafted to make the nesting check slow, multipart bodies
python-multipart refuses, non-images and oversized images in an edit. Each is answered promptly (timed against
a baseline measured in the same test), with a 400 or 422 that names the rule."""

from __future__ import annotations

import contextlib
import json
import signal
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from starlette.testclient import TestClient

import edenfake
from edenfake import EdenFake, FakeRequest
from edenfake._request import MAX_DEPTH, Part, json_depth, parse_json, parse_multipart
from edenfake.errors import BadRequest
from tests.helpers import AUTH, FROZEN, data_url, examples, png, probe_while

EDEN = "https://api.edenai.run"
GPT = "openai/gpt-image-1"
MIB = 1 << 20

#: bodies nested past MAX_DEPTH ahead of something a backtracking scan of strings takes quadratic time over
FAMILIES: dict[str, Callable[[int], str]] = {
    "unterminated string of escaped quotes": lambda size: "[" * 65 + '"' + '\\"' * ((size - 66) // 2),
    "unterminated string of backslash pairs": lambda size: "[" * 65 + '"' + "\\\\" * ((size - 66) // 2),
    "a run of quotes": lambda size: "[" * 65 + '"' * (size - 65),
    "bracket pairs": lambda size: "[" * 65 + "[]" * ((size - 65) // 2),
    "brackets and quotes alternating": lambda size: "[" * 65 + '["' * ((size - 65) // 2),
    "one string of escaped backslashes and quotes": lambda size: "[" * 65 + '"' + '\\\\\\"' * ((size - 67) // 4) + '"',
    "strings that each hold an escaped quote": lambda size: "[" * 65 + '"\\"",' * ((size - 65) // 5),
    "objects around an unterminated key": lambda size: '{"a":' * 65 + '{"' + '\\"' * ((size - 327) // 2),
    "nesting a megabyte deep": lambda size: "[" * (size // 2) + "]" * (size // 2),
    "bracket pairs, then the nesting": lambda size: "[]" * ((size - 65) // 2) + "[" * 65,
    "strings of brackets, then the nesting": lambda size: (
        "[" + '"[[[[[[[[[[[[[[[[[[[[[[[[[[[[",' * (size // 31 - 5) + "[" * 65
    ),
}


class Overtime(BaseException):
    """Not an Exception: the fake answers any Exception in its own code with a 500 and goes on."""


@contextlib.contextmanager
def budget(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (a regular expression checks for signals as it runs, so a scan
    that would take an hour fails the test in seconds instead)."""

    def interrupt(signum: int, frame: Any) -> None:
        raise Overtime(f"still running after {seconds:.2f} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def fastest(action: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def valid_json(size: int) -> bytes:
    """A valid JSON array of short strings with escapes in them, about ``size`` bytes long."""
    return json.dumps(['a "quoted" \\ word'] * (size // 24)).encode()


def too_deep(body: bytes) -> None:
    with pytest.raises(BadRequest, match="nested too deeply"):
        parse_json(body)


# -- the nesting check ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES, ids=list(FAMILIES))
def test_the_nesting_check_takes_time_in_proportion_to_the_body(family: str) -> None:
    whole, eighth = (FAMILIES[family](size).encode() for size in (MIB, MIB // 8))
    valid = valid_json(MIB)
    baseline = fastest(lambda: json.loads(valid))  # what parsing a valid megabyte costs
    with budget(max(3.0, 200 * baseline)):
        big = fastest(lambda: too_deep(whole))
        small = fastest(lambda: too_deep(eighth), repeat=9)
    assert big < 25 * baseline, f"{big:.3f} s for a megabyte; json.loads takes {baseline:.3f} s"
    # Eight times the body: eight times as long when the check is linear, 64 times when it is quadratic; the
    # bound leaves twice the linear figure (a shared machine's noise), give or take a valid megabyte's parse.
    assert big < 16 * small + baseline, f"eight times the body took {big / small:.1f} times as long"


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


tricky_text = st.text(alphabet='[]{}"\\/ab\n\u00e9', max_size=8)
json_values = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=examples(100, 300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values, wrap=st.integers(0, 70), ascii_only=st.booleans())
def test_the_nesting_check_counts_what_json_nests(value: Any, wrap: int, ascii_only: bool) -> None:
    for _ in range(wrap):
        value = [value] if wrap % 2 else {"k[": value}
    text = json.dumps(value, ensure_ascii=ascii_only)
    counted = json_depth(text)
    if depth(value) > MAX_DEPTH:
        assert MAX_DEPTH < counted <= depth(value)
    else:
        assert counted <= MAX_DEPTH
        assert parse_json(text.encode()) == value


# -- the nesting check through the doors ----------------------------------------------------------------------


def hostile_bodies(size: int) -> list[bytes]:
    return [FAMILIES[name](size).encode() for name in FAMILIES]


@pytest.mark.parametrize(
    ("method", "path", "valid"),
    [
        ("POST", "/v3/images/generations", {"model": GPT, "prompt": "a fox"}),
        ("POST", "/v3/images/edits", {"model": GPT, "prompt": "a fox", "images": []}),
        ("POST", "/v3/upload/delete", {"file_ids": []}),
        ("PUT", "/_edenfake/credits", {"credits": 1}),
    ],
)
def test_every_json_route_of_the_mock_answers_hostile_bodies_promptly(
    method: str, path: str, valid: dict[str, Any]
) -> None:
    headers = {**AUTH, "content-type": "application/json"}
    # The baseline: valid JSON of the same size, of short strings (a long one is parsed faster than memcpy)
    padded = json.dumps({**valid, "pad": ['a "quoted" \\ word'] * ((MIB - 300) // 24)}).encode()
    assert MIB - 1000 < len(padded) <= MIB
    with edenfake.mock(clock=FROZEN), httpx.Client(base_url=EDEN, headers=headers) as http:
        baseline = fastest(lambda: http.request(method, path, content=padded))
        with budget(max(3.0, 200 * baseline)):
            for body in hostile_bodies(MIB - 100):
                started = time.perf_counter()
                r = http.request(method, path, content=body)
                elapsed = time.perf_counter() - started
                assert r.status_code == 400 and "nested too deeply" in r.json()["detail"]
                assert elapsed < 25 * baseline, f"{elapsed:.3f} s; a valid body of that size takes {baseline:.3f} s"


def test_a_multipart_field_read_as_json_is_checked_promptly() -> None:
    image = ("a.png", png(), "image/png")
    fields = {"model": GPT, "prompt": "a fox"}
    padded = json.dumps({"pad": "x" * (MIB - 100)})
    with edenfake.mock(clock=FROZEN), httpx.Client(base_url=EDEN, headers=AUTH) as http:
        edit = "/v3/images/edits"
        baseline = fastest(lambda: http.post(edit, data={**fields, "metadata": padded}, files=[("image", image)]))
        # the first refusal loads jsonschema (to word it); a valid request never needs it: not the scan's cost
        assert http.post(edit, data={**fields, "metadata": "[]"}, files=[("image", image)]).status_code == 422
        hostile = "{" * 65 + '"' + '\\"' * (MIB // 2)
        with budget(max(3.0, 200 * baseline)):
            started = time.perf_counter()
            r = http.post(edit, data={**fields, "metadata": hostile}, files=[("image", image)])
            elapsed = time.perf_counter() - started
    assert r.status_code == 422 and [d["loc"] for d in r.json()["detail"]] == [["body", "metadata"]]
    assert elapsed < 25 * baseline


def test_healthz_answers_promptly_while_hostile_bodies_are_answered() -> None:
    # Kept small: a scan that holds the server's thread cannot be interrupted from here.
    size = 48 * 1024
    headers = {**AUTH, "content-type": "application/json"}
    valid = json.dumps({"model": GPT, "prompt": "a fox", "pad": "x" * size}).encode()  # the baseline: same size
    times: dict[bool, list[float]] = {True: [], False: []}
    with edenfake.serve(clock=FROZEN) as server, httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:

        def send() -> None:
            # Hostile bodies between valid ones of the same size, timed alike, on the same server meanwhile.
            with httpx.Client(base_url=server.url, headers=headers, timeout=120) as other:
                for body in hostile_bodies(size) * 3:
                    for hostile, content in ((False, valid), (True, body)):
                        started = time.perf_counter()
                        r = other.post("/v3/images/generations", content=content)
                        times[hostile].append(time.perf_counter() - started)
                        assert (r.status_code == 400) if hostile else (r.status_code < 500)

        def healthz() -> None:
            assert http.get("/healthz").status_code == 200

        waits = probe_while(send, healthz)
    assert len(times[True]) == 3 * len(FAMILIES), "a hostile body went unanswered"
    slowest_valid = max(times[False])
    assert max(times[True]) < 10 * slowest_valid, f"{max(times[True]):.3f} s; valid bodies: {slowest_valid:.3f} s"
    assert max(waits) < 10 * slowest_valid, f"/healthz waited {max(waits):.3f} s; valid bodies: {slowest_valid:.3f} s"


# -- multipart that python-multipart refuses ------------------------------------------------------------------

PART = b'Content-Disposition: form-data; name="purpose"\r\n\r\ngeneral\r\n'
FILE = b'Content-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'


def form(boundary: str, *, close: bool = True, headers: bytes = b"") -> bytes:
    b = boundary.encode("latin-1")
    body = b"--" + b + b"\r\n" + PART + b"--" + b + b"\r\n" + headers + FILE + png() + b"\r\n"
    return body + (b"--" + b + b"--\r\n" if close else b"")


MALFORMED = [
    ("a boundary over 70 characters", "a" * 71, form("a" * 71), "1 to 70"),
    ("a boundary over python-multipart's 256", "b" * 300, form("b" * 300), "1 to 70"),
    ("a boundary of odd characters", "abc@def", form("abc@def"), "RFC 2046 allows only"),
    ("a control character in the boundary", "abc\x01def", form("abc\x01def"), "RFC 2046 allows only"),
    ("a boundary ending in a space", '"abc "', form("abc "), "not a space at the end"),
    ("a quoted boundary left open", '"abcdef', form("abcdef"), "RFC 2046 allows only"),
    ("no closing boundary", "abcdef", form("abcdef", close=False), "closing boundary '--abcdef--'"),
    ("a body cut inside a part", "abcdef", form("abcdef")[:200], "closing boundary"),
    (
        "a header line over the parser's limit",
        "abcdef",
        form("abcdef", headers=b"X: " + b"y" * 9000 + b"\r\n"),
        "header line",
    ),
    ("too many header lines", "abcdef", form("abcdef", headers=b"X: y\r\n" * 12), "header lines"),
    ("a part with no headers", "abcdef", b"--abcdef\r\n\r\nvalue\r\n--abcdef--\r\n", "no name"),
    ("a body that does not start with the boundary", "abcdef", b"junk" + form("abcdef"), "does not match the boundary"),
    ("no boundary at all", "", form("abcdef"), "needs a boundary"),
]


@pytest.mark.parametrize("path", ["/v3/upload", "/v3/images/edits"])
@pytest.mark.parametrize(("boundary", "body", "rule"), [case[1:] for case in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_multipart_is_a_400_naming_the_rule(
    client: TestClient, path: str, boundary: str, body: bytes, rule: str
) -> None:
    content_type = f"multipart/form-data; boundary={boundary}" if boundary else "multipart/form-data"
    r = client.post(path, content=body, headers={"content-type": content_type})
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "INVALID_BODY" and rule in r.json()["detail"]


def test_a_quoted_boundary_and_one_of_70_characters_are_read(client: TestClient) -> None:
    for boundary, shown in (('"a b:c=d?"', "a b:c=d?"), ("z" * 70, "z" * 70)):
        body = form(shown)
        r = client.post(
            "/v3/upload", content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"}
        )
        assert r.status_code == 200, r.text


def test_a_content_type_outside_latin_1_is_a_400(fake: EdenFake) -> None:
    request = FakeRequest(
        "POST",
        "/v3/upload",
        headers=[("authorization", AUTH["Authorization"]), ("content-type", "multipart/form-data; boundary=\u0100")],
        body=form("abcdef"),
    )
    r = fake.answer(request)
    assert r.status == 400 and "Latin-1" in r.json()["detail"]


FRAGMENTS = [b"--{b}\r\n", b"--{b}--\r\n", b"--{b}", b"\r\n", PART, FILE, b"Content-Type: text/plain\r\n", b"X:\r\n"]


@settings(max_examples=examples(100, 400), deadline=None)
@given(
    boundary=st.one_of(st.text(max_size=300), st.sampled_from(["abc", "a" * 70, "a" * 71, "a" * 257, "a b"])),
    quoted=st.booleans(),
    pieces=st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=40)), max_size=14),
)
def test_parse_multipart_returns_parts_or_refuses_with_a_400(boundary: str, quoted: bool, pieces: list[bytes]) -> None:
    content_type = (
        f'multipart/form-data; boundary="{boundary}"' if quoted else f"multipart/form-data; boundary={boundary}"
    )
    own = boundary.encode("utf-8", "surrogatepass")
    body = b"".join(p.replace(b"{b}", own) for p in pieces)
    try:
        parts = parse_multipart(content_type, body)
    except BadRequest as exc:
        detail = exc.body()["detail"]
        assert exc.status == 400 and exc.body()["error_code"] == "INVALID_BODY"
        assert isinstance(detail, str) and "\n" not in detail and len(detail) < 400
        json.dumps(exc.body(), allow_nan=False)
    else:
        assert parts and all(isinstance(p, Part) and p.name for p in parts)


# -- what an edit says of an image it cannot take ---------------------------------------------------------------


def edit_messages(files: list[tuple[str, tuple[str, bytes, str]]]) -> list[tuple[list[Any], str]]:
    with TestClient(edenfake.create_app(EdenFake(clock=FROZEN)), headers=AUTH) as http:
        r = http.post("/v3/images/edits", data={"model": GPT, "prompt": "x"}, files=files)
    assert r.status_code == 422, r.text
    return [(d["loc"], d["msg"]) for d in r.json()["detail"]]


def test_a_non_image_is_named_by_its_part_the_same_way_every_time() -> None:
    files = [("image[]", ("a.png", png(), "image/png")), ("image[]", ("b.png", b"just some text", "image/png"))]
    first, again = edit_messages(files), edit_messages(files)
    assert (
        first
        == again
        == [
            (
                ["body", "image[]", 1],
                "the image in part 'image[]' #2 is not a PNG, JPEG or WebP"
                " (its first bytes are 6a 75 73 74 20 73 6f 6d)",
            )
        ]
    )


def test_a_non_image_in_a_json_edit_is_named_by_its_field(client: TestClient) -> None:
    body = {"model": GPT, "prompt": "x", "images": [{"image_url": data_url(b"GIF89a\x01\x00\x01\x00")}]}
    r = client.post("/v3/images/edits", json=body)
    assert r.status_code == 422
    [entry] = r.json()["detail"]
    assert entry["loc"] == ["body", "images", 0]
    said = "the image at images[0] is not a PNG, JPEG or WebP (its first bytes are 47 49 46 38 39 61 01 00)"
    assert entry["msg"] == said


def test_a_broken_png_names_the_part_and_no_python_object(client: TestClient) -> None:
    r = client.post(
        "/v3/images/edits",
        data={"model": GPT, "prompt": "x"},
        files=[("mask", ("m.png", png()[:60], "image/png")), ("image", ("a.png", png(), "image/png"))],
    )
    [entry] = r.json()["detail"]
    assert entry["loc"] == ["body", "mask"] and entry["msg"].startswith("the mask cannot be decoded as PNG: ")
    assert " at 0x" not in entry["msg"]


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels and holds almost none: decoding it would fail, late."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\x00" * 100)
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", len(idat)) + b"IDAT" + idat


def test_an_image_over_the_pixel_bound_is_refused_from_its_header(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # Pillow's own bound switched off: the fake keeps its own
    files = [("image", ("huge.png", png_header(10_000, 9_500), "image/png"))]
    r = client.post("/v3/images/edits", data={"model": GPT, "prompt": "x"}, files=files)
    assert r.status_code == 422
    [entry] = r.json()["detail"]
    assert entry["type"] == "image_too_large" and "10000x9500 pixels" in entry["msg"]


def test_pillows_global_bound_does_not_change_what_an_edit_takes(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # another library's choice, in the same process
    r = client.post(
        "/v3/images/edits", data={"model": GPT, "prompt": "x"}, files=[("image", ("a.png", png(), "image/png"))]
    )
    assert r.status_code == 200, r.text
    assert Image.MAX_IMAGE_PIXELS == 1000


def test_an_edit_sets_no_global_pillow_state(client: TestClient) -> None:
    from PIL import ImageFile

    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    body = {"model": GPT, "prompt": "x", "images": [{"image_url": data_url(png())}]}
    assert client.post("/v3/images/edits", json=body).status_code == 200
    assert before == (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)


def test_inspect_image_says_the_same_of_the_same_bytes() -> None:
    messages = set()
    for _ in range(2):
        with pytest.raises(ValueError) as refused:
            edenfake.inspect_image(b"just some text")
        messages.add(str(refused.value))
    assert messages == {"not a PNG, JPEG or WebP image that can be decoded: cannot identify image file"}
