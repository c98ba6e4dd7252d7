"""What the fixture leaves behind and what it builds: a test's fake goes with the test (its journal, its stores),
freed as soon as nothing holds it, not when the garbage collector next runs or the session ends; the parts a
fake builds cheaply or lazily behave as before, under sessions and after a reset."""

from __future__ import annotations

import dataclasses
import gc
import json
import weakref
from collections.abc import Iterator

import httpx
import pytest

import edenfake
from tests.helpers import AUTH, run_pytest, run_python

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

URL = "https://api.edenai.run/v3/images/generations"
BODY = {"model": "openai/dall-e-2", "prompt": "a fox", "size": "256x256"}


@pytest.fixture
def no_collector() -> Iterator[None]:
    """The garbage collector off: what is freed meanwhile was freed by its last reference going."""
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@pytest.mark.usefixtures("no_collector")
def test_a_mock_dropped_after_requests_and_sessions_is_freed_at_once() -> None:
    with edenfake.mock() as eden:
        assert httpx.post(URL, json=BODY, headers=AUTH).status_code == 200
        named = httpx.post(URL, json=BODY, headers={**AUTH, "X-Edenfake-Session": "worker-1"})
        assert named.status_code == 200
        eden.fail(500, times=1)
        assert httpx.post(URL, json=BODY, headers=AUTH).status_code == 500
        assert len(eden.fake.sessions) == 1 and eden.calls.count == 2
    fake = weakref.ref(eden.fake)
    del eden
    assert fake() is None, "a dropped fake stays until the garbage collector runs: something makes a cycle"


def test_a_session_opened_after_reset_is_built_from_the_options() -> None:
    with edenfake.mock(credits=1.0) as eden:
        eden.reset()
        assert httpx.post(URL, json=BODY, headers={**AUTH, "X-Edenfake-Session": "a"}).status_code == 200
        assert httpx.post(URL, json=BODY, headers={**AUTH, "X-Edenfake-Session": "b"}).status_code == 200
        # each named session has its own credits, from the options, and the default session's are untouched
        assert eden.credits == 1.0
        assert {s["name"] for s in eden.fake.sessions.listing()} == {"a", "b"}


def test_the_fixture_frees_each_tests_fake_when_the_test_ends(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import gc, weakref
import httpx, pytest

FAKES = []

@pytest.fixture(autouse=True, scope="module")
def _no_collector():
    gc.collect()
    gc.disable()
    yield
    gc.enable()

@pytest.mark.parametrize("n", range(3))
def test_call(edenfake, n):
    FAKES.append(weakref.ref(edenfake.fake))
    answer = httpx.post("https://api.edenai.run/v3/images/generations",
                        json={"model": "openai/dall-e-2", "prompt": f"fox {n}", "size": "256x256"},
                        headers={"Authorization": "Bearer t"})
    assert answer.status_code == 200
    assert [ref() is None for ref in FAKES[:-1]] == [True] * n  # the earlier tests' fakes are gone

def test_a_failing_test_still_lists_its_calls(edenfake):
    httpx.post("https://api.edenai.run/v3/images/generations", json={}, headers={"Authorization": "Bearer t"})
    assert False, "fails on purpose"
"""
    )
    result = run_pytest(pytester)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*edenfake calls*", "#1 POST /v3/images/generations -> 422*"])


LAZY = """
import json, sys
import httpx
import edenfake
with edenfake.mock() as eden:
    answer = httpx.post("https://api.edenai.run/v3/images/generations", headers={"Authorization": "Bearer t"},
                        json={"model": "openai/dall-e-2", "prompt": "a fox", "size": "256x256"})
    report = {"status": answer.status_code,
              "imported": sorted(m for m in ("python_multipart", "edenfake._offload") if m in sys.modules)}
    png = eden.fake.images.get(edenfake.ImageSpec(model="openai/dall-e-2", prompt="x", width=256, height=256))
    edit = httpx.post("https://api.edenai.run/v3/images/edits", headers={"Authorization": "Bearer t"},
                      data={"model": "openai/dall-e-2", "prompt": "a hat", "size": "256x256"},
                      files={"image": ("fox.png", png, "image/png")})
    report["edit"] = edit.status_code
print(json.dumps(report))
"""


def test_a_one_call_test_imports_neither_the_multipart_parser_nor_the_async_door() -> None:
    found = run_python("-c", LAZY)
    assert found.returncode == 0, found.stderr[-2000:]
    report = json.loads(found.stdout)
    assert report["status"] == 200 and report["imported"] == []
    assert report["edit"] == 200  # a multipart body later in the same process is read as before


def test_the_options_classes_behave_as_frozen_keyword_only_dataclasses() -> None:
    from edenfake._options import FakeOptions, MarkerOptions, MockOptions, ServeOptions

    one = MockOptions(credits=1.0, tokens=["t"])  # type: ignore[arg-type]  # a list is taken, as a tuple
    assert one == MockOptions(credits=1.0, tokens=("t",)) and hash(one) == hash(MockOptions(credits=1.0, tokens=("t",)))
    assert one != MockOptions() and FakeOptions() != MockOptions()  # another class is never equal
    assert repr(FakeOptions()).startswith("FakeOptions(catalog=None, seed=0, clock=None, url_ttl=3600.0,")
    assert [f.name for f in dataclasses.fields(MarkerOptions)][-1] == "cassette"
    assert dataclasses.replace(ServeOptions(port=8080), host="0.0.0.0") == ServeOptions(host="0.0.0.0", port=8080)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.credits = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError, match="did you mean 'credits'"):
        MockOptions(credit=1.0)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        FakeOptions(0)  # type: ignore[call-arg, arg-type]
    with pytest.raises(ValueError, match="port must be 0-65535"):
        dataclasses.replace(ServeOptions(), port=70000)


def test_a_mock_answers_a_request_an_earlier_mock_rendered_from_its_image() -> None:
    body = {**BODY, "prompt": "a fox rendered once", "response_format": "b64_json"}
    with edenfake.mock():
        first = httpx.post(URL, json=body, headers=AUTH).json()["data"][0]["b64_json"]
    with edenfake.mock() as later:
        misses = later.fake.images.misses
        assert httpx.post(URL, json=body, headers=AUTH).json()["data"][0]["b64_json"] == first
        assert later.fake.images.misses == misses  # not rendered again
        assert httpx.post(URL, json={**body, "prompt": "another"}, headers=AUTH).status_code == 200
        assert later.fake.images.misses == misses + 1
    with edenfake.mock(image_cache_bytes=1024 * 1024) as bounded:  # a bound of its own: a cache of its own
        assert bounded.fake.images is not later.fake.images and len(bounded.fake.images) == 0
    assert edenfake.EdenFake().images is not later.fake.images  # a fake built directly keeps its own
