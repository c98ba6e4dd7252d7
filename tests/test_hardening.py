"""Hardening: what a careless or hostile client (or test) can do to the fake, through both doors.

Each test goes through the Starlette app (``create_app`` + ``TestClient``) and through the in-process mock
(``edenfake.mock()`` + ``httpx.Client``), and reads every answer and journal entry as strict JSON: no NaN, no
Infinity, no number that overflows to them.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import gc
import hashlib
import json
import logging
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

import edenfake
from edenfake import EdenFake, create_app
from tests.conftest import check_against_contract
from tests.helpers import AUTH, FROZEN, png, run_python, strict_json

GEN = "/v3/images/generations"
EDITS = "/v3/images/edits"
GPT = "openai/gpt-image-1"
BODY = {"model": GPT, "prompt": "a red fox", "quality": "low"}
EDEN = "https://api.edenai.run"
MiB = 1024 * 1024


# -- strict JSON ------------------------------------------------------------------------------------------


def strict_call(call: Any) -> Any:
    """A journal entry as strict JSON (it must encode without NaN or Infinity, and read back the same)."""
    return strict_json(json.dumps(dataclasses.asdict(call), allow_nan=False))


# -- the two doors ----------------------------------------------------------------------------------------


@dataclass
class Door:
    """One way into a fake: ``send`` a request, look at ``fake``."""

    name: str
    fake: EdenFake
    http: httpx.Client
    prefix: str

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, self.prefix + path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.send("POST", path, **kwargs)

    def raw(self, method: str, path: str, data: bytes, content_type: str = "application/json") -> httpx.Response:
        return self.send(method, path, content=data, headers={"content-type": content_type})

    def generate(self, **fields: Any) -> httpx.Response:
        return self.post(GEN, json={**BODY, **fields})

    def answer(self, response: httpx.Response) -> Any:
        """The answer's body, strictly parsed; every answer is JSON and no answer is a 5xx."""
        assert response.status_code < 500, response.text[:500]
        assert response.headers["content-type"].startswith("application/json"), response.headers
        return strict_json(response.text)

    def calls_text(self, query: str = "") -> str:
        """``GET /_edenfake/calls``: answered 200, strict JSON; its text."""
        r = self.send("GET", "/_edenfake/calls" + query)
        assert r.status_code == 200, r.text[:500]
        strict_json(r.text)
        return r.text


def answered_in_standard_json(response: httpx.Response) -> None:
    """Every answer either door gives is strict JSON, and no 422 echoes more than ~300 characters of input."""
    response.read()
    if response.headers.get("content-type", "").startswith("application/json"):
        body = strict_json(response.content)
        if response.status_code == 422 and isinstance(body, dict):
            assert_inputs_are_short(body)


@pytest.fixture(params=["app", "mock"])
def open_door(request: pytest.FixtureRequest) -> Iterator[Callable[..., Door]]:
    """Open a door onto a new ``EdenFake(clock=FROZEN, **options)``: the Starlette app, or the mock."""
    with contextlib.ExitStack() as stack:

        def opened(**options: Any) -> Door:
            fake = EdenFake(**{"clock": FROZEN, **options})
            if request.param == "app":
                http = stack.enter_context(TestClient(create_app(fake), base_url="http://testserver", headers=AUTH))
                prefix = ""
            else:
                stack.enter_context(edenfake.mock(fake, assert_all_faults_used=False))
                http = stack.enter_context(httpx.Client(headers={"Authorization": "Bearer t"}))
                prefix = EDEN
            http.event_hooks["response"] += [check_against_contract, answered_in_standard_json]
            return Door(request.param, fake, http, prefix)

        yield opened


@pytest.fixture
def door(open_door: Callable[..., Door]) -> Door:
    return open_door()


def loc_of(answer: Any) -> list[list[Any]]:
    return [d["loc"] for d in answer["detail"]]


def assert_inputs_are_short(answer: Any) -> None:
    """A 422 echoes each offending value, clipped: never more than about 300 characters of it."""
    for entry in answer.get("detail", []) if isinstance(answer.get("detail"), list) else []:
        if "input" in entry:
            shown = json.dumps(entry["input"])
            assert len(shown) <= 300, f"{entry['loc']}: input echoed with {len(shown)} characters"


