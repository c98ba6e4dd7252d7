"""Every example of the README and of ``docs/`` runs as a test: a front door that lies is worse than none.

A page's ```python and ```sh blocks run in order, in one fresh directory of their own: a block may use a file an
earlier one wrote; each Python block has a namespace of its own; a shell block runs in bash with this venv's
commands first on PATH and must exit 0, or the status a ``<!-- exits N -->`` line before it names (a pytest it
runs loads edenfake's and xdist's plugins only). A block that talks to ``http://127.0.0.1:8000``, where
``edenfake serve`` listens, talks to a fake this test serves on a free port instead. ```python test blocks are
test files: they all pass in one pytest session, beside the Python blocks of the pages without shell blocks
(users mix the fixtures with ``edenfake.mock()`` in one session; the Python blocks of a page with test files run
first, each in a process of its own); the pages with shell and Python blocks run in this process, and the pages
of shell blocks alone run two at a time, each in a directory of its own (their time is spent in the processes
they start). A run without xdist workers starts the session and the pages of shell blocks alone as the
collection ends (``prestart``). Each block runs once. A block after ``<!-- not run: why -->`` is shown, not
run: keep them rare.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from edenfake import Catalog
from tests.helpers import EDENFAKE_PLUGIN, HYPOTHESIS, Backlog, Early, cli_running, pytest_run, stop_cli

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"(?P<before>[^\n]*)\n```(?P<info>[^\n]*)\n(?P<code>.*?)\n```", re.S)
#: where a user's `edenfake serve` listens, which examples may name
SERVE_URL = "http://127.0.0.1:8000"
#: a user's pytest loads the plugins they installed; this venv holds every extra's (playwright, schemathesis, ...),
#: so a pytest an example runs loads only edenfake's and xdist's
NESTED_PYTEST = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTEST_ADDOPTS": "-p edenfake.plugin -p xdist.plugin"}
#: the top-level keys of a catalog: a JSON example holding only these is a catalog, and must load
CATALOG_KEYS = set(json.loads((ROOT / "contracts" / "catalog.schema.json").read_text(encoding="utf-8"))["properties"])
#: a shell example that takes longer than this fails
SHELL_TIMEOUT = 120
#: what a shell example runs with: this venv's commands first on PATH, as an activated venv has them (``edenfake``,
#: ``pytest``), in the environment the run started with (read before any test could set a variable of its own)
SHELL_ENV = {
    **os.environ,
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    **NESTED_PYTEST,
}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    info: str
    code: str
    exits: int

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path, *infos: str) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        if m["info"].strip() in infos and not m["before"].startswith("<!-- not run"):
            exits = re.fullmatch(r"<!-- exits (\d+) -->", m["before"].strip())
            line = text[: m.start("code")].count("\n") + 1
            found.append(Block(page, line, m["info"].strip(), m["code"], int(exits[1]) if exits else 0))
    return found


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def slug(page: Path) -> str:
    return re.sub(r"\W", "_", str(page.relative_to(ROOT).with_suffix("")))


RUN = [(page, blocks(page, "python", "sh")) for page in PAGES]
RUN = [(page, found) for page, found in RUN if found]
TESTS = [block for page in PAGES for block in blocks(page, "python test")]
#: pages with shell blocks run here, in order; the others' Python blocks run in the pytest session (each block
#: runs once: a page with test files runs its blocks before the session, which may import what they wrote)
SHELL = [(page, found) for page, found in RUN if any(b.info == "sh" for b in found)]
#: of those, the pages of shell blocks alone: they need no working directory of this process's, so they run
#: side by side
SHELL_ONLY = [(page, found) for page, found in SHELL if all(b.info == "sh" for b in found)]
MIXED = [(page, found) for page, found in SHELL if (page, found) not in SHELL_ONLY]
SETUP = [(page, found) for page, found in RUN if (page, found) not in SHELL and any(b.page == page for b in TESTS)]
IN_SESSION = [(page, found) for page, found in RUN if (page, found) not in SHELL + SETUP]


@contextlib.contextmanager
def served() -> Iterator[Callable[[str], str]]:
    """A fake on a free port, and a function that points code at it where it names ``edenfake serve``'s address."""
    import edenfake

    with edenfake.serve() as server:
        yield lambda code: code.replace(SERVE_URL, server.url)


