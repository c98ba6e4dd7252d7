"""The failure matrix: a consumer's test that asks for ``edenfake_failure`` runs once per failure mode the admin
contract's fault kinds define, with readable ids; the fake fails the test's first request that way and answers
the next ones; the fixture's attributes say what the client sees; a marker or ini option picks the modes; and
the run ends with a table of the modes each test survived. Driven through real pytest runs of a small app."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from edenfake import _failures
from edenfake.faults import FAULT_NAMES, FAULT_STATUSES
from tests.helpers import EDENFAKE_PLUGIN, START_ENV, XDIST, Early, pytest_run, run_pytest

#: a small consumer: it retries 429, 5xx and a timeout, and turns any other 4xx into a message for the user.
#: Its planted bug: a dropped connection is not retried.
APP = '''
import httpx

EDEN = "https://api.edenai.run/v3"


class Refused(Exception):
    """The API said no; the message is for the user."""


def picture(prompt, *, base=EDEN, attempts=3):
    with httpx.Client(timeout=1.0) as client:
        for _ in range(attempts):
            try:
                r = client.post(
                    base + "/images/generations",
                    json={"model": "openai/gpt-image-1", "prompt": prompt},
                    headers={"Authorization": "Bearer t"},
                )
            except httpx.TimeoutException:
                continue
            if r.status_code == 429 or r.status_code >= 500:
                continue
            if r.status_code >= 400:
                raise Refused(f"the image service refused: {r.json()['detail']}")
            return r.json()["data"][0]
    raise Refused("the image service is down, try later")
'''

TESTS = """
import pytest
from app import Refused, picture

def test_picture(edenfake, edenfake_failure):
    if edenfake_failure.retryable:
        assert picture("a fox")["b64_json"]
    else:
        with pytest.raises(Refused, match="refused"):
            picture("a fox")
"""


def _outcomes(output: str) -> dict[str, str]:
    """test id -> PASSED/FAILED from a ``-v`` run's lines."""
    return dict(re.findall(r"::(\S+) (PASSED|FAILED|ERROR|SKIPPED)", output))


ALL = [m.id for m in _failures.modes()]


def test_the_modes_are_the_contracts_fault_kinds_with_their_error_codes() -> None:
    modes = {m.id: m for m in _failures.modes()}
    assert len(modes) == len(FAULT_STATUSES) + len(FAULT_NAMES)
    assert {"401-UNAUTHORIZED", "402-INSUFFICIENT_CREDIT", "429-RATE_LIMITED", "502-PROVIDER_ERROR"} <= set(modes)
    assert {"timeout", "disconnect", "content-policy"} <= set(modes)
    assert modes["429-RATE_LIMITED"].retry_after == 1.0
    assert modes["content-policy"].status == 400 and modes["content-policy"].error_code == "PROVIDER_ERROR"
    assert modes["timeout"].status is None and modes["timeout"].error_code is None


def test_each_mode_runs_with_a_readable_id_and_the_planted_bug_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=APP, test_app=TESTS)
    result = run_pytest(pytester, "-vv", "-p", "no:randomly")
    outcomes = _outcomes(result.stdout.str())
    assert outcomes == {f"test_picture[{mode}]": "FAILED" if mode == "disconnect" else "PASSED" for mode in ALL}, (
        result.stdout.str()
    )
    result.assert_outcomes(passed=len(ALL) - 1, failed=1)
    out = result.stdout.str()
    # the summary: one row for the test, a column per mode, FAIL under the one it did not survive
    table = out[out.index("edenfake failure matrix") :].splitlines()
    assert table[1].startswith(f"1 test(s) x {len(ALL)} failure mode(s): 1 failed, {len(ALL) - 1} passed")
    heads = table[2].split()
    assert heads[:5] == ["test", "401", "402", "422", "429"]
    assert heads[-3:] == ["timeout", "disconnect", "content-policy"]
    row = table[3].split()
    assert row[0].endswith("test_app.py::test_picture")
    assert dict(zip(heads[1:], row[1:], strict=True)) == {h: "FAIL" if h == "disconnect" else "ok" for h in heads[1:]}


