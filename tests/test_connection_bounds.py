"""A served fake's connections are bounded: a client that opens connections and sends nothing, half a request
or its body a byte at a time is answered 408 and cut off after ``request_timeout``; at most ``max_connections``
are served at once. Under both of uvicorn's HTTP protocols, through ``edenfake.serve()`` and ``edenfake serve``."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

import edenfake
from edenfake import contracts
from edenfake._bounds import MAX_HEAD_BYTES
from edenfake.cli import main
from edenfake.server import LiveServer
from tests.helpers import AUTH, cli_running

BODY = {"model": "openai/gpt-image-1", "prompt": "a fox", "quality": "low"}
#: short enough for a quick test, long enough for a loaded machine to send a whole request within it
TIMEOUT = 0.6
PROTOCOLS = ["h11"] + (["httptools"] if importlib.util.find_spec("httptools") else [])


@pytest.fixture(params=PROTOCOLS)
def live(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    fake = edenfake.EdenFake()
    server = LiveServer(fake, request_timeout=TIMEOUT, http=request.param, loop="asyncio").start()
    try:
        yield server
    finally:
        server.stop()


def _connect(server: LiveServer) -> socket.socket:
    sock = socket.create_connection((server.host, server.port))
    sock.settimeout(10)
    return sock


def _read_all(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks), time.monotonic() - started


def _is_timeout_answer(data: bytes) -> None:
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), head
    assert b"connection: close" in head.lower()
    error = json.loads(body)
    assert error["error_code"] == "REQUEST_TIMEOUT" and f"{TIMEOUT:g} s" in error["detail"]
    assert not contracts.violations("errors", error), "the API's error shape"


HALF_HEAD = b"POST /v3/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
HALF_BODY = b"POST /v3/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500\r\n\r\n{"


def _slow(server: LiveServer, kind: str) -> tuple[bytes, float]:
    """One slow client of ``kind``: what the server sent it until it closed the connection, and when."""
    with _connect(server) as sock:
        started = time.monotonic()
        if kind in ("half-head", "half-body"):
            sock.sendall(HALF_HEAD if kind == "half-head" else HALF_BODY)
        elif kind == "byte-at-a-time":  # slowloris: no byte resets the clock, the whole request has TIMEOUT
            body = json.dumps(BODY).encode()
            sock.sendall(HALF_HEAD + f"Content-Length: {len(body)}\r\nAuthorization: Bearer t\r\n\r\n".encode())
            for byte in body:
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    return b"HTTP/1.1 408 (cut while sending)", time.monotonic() - started
                time.sleep(TIMEOUT / 10)
                if time.monotonic() - started > TIMEOUT + 5:
                    break
        data, _ = _read_all(sock)
        return data, time.monotonic() - started


def test_slow_clients_are_cut_off_while_prompt_ones_are_answered(live: LiveServer) -> None:
    kinds = ["half-head", "half-body", "byte-at-a-time", "silent"]
    with ThreadPoolExecutor(len(kinds)) as pool:
        slow = {kind: pool.submit(_slow, live, kind) for kind in kinds}
        with httpx.Client(base_url=live.url, headers=AUTH) as client:
            for _ in range(3):  # on one kept-alive connection, pausing longer than TIMEOUT in all
                assert client.post("/v3/images/generations", json=BODY).status_code == 200
                assert client.get("/healthz").status_code == 200
                time.sleep(TIMEOUT / 2)
        results = {kind: future.result() for kind, future in slow.items()}
    for kind in ("half-head", "half-body"):
        data, took = results[kind]
        _is_timeout_answer(data)
        assert TIMEOUT * 0.9 < took < TIMEOUT + 5, kind
    data, took = results["byte-at-a-time"]
    assert data.startswith(b"HTTP/1.1 408 ") and took < TIMEOUT + 5, data[:80]
    data, took = results["silent"]
    assert data == b"", "nothing was asked: nothing is answered"
    assert TIMEOUT * 0.9 < took < TIMEOUT + 5
    time.sleep(0.3)  # a handler the cut requests had would have finished by now
    assert [c.status for c in live.calls] == [200, 200, 200], "a request that never arrived whole is not journalled"


def test_an_idle_kept_alive_connection_is_closed_without_a_stray_answer() -> None:
    # Past the request timeout (here shorter than uvicorn's 5 s keep-alive), a connection that said nothing more
    # since its answer is closed: a client reusing it must never read an answer to a request it did not send.
    with edenfake.serve(request_timeout=TIMEOUT) as live, _connect(live) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        data, took = _read_all(sock)
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b'{"status":"ok"}'), data
    assert took < TIMEOUT + 5


def test_a_hanging_fault_holds_an_arrived_request_past_the_request_timeout(live: LiveServer) -> None:
    # The bound is on the client's sending; the fake's own hold (a timeout fault, latency) is deliberate.
    live.fail("timeout", hang=TIMEOUT * 2)
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):  # the fault drops the connection, no 408 before it
        httpx.post(live.url + "/v3/images/generations", json=BODY, headers=AUTH, timeout=10)
    assert time.monotonic() - started >= TIMEOUT * 2 * 0.9
    assert live.calls[0].fault == "timeout"


@pytest.mark.parametrize("http", PROTOCOLS)
def test_a_request_past_max_connections_is_answered_503_and_served_once_others_close(http: str) -> None:
    live = LiveServer(edenfake.EdenFake(), max_connections=2, http=http, loop="asyncio").start()
    try:
        first, second = _connect(live), _connect(live)
        try:
            third = httpx.get(live.url + "/v3/images/models", headers=AUTH, timeout=5)
            assert third.status_code == 503 and third.headers["connection"] == "close"
            error = third.json()  # the API's error, as the document says a 503 is
            assert error["error_code"] == "SERVICE_UNAVAILABLE" and "2 connections" in error["detail"], error
            contracts.validate_exchange("GET", "/v3/images/models", 503, error)
            assert not live.calls, "a request refused at the door is not journalled"
        finally:
            first.close()
            second.close()
        deadline = time.monotonic() + 5
        while httpx.get(live.url + "/healthz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "the closed connections still count"
            time.sleep(0.05)
    finally:
        live.stop()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"request_timeout": 0}, "request_timeout"),
        ({"request_timeout": -1.0}, "request_timeout"),
        ({"request_timeout": float("nan")}, "request_timeout"),
        ({"request_timeout": 1e9}, "request_timeout"),
        ({"request_timeout": True}, "request_timeout"),
        ({"request_timeout": "30"}, "request_timeout"),
        ({"max_connections": 0}, "max_connections"),
        ({"max_connections": 2.5}, "max_connections"),
        ({"max_connections": 10**9}, "max_connections"),
    ],
)
def test_serve_refuses_a_bound_that_is_not_one_naming_it(options: dict[str, object], field: str) -> None:
    with pytest.raises((TypeError, ValueError), match=field), edenfake.serve(**options):  # type: ignore[arg-type]
        pass


def test_the_command_line_takes_the_bounds_and_refuses_bad_ones_in_one_line() -> None:
    with cli_running("serve", "--port", "0", "--request-timeout", str(TIMEOUT), "--max-connections", "50") as (
        _,
        url,
    ):
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.settimeout(10)
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
            data, _ = _read_all(sock)
        _is_timeout_answer(data)


def test_the_command_line_refuses_a_bound_that_is_not_one_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for flag, value in (("--request-timeout", "0"), ("--request-timeout", "4000"), ("--max-connections", "0")):
        assert main(["serve", "--port", "0", flag, value]) == 2
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith(f"edenfake serve: {flag} must be "), line
    assert main(["record", "--cassette", "unused", "--request-timeout", "-1"]) == 2
    assert capsys.readouterr().err.startswith("edenfake record: --request-timeout must be ")


@pytest.mark.parametrize("shape", ["one-long-header", "many-headers", "long-target"])
def test_a_request_head_over_the_bound_is_answered_431_and_cut_off(live: LiveServer, shape: str) -> None:
    over = MAX_HEAD_BYTES + 1024
    if shape == "one-long-header":
        head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + b"a" * over + b"\r\n\r\n"
    elif shape == "many-headers":
        head = (
            b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Filler: 0123456789abcdef\r\n" * (over // 28) + b"\r\n"
        )
    else:
        head = b"GET /healthz?" + b"q" * over + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with _connect(live) as sock:
        with contextlib.suppress(OSError):  # closed while sending: what it answered is still to be read
            sock.sendall(head)
        data, _ = _read_all(sock)
    status, _, body = data.partition(b"\r\n\r\n")
    if shape == "long-target" and status.startswith(b"HTTP/1.1 400 "):
        assert json.loads(body)["error_code"] == "INVALID_REQUEST", body  # httptools' parser refuses it first
        return
    assert status.startswith(b"HTTP/1.1 431 "), data[:120]
    error = json.loads(body)
    assert error["error_code"] == "HEADERS_TOO_LARGE" and str(MAX_HEAD_BYTES) in error["detail"]
    assert not contracts.violations("errors", error)


def test_a_head_within_the_bound_is_answered_even_with_a_browsers_worth_of_cookies(live: LiveServer) -> None:
    cookies = "; ".join(f"app{i}_session={'x' * 400}" for i in range(100))  # about 40 kB, under MAX_HEAD_BYTES
    with httpx.Client(base_url=live.url) as client:
        for _ in range(3):  # on one kept-alive connection: the count starts again with each request
            assert client.get("/healthz", headers={"Cookie": cookies}).status_code == 200


@pytest.mark.parametrize(
    "upgrade",
    [
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n",
        b"Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n",
    ],
    ids=["websocket", "h2c"],
)
def test_an_upgrade_request_is_answered_as_http_never_a_500(
    live: LiveServer, upgrade: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    # Any web page can open a WebSocket to a loopback port: the fake has no WebSocket route, and answers the
    # request as the plain HTTP request it also is.
    with _connect(live) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + upgrade + b"\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 "), data[:120]
    assert json.loads(data.partition(b"\r\n\r\n")[2]) == {"status": "ok"}
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_a_client_that_stops_reading_its_answer_is_dropped_and_others_are_served() -> None:
    # A journal page of big calls is megabytes: a client that asks for it and reads nothing would hold them in
    # the server's memory for ever (closing waits for a reader); past the timeout it is dropped. (The transport's
    # buffer is asyncio's whichever the protocol: one is enough.)
    with edenfake.serve(request_timeout=TIMEOUT) as live:
        _stop_reading(live)


def _stop_reading(live: LiveServer) -> None:
    prompt = "a fox in the snow " * 1700  # about 30,000 characters: each journalled call is as big
    with httpx.Client(base_url=live.url, headers=AUTH) as client:
        for i in range(260):  # about 8 MB: more than the kernel buffers a loopback socket (4 MB at most)
            assert client.post("/v3/images/generations", json={**BODY, "prompt": f"{i} {prompt}"}).status_code == 200
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a reader that takes next to nothing
    sock.settimeout(10)
    sock.connect((live.host, live.port))
    with sock:
        sock.sendall(b"GET /_edenfake/calls?limit=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(TIMEOUT * 3.5)  # not reading; the server answers others meanwhile
        assert httpx.get(live.url + "/healthz").status_code == 200
        got = 0
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(1 << 20):
                got += len(chunk)
    whole = len(httpx.get(live.url + "/_edenfake/calls?limit=1000").content)
    assert whole > 7_000_000, whole
    assert got < whole, "the connection was dropped before its answer was read"


def test_a_pipelined_head_over_the_bound_ends_the_connection_while_the_one_before_is_answered(
    live: LiveServer,
) -> None:
    # While a request is answered (held here by latency), the next one's head may already be coming: httptools
    # parses it at once, so it is counted as well.
    live.latency(1.0)
    with _connect(live) as sock:
        sock.sendall(b"GET /v3/images/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer t\r\n\r\n")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sent = 0
        with contextlib.suppress(OSError):
            while sent < 8_000_000:
                sock.sendall(b"X-Filler: " + b"a" * 4000 + b"\r\n")
                sent += 4012
    assert sent < 8_000_000, "the server took megabytes of one request head"


def test_a_client_that_shuts_its_side_after_its_request_still_gets_the_answer(live: LiveServer) -> None:
    # A body over what the event loop parses itself is answered from a worker thread; meanwhile the client's
    # end of stream (shutdown(SHUT_WR), as `nc -N` does) arrives, and must not cost it the answer.
    for size in (1_000, 100_000, 500_000):
        body = json.dumps({**BODY, "user": "u" * size}).encode()
        head = (
            f"POST /v3/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer t\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        with _connect(live) as sock:
            sock.sendall(head + body)
            sock.shutdown(socket.SHUT_WR)
            data, _ = _read_all(sock)
        assert data.startswith(b"HTTP/1.1 200 "), (size, data[:200])
        assert json.loads(data.partition(b"\r\n\r\n")[2])["data"][0]["b64_json"]


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"POST /v3/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
        b"POST /v3/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bad: a\x00b\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n",
    ],
    ids=["request-line", "two-lengths", "negative-length", "bad-chunk", "nul-in-header", "no-colon"],
)
def test_bytes_that_are_not_http_get_the_apis_400_in_json_and_the_connection_closes(
    live: LiveServer, raw: bytes
) -> None:
    with _connect(live) as sock:
        sock.sendall(raw)
        data, _ = _read_all(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), data[:200]
    assert b"content-type: application/json" in head.lower() and b"connection: close" in head.lower()
    error = json.loads(body)
    assert error["error_code"] == "INVALID_REQUEST" and "not valid HTTP/1.1" in error["detail"]
    assert not contracts.violations("errors", error)
    with _connect(live) as sock:  # and the server goes on
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert _read_all(sock)[0].startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize(
    "head",
    [
        b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",  # no Host
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",  # which?
        b"GET /_edenfake/calls HTTP/1.1\r\nHost: evil.example\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    ],
    ids=["no-host", "two-hosts", "two-hosts-evil-first"],
)
def test_an_http11_request_without_one_host_is_400_under_either_parser(live: LiveServer, head: bytes) -> None:
    # h11 refuses it itself; httptools let it through, past the Host rule: each parser now answers it alike
    with _connect(live) as sock:
        sock.sendall(head)
        data, _ = _read_all(sock)
    status, _, body = data.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 400 "), data[:200]
    assert json.loads(body)["error_code"] == "INVALID_REQUEST", body


def test_an_http10_request_may_leave_its_host_out(live: LiveServer) -> None:
    with _connect(live) as sock:
        sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        data, _ = _read_all(sock)
    assert data.startswith((b"HTTP/1.1 200 ", b"HTTP/1.0 200 ")), data[:200]