def run_block(block: Block, code: str, cwd: Path | None = None) -> None:
    """Run one block: a Python block here (in this process's working directory), a shell block in bash (in
    ``cwd``, by default this process's working directory)."""
    if block.info == "python":
        exec(compile(code, block.where, "exec"), {"__name__": "docs_example"})
        return
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", code],
        capture_output=True,
        text=True,
        env=SHELL_ENV,
        cwd=cwd,
        timeout=SHELL_TIMEOUT,
        check=False,
    )
    assert done.returncode == block.exits, f"{block.where}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"


@pytest.fixture(autouse=True)
def commands_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """This venv's commands first on PATH, as an activated venv has them (``edenfake``, ``pytest``)."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def run_page(found: list[Block], here: Callable[[str], str]) -> None:
    for block in found:
        run_block(block, here(block.code))


@pytest.mark.parametrize(("page", "found"), MIXED, ids=[page_id(page) for page, _ in MIXED])
def test_each_page_with_shell_and_python_examples_runs_in_order(
    page: Path, found: list[Block], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    if any(SERVE_URL in b.code for b in found):
        with served() as here:
            run_page(found, here)
    else:
        run_page(found, str)


def run_shell_page(found: list[Block], folder: Path) -> None:
    """The shell blocks of one page, in order, in ``folder`` (and beside a fake of their own if they name one)."""
    folder.mkdir()
    with served() if serves(found) else contextlib.nullcontext(str) as here:
        for block in found:
            run_block(block, here(block.code), cwd=folder)


def serves(found: list[Block]) -> bool:
    """Whether a page's examples talk to ``edenfake serve``'s address (a fake this process serves instead)."""
    return any(SERVE_URL in b.code for b in found)


def shell_pages(root: Path, pages: list[tuple[Path, list[Block]]]) -> Backlog:
    """A job a page of shell blocks alone, each in a directory of its own under ``root``."""
    return Backlog(
        {page_id(page): functools.partial(run_shell_page, found, root / slug(page)) for page, found in pages}
    )


#: the pages of shell blocks alone that ``prestart`` started as the collection ended
STARTED: list[Backlog] = []


def prestart(config: pytest.Config, names: set[str]) -> None:
    """Start the pages of shell blocks alone now, on a thread of their own, if their test is to run: only those
    that run nothing but processes of their own (a fake served here meanwhile would see the other tests' patches
    of this process: a class's method, Pillow's pixel bound)."""
    if "test_every_other_example_together_in_one_pytest_session" in names:
        SESSION.queue(config)
    if "test_each_page_of_shell_examples_alone_runs_in_order" in names:
        root = Path(tempfile.mkdtemp(prefix="edenfake-docs-"))
        backlog = shell_pages(root, [(page, found) for page, found in SHELL_ONLY if not serves(found)])
        STARTED.append(backlog)
        backlog.start()
        config.add_cleanup(lambda: shutil.rmtree(root, ignore_errors=True))
        config.add_cleanup(backlog.stop)


def test_each_page_of_shell_examples_alone_runs_in_order(tmp_path: Path, subtests: pytest.Subtests) -> None:
    """Each page in a directory of its own, one subtest a page, two pages at a time: those ``prestart`` started go
    on beside this test, which runs the others; without them, a thread and this test share every page."""
    early = STARTED.pop() if STARTED else None
    rest = shell_pages(
        tmp_path, [(p, found) for p, found in SHELL_ONLY if early is None or page_id(p) not in early.done]
    )
    if early is None:
        rest.start()
    rest.work()
    outcomes = dict(rest.done)
    if early is not None:
        early.work()
        outcomes.update(early.done)
    for page, _ in SHELL_ONLY:
        with subtests.test(page=page_id(page)):
            outcomes[page_id(page)].result()


def plugins_for(code: str) -> tuple[str, ...]:
    """The plugins a user of these examples has loaded: edenfake's, and hypothesis' where one uses it."""
    return (EDENFAKE_PLUGIN, HYPOTHESIS) if "hypothesis" in code else (EDENFAKE_PLUGIN,)


def count_tests(code: str) -> int:
    return code.count("\ndef test_") + code.startswith("def test_")


def run_in_a_process(block: Block, code: str, cwd: Path) -> None:
    """A Python block in a process of its own (a namespace of its own, as in ``run_block``), in ``cwd``."""
    run = f"exec(compile({code!r}, {block.where!r}, 'exec'), {{'__name__': 'docs_example'}})"
    done = subprocess.run(
        [sys.executable, "-c", run], capture_output=True, text=True, env=SHELL_ENV, cwd=cwd, timeout=SHELL_TIMEOUT
    )
    assert done.returncode == 0, f"{block.where}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def session_of_examples(where: Path) -> tuple[pytest.RunResult, int]:
    """The pytest session of the test files and of the Python blocks of the pages without shell blocks (each
    page's folder made ready by its own Python blocks first), beside ``edenfake serve`` on a free port (a process:
    the session may run on the background thread): the run, and how many tests it should pass."""
    with cli_running("serve", "--port", "0", "--quiet", env=SHELL_ENV) as (proc, url):

        def here(code: str) -> str:
            return code.replace(SERVE_URL, url)

        for page, found in SETUP:
            (where / slug(page)).mkdir()
            for block in found:
                run_in_a_process(block, here(block.code), where / slug(page))
        for block in TESTS:
            folder = where / slug(block.page)
            folder.mkdir(exist_ok=True)
            (folder / f"test_{slug(block.page)}_line{block.line}.py").write_text(here(block.code), encoding="utf-8")
        plain = []
        for page, found in IN_SESSION:
            (where / slug(page)).mkdir(exist_ok=True)
            plain += [
                f"def test_{slug(page)}_line{b.line}(monkeypatch):\n"
                f"    monkeypatch.chdir({slug(page)!r})\n"
                f"    exec(compile({here(b.code)!r}, {b.where!r}, 'exec'), {{'__name__': 'x'}})"
                for b in found
            ]
        (where / "test_zz_plain_examples.py").write_text("\n\n".join(plain), encoding="utf-8")
        # a session of its own, as a user's: the examples start servers and mocks, and may load hypothesis
        result = pytest_run(where, plugins=plugins_for("\n".join(b.code for b in TESTS)), env=SHELL_ENV)
        stop_cli(proc)
    return result, sum(count_tests(b.code) for b in TESTS) + len(plain)


#: the session runs only processes of its own, so ``prestart`` queues it on the background thread
SESSION = Early(session_of_examples)


def test_every_other_example_together_in_one_pytest_session(tmp_path: Path) -> None:
    result, tests = SESSION.result(tmp_path)
    result.assert_outcomes(passed=tests)


def test_every_example_runs_somewhere() -> None:
    assert len(SHELL) + len(SETUP) + len(IN_SESSION) == len(RUN)
    assert len(SHELL_ONLY) + len(MIXED) == len(SHELL)
    assert {page for page, _ in SHELL + SETUP + IN_SESSION} == {page for page, _ in RUN}


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_json_examples_are_strict_json_and_catalogs_load(page: Path) -> None:
    for block in blocks(page, "json"):
        data = json.loads(block.code)
        if isinstance(data, dict) and data and data.keys() <= CATALOG_KEYS:  # a catalog (overlay)
            Catalog.from_data(data, source=block.where)


def test_there_are_examples_for_each_door() -> None:
    joined = "\n".join(b.code for _, found in RUN for b in found) + "\n".join(b.code for b in TESTS)
    for door in ("edenfake.mock(", "edenfake.serve(", "create_app(", "/_edenfake", "edenfake drift", "edenfake docs"):
        assert door in joined, door
    assert TESTS
