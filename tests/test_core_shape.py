"""The core's shape as users meet it: typed options checked everywhere, nested mocks that agree for every
client, HEAD on every GET route, and a reset that rebuilds the state a test can change."""

from __future__ import annotations

import dataclasses
import typing
import urllib.request

import httpx
import httpx2
import pytest

import edenfake
from edenfake import FakeRequest, _options
from edenfake._mock import _Active
from edenfake.cli import main
from edenfake.server import LiveServer
from tests.helpers import AUTH, FROZEN, run_pytest

EDEN = "https://api.edenai.run"
BODY = {"model": "openai/dall-e-2", "prompt": "a red fox", "size": "256x256"}


# -- nested mocks ---------------------------------------------------------------------------------------


def _generate(client: str) -> int:
    url = f"{EDEN}/v3/images/generations"
    if client == "httpx":
        return httpx.post(url, headers=AUTH, json=BODY).status_code
    return httpx2.post(url, headers=AUTH, json=BODY).status_code


@pytest.mark.parametrize("client", ["httpx", "httpx2"])
def test_an_inner_mock_answers_every_client_and_the_outer_one_again_after_it(client: str) -> None:
    with edenfake.mock(clock=FROZEN) as outer:
        with edenfake.mock(clock=FROZEN) as inner:
            inner.fail(503, times=None)
            assert _generate(client) == 503
            assert (len(inner.calls), len(outer.calls)) == (1, 0)
        assert _generate(client) == 200
        assert (len(inner.calls), len(outer.calls)) == (1, 1)


def test_an_inner_mock_with_its_own_host_leaves_the_outer_one_the_eden_hosts() -> None:
    with edenfake.mock() as outer, edenfake.mock(base_urls=["http://gateway.test/eden"]) as inner:
        assert httpx.post(f"{EDEN}/v3/images/generations", headers=AUTH, json=BODY).status_code == 200
        assert httpx2.post("http://gateway.test/eden/v3/images/generations", headers=AUTH, json=BODY).status_code == 200
        # the newest mock takes the Eden hosts too (they are every mock's); the gateway is the inner one's alone
        assert len(inner.calls) == 2 and len(outer.calls) == 0


def test_mocks_stopped_in_any_order_leave_the_clients_as_they_were() -> None:
    original = httpx2.Client._transport_for_url
    outer = edenfake.mock().start()
    inner = edenfake.mock().start()
    outer.stop()
    assert _generate("httpx") == 200 and _generate("httpx2") == 200
    assert len(inner.calls) == 2
    inner.stop()
    assert _Active._handles == [] and _Active._restores == {}
    assert httpx2.Client._transport_for_url is original


