"""mkdocs hook: each page's generated tables (``<!-- edenfake: WHAT ARG -->``) rendered from the code and the
contracts, by the same function ``edenfake docs`` prints them with."""

from __future__ import annotations

from typing import Any

from edenfake import _docs, cli


def on_page_markdown(markdown: str, **_: Any) -> str:
    return _docs.expand(markdown, cli._parser())