def nested(depth: int, leaf: str = "1", open_: str = '{"a":', close: str = "}") -> str:
    return open_ * depth + leaf + close * depth


# -- 1. what the journal hands out is a copy --------------------------------------------------------------


def test_changing_what_the_journal_hands_out_changes_nothing(door: Door) -> None:
    first = door.generate()
    assert first.status_code == 200
    call = door.fake.calls[0]
    call.json["prompt"] = "X"
    call.json["n"] = 7
    call.response["cost"] = 123.0
    call.response["data"][0]["b64_json"] = "poisoned"
    call.response["data"].append({"url": "https://poisoned.example"})
    door.fake.calls.last.json["prompt"] = "X"

    second = door.generate()
    assert second.status_code == 200
    assert second.content == first.content  # the cached answer is untouched
    assert [c.json["prompt"] for c in door.fake.calls] == ["a red fox", "a red fox"]
    kept = door.fake.calls[0].response
    assert kept["cost"] != 123.0 and len(kept["data"]) == 1 and kept["data"][0]["b64_json"] != "poisoned"
    a, b = door.fake.calls[0], door.fake.calls[0]
    assert a is not b and a.json is not b.json and a.response is not b.response  # each read is fresh


# -- 2. rejected bodies are freed at once -----------------------------------------------------------------


def test_rejected_bodies_are_freed_without_the_cyclic_gc(open_door: Callable[..., Door]) -> None:
    door = open_door(max_body_bytes=8 * MiB)
    # Warm up (schemas compiled, routes read) with small bodies of the same two kinds.
    assert door.post(GEN, json={"model": GPT, "prompt": "x" * 40_000}).status_code == 422
    assert door.post(EDITS, json={"model": GPT, "prompt": "hat", "images": "y" * 1000}).status_code == 422
    # 4 MiB prompts (over any model's limit) and 4 MiB `images` that are not a list. They are built before
    # tracing starts: httpx keeps each request in a reference cycle of its own (a response and its stream),
    # so what is traced is what the fake allocates and keeps.
    bodies = [
        (GEN, json.dumps({"model": GPT, "prompt": f"{i}" + "x" * (4 * MiB)}).encode())
        if i % 2 == 0
        else (EDITS, json.dumps({"model": GPT, "prompt": "hat", "images": f"{i}" + "y" * (4 * MiB)}).encode())
        for i in range(8)
    ]
    statuses: list[int] = []
    gc.collect()
    tracemalloc.start()
    gc.disable()
    try:
        before = tracemalloc.get_traced_memory()[0]
        while bodies:
            path, body = bodies.pop(0)
            r = door.raw("POST", path, body)
            statuses.append(r.status_code)
            del r, body
        after = tracemalloc.get_traced_memory()[0]
        door.fake.calls.clear()  # for the message: how much of it the journal held
        unjournalled = tracemalloc.get_traced_memory()[0]
    finally:
        gc.enable()
        tracemalloc.stop()
    assert statuses == [422] * 8
    assert after - before < 6 * MiB, (
        f"{(after - before) / MiB:.1f} MiB still held after 8 rejected 4 MiB bodies "
        f"({(unjournalled - before) / MiB:.1f} MiB once the journal is cleared)"
    )


# -- 3. the journal: no base64, bounded in bytes, read in pages -------------------------------------------


def test_the_journal_keeps_image_digests_not_base64(door: Door) -> None:
    r = door.generate(n=2, size="1024x1536")
    body = door.answer(r)
    assert r.status_code == 200 and len(body["data"]) == 2
    kept = door.fake.calls.last.response
    for got, journalled in zip(body["data"], kept["data"], strict=True):
        data = base64.b64decode(got["b64_json"])
        assert journalled["b64_json"] == {
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "format": "png",
            "width": 1024,
            "height": 1536,
        }
    assert body["data"][0]["b64_json"][:400] not in door.calls_text()


