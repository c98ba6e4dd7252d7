"""The pytest plugin: the ``edenfake`` (in-process) and ``edenfake_server`` (live server) fixtures and the
``@pytest.mark.edenfake(...)`` marker. edenfake itself is imported only when a test asks for a fixture.

``@pytest.mark.edenfake(cassette=True)`` makes the ``edenfake`` fixture replay the test's cassette;
``--edenfake-record=once|rewrite`` records it from ``--edenfake-upstream`` (the real service by default).

A failing test that used a fixture gets an "edenfake calls" report section: each call the fake answered
(method, path, status, error code, the fault, the fake's detail), one line each. A test that asks for
``edenfake_failure`` beside a fake runs once per failure mode (``edenfake._failures``, picked by
``@pytest.mark.edenfake_failures(...)`` and the ``edenfake_failures_exclude`` ini option), and the run ends
with a table of the modes each such test survived."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from edenfake._failures import Failure
    from edenfake._mock import MockHandle
    from edenfake._sessions import RemoteSession
    from edenfake.cassettes.session import CassetteSession
    from edenfake.fake import EdenFake
    from edenfake.journal import Call
    from edenfake.server import LiveServer

_failed_key = pytest.StashKey[bool]()
#: the test's fixtures' fakes, each as (section title, what lists its calls)
_calls_key = pytest.StashKey[list[tuple[str, Callable[[], str]]]]()
_reported_key = pytest.StashKey[bool]()
#: a failing test's report lists at most this many of its calls (the last ones), each cut to LINE_CHARS
REPORT_CALLS = 50
LINE_CHARS = 500


def pytest_configure(config: pytest.Config) -> None:
    from edenfake import _options  # small and framework-free: the marker's help is the options' fields
    from edenfake.cassettes import upstream_base  # light: the upstream's rule, stated there

    shown = ", ".join(f"{f.name}={f.default!r}" for f in dataclasses.fields(_options.MarkerOptions))
    live = ", ".join(f.name for f in _options.live_fields())
    help_ = f"options of edenfake.mock() for the edenfake fixture ({live} also apply to edenfake_server)"
    config.addinivalue_line("markers", f"edenfake(*, {shown}): {help_}")
    config.addinivalue_line("markers", _MATRIX_HELP)
    try:
        upstream_base(config.getoption("edenfake_upstream", _options.EDEN_URL))
    except ValueError as exc:  # once, as pytest's own usage errors are, not once per test that records
        raise pytest.UsageError(f"--edenfake-upstream: {exc}") from None
    shares = config.getoption("edenfake_shared_server", False) and not hasattr(config, "workerinput")
    if shares and hasattr(config.pluginmanager.hook, "pytest_configure_node"):  # xdist is loaded
        config.pluginmanager.register(_SharedServerHost(), "edenfake-shared-server")


def pytest_addoption(parser: pytest.Parser) -> None:
    from edenfake import _options  # small and framework-free

    group = parser.getgroup("edenfake")
    group.addoption(
        "--edenfake-record",
        choices=_options.RECORD_MODES,
        default="none",
        help="for tests marked @pytest.mark.edenfake(cassette=...): 'none' replays their cassettes and never "
        "reaches the network (default); 'once' records what a cassette lacks; 'rewrite' records them afresh",
    )
    group.addoption(
        "--edenfake-upstream",
        default=_options.EDEN_URL,
        metavar="URL",
        help=f"the service --edenfake-record records (default: the real one, {_options.EDEN_URL})",
    )
    group.addoption(
        "--edenfake-shared-server",
        action="store_true",
        help="edenfake_server: one server for every pytest-xdist worker, each worker in a session of its own "
        "(X-Edenfake-Session: the worker's id); the xdist controller starts it and stops it after the last worker",
    )
    parser.addini(
        "edenfake_failures_exclude",
        type="args",
        default=[],
        help="failure modes the edenfake_failure fixture leaves out everywhere (e.g. timeout 503)",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        item.stash[_failed_key] = True
        if not item.stash.get(_reported_key, False):  # once: a teardown failing after the call adds nothing
            item.stash[_reported_key] = True
            for title, describe in item.stash.get(_calls_key, []):
                report.sections.append((title, describe()))
    if call.when == "teardown" and _calls_key in item.stash:
        # The teardown's report was the last to list the calls: the test's fakes go with the test, not with the
        # session (an item lives until the run ends; a fake per test kept by each would hold every journal).
        del item.stash[_calls_key]
    return report


def _watch(request: pytest.FixtureRequest, title: str, describe: Callable[[], str]) -> None:
    """List the fake's calls in the test's report if it fails."""
    request.node.stash.setdefault(_calls_key, []).append((title, describe))


def describe_calls(fake: EdenFake, limit: int = REPORT_CALLS) -> str:
    """The last ``limit`` calls ``fake`` answered, one line each: method, path, status, error code, the fault,
    the model, and the fake's detail for an error (the field and rule that failed, the models that exist), each
    line cut to LINE_CHARS, control characters escaped and no token in it."""
    from edenfake._redact import one_line

    journal = fake.calls
    count = len(journal)
    first = max(0, count - limit)
    secrets = sorted({*(fake.tokens or ()), *([fake.admin_token] if fake.admin_token else [])}, key=len, reverse=True)
    lines = []
    if first or journal.dropped:
        lines.append(f"\u2026 and {first + journal.dropped} earlier call(s)")
    for number, entry in enumerate(journal.page(first, limit), start=first + journal.dropped + 1):
        line = _BEARER.sub("Bearer ***", f"#{number} {_call_line(entry)}")
        for secret in secrets:
            line = line.replace(secret, "***")
        lines.append(one_line(line, LINE_CHARS))
    return "\n".join(lines) if lines else "(no call reached the fake)"


_BEARER = re.compile(r"(?i)\bbearer\s+[^\s'\"]+")


def _call_line(call: Call) -> str:
    answer = call.response if isinstance(call.response, dict) else {}
    status = str(call.status) if call.status else "no answer"
    parts = [f"{call.method} {call.path} -> {status}"]
    if isinstance(answer.get("error_code"), str):
        parts.append(answer["error_code"])
    if call.fault:
        parts.append(f"[injected fault: {call.fault}]")
    if call.replayed:
        parts.append("[replayed]")
    if isinstance(call.model, str):
        parts.append(f"model={call.model!r}")
    line = " ".join(parts)
    detail = answer.get("detail") if not call.ok else None
    if isinstance(detail, list):  # 422: where and what, per failed rule
        detail = "; ".join(_rule(item) for item in detail)
    return f"{line}: {detail}" if detail else line


def _rule(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    where = ".".join(str(part) for part in item.get("loc", ()))
    return f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", ""))


def _marker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The test's marker keywords (the closest marker wins), each name checked against MarkerOptions."""
    from edenfake import _options

    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("edenfake"))):
        if marker.args:
            raise TypeError("@pytest.mark.edenfake takes keyword options only, e.g. @pytest.mark.edenfake(credits=1)")
        options.update(marker.kwargs)
    _options.check_names(options, _options.MarkerOptions, "@pytest.mark.edenfake")
    return options


