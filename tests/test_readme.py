"""The README is the front door: short, install first, the checkout's two commands as CI runs them, and every
link it holds leads somewhere. Its examples run with the documentation's (``tests/test_docs.py``)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
#: the README stays a front door; the rest is in docs/
MAX_LINES = 300
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)\)")


def section(title: str) -> str:
    """The README's text under the heading ``title`` (any level), up to the next heading of that level or above."""
    text = README.read_text(encoding="utf-8")
    m = re.search(rf"^(#+) {re.escape(title)}$", text, re.M)
    assert m, f"the README has no section {title!r}"
    return re.split(rf"^#{{1,{len(m[1])}}} ", text[m.end() :], maxsplit=1, flags=re.M)[0]


def test_the_readme_is_short_and_opens_with_install() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_LINES
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[0] == "Install", headings
    install = section("Install")
    for command in ("pip install edenfake", "pip install 'edenfake[standard]'", "pip install 'edenfake[hypothesis]'"):
        assert command in install


def test_the_readme_opens_with_the_two_commands() -> None:
    commands = re.findall(r"```sh\n(.*?)\n```", section("From a checkout"), re.S)
    assert len(commands) == 2
    serve, test = commands
    assert "pip install" in serve and "edenfake serve" in serve
    assert "pip install" in test and "pytest" in test
    assert test in (ROOT / ".ci" / "run").read_text(), ".ci/run runs the README's test command"
    before = README.read_text(encoding="utf-8").split("### From a checkout", 1)[0]
    assert before.count("\n## ") == 1, "the checkout's commands are in the first section, Install"


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)  # code is not a link
    targets = [m["target"] for m in LINK.finditer(text)]
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


@pytest.mark.parametrize(
    "page", [README, *sorted((ROOT / "docs").rglob("*.md"))], ids=lambda p: str(p.relative_to(ROOT))
)
def test_every_relative_link_leads_to_a_file(page: Path) -> None:
    links = relative_links(page)
    missing = [t for t in links if not (page.parent / unquote(t.partition("#")[0])).resolve().is_file()]
    assert not missing, f"{page.relative_to(ROOT)} links to files that do not exist: {missing}"
    if page == README:
        assert len(links) >= 20, "the README points into the documentation"
