"""The README's examples run as tests: a front door that lies is worse than none."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from edenfake import Catalog
from tests.helpers import EDENFAKE_PLUGIN, HYPOTHESIS, run_pytest

README = Path(__file__).resolve().parent.parent / "README.md"
FENCE = re.compile(r"(?P<before>[^\n]*)\n```(?P<info>[^\n]*)\n(?P<code>.*?)\n```", re.S)


def blocks(info: str) -> list[tuple[int, str]]:
    text = README.read_text()
    found = []
    for m in FENCE.finditer(text):
        if m["info"].strip() == info and not m["before"].startswith("<!-- not run"):
            found.append((text[: m.start("code")].count("\n") + 1, m["code"]))
    return found


PYTHON = blocks("python")


def plugins_for(code: str) -> tuple[str, ...]:
    """The plugins a user of this example has loaded: edenfake's, and hypothesis' where the example uses it."""
    return (EDENFAKE_PLUGIN, HYPOTHESIS) if "hypothesis" in code else (EDENFAKE_PLUGIN,)


def test_the_readme_opens_with_the_two_commands() -> None:
    head = README.read_text().split("## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", head, re.S)
    assert len(commands) == 2
    serve, test = commands
    assert "pip install" in serve and "edenfake serve" in serve
    assert "pip install" in test and "pytest" in test
    assert test in (README.parent / ".ci" / "run").read_text(), ".ci/run runs the README's test command"


@pytest.mark.parametrize(("line", "code"), PYTHON, ids=[f"line{line}" for line, _ in PYTHON])
def test_python_examples_run(line: int, code: str) -> None:
    exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "readme_example"})


@pytest.mark.parametrize(("line", "code"), blocks("python test"))
def test_pytest_examples_pass(pytester: pytest.Pytester, line: int, code: str) -> None:
    pytester.makepyfile(**{f"test_readme_line{line}": code})
    result = run_pytest(pytester, plugins=plugins_for(code))
    result.assert_outcomes(passed=code.count("\ndef test_") + code.startswith("def test_"))


@pytest.mark.parametrize(("line", "code"), blocks("json"))
def test_json_examples_are_valid_catalogs(line: int, code: str) -> None:
    Catalog.from_data(json.loads(code), source=f"README.md:{line}")


def test_there_are_examples_for_each_door() -> None:
    joined = "\n".join(code for _, code in PYTHON)
    for door in ("edenfake.mock(", "edenfake.serve(", "create_app(", "/_edenfake"):
        assert door in joined
    assert blocks("python test")


def test_every_example_together_in_one_pytest_session(pytester: pytest.Pytester) -> None:
    # Users mix the fixtures with `edenfake.mock()` in one session: the examples must pass side by side, in
    # file order (the fixtures' examples first), not only each alone.
    tests = blocks("python test")
    for line, code in tests:
        pytester.makepyfile(**{f"test_a_readme_line{line}": code})
    plain = "\n\n".join(
        f"def test_readme_line{line}():\n    exec(compile({code!r}, 'README.md:{line}', 'exec'), {{'__name__': 'x'}})"
        for line, code in PYTHON
    )
    pytester.makepyfile(test_b_plain_examples=plain)
    result = run_pytest(pytester, plugins=plugins_for("\n".join(code for _, code in tests)))
    expected = sum(code.count("\ndef test_") + code.startswith("def test_") for _, code in tests) + len(PYTHON)
    result.assert_outcomes(passed=expected)