ATTRIBUTES = """
import httpx, pytest

EDEN = "https://api.edenai.run/v3"
FOX = {"model": "openai/gpt-image-1", "prompt": "a fox"}
AUTH = {"Authorization": "Bearer t"}

def test_first_request_fails_then_answers(edenfake, edenfake_failure):
    f = edenfake_failure
    if f.kind in ("timeout", "disconnect"):
        error = httpx.ReadTimeout if f.kind == "timeout" else httpx.RemoteProtocolError
        with pytest.raises(error):
            httpx.post(EDEN + "/images/generations", json=FOX, headers=AUTH)
        assert f.status is None and f.error_code is None and f.retryable
    else:
        r = httpx.post(EDEN + "/images/generations", json=FOX, headers=AUTH)
        assert r.status_code == f.status
        assert r.json().get("error_code") == f.error_code  # a 422 is FastAPI's shape: no error_code
        assert f.retryable == (f.status == 429 or f.status >= 500)
        if f.retry_after is None:
            assert "retry-after" not in r.headers
        else:
            assert float(r.headers["retry-after"]) == f.retry_after
    assert f.openai_error is None  # this run has no openai
    assert httpx.post(EDEN + "/images/generations", json=FOX, headers=AUTH).status_code == 200
"""

NO_OPENAI = """
import sys
sys.modules["openai"] = None  # import openai raises ImportError: the fixture must not need it
"""