@pytest.fixture
def edenfake(request: pytest.FixtureRequest) -> Iterator[MockHandle]:
    """An in-process fake Eden AI image API: httpx, httpx2 (the openai SDK's), requests and aiohttp requests to
    the Eden hosts reach it with no socket. Configure it with ``@pytest.mark.edenfake(...)``."""
    from edenfake._mock import MockHandle

    options = _marker_options(request)
    session = _cassette_session(request, options)
    try:
        handle = MockHandle(**options).start()
    except BaseException:
        if session is not None:  # the fixture cannot start: nothing staged for the cassette may stay behind
            session.finish(passed=False)
        raise
    _watch(request, "edenfake calls", functools.partial(describe_calls, handle.fake))
    try:
        yield handle
    finally:
        handle.stop(check=False)
        failed = request.node.stash.get(_failed_key, False)
        if session is not None:
            session.finish(passed=not failed)
        if handle.check_faults and not failed:
            _fail_on_unused(handle.unused_faults())


def _cassette_session(request: pytest.FixtureRequest, options: dict[str, Any]) -> CassetteSession | None:
    """The test's cassette (``cassette=`` taken out of ``options``, ``replay=`` put in), or None."""
    cassette = options.pop("cassette", None)
    if cassette is None or cassette is False:
        return None
    if "replay" in options:
        raise TypeError("@pytest.mark.edenfake takes cassette= or replay=, not both")
    from edenfake.cassettes.session import CassetteSession, cassette_dir

    session = CassetteSession(
        cassette_dir(request.node.path, request.node.name, cassette),
        request.config.getoption("edenfake_record"),
        request.config.getoption("edenfake_upstream"),
        # a request the cassette lacks fails loudly: a silent answer from the fake would hide it
        unmatched=options.pop("unmatched", "error"),
    )
    options["replay"] = session.source()
    return session


@pytest.fixture(scope="session")
def _edenfake_live_server() -> Iterator[LiveServer]:
    from edenfake.fake import EdenFake
    from edenfake.server import LiveServer

    server = LiveServer(EdenFake()).start()
    try:
        yield server
    finally:
        server.stop()


