"""A failing test that used a fixture gets an "edenfake calls" section in its pytest report: each call the fake
answered, with the fake's own detail of every error; a passing test gets none. Driven through a real pytest run
(under xdist: tests/test_plugin.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import EDENFAKE_PLUGIN, HYPOTHESIS_HOME, PYTEST_TIMEOUT, Early, report_sections

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

HEADER = """
import httpx, pytest
EDEN = "https://api.edenai.run/v3"
AUTH = {"Authorization": "Bearer t"}
FOX = {"model": "openai/gpt-image-1", "prompt": "a fox"}
"""

SAMPLES = """
def test_unknown_model(edenfake):
    assert httpx.post(EDEN + "/images/generations", json=FOX, headers=AUTH).status_code == 200
    r = httpx.post(EDEN + "/images/generations", json={"model": "openai/nope", "prompt": "x"}, headers=AUTH)
    assert r.status_code == 200

def test_missing_prompt(edenfake):
    r = httpx.post(EDEN + "/images/generations", json={"model": "openai/gpt-image-1", "size": 7}, headers=AUTH)
    assert r.status_code == 200

def test_passes(edenfake):
    assert httpx.post(EDEN + "/images/generations", json={"model": "openai/nope"}, headers=AUTH).status_code == 422

def test_sdk(edenfake):
    import openai
    client = openai.OpenAI(api_key="t", base_url=EDEN, max_retries=0)
    client.images.generate(model="openai/gpt-image-1", prompt="a fox", size="3x3")

@pytest.mark.edenfake(tokens=["s3cret-token"], assert_all_faults_used=False)
def test_faults_and_secrets(edenfake):
    edenfake.fail("disconnect")
    edenfake.fail(503, detail="upstream on fire")
    with pytest.raises(httpx.TransportError):
        httpx.post(EDEN + "/images/generations", json=FOX, headers=AUTH)
    httpx.post(EDEN + "/images/generations", json=FOX, headers=AUTH)
    secret = {"Authorization": "Bearer s3cret-token"}
    httpx.post(EDEN + "/images/generations", json={"model": "s3cret-token", "prompt": "x"}, headers=secret)
    httpx.post(EDEN + "/images/generations", json=FOX, headers={"Authorization": "Bearer wrong-one"})
    assert False, "see the calls"

def test_many_calls(edenfake):
    for i in range(55):
        httpx.post(EDEN + "/images/generations", json={**FOX, "prompt": f"fox {i}"}, headers=AUTH)
    assert edenfake.calls.count == 0

def test_live_server(edenfake_server):
    r = httpx.post(edenfake_server.base_url + "/images/generations", json={"model": "x/y", "prompt": "a"}, headers=AUTH)
    assert r.status_code == 200

def test_unused_fault_on_the_live_server(edenfake_server):
    edenfake_server.fail(500, match={"prompt": "never sent"})
    httpx.post(edenfake_server.base_url + "/images/generations", json=FOX, headers=AUTH)
"""


#: the environment of the run, as the run of this suite started (read before any test could set a variable: the run
#: may start on the background thread while other tests run)
ENV = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "HYPOTHESIS_STORAGE_DIRECTORY": str(HYPOTHESIS_HOME)}


def run_samples(where: Path) -> str:
    """The output of one ``pytest -rA`` run of SAMPLES in ``where``, with the plugins run_pytest loads."""
    (where / "test_samples.py").write_text(HEADER + SAMPLES)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            EDENFAKE_PLUGIN,
            "-p",
            "no:cacheprovider",
            "-q",
            "-rA",
            "test_samples.py",
        ],
        cwd=where,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=PYTEST_TIMEOUT,
        check=False,
    )
    assert "2 passed" in done.stdout and "6 failed" in done.stdout and "1 error" in done.stdout, done.stdout[-3000:]
    return done.stdout


#: the run of SAMPLES, queued by ``prestart`` on the run's background thread (it runs nothing in this process)
REPORT_EARLY = Early(run_samples)


def prestart(config: pytest.Config, names: set[str]) -> None:
    """Queue the run of SAMPLES on the background thread."""
    REPORT_EARLY.queue(config)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The output of the run of SAMPLES (a run in a subprocess costs seconds of CPU: the module's tests share it):
    the one ``prestart`` queued (run here if the background thread has not started it), else one run here."""
    return REPORT_EARLY.result(tmp_path_factory.mktemp("samples"))


def test_a_failing_test_lists_its_calls_and_the_fakes_detail_of_each_error(report: str) -> None:
    sections = report_sections(report)
    unknown = sections["test_unknown_model"].splitlines()
    assert unknown[0] == "#1 POST /v3/images/generations -> 200 model='openai/gpt-image-1'"
    assert unknown[1].startswith("#2 POST /v3/images/generations -> 400 INVALID_MODEL model='openai/nope': Model ")
    assert "openai/gpt-image-1" in unknown[1] and "openai/dall-e-3" in unknown[1]  # the models that exist
    missing = sections["test_missing_prompt"]
    assert missing == (  # each field and its rule
        "#1 POST /v3/images/generations -> 422 model='openai/gpt-image-1': body.prompt: Field required; "
        "body.size: Input should be a valid string or null"
    )


def test_a_passing_test_gets_no_section(report: str) -> None:
    sections = report_sections(report)
    assert "test_passes" not in sections
    assert "PASSED test_samples.py::test_passes" in report  # -rA showed it, without a section of its own


def test_the_openai_sdks_bad_request_error_comes_with_the_fakes_detail(report: str) -> None:
    sdk = report_sections(report)["test_sdk"]
    assert "openai.BadRequestError" in report
    assert sdk.startswith("#1 POST /v3/images/generations -> 400 PROVIDER_ERROR model='openai/gpt-image-1': ")
    assert "size '3x3' is not supported" in sdk


def test_faults_are_named_and_no_token_is_shown(report: str) -> None:
    lines = report_sections(report)["test_faults_and_secrets"].splitlines()
    assert (
        lines[0]
        == "#1 POST /v3/images/generations -> no answer [injected fault: disconnect] model='openai/gpt-image-1'"
    )
    assert lines[1].startswith("#2 POST /v3/images/generations -> 503 SERVICE_UNAVAILABLE [injected fault: 503]")
    assert lines[1].endswith(": upstream on fire")
    assert lines[2].startswith("#3 POST /v3/images/generations -> 422 model='***': body.model: ")
    assert lines[3].startswith("#4 POST /v3/images/generations -> 401 UNAUTHORIZED")
    assert "s3cret" not in "\n".join(lines) and "wrong-one" not in "\n".join(lines)


def test_a_long_journal_shows_its_last_calls(report: str) -> None:
    lines = report_sections(report)["test_many_calls"].splitlines()
    assert lines[0] == "\u2026 and 5 earlier call(s)" and len(lines) == 51
    assert lines[1].startswith("#6 POST ") and lines[-1].startswith("#55 POST ")
    assert all(len(line) <= 501 for line in lines)


def test_the_live_server_lists_its_calls_read_in_process(report: str) -> None:
    sections = report_sections(report)
    live = sections["test_live_server"]
    assert live.startswith("#1 POST /v3/images/generations -> 400 INVALID_MODEL model='x/y': ")
    assert "edenfake_server calls" in report
    unused = sections["test_unused_fault_on_the_live_server"]  # failed in teardown, after the server's reset
    assert unused == "#1 POST /v3/images/generations -> 200 model='openai/gpt-image-1'"
    assert "1 queued fault(s) never answered a request" in report
