"""``edenfake serve`` as a user runs it: a real process on loopback, one log line per request, a clean Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from edenfake.cli import main
from tests.helpers import cli_running, start_cli, stop_cli


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    return start_cli("serve", "--port", "0", *args)


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], str]]:
    with cli_running("serve", "--port", "0", "--clock", "1779792103", "--token", "s3cret-token") as running:
        yield running


def _post(url: str, token: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(
        url + "/v3/images/generations",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


def test_serve_answers_logs_one_line_per_request_and_stops_on_ctrl_c(served: tuple[subprocess.Popen[str], str]) -> None:
    proc, url = served
    assert url.startswith("http://127.0.0.1:")  # loopback by default
    status, body = _post(url, "s3cret-token", {"model": "openai/gpt-image-1", "prompt": "a fox"})
    assert status == 200 and body["created"] == 1779792103
    status, _ = _post(url, "wrong", {"model": "openai/gpt-image-1", "prompt": "a fox"})
    assert status == 401
    out, err = stop_cli(proc)
    assert proc.returncode == 0
    lines = [line for line in err.splitlines() if "/v3/images/generations" in line]
    assert len(lines) == 2
    assert " 200 " in lines[0] and " 401 " in lines[1]
    assert "s3cret-token" not in err + out
    assert "Traceback" not in err


def test_the_banner_prints_a_usable_example() -> None:
    proc, url = _start("--quiet")
    try:
        assert proc.stdout is not None
        example = proc.stdout.readline()
        assert example.startswith("try: curl -s " + url + "/v3/images/generations")
        assert '"model": "openai/gpt-image-1"' in example
    finally:
        stop_cli(proc)
    assert proc.returncode == 0


def test_a_bad_catalog_file_is_refused_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "catalog.json"
    bad.write_text('{"models": {"openai/gpt-image-1": {"n_max": 99}}}')
    assert main(["serve", "--catalog", str(bad), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "n_max" in err and str(bad) in err


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("fifo", "is not a regular file"),
        ('{"models": {"openai/gpt-image-1": {"n_max": NaN}}}', "NaN is not a JSON number"),
        ("[" * 100_000 + "]" * 100_000, "nests too deep"),
        (b"\xff\xfe{}", "can't decode byte 0xff"),
    ],
    ids=["fifo", "nan", "deep", "not-utf8"],
)
def test_a_catalog_that_is_no_json_file_is_refused_at_once_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | bytes, says: str
) -> None:
    """A FIFO is refused, never waited on (for serve and validate alike), and the catalog is strict JSON."""
    path = tmp_path / "catalog.json"
    if content == "fifo":
        os.mkfifo(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert main(["serve", "--catalog", str(path), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert says in err and str(path) in err and len(err.strip().splitlines()) == 1, err
    if content == "fifo":
        assert main(["validate", str(path)]) == 2
        assert "is not a regular file" in capsys.readouterr().err


def test_a_port_in_use_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from edenfake.server import bind

    sock = bind("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
        assert "cannot listen" in capsys.readouterr().err
    finally:
        sock.close()


def test_serve_takes_credits_rate_limit_and_latency() -> None:
    proc, url = _start("--quiet", "--credits", "0.011", "--rate-limit", "5", "--latency", "0.05", "--clock", "100")
    try:
        body = {"model": "openai/gpt-image-1", "prompt": "a fox", "quality": "low"}
        assert _post(url, "t", body)[0] == 200
        status, answer = _post(url, "t", body)
        assert status == 402 and answer["available_credits"] == 0.0
        codes = [_post(url, "t", body)[0] for _ in range(5)]
        assert codes[-1] == 429  # five a second, and the clock is frozen
    finally:
        stop_cli(proc)


def test_sigterm_stops_with_the_same_closing_line_as_ctrl_c() -> None:
    proc, _ = _start("--quiet")
    out, _ = stop_cli(proc, signal.SIGTERM)
    assert "edenfake stopped" in out


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    import edenfake

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"edenfake {edenfake.__version__}"
    assert main([]) == 2  # no command: the help, on stderr, and the status of a command line that says nothing
    shown = capsys.readouterr()
    assert shown.out == "" and "serve" in shown.err and "validate" in shown.err and "usage: edenfake" in shown.err


def test_an_admin_token_guards_the_admin_api_and_nothing_else() -> None:
    from starlette.testclient import TestClient

    from edenfake import EdenFake, create_app

    with TestClient(create_app(EdenFake(admin_token="adm1n")), headers={"Authorization": "Bearer t"}) as c:
        assert c.get("/_edenfake/state").status_code == 401
        assert c.get("/_edenfake/state", headers={"Authorization": "Bearer adm1n"}).status_code == 200
        assert c.post("/v3/images/generations", json={"model": "openai/gpt-image-1", "prompt": "x"}).status_code == 200
    proc, url = _start("--quiet", "--admin-token", "adm1n")
    try:
        assert urllib.request.urlopen(urllib.request.Request(url + "/healthz"), timeout=10).status == 200
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "/_edenfake/state", timeout=10)
        assert refused.value.code == 401
        refused.value.close()
    finally:
        stop_cli(proc)


def test_binding_beyond_loopback_warns(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # The server is never started on a public address in tests: bind() is replaced by a loopback socket that
    # reports 0.0.0.0, and the run stops at once.
    from edenfake import server

    real = server.bind

    class Reported:
        def __init__(self) -> None:
            self.sock = real("127.0.0.1", 0)

        def getsockname(self) -> tuple[str, int]:
            return ("0.0.0.0", self.sock.getsockname()[1])

        def close(self) -> None:
            self.sock.close()

    monkeypatch.setattr(server, "bind", lambda host, port: Reported())
    monkeypatch.setattr(server._Server, "run", lambda self, sockets=None: None)
    assert main(["serve", "--host", "0.0.0.0", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "warning: listening on 0.0.0.0" in err and "--admin-token" in err
    assert main(["serve", "--host", "0.0.0.0", "--quiet", "--admin-token", "x"]) == 0
    assert "warning" not in capsys.readouterr().err


def _banner(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """The lines ``edenfake serve argv`` prints once it listens (the server announces itself, then stops)."""
    from edenfake import server

    def announce_and_stop(self: server._Server, sockets: object = None) -> None:
        assert self._on_started is not None
        self._on_started()

    monkeypatch.setattr(server._Server, "run", announce_and_stop)
    assert main(["serve", "--port", "0", "--quiet", *argv]) == 0
    return capsys.readouterr().out.splitlines()


def _cassette(directory: Path, prompts: list[str]) -> Path:
    from edenfake import FakeRequest
    from edenfake.cassettes.matching import describe_request
    from edenfake.cassettes.writing import Writer, describe_response

    writer = Writer(directory)
    for prompt in prompts:
        body = json.dumps({"model": "openai/gpt-image-1", "prompt": prompt}).encode()
        request = FakeRequest("POST", "/v3/images/generations", [("content-type", "application/json")], body)
        answer = json.dumps({"data": [], "created": 1, "cost": 0.0}).encode()
        response = describe_response(200, {"content-type": "application/json"}, answer, lambda u, limit: "no")
        writer.append(describe_request(request), response, duration_ms=1)
    return directory


def test_the_banner_says_what_is_replayed_and_what_a_request_it_lacks_gets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cassette = _cassette(tmp_path / "fox", ["a fox", "a red fox", "a fox"])
    lines = _banner(monkeypatch, capsys, "--replay", str(cassette), "--unmatched", "error")
    [replaying] = [line for line in lines if line.startswith("replaying ")]
    assert f"replaying {cassette}: 3 exchange(s)" in replaying
    assert "404 NOT_RECORDED" in replaying and "--unmatched error" in replaying
    lines = _banner(monkeypatch, capsys, "--replay", str(cassette))
    assert any("fake's own answer" in line and "--unmatched fake" in line for line in lines)
    assert not any(line.startswith("replaying ") for line in _banner(monkeypatch, capsys))


def test_with_tokens_the_banner_names_the_variable_the_docs_use_never_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from edenfake.cli import TOKEN_VARIABLE

    lines = _banner(monkeypatch, capsys, "--token", "s3cret-one", "--token", "s3cret-two")
    shown = "\n".join(lines)
    assert "s3cret" not in shown
    assert f'-H "Authorization: Bearer ${TOKEN_VARIABLE}"' in shown
    assert f"export {TOKEN_VARIABLE}=" in shown and "2 --token value(s)" in shown
    docs = Path(__file__).resolve().parent.parent / "docs"
    assert any(TOKEN_VARIABLE in page.read_text() for page in docs.rglob("*.md"))  # the docs' own name for it
    assert 'Bearer test-token"' in "\n".join(_banner(monkeypatch, capsys))  # any token: the example's works


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    """`edenfake docs reference/cli | head -0`: the closed pipe is not a traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "edenfake", "docs", "reference/cli"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141 and "Traceback" not in err and "BrokenPipe" not in err, err


def test_a_catalog_past_its_model_bound_is_refused_naming_the_bound(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = {f"p/m{i}": {} for i in range(20_000)}  # every one broken too: the refusal stops at 20 rules
    (tmp_path / "many.json").write_text(json.dumps({"models": models}))
    assert main(["serve", "--port", "0", "--catalog", str(tmp_path / "many.json")]) == 2
    err = capsys.readouterr().err
    assert "is not a valid edenfake catalog: $.models: Object should have at most 2000 fields [too_long]" in err
    assert len(err.splitlines()) == 1 and err.count("[missing]") < 20