class _SharedServerHost:
    """Under pytest-xdist with ``--edenfake-shared-server``: the controller starts one server when the first
    worker is configured, hands its URL to every worker (``workerinput``) and stops it once every worker has
    finished, so no worker's early end can take the server from another."""

    KEY = "edenfake_shared_server"

    def __init__(self) -> None:
        self.server: LiveServer | None = None

    def pytest_configure_node(self, node: Any) -> None:
        if self.server is None:
            from edenfake.fake import EdenFake
            from edenfake.server import LiveServer

            self.server = LiveServer(EdenFake()).start()
        node.workerinput[self.KEY] = self.server.url

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture(scope="session")
def _edenfake_shared_server(request: pytest.FixtureRequest) -> Iterator[RemoteSession]:
    import os

    from edenfake._sessions import RemoteSession

    url = getattr(request.config, "workerinput", {}).get(_SharedServerHost.KEY)
    if url is not None:  # a worker of the controller's shared server
        yield RemoteSession(str(url), os.environ.get("PYTEST_XDIST_WORKER", "main"))
        return
    server: LiveServer = request.getfixturevalue("_edenfake_live_server")  # no workers: this run's own server
    yield RemoteSession(server.url, "main")


def _in_shared_session(request: pytest.FixtureRequest, options: dict[str, Any]) -> Iterator[RemoteSession]:
    """``edenfake_server`` under ``--edenfake-shared-server``: this worker's session of the shared server."""
    from edenfake._sessions import describe_fault

    handle: RemoteSession = request.getfixturevalue("_edenfake_shared_server")
    setters: dict[str, Callable[[Any], None]] = {
        "credits": handle.set_credits,
        "rate_limit": handle.set_rate_limit,
        "latency": handle.set_latency,
    }
    refused = sorted(name for name in options if name not in setters and name != "assert_all_faults_used")
    if refused:
        raise TypeError(f"edenfake_server with --edenfake-shared-server cannot take {refused} from the marker "
                        "(the server and its clock are shared by every worker's session)")  # fmt: skip
    handle.reset()
    for name, value in options.items():
        if name in setters:
            setters[name](value)
    _watch(request, "edenfake_server calls", lambda: _remote_calls(handle))
    try:
        yield handle
    finally:
        failed = request.node.stash.get(_failed_key, False)
        unused = handle.unused_faults()
        handle.reset()
        if options.get("assert_all_faults_used", True) and unused and not failed:
            listing = "\n".join(f"  {describe_fault(f)}" for f in unused)
            pytest.fail(f"{len(unused)} queued fault(s) never answered a request:\n{listing}", pytrace=False)


def _remote_calls(handle: RemoteSession) -> str:
    """As :func:`describe_calls`, for a session of a server elsewhere (its journal redacts tokens already)."""
    from edenfake._redact import one_line

    try:
        calls = handle.calls
    except (RuntimeError, OSError) as exc:
        return one_line(f"(the session's calls could not be read: {exc})", LINE_CHARS)
    first = max(0, len(calls) - REPORT_CALLS)
    shown = enumerate(calls[first:], start=first + 1)
    lines = [one_line(_BEARER.sub("Bearer ***", f"#{n} {_call_line(call)}"), LINE_CHARS) for n, call in shown]
    return "\n".join(lines) if lines else "(no call reached the fake)"


@pytest.fixture
def edenfake_server(request: pytest.FixtureRequest) -> Iterator[LiveServer | RemoteSession]:
    """A fake served on 127.0.0.1 for the whole session (``.url``, ``.base_url``), reset before each test.
    With ``--edenfake-shared-server``, this worker's session of one server every worker shares."""
    from edenfake import _options

    options = _marker_options(request)
    if request.config.getoption("edenfake_shared_server"):
        yield from _in_shared_session(request, options)
        return
    live = {f.name: f for f in _options.live_fields()}
    fixed = sorted(name for name in options if name not in live)
    if fixed:
        raise TypeError(
            f"edenfake_server is shared by the session and cannot take {fixed} from the marker; "
            "use `with edenfake.serve(...)` in the test for a server of its own"
        )
    server: LiveServer = request.getfixturevalue("_edenfake_live_server")
    server.reset()
    server.fake.sessions.clear()  # a test's named sessions (X-Edenfake-Session) go with it
    server.fake.set_clock(None)
    for name, value in options.items():
        setter = live[name].metadata["setter"]
        if setter is not None:
            getattr(server.fake, setter)(value)
    watched: dict[str, Callable[[], str]] = {"calls": functools.partial(describe_calls, server.fake)}  # in process
    _watch(request, "edenfake_server calls", lambda: watched["calls"]())
    try:
        yield server
    finally:
        failed = request.node.stash.get(_failed_key, False)
        check = options.get("assert_all_faults_used", True)
        unused = server.unused_faults()
        if check and unused and not failed:  # the teardown will fail: its report lists the calls, gone by then
            listed = describe_calls(server.fake)
            watched["calls"] = lambda: listed
        server.reset()
        server.fake.sessions.clear()
        server.fake.set_clock(None)
        if check and not failed:
            _fail_on_unused(unused)