def test_the_attributes_say_what_the_client_sees_with_httpx_alone(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(NO_OPENAI)
    pytester.makepyfile(test_attributes=ATTRIBUTES)
    result = run_pytest(pytester, "-p", "no:randomly")
    result.assert_outcomes(passed=len(ALL))


OPENAI = """
import time
import openai, openai._base_client, pytest

@pytest.mark.edenfake_failures(exclude=["timeout"])
def test_sdk_raises_the_named_class(edenfake, edenfake_failure):
    client = openai.OpenAI(api_key="t", base_url="https://api.edenai.run/v3", max_retries=0)
    with pytest.raises(edenfake_failure.openai_error) as caught:
        client.images.generate(model="openai/gpt-image-1", prompt="a fox")
    assert type(caught.value) is edenfake_failure.openai_error
    assert isinstance(caught.value, openai.APIStatusError) == (edenfake_failure.status is not None)

class SdkClock:  # the SDK's clock, its waits between retries noted instead of slept
    def __init__(self):
        self.waits = []
    def sleep(self, seconds):
        self.waits.append(seconds)
    def __getattr__(self, name):
        return getattr(time, name)

@pytest.mark.edenfake_failures(include=["401", "429", "503", "disconnect", "content-policy"])
def test_sdk_retries_what_retryable_says(edenfake, edenfake_failure, monkeypatch):
    clock = SdkClock()
    monkeypatch.setattr(openai._base_client, "time", clock)
    client = openai.OpenAI(api_key="t", base_url="https://api.edenai.run/v3", max_retries=1, timeout=1.0)
    try:
        client.with_options(max_retries=1).images.generate(model="openai/gpt-image-1", prompt="a fox")
        survived = True
    except openai.OpenAIError:
        survived = False
    assert survived == edenfake_failure.retryable
    assert len(edenfake.calls) == (2 if edenfake_failure.retryable else 1)
    assert len(clock.waits) == len(edenfake.calls) - 1
    if edenfake_failure.retryable and edenfake_failure.retry_after is not None:
        assert clock.waits == [edenfake_failure.retry_after]  # the SDK waits what Retry-After asks
"""


def test_openai_error_is_the_class_the_sdk_raises_and_retryable_what_it_retries(pytester: pytest.Pytester) -> None:
    pytest.importorskip("openai")
    pytester.makepyfile(test_sdk=OPENAI)
    result = run_pytest(pytester, "-vv", "-p", "no:randomly")
    outcomes = _outcomes(result.stdout.str())
    assert "test_sdk_raises_the_named_class[timeout]" not in outcomes
    assert set(outcomes.values()) == {"PASSED"}, result.stdout.str()
    assert len(outcomes) == len(ALL) - 1 + 5


SELECTED = """
import httpx, pytest

EDEN = "https://api.edenai.run/v3"

def _call():
    return httpx.post(EDEN + "/images/generations", json={"model": "openai/gpt-image-1", "prompt": "x"},
                      headers={"Authorization": "Bearer t"}, timeout=1.0)

@pytest.mark.edenfake_failures(include=["429", "content_policy", 503], times=None)
def test_persistent(edenfake, edenfake_failure):
    for _ in range(3):
        assert _call().status_code == edenfake_failure.status

@pytest.mark.edenfake_failures(exclude=["503"])
def test_marker_and_ini_exclude(edenfake, edenfake_failure):
    assert edenfake_failure.status != 503
    try:
        _call()
    except httpx.TransportError:
        pass

def test_ini_excludes(edenfake, edenfake_failure):
    assert edenfake_failure.kind != "timeout"
    try:
        _call()
    except httpx.TransportError:
        pass
"""


def test_a_marker_and_the_ini_option_pick_the_modes_and_times_makes_them_persist(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nedenfake_failures_exclude = timeout 401\n")
    pytester.makepyfile(test_selected=SELECTED)
    result = run_pytest(pytester, "-vv", "-p", "no:randomly")
    outcomes = _outcomes(result.stdout.str())
    assert sorted(k for k in outcomes if k.startswith("test_persistent")) == [
        "test_persistent[429-RATE_LIMITED]",
        "test_persistent[503-SERVICE_UNAVAILABLE]",
        "test_persistent[content-policy]",
    ]
    ini = {k for k in outcomes if k.startswith("test_ini_excludes")}
    assert ini == {f"test_ini_excludes[{m}]" for m in ALL if m not in ("timeout", "401-UNAUTHORIZED")}
    both = {k for k in outcomes if k.startswith("test_marker_and_ini_exclude")}
    assert both == {f"test_marker_and_ini_exclude[{m}]" for m in ALL if m not in ("timeout", "401-UNAUTHORIZED")} - {
        "test_marker_and_ini_exclude[503-SERVICE_UNAVAILABLE]"
    }
    assert set(outcomes.values()) == {"PASSED"}, result.stdout.str()


def test_an_unknown_mode_is_refused_naming_the_marker_and_the_modes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad="""
import pytest
@pytest.mark.edenfake_failures(exclude=["teapot"])
def test_x(edenfake, edenfake_failure):
    pass
""",
        test_times="import pytest\n@pytest.mark.edenfake_failures(times=0)\ndef test_z(edenfake, edenfake_failure):\n"
        "    pass\n",
        test_alone="def test_y(edenfake_failure):\n    pass\n",
    )
    pytester.makepyfile(test_fine="def test_fine():\n    pass\n")
    result = run_pytest(pytester, "test_bad.py", "test_times.py", "test_fine.py")
    result.assert_outcomes(passed=1, errors=2)  # each refused test errors, saying why; the others still run
    err = result.stdout.str() + result.stderr.str()
    assert "PluggyTeardownRaisedWarning" not in err and "Interrupted" not in err
    assert "@pytest.mark.edenfake_failures: exclude: unknown failure mode 'teapot'" in err
    assert "@pytest.mark.edenfake_failures: times: Input should be greater than or equal to 1 (got 0)" in err
    assert "429-RATE_LIMITED" in err and "Traceback" not in err
    assert "During handling" not in err  # said once: no chained error after it
    alone = run_pytest(pytester, "test_alone.py")
    alone.assert_outcomes(errors=len(ALL))
    assert "edenfake_failure needs the edenfake or edenfake_server fixture beside it" in alone.stdout.str()
    pytester.makeini("[pytest]\nedenfake_failures_exclude = teapot\n")
    ini = run_pytest(pytester, "test_bad.py")
    said = ini.stdout.str() + ini.stderr.str()
    assert "edenfake_failures_exclude: exclude: unknown failure mode 'teapot'" in said, said
    assert "During handling" not in said


SERVER = """
import httpx, pytest

def test_server(edenfake_server, edenfake_failure):
    url = edenfake_server.base_url + "/images/generations"
    body = {"model": "openai/gpt-image-1", "prompt": "a fox"}
    auth = {"Authorization": "Bearer t"}
    for attempt in range(3):
        try:
            r = httpx.post(url, json=body, headers=auth, timeout=0.5)
        except httpx.TransportError:
            continue
        if r.status_code == 200 or not edenfake_failure.retryable:
            break
    assert r.status_code == (200 if edenfake_failure.retryable else edenfake_failure.status)
"""


def under_xdist_run(where: Path) -> pytest.RunResult:
    """SERVER, APP and TESTS on two xdist workers, without pytester."""
    for name, source in {"test_server": SERVER, "app": APP, "test_app": TESTS}.items():
        (where / f"{name}.py").write_text(source)
    return pytest_run(where, "-n", "2", "-p", "no:randomly", plugins=(EDENFAKE_PLUGIN, XDIST), env=START_ENV)


#: the xdist run: it runs only processes of its own, so ``prestart`` queues it on the background thread
UNDER_XDIST_RUN = Early(under_xdist_run)


def prestart(config: pytest.Config, names: set[str]) -> None:
    if "test_the_matrix_runs_on_the_live_server_under_xdist" in names and importlib.util.find_spec("xdist"):
        UNDER_XDIST_RUN.queue(config)


def test_the_matrix_runs_on_the_live_server_under_xdist(tmp_path: Path) -> None:
    result = UNDER_XDIST_RUN.result(tmp_path)
    result.assert_outcomes(passed=2 * len(ALL) - 1, failed=1)
    out = result.stdout.str()
    assert "FAILED test_app.py::test_picture[disconnect]" in out
    table = out[out.index("edenfake failure matrix") :].splitlines()
    assert table[1].startswith(f"2 test(s) x {len(ALL)} failure mode(s): 1 failed, {2 * len(ALL) - 1} passed")
    rows = {line.split()[0]: line.split()[1:] for line in table[3:5]}
    assert rows["test_server.py::test_server"] == ["ok"] * len(ALL)
    assert rows["test_app.py::test_picture"].count("FAIL") == 1


def test_no_summary_when_no_test_ran_the_matrix(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain(edenfake):\n    pass\n")
    result = run_pytest(pytester)
    result.assert_outcomes(passed=1)
    assert "edenfake failure matrix" not in result.stdout.str()


@pytest.mark.parametrize(
    ("nodeid", "mode", "row"),
    [
        ("t.py::test_a[timeout]", "timeout", "t.py::test_a"),
        ("t.py::test_a[x1-429-RATE_LIMITED]", "429-RATE_LIMITED", "t.py::test_a[x1]"),
        ("t.py::test_a[content-policy-y]", "content-policy", "t.py::test_a[y]"),
    ],
)
def test_a_row_is_the_test_less_its_mode(nodeid: str, mode: str, row: str) -> None:
    assert _failures.row_name(nodeid, mode) == row


def test_the_table_s_cells_line_up_under_their_headings_whatever_they_say() -> None:
    ids = [mode.id for mode in _failures.modes()]
    results = {"t.py::a": dict.fromkeys(ids, "passed"), "t.py::b": {ids[0]: "failed", ids[1]: "xfailed"}}
    _, head, *rows = _failures.summary(results)
    starts = [match.start() for match in re.finditer(r"\S+", head)]
    for row in rows:  # every cell begins where its column's heading does ("FAIL" under "401", "xfail" under "402")
        assert [match.start() for match in re.finditer(r"\S+", row)] == starts, (head, row)