def test_the_fixture_and_a_mock_inside_it_agree(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx, httpx2, edenfake

        def test_inner(edenfake_fixture_name):
            pass
        """.replace("edenfake_fixture_name", "edenfake")
        + """
        def test_nested(edenfake):
            body = {"model": "openai/dall-e-2", "prompt": "x", "size": "256x256"}
            headers = {"Authorization": "Bearer t"}
            url = "https://api.edenai.run/v3/images/generations"
            with edenfake_module.mock() as inner:
                httpx.post(url, headers=headers, json=body)
                httpx2.post(url, headers=headers, json=body)
            assert len(inner.calls) == 2 and len(edenfake.calls) == 0
            httpx.post(url, headers=headers, json=body)
            assert len(edenfake.calls) == 1

        import edenfake as edenfake_module
        """
    )
    run_pytest(pytester).assert_outcomes(passed=2)


# -- HEAD -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_head_is_answered_on_every_get_route_with_its_length_and_no_body(http: str) -> None:
    server = LiveServer(edenfake.EdenFake(clock=FROZEN), http=http, loop="asyncio").start()
    try:
        answer = httpx.post(
            server.url + "/v3/images/generations", headers=AUTH, json={**BODY, "response_format": "url"}
        ).json()
        image = answer["data"][0]["url"]
        for url in (server.url + "/healthz", server.url + "/v3/images/models", image):
            got = httpx.get(url, headers=AUTH)
            request = urllib.request.Request(url, method="HEAD", headers=AUTH)
            with urllib.request.urlopen(request, timeout=10) as head:
                assert head.status == 200 and head.read() == b""
                assert head.headers["content-length"] == str(len(got.content))
                assert head.headers["content-type"] == got.headers["content-type"]
    finally:
        server.stop()


def test_head_through_the_mock_and_405_naming_head_where_get_is_allowed() -> None:
    with edenfake.mock():
        head = httpx.head(f"{EDEN}/v3/images/models", headers=AUTH)
        assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 100
        refused = httpx.delete(f"{EDEN}/v3/images/models", headers=AUTH)
        assert refused.status_code == 405
        assert "HEAD" in refused.headers["allow"] and "GET" in refused.headers["allow"]


# -- reset --------------------------------------------------------------------------------------------------


def test_reset_rebuilds_everything_a_test_can_change_from_the_options() -> None:
    fresh = edenfake.EdenFake(clock=FROZEN, credits=5.0, rate_limit=100, latency=0.0)
    fake = edenfake.EdenFake(clock=FROZEN, credits=5.0, rate_limit=100, latency=0.0)
    with edenfake.mock(fake) as eden:
        httpx.post(f"{EDEN}/v3/images/generations", headers=AUTH, json={**BODY, "response_format": "url"})
        httpx.post(f"{EDEN}/v3/upload", headers=AUTH, files={"file": ("a.txt", b"hello", "text/plain")})
        eden.fail(429, times=3)
        eden.latency((0.0, 0.001))
        eden.chaos(0.0)
        eden.rate_limit(7)
        eden.credits = 1.0
        eden.reset()
    for attribute in ("credits",):
        assert getattr(fake, attribute) == getattr(fresh, attribute)
    assert len(fake.calls) == len(fake.uploads) == len(fake.urls) == 0
    assert fake.faults.faults == [] and fake.faults.latency == fresh.faults.latency
    assert fake.rate_limiter is not None and fake.rate_limiter.per_second == 100


# -- typed options ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "kwargs"),
    [
        (_options.FakeOptions, _options.FakeKwargs),
        (_options.MockOptions, _options.MockKwargs),
        (_options.ServeOptions, _options.ServeKwargs),
    ],
)
def test_the_typed_keywords_are_the_options_fields_with_the_same_types(options: type, kwargs: type) -> None:
    fields = {f.name: f.type for f in dataclasses.fields(options)}
    # a TypedDict's annotations include its bases' (as ForwardRefs of the same text)
    hints = {name: getattr(t, "__forward_arg__", t) for name, t in kwargs.__annotations__.items()}
    assert hints == fields


def test_every_fake_option_is_a_flag_of_serve_with_the_fields_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for f in _options.cli_fields(_options.ServeOptions):
        assert _options.flag(f) in shown
        assert " ".join(f.metadata["help"].split())[:40] in shown
    assert not [f.name for f in dataclasses.fields(_options.FakeOptions) if f.metadata["cli"] is None]


@pytest.mark.parametrize(
    ("make", "where"),
    [
        (lambda: edenfake.EdenFake(credit=1), "EdenFake()"),
        (lambda: edenfake.mock(credit=1), "edenfake.mock()"),
        (lambda: edenfake.serve(credit=1).__enter__(), "edenfake.serve()"),
    ],
)
def test_a_misspelt_option_names_the_closest_one_at_every_door(make: typing.Callable[[], object], where: str) -> None:
    with pytest.raises(TypeError, match=rf"{where[:-2]}.*unknown option 'credit'; did you mean 'credits'\?"):
        make()


@pytest.mark.parametrize(
    ("kwargs", "error", "says"),
    [
        ({"seed": "1"}, TypeError, "seed must be an integer"),
        ({"max_body_bytes": 0}, ValueError, "max_body_bytes must be at least 1"),
        ({"journal_size": True}, TypeError, "journal_size must be an integer"),
        ({"url_ttl": -1}, ValueError, "url_ttl must be a number of seconds > 0"),
        ({"unmatched": "fail"}, ValueError, "unmatched must be 'fake' or 'error'"),
        ({"tokens": "abc"}, TypeError, "tokens must be a list of strings"),
        ({"tokens": ["a", ""]}, ValueError, "tokens must be non-empty strings"),
        ({"admin_token": ""}, ValueError, "admin_token must be a non-empty string"),
        ({"admin_token": "  "}, ValueError, "admin_token must be a non-empty string"),
    ],
)
def test_a_wrong_option_value_is_refused_naming_the_option_and_the_rule(
    kwargs: dict[str, object], error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        edenfake.EdenFake(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("base_urls", "error", "says"),
    [
        ("https://gateway.example/eden", TypeError, "base_urls must be a list of strings, got 'https://gateway"),
        ([1], ValueError, "base_urls must be non-empty strings, got \\[1\\]"),
        (["https://gateway.example", ""], ValueError, "base_urls must be non-empty strings"),
    ],
)
def test_the_mocks_base_urls_are_a_list_of_strings(base_urls: object, error: type[Exception], says: str) -> None:
    """A string alone would be read as a list of its characters (``not a base URL: ':'``)."""
    with pytest.raises(error, match=says):
        edenfake.mock(base_urls=base_urls)  # type: ignore[arg-type]
    assert edenfake.mock(base_urls=("https://gateway.example/eden",)).targets[-1].prefix == "/eden"


def test_options_are_frozen_and_a_fake_can_be_built_from_them_with_changes() -> None:
    base = _options.FakeOptions(credits=2.0, clock=FROZEN)
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.credits = 3.0  # type: ignore[misc]
    fake = edenfake.EdenFake(base, credits=1.0)
    assert fake.credits == 1.0 and fake.clock.now() == FROZEN and fake.options.clock == FROZEN


# -- alongside respx ----------------------------------------------------------------------------------------


def test_respx_routes_for_other_hosts_work_beside_the_mock_started_in_either_order() -> None:
    import respx

    other = "https://other.test/ping"
    with respx.mock(assert_all_called=False) as router, edenfake.mock() as eden:
        router.get(other).respond(json={"pong": 1})
        assert httpx.get(other).json() == {"pong": 1}
        assert httpx.post(f"{EDEN}/v3/images/generations", headers=AUTH, json=BODY).status_code == 200
    with edenfake.mock() as eden, respx.mock(assert_all_called=False, assert_all_mocked=False) as router:
        router.get(other).respond(json={"pong": 2})
        assert httpx.get(other).json() == {"pong": 2}
        assert httpx.post(f"{EDEN}/v3/images/generations", headers=AUTH, json=BODY).status_code == 200
    assert len(eden.calls) == 1


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--rate-limit", "0"], "edenfake serve: --rate-limit must be at least 1"),
        (["--credits", "5e9"], "edenfake serve: --credits must be at most 1000000000"),
        (["--max-body-bytes", "0"], "edenfake serve: --max-body-bytes must be at least 1"),
        (["--latency", "700"], "edenfake serve: --latency must be at most 600"),
        (["--admin-token", ""], "edenfake serve: --admin-token must be a non-empty string"),
    ],
)
def test_a_refused_serve_flag_is_one_line_naming_the_flag_and_the_rule(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(says) and err.count("\n") == 1, err


def test_a_head_the_guard_refuses_is_its_get_refusal_without_the_body() -> None:
    fake = edenfake.EdenFake()
    headers = [("host", "evil.example")]
    get = fake.answer(edenfake.FakeRequest("GET", "/healthz", headers, server_host="127.0.0.1"))
    head = fake.answer(edenfake.FakeRequest("HEAD", "/healthz", headers, server_host="127.0.0.1"))
    assert get.status == head.status == 403 and head.body == b""
    assert head.headers["content-length"] == str(len(get.body)) and get.json()["error_code"] == "HOST_NOT_ALLOWED"


def test_a_request_built_by_hand_is_read_as_a_door_would_hand_it_over_or_refused_naming_the_field() -> None:
    fake = edenfake.EdenFake(clock=FROZEN)
    body = b'{"model": "openai/gpt-image-1", "prompt": "a fox", "quality": "low"}'
    # Header names in any case and a lower-case method are read as a server hands them over.
    sent = FakeRequest(method="post", path="/v3/images/generations", headers=[("Authorization", "Bearer t")], body=body)
    assert (sent.method, sent.headers) == ("POST", [("authorization", "Bearer t")])
    assert fake.answer(sent).status == 200
    for wrong, says in [
        ({"body": body.decode()}, "FakeRequest.body is bytes, got str (text: body=text.encode())"),
        ({"headers": {"authorization": "Bearer t"}}, "FakeRequest.headers is a list of (name, value) pairs, got dict"),
        ({"headers": [("authorization", b"Bearer t")]}, "FakeRequest.headers holds (name, value) pairs of strings"),
    ]:
        with pytest.raises(TypeError) as info:
            FakeRequest(method="POST", path="/v3/images/generations", **wrong)  # type: ignore[arg-type]
        assert says in str(info.value)