def test_journal_bytes_bounds_the_journal(open_door: Callable[..., Door]) -> None:
    door = open_door(journal_bytes=200_000)
    for i in range(50):
        assert door.generate(prompt=f"{i} " + "a fox " * 3000).status_code == 200
    kept = len(door.fake.calls)
    assert 1 <= kept < 50
    assert door.fake.calls.dropped == 50 - kept
    listing = strict_json(door.calls_text())
    assert listing["count"] == kept and listing["dropped"] == 50 - kept


def test_one_call_larger_than_the_whole_journal_bound_keeps_its_bodies_as_digests(
    open_door: Callable[..., Door],
) -> None:
    # The newest call is always kept: alone past journal_bytes, its request and answer bodies are summarized,
    # so that the bound holds for it too (it held some 48 times the bound before)
    door = open_door(journal_bytes=20_000)
    assert door.generate(prompt="small").status_code == 200
    big = {"model": "openai/gpt-image-1", "prompt": "p", "quality": "low", "metadata": ["abcdefgh"] * 80_000}
    assert door.post(GEN, json=big).status_code == 422
    listing = strict_json(door.calls_text())
    assert len(json.dumps(listing)) < 20_000 and listing["count"] == 2 and listing["dropped"] == 0
    kept = listing["calls"][1]["json"]["not_kept"]
    assert kept["bytes"] > 800_000 and len(kept["sha256"]) == 64
    assert listing["calls"][1]["status"] == 422 and listing["calls"][0]["json"]["prompt"] == "small"


def test_the_admin_journal_is_read_in_pages(door: Door) -> None:
    for i in range(3):
        door.generate(prompt=f"p{i}")
    page = strict_json(door.calls_text("?limit=2&offset=1"))
    assert [c["json"]["prompt"] for c in page["calls"]] == ["p1", "p2"]
    assert (page["count"], page["dropped"], page["offset"], page["limit"]) == (3, 0, 1, 2)
    beyond = strict_json(door.calls_text("?limit=2&offset=5"))
    assert beyond["calls"] == [] and beyond["count"] == 3


def test_the_admin_journal_pages_by_100_by_default(door: Door) -> None:
    for _ in range(101):
        door.generate()
    page = strict_json(door.calls_text())
    assert len(page["calls"]) == 100
    assert (page["count"], page["offset"], page["limit"]) == (101, 0, 100)


@pytest.mark.parametrize(
    ("query", "name"),
    [("limit=1001", "limit"), ("offset=-1", "offset"), ("offset=1.5", "offset"), ("offset=abc", "offset")],
)
def test_bad_journal_pages_are_422_naming_the_query_parameter(door: Door, query: str, name: str) -> None:
    r = door.send("GET", f"/_edenfake/calls?{query}")
    answer = door.answer(r)
    assert r.status_code == 422
    assert ["query", name] in loc_of(answer)


# -- 4. non-finite numbers are not JSON --------------------------------------------------------------------


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
@pytest.mark.parametrize("where", ["n", "metadata"])
def test_non_finite_numbers_are_invalid_json(door: Door, token: str, where: str) -> None:
    if where == "n":
        data = f'{{"model":"{GPT}","prompt":"x","quality":"low","n":{token}}}'
    else:
        data = f'{{"model":"{GPT}","prompt":"x","quality":"low","metadata":{{"a":[1,{{"b":{token}}}]}}}}'
    r = door.raw("POST", GEN, data.encode())
    assert r.status_code == 400, r.text[:300]
    answer = door.answer(r)
    assert answer["error_code"] == "INVALID_JSON", r.text[:300]
    detail = answer["detail"]
    if token == "1e400":
        assert any(word in detail.lower() for word in ("1e400", "finite", "number")), detail
    else:
        assert token.lstrip("-") in detail, detail
    entry = strict_call(door.fake.calls.last)
    assert entry["status"] == 400
    door.calls_text()


# -- 5. the admin API's bounds -----------------------------------------------------------------------------


def still_works(door: Door) -> None:
    """The fake is not broken: its state reads, a generation and an upload answer."""
    state = door.send("GET", "/_edenfake/state")
    assert state.status_code == 200, state.text[:300]
    door.answer(state)
    r = door.generate()
    assert r.status_code == 200, r.text[:300]
    door.answer(r)
    up = door.post("/v3/upload", files={"file": ("fox.png", png(), "image/png")})
    assert up.status_code == 200, up.text[:300]
    door.answer(up)