def _fail_on_unused(unused: list[Any]) -> None:
    if not unused:  # most tests: nothing to say, nothing to import
        return
    from edenfake.faults import unused_faults_message

    switch_off = "mark the test @pytest.mark.edenfake(assert_all_faults_used=False)"
    pytest.fail(unused_faults_message([f.describe() for f in unused], switch_off) or "", pytrace=False)


# The failure matrix: a test asking for ``edenfake_failure`` runs once per failure mode (edenfake._failures).
_matrix_key = pytest.StashKey[dict[str, dict[str, str]]]()
#: the user property that tells the summary which mode a run was under (it crosses xdist with the report)
_MODE_PROPERTY = "edenfake_failure"
_MATRIX_HELP = (
    "edenfake_failures(include=None, exclude=(), times=1, hang=10.0): the failure modes the edenfake_failure "
    "fixture runs the test under (names: '429-RATE_LIMITED', '429', 'timeout', 'content-policy', ...), how many "
    "requests each fails (None: every one) and how long a live server holds a timeout"
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "edenfake_failure" not in metafunc.fixturenames:
        return
    from edenfake import _failures

    where = "@pytest.mark.edenfake_failures"
    options: dict[str, Any] = {}
    for marker in reversed(list(metafunc.definition.iter_markers("edenfake_failures"))):
        if marker.args or set(marker.kwargs) - {"include", "exclude", "times", "hang"}:
            pytest.fail(f"{where} takes include=, exclude=, times= and hang= (keywords only)", pytrace=False)
        options.update(marker.kwargs)
    try:  # the ini option's modes are left out everywhere, whatever a marker says
        kept = _failures.select(None, metafunc.config.getini("edenfake_failures_exclude"), "edenfake_failures_exclude")
        chosen = [m for m in _failures.select(options.get("include"), options.get("exclude", ()), where) if m in kept]
        failures = [_failures.Failure(m, options.get("times", 1), options.get("hang", _failures.HANG)) for m in chosen]
    except ValueError as exc:  # InvalidSetting is one too: it names the control (times, hang) and its rule
        message = str(exc)
        problem = message if message.startswith(("edenfake_", where)) else f"{where}: {message}"
        # the test errors in its setup, saying why (a collection error would stop the whole run)
        metafunc.parametrize("edenfake_failure", [problem], ids=["refused"], indirect=True)
        return
    metafunc.parametrize("edenfake_failure", failures, ids=[f.id for f in failures], indirect=True)


@pytest.fixture
def edenfake_failure(request: pytest.FixtureRequest) -> Failure:
    """One failure mode of the matrix (the test runs once per mode): the fake beside it (``edenfake``, else
    ``edenfake_server``) answers the test's first request with it, and the next ones normally. Its ``status``,
    ``kind``, ``error_code``, ``retryable``, ``retry_after`` and ``openai_error`` say what the client sees."""
    from edenfake._failures import Failure

    failure = getattr(request, "param", None)
    if isinstance(failure, str):  # the modes the markers or the ini option asked for were refused: why
        pytest.fail(failure, pytrace=False)
    if not isinstance(failure, Failure):
        pytest.fail("edenfake_failure is parametrized by the test that asks for it, not by a fixture", pytrace=False)
    request.node.user_properties.append((_MODE_PROPERTY, failure.id))
    names = [name for name in ("edenfake", "edenfake_server") if name in request.fixturenames]
    if not names:
        pytest.fail("edenfake_failure needs the edenfake or edenfake_server fixture beside it", pytrace=False)
    failure.arm(request.getfixturevalue(names[0]))
    return failure


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> None:
    """Note the outcome of each phase of a matrix run, for the summary (the controller sees xdist's reports)."""
    marks = getattr(report, "user_properties", ())  # a collection report has none
    if not marks:  # every test outside the failure matrix
        return
    mode = next((value for name, value in marks if name == _MODE_PROPERTY), None)
    if not isinstance(mode, str) or (report.when != "call" and report.passed):
        return
    from edenfake._failures import row_name

    outcomes = config.stash.setdefault(_matrix_key, {}).setdefault(row_name(report.nodeid, mode), {})
    if hasattr(report, "wasxfail"):
        outcomes[mode] = "xfailed" if report.skipped else "xpassed"
    elif report.failed:
        outcomes[mode] = "error" if report.when == "setup" else "failed"
    elif report.skipped:
        outcomes[mode] = "skipped"
    else:
        outcomes.setdefault(mode, "passed")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash.get(_matrix_key, {})
    if not results:
        return
    from edenfake._failures import summary

    terminalreporter.write_sep("=", "edenfake failure matrix")
    for line in summary(results):
        terminalreporter.write_line(line)
