"""The suite's own switches: a test marked slow is skipped by default, naming the faster test that covers its
point, and runs with ``--run-slow``; CI runs the README's test command and then the long run with them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_pytest

ROOT = Path(__file__).resolve().parent.parent

#: the suite's hooks and marker, in a nested run of its own
CONFTEST = "from tests.conftest import pytest_addoption, pytest_collection_modifyitems\n"
INI = "[pytest]\nmarkers =\n    slow(reason): long\n"
TESTS = """
import pytest

@pytest.mark.slow("test_quick covers it")
def test_long():
    pass

def test_quick():
    pass
"""


def test_a_slow_test_is_skipped_naming_its_cover_and_runs_with_run_slow(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_pair=TESTS)
    default = run_pytest(pytester, "-rs", plugins=())
    default.assert_outcomes(passed=1, skipped=1)
    default.stdout.fnmatch_lines(["*SKIPPED*slow (test_quick covers it); --run-slow runs it*"])
    run_pytest(pytester, "--run-slow", plugins=()).assert_outcomes(passed=2)


def test_a_slow_marker_without_its_reason_stops_the_run_naming_the_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_bare="import pytest\n\n@pytest.mark.slow\ndef test_bare():\n    pass\n")
    result = run_pytest(pytester, plugins=())
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "test_bare.py::test_bare: @pytest.mark.slow takes one reason" in result.stderr.str()


def test_ci_runs_the_readme_command_then_the_slow_tests_and_the_long_fuzz() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = "install -q -e '.[test]' && .venv/bin/python -m pytest -n 2\n"
    assert readme in script
    later = [line for line in script.split(readme, 1)[1].splitlines() if "--run-slow" in line]
    assert later == ["EDENFAKE_FUZZ=long .venv/bin/python -m pytest -n 2 --run-slow"]