#: a body the admin route must refuse: a dict (422 naming ``field``) or raw bytes (400 INVALID_JSON), sent
#: ``times`` times
Case = tuple[dict[str, Any] | bytes, str, int]


def refusal_problems(door: Door, method: str, path: str, cases: list[Case]) -> list[str]:
    """Send each case to a fresh-state fake; what went wrong with each, as text (empty: all refused well,
    and the fake kept working after each)."""
    problems = []
    for body, field, times in cases:
        door.fake.reset()
        door.fake.clock.set(FROZEN)
        shown = body.decode() if isinstance(body, bytes) else json.dumps(body)
        try:
            for _ in range(times):
                if isinstance(body, bytes):
                    r = door.raw(method, path, body)
                    assert r.status_code == 400, f"answered {r.status_code}: {r.text[:300]}"
                    assert door.answer(r)["error_code"] == "INVALID_JSON", r.text[:300]
                else:
                    r = door.send(method, path, json=body)
                    assert r.status_code == 422, f"answered {r.status_code}: {r.text[:300]}"
                    answer = door.answer(r)
                    assert ["body", field] in loc_of(answer), f"no detail names {field!r}: {r.text[:300]}"
                    assert_inputs_are_short(answer)
            still_works(door)
        except Exception as exc:  # each case is reported, not just the first
            problems.append(f"{method} {path} {shown[:80]}: {type(exc).__name__}: {str(exc)[:300]}")
    return problems


def test_the_clock_cannot_be_set_out_of_bounds_over_http(door: Door) -> None:
    cases: list[Case] = [
        ({"at": 1e300}, "at", 1),
        ({"at": -1e20}, "at", 1),
        ({"at": 253_402_300_800}, "at", 1),  # 10000-01-01: no date shows it (and still_works uploads after)
        ({"advance": 1e308}, "advance", 2),
        (b'{"at": Infinity}', "at", 1),
        (b'{"at": 1e400}', "at", 1),
    ]
    problems = refusal_problems(door, "PUT", "/_edenfake/clock", cases)
    assert not problems, "\n".join(problems)


def test_latency_cannot_be_set_out_of_bounds_over_http(door: Door) -> None:
    cases: list[Case] = [
        ({"seconds": [5, 1]}, "seconds", 1),
        ({"seconds": 601}, "seconds", 1),
        (b'{"seconds": NaN}', "seconds", 1),
    ]
    problems = refusal_problems(door, "PUT", "/_edenfake/latency", cases)
    assert not problems, "\n".join(problems)


def test_faults_cannot_be_queued_out_of_bounds_over_http(door: Door) -> None:
    cases: list[Case] = [
        ({"fail": 429, "retry_after": 1e308}, "retry_after", 1),
        ({"fail": 429, "retry_after": 3601}, "retry_after", 1),
        ({"fail": "timeout", "hang": 601}, "hang", 1),
        ({"fail": 429.5}, "fail", 1),
        ({"fail": True}, "fail", 1),
        ({"fail": 500, "times": 10**30}, "times", 1),
        ({"fail": 500, "times": 1_000_001}, "times", 1),
    ]
    problems = refusal_problems(door, "POST", "/_edenfake/faults", cases)
    assert not problems, "\n".join(problems)


def test_chaos_cannot_be_set_out_of_bounds_over_http(door: Door) -> None:
    cases: list[Case] = [({"rate": 2}, "rate", 1), (b'{"rate": 1e400}', "rate", 1)]
    problems = refusal_problems(door, "PUT", "/_edenfake/chaos", cases)
    assert not problems, "\n".join(problems)


def test_used_up_faults_are_pruned(door: Door) -> None:
    door.fake.fail(500, times=1)
    assert door.generate().status_code == 500
    listed = door.send("GET", "/_edenfake/faults")
    assert door.answer(listed) == {"faults": []}
    assert door.generate().status_code == 200


