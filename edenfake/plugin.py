"""The pytest plugin: the ``edenfake`` (in-process) and ``edenfake_server`` (live server) fixtures and the
``@pytest.mark.edenfake(...)`` marker. edenfake itself is imported only when a test asks for a fixture.

``@pytest.mark.edenfake(cassette=True)`` makes the ``edenfake`` fixture replay the test's cassette;
``--edenfake-record=once|rewrite`` records it from ``--edenfake-upstream`` (the real service by default)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from edenfake._mock import MockHandle
    from edenfake.cassettes.session import CassetteSession
    from edenfake.server import LiveServer

_failed_key = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    from edenfake import _options  # small and framework-free: the marker's help is the options' fields

    shown = ", ".join(f"{f.name}={f.default!r}" for f in dataclasses.fields(_options.MarkerOptions))
    live = ", ".join(f.name for f in _options.live_fields())
    config.addinivalue_line(
        "markers",
        f"edenfake(*, {shown}): options of edenfake.mock() for the edenfake fixture ({live} also apply to "
        "edenfake_server)",
    )


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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        item.stash[_failed_key] = True
    return report


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
    """An in-process fake Eden AI image API: httpx and httpx2 requests (the openai SDK's too) to the Eden
    hosts reach it with no socket. Configure it with ``@pytest.mark.edenfake(...)``."""
    from edenfake._mock import MockHandle

    options = _marker_options(request)
    session = _cassette_session(request, options)
    try:
        handle = MockHandle(**options).start()
    except BaseException:
        if session is not None:  # the fixture cannot start: nothing staged for the cassette may stay behind
            session.finish(passed=False)
        raise
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


@pytest.fixture
def edenfake_server(request: pytest.FixtureRequest, _edenfake_live_server: LiveServer) -> Iterator[LiveServer]:
    """A fake served on 127.0.0.1 for the whole session (``.url``, ``.base_url``), reset before each test."""
    from edenfake import _options

    options = _marker_options(request)
    live = {f.name: f for f in _options.live_fields()}
    fixed = sorted(name for name in options if name not in live)
    if fixed:
        raise TypeError(
            f"edenfake_server is shared by the session and cannot take {fixed} from the marker; "
            "use `with edenfake.serve(...)` in the test for a server of its own"
        )
    server = _edenfake_live_server
    server.reset()
    server.fake.set_clock(None)
    for name, value in options.items():
        setter = live[name].metadata["setter"]
        if setter is not None:
            getattr(server.fake, setter)(value)
    try:
        yield server
    finally:
        failed = request.node.stash.get(_failed_key, False)
        check = options.get("assert_all_faults_used", True)
        unused = server.unused_faults()
        server.reset()
        server.fake.set_clock(None)
        if check and not failed:
            _fail_on_unused(unused)


def _fail_on_unused(unused: list[Any]) -> None:
    from edenfake._handle import unused_faults_message

    message = unused_faults_message(unused, "mark the test @pytest.mark.edenfake(assert_all_faults_used=False)")
    if message:
        pytest.fail(message, pytrace=False)
