"""The pytest plugin, driven through real pytest runs of sample consumer test files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.helpers import EDENFAKE_PLUGIN, START_ENV, XDIST, Early, pytest_run, report_sections, run_pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

# (the samples that use the openai SDK or httpx2 import them: importing openai takes a run 1.5 s of CPU)
HEADER = """
import httpx, pytest
EDEN = "https://api.edenai.run/v3"
AUTH = {"Authorization": "Bearer t"}
BODY = {"model": "openai/gpt-image-1", "prompt": "a fox"}
"""


def run(
    pytester: pytest.Pytester, source: str, *args: str, plugins: tuple[str, ...] = (EDENFAKE_PLUGIN,)
) -> pytest.RunResult:
    pytester.makepyfile(HEADER + source)
    return run_pytest(pytester, *args, plugins=plugins)


def test_the_edenfake_fixture_routes_the_openai_sdk_in_process(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import openai

def test_generate(edenfake):
    client = openai.OpenAI(api_key="t", base_url=EDEN)
    result = client.images.generate(model="openai/gpt-image-1", prompt="a fox", n=2)
    assert len(result.data) == 2
    edenfake.calls.assert_called_with(prompt="a fox", n=2)

def test_journal_starts_empty(edenfake):
    assert edenfake.calls.count == 0
""",
    )
    result.assert_outcomes(passed=2)


