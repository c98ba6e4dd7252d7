"""Quiet, quick stops: an injected fault is one INFO line in the server's log and never a traceback, and Ctrl-C
or SIGTERM stops ``edenfake serve`` at once even while a 30 s timeout fault holds a request."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import httpx
import pytest

import edenfake
from edenfake.server import LiveServer
from tests.helpers import AUTH, STOP_TIMEOUT, cli_running

BODY = {"model": "openai/gpt-image-1", "prompt": "a fox", "quality": "low"}
#: how long a stop may take with a hanging fault in flight (uvicorn alone waits the whole hang: 30 s)
PROMPT_STOP = 5.0


def _admin(url: str, path: str, body: dict[str, Any] | None = None, method: str | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json"}, method=method)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def _send_hanging(url: str) -> tuple[threading.Thread, list[BaseException]]:
    """A generation sent in a thread, which the queued timeout fault holds; waits until the fake has taken it."""
    raised: list[BaseException] = []

    def send() -> None:
        try:
            httpx.post(url + "/v3/images/generations", json=BODY, headers=AUTH, timeout=60)
        except httpx.HTTPError as exc:
            raised.append(exc)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while _admin(url, "/_edenfake/calls")["count"] == 0:  # the fault's call is journalled as it starts to hang
        assert time.monotonic() < deadline, "the request never reached the fake"
        time.sleep(0.02)
    return thread, raised


def _stopped_within(proc: subprocess.Popen[str], sig: int) -> tuple[float, str, str]:
    started = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=STOP_TIMEOUT)
    return time.monotonic() - started, out, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_serve_at_once_while_a_timeout_fault_hangs(sig: int) -> None:
    with cli_running("serve", "--port", "0") as (proc, url):
        _admin(url, "/_edenfake/faults", {"fail": "timeout", "hang": 30})
        thread, raised = _send_hanging(url)
        took, out, err = _stopped_within(proc, sig)
    assert took < PROMPT_STOP, err
    thread.join(PROMPT_STOP)
    assert not thread.is_alive() and isinstance(raised[0], httpx.RemoteProtocolError)  # the hold was cut: dropped
    said = "edenfake: stopping: cut short 1 held request(s): a timeout fault's connection dropped, a latency's answer"
    assert f"{said} sent at once" in err.splitlines()
    assert "edenfake stopped" in out
    assert "Traceback" not in err and "Exception in ASGI" not in err and "Cancel" not in err, err
    if sig == signal.SIGINT:
        assert proc.returncode == 0


def test_injected_faults_are_one_info_line_each_and_never_a_traceback() -> None:
    with cli_running("serve", "--port", "0") as (proc, url):
        _admin(url, "/_edenfake/faults", {"fail": "timeout", "hang": 0.05})
        _admin(url, "/_edenfake/faults", {"fail": "disconnect", "times": 2})
        with httpx.Client(headers=AUTH) as client:
            for _ in range(3):
                with pytest.raises(httpx.RemoteProtocolError):
                    client.post(url + "/v3/images/generations", json=BODY)
            _admin(url, "/_edenfake/chaos", {"rate": 1.0, "statuses": ["disconnect", 503], "seed": 3}, "PUT")
            outcomes = []
            for _ in range(6):
                try:
                    outcomes.append(client.post(url + "/v3/images/generations", json=BODY, timeout=1).status_code)
                except httpx.HTTPError as exc:
                    outcomes.append(type(exc).__name__)
            _admin(url, "/_edenfake/chaos", {"rate": 0.0}, "PUT")
            assert client.post(url + "/v3/images/generations", json=BODY).status_code == 200  # it goes on
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=STOP_TIMEOUT)
    assert "Traceback" not in err and "Exception in ASGI" not in err and "ERROR" not in err, err
    faulted = [line for line in err.splitlines() if " fault=" in line]
    assert len(faulted) == 9, err  # one line per fault answered, however it ended
    assert sum(" fault=disconnect" in line for line in faulted) >= 2 and " fault=timeout" in faulted[0]
    assert "RemoteProtocolError" in outcomes and 503 in outcomes


def test_a_live_server_stops_at_once_with_a_hanging_fault_in_flight() -> None:
    server = LiveServer(edenfake.EdenFake()).start()
    server.fail("timeout", hang=30)
    thread, raised = _send_hanging(server.url)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < PROMPT_STOP
    thread.join(PROMPT_STOP)
    assert not thread.is_alive() and isinstance(raised[0], httpx.RemoteProtocolError)


def test_serve_in_a_with_block_leaves_at_once_with_a_long_latency_in_flight() -> None:
    with edenfake.serve(latency=300) as server:
        raised: list[BaseException] = []

        def send() -> None:
            try:
                urllib.request.urlopen(
                    urllib.request.Request(
                        server.base_url + "/images/generations",
                        data=json.dumps(BODY).encode(),
                        headers={**AUTH, "Content-Type": "application/json"},
                    ),
                    timeout=60,
                ).close()
            except (urllib.error.URLError, OSError) as exc:  # pragma: no cover - the answer comes, cut short
                raised.append(exc)

        thread = threading.Thread(target=send, daemon=True)
        thread.start()
        while server.calls.count == 0:
            time.sleep(0.02)
        started = time.monotonic()
    assert time.monotonic() - started < PROMPT_STOP
    thread.join(PROMPT_STOP)
    assert not thread.is_alive() and not raised  # a latency cut short still answers


def _read_answer(sock: socket.socket) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """One HTTP/1.1 answer with a Content-Length: its status line, headers (names lower case) and body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed before a whole head: {data[:200]!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines)}
    while len(body) < int(headers[b"content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "the connection closed before the whole body"
        body += chunk
    return status, headers, body


def test_a_request_still_arriving_when_the_server_stops_is_answered_in_full_before_it_stops() -> None:
    server = LiveServer(edenfake.EdenFake()).start()
    body = json.dumps(BODY).encode()
    head = (
        f"POST /v3/images/generations HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
        f"Authorization: {AUTH['Authorization']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(head + body[:10])
        time.sleep(0.1)  # the request has begun: uvicorn has its head
        stopping = threading.Thread(target=server.stop, daemon=True)
        stopping.start()
        stopping.join(0.5)
        assert stopping.is_alive(), "the server stopped with a request half in"
        sock.sendall(body[10:])
        status, headers, answer = _read_answer(sock)
    stopping.join(PROMPT_STOP)
    assert not stopping.is_alive()
    assert status == b"HTTP/1.1 200 OK" and headers[b"connection"] == b"close"
    assert base64.b64decode(json.loads(answer)["data"][0]["b64_json"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert server.calls.count == 1


def test_an_idle_kept_alive_connection_is_closed_by_a_stop_and_does_not_hold_it() -> None:
    server = LiveServer(edenfake.EdenFake()).start()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n\r\n".encode())
        status, headers, _ = _read_answer(sock)
        assert status == b"HTTP/1.1 200 OK" and b"connection" not in headers  # kept alive
        stopping = threading.Thread(target=server.stop, daemon=True)
        stopping.start()
        stopping.join(PROMPT_STOP)
        assert not stopping.is_alive()
        assert sock.recv(1) == b""  # closed by the server, without a stray answer
