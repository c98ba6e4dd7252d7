"""The command line's refusals: one line on stderr naming the flag as typed and the rule, exit status 2, never a
traceback or a usage block (but for an unknown flag, which shows its subcommand's usage); and a ``--help``
in command-line terms."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from edenfake import _options
from edenfake.cli import main
from tests.helpers import run_python


def _refusal(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """``edenfake argv`` refuses with exit status 2 and one line on stderr, nothing on stdout: that line."""
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err and "usage:" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--port", "99999999999999999999"], "edenfake serve: --port must be 0-65535 (got '99999999999999999999')"),
        (["--port", "-1"], "edenfake serve: --port must be 0-65535 (got '-1')"),
        (["--port", "abc"], "edenfake serve: --port must be an integer (got 'abc')"),
        (["--port", "\u0663"], "edenfake serve: --port must be an integer (got '\u0663')"),  # int() takes it as 3
        (["--port", ""], "edenfake serve: --port must be an integer (got '')"),
        (["--rate-limit", "-1"], "edenfake serve: --rate-limit must be at least 1 (got '-1')"),
        (["--rate-limit", "0"], "edenfake serve: --rate-limit must be at least 1 (got '0')"),
        (["--rate-limit", "1_000"], "edenfake serve: --rate-limit must be an integer (got '1_000')"),
        (["--max-upload-bytes", "1e3"], "edenfake serve: --max-upload-bytes must be an integer (got '1e3')"),
        (["--max-body-bytes", "0"], "edenfake serve: --max-body-bytes must be at least 1 (got '0')"),
        (["--journal-size", "-5"], "edenfake serve: --journal-size must be at least 1 (got '-5')"),
        (["--journal-size", "0"], "edenfake serve: --journal-size must be at least 1 (got '0')"),
        (["--journal-bytes", "0"], "edenfake serve: --journal-bytes must be at least 1 (got '0')"),
        (["--credits", "-1"], "edenfake serve: --credits must be at least 0 (got '-1')"),
        (["--credits", "5e9"], "edenfake serve: --credits must be at most 1000000000 (got '5e9')"),
        (["--clock", "nan"], "edenfake serve: --clock must be a finite number (got 'nan')"),
        (["--clock", "1e30"], "edenfake serve: --clock must be at most 253399622399 (got '1e30')"),
        (["--url-ttl", "0"], "edenfake serve: --url-ttl must be a number of seconds > 0 and <= 31536000 (got '0')"),
        (["--latency", "nan"], "edenfake serve: --latency must be a finite number of seconds, or LOW,HIGH (got 'nan')"),
        (["--latency", "inf"], "edenfake serve: --latency must be a finite number of seconds, or LOW,HIGH (got 'inf')"),
        (
            ["--latency", "1e999"],
            "edenfake serve: --latency must be a finite number of seconds, or LOW,HIGH (got '1e999')",
        ),
        (["--latency", "5:1"], "edenfake serve: --latency must be a finite number of seconds, or LOW,HIGH (got '5:1')"),
        (["--latency", "700"], "edenfake serve: --latency must be at most 600 (got '700')"),
        (["--latency", "0,700"], "edenfake serve: --latency must be at most 600 (got '0,700')"),
        (["--latency", "1,0"], "edenfake serve: --latency: a latency range must have low <= high (got '1,0')"),
        (["--host", ""], "edenfake serve: --host must not be empty (got '')"),
        (["--catalog", " "], "edenfake serve: --catalog must not be empty (got ' ')"),
        (["--replay", ""], "edenfake serve: --replay must not be empty (got '')"),
        (["--allowed-host", ""], "edenfake serve: --allowed-host must not be empty or spaces (got '')"),
        (
            ["--allowed-host", "*"],
            "edenfake serve: --allowed-host: cannot be '*': it would let a page of any site reach the fake under any "
            "name; name each host (got '*')",
        ),
        (
            ["--allowed-host", "a b"],
            "edenfake serve: --allowed-host must be host names (letters, digits, '.', '-', '_': no port, path or "
            "spaces) (got 'a b')",
        ),
        (
            ["--allowed-host", "evil.com:80/x"],
            "edenfake serve: --allowed-host must be host names (letters, digits, '.', '-', '_': no port, path or "
            "spaces) (got 'evil.com:80/x')",
        ),
        (["--replace-catalog"], "edenfake serve: --replace-catalog needs --catalog FILE: it uses that file alone"),
        (
            ["--token", "has space"],
            "edenfake serve: --token must be printable ASCII without spaces, as a client sends one",
        ),
        (
            ["--admin-token", "tok\nen"],
            "edenfake serve: --admin-token must be printable ASCII without spaces, as a client sends one",
        ),
        (
            ["--unmatched", "error"],
            "edenfake serve: --unmatched: 'error' needs --replay DIR: without a cassette nothing is recorded "
            "(got 'error')",
        ),
    ],
)
def test_a_refused_serve_value_is_one_line_naming_the_flag_and_the_rule(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _refusal(["serve", *argv], capsys) == line


@pytest.mark.parametrize("flag", ["--token", "--admin-token"])
@pytest.mark.parametrize("value", ["", " ", "\t"])
def test_an_empty_or_blank_token_is_refused_at_start_up_and_never_repeated(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _refusal(["serve", flag, value], capsys)
    assert line.startswith(f"edenfake serve: {flag} must ") and "got" not in line


def test_a_refusal_never_repeats_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    line = _refusal(["serve", "--token", "s3cret-token", "--token", ""], capsys)
    assert line == "edenfake serve: --token must not be empty or spaces"
    line = _refusal(["serve", "--admin-token", " s3cret-token"], capsys)  # a space: refused, never repeated
    assert line.startswith("edenfake serve: --admin-token must be ") and "s3cret" not in line


def test_a_hostile_value_is_repeated_cut_and_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    line = _refusal(["serve", "--seed", "x\n\x1b[2J" + "9" * 10_000], capsys)
    assert line.startswith("edenfake serve: --seed must be an integer (got 'x\\n\\x1b[2J999")
    assert len(line) < 200 and line.isprintable()


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["serve", "--unmatched", "x"],
            "edenfake serve: error: argument --unmatched: invalid choice: 'x' (choose from 'fake', 'error')",
        ),
        (["serve", "--port"], "edenfake serve: error: argument --port: expected one argument"),
        (
            ["serve", "--loop", "tokio"],
            "edenfake serve: error: argument --loop: invalid choice: 'tokio' (choose from 'auto', 'asyncio', 'uvloop')",
        ),
        (["record"], "edenfake record: error: the following arguments are required: --cassette"),
        (["record", "--cassette", ""], "edenfake record: --cassette must not be empty (got '')"),
        (["record", "--cassette", "c", "--port", "70000"], "edenfake record: --port must be 0-65535 (got '70000')"),
        (
            ["record", "--cassette", "c", "--timeout", "nan"],
            "edenfake record: --timeout must be a finite number (got 'nan')",
        ),
        (
            ["record", "--cassette", "c", "--timeout", "-1"],
            "edenfake record: --timeout must be a number of seconds > 0 (got '-1')",
        ),
        (["validate"], "edenfake validate: error: the following arguments are required: FILE"),
        (["validate", "--status", "4o4", "x.json"], "edenfake validate: --status must be an integer (got '4o4')"),
        (["nothing"], "edenfake: error: argument command: invalid choice: 'nothing' (choose from "),
        (["drift", "d" * 5000], "edenfake drift: cannot read the cassette: File name too long"),
        (["serve", "--replay", "d" * 5000], "edenfake: cannot read the cassette: File name too long"),
    ],
)
def test_argparse_refusals_keep_their_one_error_line_and_drop_the_usage(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _refusal(argv, capsys).startswith(line)


def test_an_unknown_flag_shows_its_subcommands_usage_and_the_closest_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--ratelimit", "3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: edenfake serve ") and "Traceback" not in err
    assert err.splitlines()[-1] == (
        "edenfake serve: error: unrecognized arguments: --ratelimit 3; did you mean --rate-limit?"
    )
    assert main(["record", "--cassette", "c", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: edenfake record ")
    assert err.splitlines()[-1] == "edenfake record: error: unrecognized arguments: --bogus"


def test_edenfake_alone_prints_its_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("usage: edenfake ") and "serve" in err and "drift" in err


def _option_helps(text: str) -> dict[str, str]:
    """Each flag of a ``--help`` text and its explanation, joined onto one line."""
    found: dict[str, str] = {}
    flag = None
    for line in text.split("options:", 1)[1].splitlines():
        started = re.match(r"^  (-[-\w]+(?:, --[-\w]+)?)(?: [^ ]+)?(?:  +(.*))?$", line)
        if started:
            flag = started.group(1)
            found[flag] = started.group(2) or ""
        elif flag is not None and line.strip():
            found[flag] = (found[flag] + " " + line.strip()).strip()
    return found


@pytest.mark.parametrize("command", ["serve", "record", "validate", "drift"])
def test_help_speaks_command_line(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    shown = capsys.readouterr().out
    helps = _option_helps(shown)
    assert helps, shown
    for flag, text in helps.items():
        assert "None" not in text and "Catalog(" not in text and "object at 0x" not in text, (flag, text)
        assert text.count("default") <= 1, (flag, text)
        assert not re.search(r"default [0-9]+\.0(\)|$)", text), (flag, text)  # 3600, not 3600.0
        assert "_" not in flag, flag
    if command == "serve":
        assert "(default 3600)" in helps["--url-ttl"] and "(default 8000)" in helps["--port"]
        assert "(default 1048576 = 1 MiB)" in helps["--max-body-bytes"]
        for option in _options.cli_fields(_options.ServeOptions):
            assert _options.flag(option) in helps  # every option of the fake is a flag


# -- in real processes: what a user's shell sees ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--port", "99999999999999999999"], "edenfake serve: --port must be 0-65535"),
        (["--latency", "nan"], "edenfake serve: --latency must be a finite number"),
        (["--token", ""], "edenfake serve: --token must not be empty"),
        (["--max-upload-bytes", "\u00b9\u00b2"], "edenfake serve: --max-upload-bytes must be an integer"),
    ],
)
def test_a_refusal_in_a_real_process_is_one_line_and_exit_2(args: list[str], says: str) -> None:
    done = run_python("-m", "edenfake", "serve", *args)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(says), done.stderr
    assert "Traceback" not in done.stderr


def test_edenfake_alone_in_a_real_process_exits_2_with_its_help() -> None:
    done = run_python("-m", "edenfake")
    assert done.returncode == 2 and done.stderr.startswith("usage: edenfake ") and "Traceback" not in done.stderr


HOSTILE = ["", " ", "nan", "-inf", "-1", "99999999999999999999", "1e3", "\u0663", "\x00", "x" * 5000, "5:1", "\u2603"]


@pytest.mark.parametrize(
    "flag", [_options.flag(f) for f in _options.cli_fields(_options.ServeOptions)] + ["--loop", "--http"]
)
def test_no_value_of_any_flag_gets_a_traceback(
    flag: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from edenfake import server

    monkeypatch.setattr(server._Server, "run", lambda self, sockets=None: None)  # a value it takes: it stops at once
    for value in HOSTILE:
        code = main(["serve", "--port", "0", "--quiet", flag, value])
        err = capsys.readouterr().err
        assert code in (0, 1, 2) and "Traceback" not in err, (value, err)
        if code:
            [line] = err.splitlines()
            assert line.isprintable(), line
            if line.startswith("edenfake: "):  # a file's problem (the catalog's, the cassette's), said whole
                assert len(line) <= 2001, line
            else:  # an argument's, cut at 300 (and an ellipsis)
                assert len(line) <= 301 and (flag in line or line.startswith("edenfake serve: error: argument")), line


def test_a_flag_is_never_taken_from_its_first_letters(capsys: pytest.CaptureFixture[str]) -> None:
    # `--credit 1` is a misspelling to name, not --credits: argparse's abbreviations would take it silently.
    assert main(["serve", "--credit", "1"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == "edenfake serve: error: unrecognized arguments: --credit 1; did you mean --credits?"


@pytest.mark.parametrize(
    "args",
    [["docs", "limits"], ["validate", "{e}"], ["drift", "--explain", "status"]],
    ids=["docs", "validate", "drift"],
)
def test_output_that_cannot_be_written_is_one_line_and_exit_2(args: list[str], tmp_path: Path) -> None:
    document = tmp_path / "e.json"
    document.write_text('{"detail": "x", "error_code": "X"}')
    argv = [a.format(e=document) for a in args]
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "edenfake", *argv], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == ["edenfake: cannot write the output: No space left on device"], done.stderr


def test_a_closed_standard_output_is_written_nowhere_without_a_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "edenfake", "docs", "limits"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        close_fds=True,
        preexec_fn=lambda: os.close(1),
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["drift", "c", "--catalog", ""], "edenfake drift: --catalog must not be empty (got '')"),
        (["drift", "c", "--suggest-catalog", ""], "edenfake drift: --suggest-catalog must not be empty (got '')"),
        (["drift", ""], "must not be empty (got '')"),
        (["validate", ""], "must not be empty (got '')"),
        (
            ["record", "--cassette", "c", "--upstream", "http://[::1"],
            "--upstream: the upstream must be an http:// or https:// URL (Invalid IPv6 URL), got 'http://[::1'",
        ),
        (
            ["record", "--cassette", "c", "--upstream", "ftp://x"],
            "--upstream: the upstream must be an http:// or https://",
        ),
    ],
)
def test_an_empty_path_or_a_broken_upstream_is_refused_naming_the_flag(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # an empty path is never read as the current directory
    assert said in _refusal(argv, capsys)
    assert not (tmp_path / "c").exists()


def test_a_cassette_that_is_a_file_is_refused_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.json").write_text("{}")
    line = _refusal(["record", "--cassette", "a.json"], capsys)
    assert line == "edenfake record: --cassette: cannot use 'a.json' as the cassette directory: Not a directory"