def test_at_most_1000_faults_wait(door: Door) -> None:
    for _ in range(1000):
        door.fake.fail(500)
    with pytest.raises(ValueError):
        door.fake.fail(500)
    r = door.send("POST", "/_edenfake/faults", json={"fail": 500})
    assert r.status_code == 422, r.text[:500]
    door.answer(r)
    assert len(door.answer(door.send("GET", "/_edenfake/faults"))["faults"]) == 1000


# -- 6. nesting depth --------------------------------------------------------------------------------------


def test_deep_metadata_is_refused_before_charging(open_door: Callable[..., Door]) -> None:
    door = open_door(credits=1.0)
    data = f'{{"model":"{GPT}","prompt":"x","quality":"low","metadata":{nested(100)}}}'.encode()
    assert len(data) < 1024 * 1024
    r = door.raw("POST", GEN, data)
    answer = door.answer(r)
    assert r.status_code == 400 and answer["error_code"] == "INVALID_JSON", r.text[:500]
    assert "nested" in answer["detail"]
    assert door.fake.credits == 1.0
    assert strict_call(door.fake.calls.last)["status"] == 400
    door.calls_text()
    shallow = f'{{"model":"{GPT}","prompt":"x","quality":"low","metadata":{nested(10)}}}'.encode()
    assert door.raw("POST", GEN, shallow).status_code == 200  # the limit is 64 levels


def test_deeply_nested_edit_images_are_refused(door: Door) -> None:
    data = f'{{"model":"{GPT}","prompt":"add a hat","images":{nested(500, "1", "[", "]")}}}'.encode()
    r = door.raw("POST", EDITS, data)
    answer = door.answer(r)
    assert r.status_code == 400 and answer["error_code"] == "INVALID_JSON", r.text[:500]
    assert "nested" in answer["detail"]
    assert strict_call(door.fake.calls.last)["status"] == 400
    door.calls_text()


# -- 7. credentials in extra_headers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra_headers", "secret"),
    [
        ({"Authorization": {"v": "Bearer sk-SECRET1"}}, "sk-SECRET1"),
        ({"X-Api-Key": ["sk-SECRET2"]}, "sk-SECRET2"),
        ("Authorization: Bearer sk-SECRET3", "sk-SECRET3"),
        ({"Authorization ": "Bearer sk-SECRET4"}, "sk-SECRET4"),
        ({" x-api-key": "sk-SECRET5"}, "sk-SECRET5"),
        ({"Authorization:": "Bearer sk-SECRET6"}, "sk-SECRET6"),
    ],
    ids=["dict-value", "list-value", "string", "trailing-space", "leading-space", "trailing-colon"],
)
def test_credentials_in_extra_headers_are_refused_and_never_echoed(door: Door, extra_headers: Any, secret: str) -> None:
    r = door.generate(extra_headers=extra_headers)
    answer = door.answer(r)
    assert r.status_code == 422, r.text[:500]
    assert any(loc[:2] == ["body", "extra_headers"] for loc in loc_of(answer)), answer
    assert secret not in r.text
    last = door.fake.calls.last
    assert secret not in repr(last)
    assert secret not in json.dumps(dataclasses.asdict(last))
    assert secret not in door.calls_text()


# -- 8. one log line per request ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        (GEN + "%0aFORGED line", {}),
        (GEN + "%0d%0aFORGED line", {}),
        (GEN, {"model": "openai/gpt-image-1\nFORGED"}),
        (GEN, {"model": "openai/gpt-image-1\r\nFORGED 200"}),
    ],
    ids=["lf-in-path", "crlf-in-path", "lf-in-model", "crlf-in-model"],
)
def test_a_request_logs_one_line(door: Door, caplog: pytest.LogCaptureFixture, path: str, fields: Any) -> None:
    caplog.set_level(logging.INFO, logger="edenfake")
    caplog.clear()
    r = door.post(path, json={**BODY, **fields})
    door.answer(r)
    records = [rec for rec in caplog.records if rec.name.startswith("edenfake")]
    assert len(records) == 1, [rec.getMessage() for rec in records]
    message = records[0].getMessage()
    assert "\n" not in message and "\r" not in message, repr(message)


