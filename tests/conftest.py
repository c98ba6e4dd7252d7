"""Shared fixtures: a fake with a frozen clock, and an HTTP client that checks every answer against the contract."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from starlette.testclient import TestClient

from edenfake import EdenFake, FakeRequest, FakeResponse, create_app
from edenfake.contracts import validate_exchange
from tests.helpers import AUTH, FROZEN, TOKEN

pytest_plugins = ["pytester"]

__all__ = ["AUTH", "FROZEN", "SDK_ERRORS", "TOKEN", "check_against_contract"]

#: each status a fault can answer with, and the openai SDK's exception class for it
SDK_ERRORS = [
    (401, openai.AuthenticationError),
    (402, openai.APIStatusError),
    (429, openai.RateLimitError),
    (500, openai.InternalServerError),
    (502, openai.InternalServerError),
    (503, openai.InternalServerError),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        help="also run the tests marked slow (long fuzz runs a faster test covers; CI's second run has them)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Under xdist, the default scheduling (``load``) becomes ``loadfile``: each file's tests go to one worker, so
    that the module-scoped fixtures that cost seconds (a Chromium, litellm's import, a server process, a subprocess
    pytest run, schemathesis' schemas) are paid once, not once a worker. (``loadgroup``, for chosen files only,
    groups nothing under pytest 9.2: xdist marks a test's group in an attribute pytest no longer reads.)"""
    if config.getoption("numprocesses", None) and config.getoption("dist", None) == "load":
        config.option.dist = "loadfile"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked ``slow`` is skipped, saying which faster test covers its point, unless ``--run-slow``."""
    for item in items:
        marker = item.get_closest_marker("slow")
        if marker is None:
            continue
        if len(marker.args) != 1 or not isinstance(marker.args[0], str):
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.slow takes one reason: the test that covers it")
        if not config.getoption("--run-slow"):
            item.add_marker(pytest.mark.skip(reason=f"slow ({marker.args[0]}); --run-slow runs it"))


def pytest_collection_finish(session: pytest.Session) -> None:
    """In a run without xdist workers, a test module's ``prestart(config, names)`` (for the names of its tests that
    were selected) starts its slow subprocess work now, so that the machine's other core does it while the tests
    before the module run. Under xdist each worker runs only some tests, so nothing starts early."""
    config = session.config
    if config.option.collectonly or hasattr(config, "workerinput") or config.getoption("numprocesses", None):
        return
    selected: dict[Any, set[str]] = {}
    for item in session.items:
        module = getattr(item, "module", None)
        if module is not None and callable(getattr(module, "prestart", None)):
            selected.setdefault(module, set()).add(getattr(item, "originalname", item.name))
    for module, names in selected.items():
        module.prestart(config, names)


def check_against_contract(response: httpx.Response) -> None:
    """Every answer a test receives must match the OpenAPI document: route, status, media type and body."""
    response.read()
    media = response.headers.get("content-type", "")
    body = response.json() if media.startswith("application/json") else None
    validate_exchange(response.request.method, response.request.url.path, response.status_code, body, media_type=media)


@pytest.fixture(scope="session", autouse=True)
def clients_trust_no_certificate_authority(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test speaks TLS (mocks answer in-process, servers listen on plain loopback, the network is closed), so
    the HTTP clients the tests create, and the processes they start, trust an empty certificate directory instead
    of parsing a CA bundle for each client (httpx and the openai SDK read SSL_CERT_FILE, then SSL_CERT_DIR): about
    100 ms a client with this machine's bundle, 2 ms without. A test that reached a TLS server would fail."""
    with pytest.MonkeyPatch.context() as env:
        env.delenv("SSL_CERT_FILE", raising=False)
        env.setenv("SSL_CERT_DIR", str(tmp_path_factory.mktemp("no-certificate-authorities")))
        yield


@pytest.fixture(autouse=True)
def every_answer_is_checked_against_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever door a test goes through (app, mock, live server), each answer the core gives must match the
    OpenAPI document. A mismatch raises inside the fake, so the test sees it."""
    original = EdenFake.answer

    def checked(self: EdenFake, request: FakeRequest) -> FakeResponse:
        response = original(self, request)
        if response.fault is None and request.method != "HEAD":  # a HEAD answer is its GET's, without the body
            body = response.json() if response.media_type == "application/json" else None
            validate_exchange(request.method, request.path, response.status, body, media_type=response.media_type)
        return response

    monkeypatch.setattr(EdenFake, "answer", checked)


@pytest.fixture
def fake() -> EdenFake:
    return EdenFake(clock=FROZEN)


@pytest.fixture
def client(fake: EdenFake) -> Iterator[TestClient]:
    with TestClient(create_app(fake), base_url="http://testserver", headers=AUTH) as c:
        c.event_hooks["response"].append(check_against_contract)
        yield c