def test_no_state_leaks_from_one_test_to_the_next(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
@pytest.mark.edenfake(assert_all_faults_used=False)
def test_dirty(edenfake):
    edenfake.credits = 0.0
    edenfake.fail(500, times=3)
    edenfake.rate_limit(1)
    httpx.post(EDEN + "/images/generations", json=BODY, headers=AUTH)
    assert edenfake.calls.count == 1

def test_clean(edenfake):
    assert edenfake.calls.count == 0 and edenfake.credits is None and edenfake.unused_faults() == []
    codes = [httpx.post(EDEN + "/images/generations", json=BODY, headers=AUTH).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
""",
    )
    result.assert_outcomes(passed=2)


def test_the_marker_configures_the_fixture(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import httpx2

@pytest.mark.edenfake(credits=0.05, clock=1000)
def test_credits(edenfake):
    r = httpx.post(EDEN + "/images/generations", json={**BODY, "quality": "high"}, headers=AUTH)
    assert r.status_code == 402
    assert edenfake.credits == 0.05

@pytest.mark.edenfake(rate_limit=1, clock=5)
def test_rate(edenfake):
    codes = [httpx2.post(EDEN + "/images/generations", json=BODY, headers=AUTH).status_code for _ in range(2)]
    assert codes == [200, 429]
""",
    )
    result.assert_outcomes(passed=2)


def test_a_misspelt_marker_option_is_a_type_error(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
@pytest.mark.edenfake(credit=1)
def test_x(edenfake):
    pass

@pytest.mark.edenfake(credit=1)
def test_y(edenfake_server):
    pass
""",
    )
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*TypeError*unknown option 'credit'; did you mean 'credits'?*"] * 2)


def test_an_unused_fault_fails_at_teardown_and_says_how_to_switch_it_off(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_forgot(edenfake):
    edenfake.fail(503, times=2)

@pytest.mark.edenfake(assert_all_faults_used=False)
def test_allowed(edenfake):
    edenfake.fail(503)
""",
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*never answered a request*", "*fail(503, 2 of 2 left)*", "*assert_all_faults_used=False*"]
    )


def test_a_failing_test_is_not_buried_under_the_teardown_check(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_fails(edenfake):
    edenfake.fail(429)
    assert False, "the real failure"
""",
    )
    result.assert_outcomes(failed=1)
    assert "never answered" not in result.stdout.str()


def test_the_server_fixture_is_shared_and_reset_between_tests(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import urllib.request, json
seen = []

def test_one(edenfake_server):
    seen.append(edenfake_server.url)
    edenfake_server.credits = 0.0
    r = httpx.post(edenfake_server.base_url + "/images/generations", json=BODY, headers=AUTH)
    assert r.status_code == 402

def test_two(edenfake_server):
    seen.append(edenfake_server.url)
    assert seen[0] == seen[1]  # one server for the session
    assert edenfake_server.calls.count == 0 and edenfake_server.credits is None
    req = urllib.request.Request(edenfake_server.base_url + "/images/generations", data=json.dumps(BODY).encode(),
                                 headers={**AUTH, "Content-Type": "application/json"})
    assert urllib.request.urlopen(req).status == 200

@pytest.mark.edenfake(clock=42)
def test_marker_on_server(edenfake_server):
    r = httpx.post(edenfake_server.base_url + "/images/generations", json=BODY, headers=AUTH)
    assert r.json()["created"] == 42

def test_forgotten_fault(edenfake_server):
    edenfake_server.fail(500)

def test_after_forgotten(edenfake_server):
    assert edenfake_server.unused_faults() == []
""",
    )
    result.assert_outcomes(passed=5, errors=1)
    result.stdout.fnmatch_lines(["*never answered a request*"])


def test_the_server_fixture_refuses_options_it_cannot_apply(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
@pytest.mark.edenfake(seed=3)
def test_x(edenfake_server):
    pass
""",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*shared by the session*seed*edenfake.serve*"])


def test_the_marker_is_registered_with_its_signature(pytester: pytest.Pytester) -> None:
    result = run_pytest(pytester, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.edenfake(*credits=None*"])


def test_a_suite_that_does_not_use_the_plugin_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import sys
def test_nothing_heavy():
    # (respx is imported by its own pytest plugin, not by edenfake's)
    heavy = {"edenfake.fake", "edenfake._mock", "starlette", "jsonschema", "PIL", "uvicorn"}
    assert not heavy & set(sys.modules), heavy & set(sys.modules)
"""
    )
    result = run_pytest(pytester, new_process=True)  # this process has imported them all
    result.assert_outcomes(passed=1)


def test_a_fault_that_answered_some_of_its_requests_was_used(pytester: pytest.Pytester) -> None:
    # fail(500, times=10) answered twice (a client that gave up retrying): used, as pytest-httpx counts it.
    result = run(
        pytester,
        """
def test_retried_twice(edenfake):
    edenfake.fail(500, times=10)
    for _ in range(2):
        assert httpx.post(EDEN + "/images/generations", json=BODY, headers=AUTH).status_code == 500

def test_server_retried_twice(edenfake_server):
    edenfake_server.fail(500, times=10)
    for _ in range(2):
        assert httpx.post(edenfake_server.base_url + "/images/generations", json=BODY, headers=AUTH).status_code == 500

def test_forgot(edenfake):
    edenfake.fail(503)

def test_server_forgot(edenfake_server):
    edenfake_server.fail(503)
""",
    )
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(
        ["*never answered a request*", "*mark the test @pytest.mark.edenfake(assert_all_faults_used=False)*"] * 2
    )


#: under xdist: both fixtures and the mock function, each worker's own server, failures' calls sections
UNDER_XDIST = """
import os
import edenfake

def test_fixture_first(edenfake):
    assert httpx.post(EDEN + "/images/generations", json=BODY, headers=AUTH).status_code == 200
    assert edenfake.calls.count == 1

def test_then_the_function(edenfake_server):
    import edenfake as ef
    with ef.mock() as eden:  # the public function, not a module, after the fixture imported the mock
        assert httpx.post(EDEN + "/images/generations", json=BODY, headers=AUTH).status_code == 200
        assert eden.calls.count == 1
    r = httpx.post(edenfake_server.base_url + "/images/generations", json=BODY, headers=AUTH)
    assert r.status_code == 200 and edenfake_server.calls.count == 1  # this worker's journal only

@pytest.mark.parametrize("i", range(6))
def test_each_worker_has_its_own_server(edenfake_server, i):
    r = httpx.post(edenfake_server.base_url + "/images/generations", json={**BODY, "prompt": str(i)}, headers=AUTH)
    assert r.status_code == 200
    assert [c.prompt for c in edenfake_server.calls] == [str(i)]
    print("worker", os.environ.get("PYTEST_XDIST_WORKER"), edenfake_server.url)

@pytest.mark.parametrize("model", ["openai/nope", "x/y"])
def test_fails_with_its_calls(edenfake, model):
    assert httpx.post(EDEN + "/images/generations", json={"model": model, "prompt": "a"}, headers=AUTH).is_success

def test_fails_live(edenfake_server):
    r = httpx.post(edenfake_server.base_url + "/images/generations", json={"prompt": "a"}, headers=AUTH)
    assert r.is_success
"""


def under_xdist_run(where: Path) -> pytest.RunResult:
    """UNDER_XDIST on two xdist workers (``-s``), as ``run`` runs a source, without pytester."""
    (where / "test_under_xdist.py").write_text(HEADER + UNDER_XDIST)
    return pytest_run(where, "-n", "2", "-s", plugins=(EDENFAKE_PLUGIN, XDIST), env=START_ENV)


#: the xdist run: it runs only processes of its own, so ``prestart`` queues it on the background thread
UNDER_XDIST_RUN = Early(under_xdist_run)


def prestart(config: pytest.Config, names: set[str]) -> None:
    if "test_both_fixtures_and_the_mock_function_under_xdist" in names and importlib.util.find_spec("xdist"):
        UNDER_XDIST_RUN.queue(config)


def test_both_fixtures_and_the_mock_function_under_xdist(tmp_path: Path) -> None:
    pytest.importorskip("xdist")
    result = UNDER_XDIST_RUN.result(tmp_path)
    result.assert_outcomes(passed=8, failed=3)
    # the failing tests' "edenfake calls" sections travel from the workers with their reports
    sections = report_sections(result.stdout.str())
    assert "-> 400 INVALID_MODEL model='openai/nope': " in sections["test_fails_with_its_calls[openai/nope]"]
    assert "-> 400 INVALID_MODEL model='x/y': " in sections["test_fails_with_its_calls[x/y]"]
    assert sections["test_fails_live"] == "#1 POST /v3/images/generations -> 422: body.model: Field required"


def test_a_refused_setting_shows_the_tests_line_and_the_message_not_edenfakes_frames(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_status(edenfake):
    edenfake.fail(404)

def test_credits(edenfake):
    edenfake.credits = -1

def test_misspelt_option(edenfake):
    edenfake.fail(429, retry_afer=1)
""",
    )
    result.assert_outcomes(failed=3)
    out = result.stdout.str()
    assert "fail: use a status as an integer" in out and "credits: Input should be greater than or equal to 0" in out
    assert "unexpected keyword argument 'retry_afer'" in out
    for internal in ("_core.py", "faults.py", "_handle.py", "def check_control"):
        assert internal not in out, internal