# -- 9. answers do not echo unbounded input ----------------------------------------------------------------


def test_a_huge_file_id_is_not_echoed(door: Door) -> None:
    r = door.post(EDITS, json={"model": GPT, "prompt": "add a hat", "images": [{"file_id": "a" * 5_000_000}]})
    answer = door.answer(r)
    assert r.status_code == 422, r.text[:500]
    assert len(r.content) < 4096, f"a {len(r.content)}-byte answer"
    assert_inputs_are_short(answer)


HUGE = "a fox " * 166_000  # about 1 MB, under the 1 MiB body limit


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        (EDITS, "POST", {"model": GPT, "prompt": "add a hat", "images": [{"file_id": "f"}], "mask": HUGE}),
        ("/_edenfake/clock", "PUT", {"at": HUGE}),
        ("/_edenfake/latency", "PUT", {"seconds": HUGE}),
        (GEN, "POST", {**BODY, "model": HUGE}),
    ],
    ids=["edit-mask", "clock-at", "latency-seconds", "generation-model"],
)
def test_a_huge_string_in_the_wrong_place_is_not_echoed(
    door: Door, path: str, method: str, body: dict[str, Any]
) -> None:
    r = door.send(method, path, json=body)
    assert r.status_code == 422, r.text[:300]
    answer = door.answer(r)
    assert len(r.content) < 4096, f"a {len(r.content)}-byte answer"
    assert HUGE[:10_000] not in r.text
    assert_inputs_are_short(answer)


# -- 10. multipart parts need a name -----------------------------------------------------------------------


def _multipart(disposition: bytes) -> tuple[bytes, str]:
    boundary = b"edenfake-boundary-7f3a"
    parts = [
        (b'form-data; name="model"', None, GPT.encode()),
        (b'form-data; name="prompt"', None, b"add a hat"),
        (b'form-data; name="image"; filename="fox.png"', b"image/png", png()),
        (disposition, None, b"whatever"),
    ]
    out = b""
    for disp, ctype, data in parts:
        out += b"--" + boundary + b"\r\nContent-Disposition: " + disp + b"\r\n"
        if ctype:
            out += b"Content-Type: " + ctype + b"\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += b"--" + boundary + b"--\r\n"
    return out, f"multipart/form-data; boundary={boundary.decode()}"


def test_a_multipart_part_with_an_empty_name_is_invalid_body_like_a_nameless_one(door: Door) -> None:
    r = door.raw("POST", EDITS, *_multipart(b'form-data; name=""'))
    answer = door.answer(r)
    assert r.status_code == 400 and answer["error_code"] == "INVALID_BODY", r.text[:500]
    missing = door.raw("POST", EDITS, *_multipart(b"form-data"))
    assert (missing.status_code, door.answer(missing)["error_code"]) == (400, "INVALID_BODY")


# -- the package: `mock` is a function, however its modules were imported ---------------------------------


def _python(code: str) -> None:
    done = run_python("-c", code)
    assert done.returncode == 0, done.stderr[-2000:]


def test_importing_the_private_mock_module_leaves_mock_a_function() -> None:
    _python(
        "import edenfake\n"
        "from edenfake._mock import MockHandle\n"
        "handle = edenfake.mock()\n"
        "assert isinstance(handle, MockHandle), type(handle)\n"
        "with edenfake.mock() as eden:\n"
        "    assert isinstance(eden, MockHandle)\n"
    )


def test_importing_every_module_leaves_mock_and_serve_callable() -> None:
    _python(
        "import importlib, pkgutil\n"
        "import edenfake\n"
        "for info in pkgutil.walk_packages(edenfake.__path__, 'edenfake.'):\n"
        "    if info.name != 'edenfake.__main__':  # the command line, which runs when imported\n"
        "        importlib.import_module(info.name)\n"
        "assert callable(edenfake.mock), edenfake.mock\n"
        "assert callable(edenfake.serve), edenfake.serve\n"
    )


# -- 11. every refusal is bounded, whatever the input's size --------------------------------------------------


@pytest.mark.parametrize("field", ["size", "quality", "output_format", "background"])
def test_a_value_the_model_refuses_is_echoed_cut_short(door: Door, field: str) -> None:
    r = door.generate(**{field: "x" * 100_000})
    answer = door.answer(r)
    assert (r.status_code, answer["error_code"], answer["param"]) == (400, "PROVIDER_ERROR", field), answer
    assert len(r.content) < 2048, f"a {len(r.content)}-byte answer"
    assert len(answer["value"]) <= 201 and answer["value"].endswith("\u2026")


@pytest.mark.parametrize(
    ("method", "path", "body", "bound"),
    [
        ("POST", "/v3/upload/delete", {"file_ids": [f"id{i}" for i in range(50_000)]}, "at most 100 items"),
        ("PUT", "/_edenfake/chaos", {"rate": 0.5, "statuses": [999] * 100_000}, "at most 16 items"),
    ],
    ids=["upload-delete", "chaos"],
)
def test_a_refusal_lists_at_most_twenty_rules_the_list_s_own_bound_first(
    door: Door, method: str, path: str, body: Any, bound: str
) -> None:
    r = door.send(method, path, json=body)
    answer = door.answer(r)
    assert r.status_code == 422, r.text[:300]
    assert len(answer["detail"]) == 20 and bound in answer["detail"][0]["msg"], answer["detail"][:2]
    assert len(r.content) < 8192, f"a {len(r.content)}-byte answer"


def test_an_integer_past_pythons_digit_limit_is_refused_in_the_clients_terms(door: Door) -> None:
    r = door.raw("POST", GEN, b'{"model": "openai/gpt-image-1", "prompt": "p", "n": ' + b"7" * 5000 + b"}")
    answer = door.answer(r)
    assert (r.status_code, answer["error_code"]) == (400, "INVALID_JSON")
    assert "digits" in answer["detail"] and "sys." not in answer["detail"], answer


@pytest.mark.parametrize(
    "name",
    [
        *("X-Auth-Token", "X-Access-Token", "X-Amz-Security-Token", "X-Client-Secret", "Ocp-Apim-Subscription-Key"),
        *("X-Private-Key", "X-Openai-Key", "X_Service_Key", "X-Jwt", "X-Bearer", "X-Signature"),
    ],
)
def test_a_credential_looking_header_is_journalled_hidden(door: Door, name: str) -> None:
    assert door.post(GEN, json=BODY, headers={name: "sk-HIDDEN-7f3a"}).status_code == 200
    assert door.fake.calls.last.headers[name.lower()] == "***"
    assert "sk-HIDDEN-7f3a" not in door.calls_text()


def test_a_value_that_says_it_is_a_credential_is_hidden_under_any_header_name(door: Door) -> None:
    headers = {"X-Upstream": "Bearer sk-HIDDEN-7f3a", "X-Forward": "Basic dXNlcjpwYXNz", "X-Keep": "visible"}
    assert door.post(GEN, json=BODY, headers={**headers, "Keep-Alive": "timeout=5"}).status_code == 200
    seen = door.fake.calls.last.headers
    assert (seen["x-upstream"], seen["x-forward"]) == ("Bearer ***", "Basic ***")
    assert (seen["x-keep"], seen["keep-alive"]) == ("visible", "timeout=5")  # a key word alone is no secret
    assert "sk-HIDDEN-7f3a" not in door.calls_text() and "dXNlcjpwYXNz" not in door.calls_text()


def test_minus_zero_credits_read_as_zero(door: Door) -> None:
    assert door.send("PUT", "/_edenfake/credits", json={"credits": -0.0}).status_code == 200
    assert '"credits":0.0' in door.send("GET", "/_edenfake/state").text.replace(" ", "")


def test_a_body_that_breaks_its_boundary_logs_one_line(door: Door, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    body = b'--OTHER\r\nContent-Disposition: form-data; name="model"\r\n\r\nx\r\n--OTHER--\r\n'
    r = door.raw("POST", EDITS, body, "multipart/form-data; boundary=XBOUND")
    assert r.status_code == 400, r.text[:300]
    assert not [rec.getMessage() for rec in caplog.records if not rec.name.startswith(("edenfake", "httpx"))]
