"""``edenfake drift DIR``: the cassette and the ``--catalog`` file read (a file that cannot be is one line on
stderr and exit 2), the report printed as a table or JSON, the suggested overlay written; exit 0 when the fake
agrees, 1 on drift, 2 when something cannot be read or written. ``edenfake drift --explain KIND`` prints what a
kind of difference means and what to do about it (an unknown kind: one line naming the kinds, exit 2)."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from edenfake import contracts
from edenfake._redact import clip, one_line
from edenfake._request import parse_json
from edenfake._validate import read_limited
from edenfake.cassettes.format import Cassette, CassetteError
from edenfake.catalog import Catalog
from edenfake.drift.checking import drift
from edenfake.drift.kinds import KINDS
from edenfake.errors import ApiError, CatalogError

__all__ = ["run"]

#: the longest error line drift prints, in characters
_ERROR_CHARS = 1000
#: the --allow-extra-field names one run takes: as many, and as long, as the catalog's answer_extra_fields
_EXTRA = contracts.load("catalog")["properties"]["answer_extra_fields"]
_EXTRA_FIELDS: int = _EXTRA["maxItems"]
_FIELD_CHARS: int = _EXTRA["items"]["maxLength"]
_FIELD_MIN: int = _EXTRA["items"]["minLength"]
#: the width --explain wraps its paragraphs to
_WIDTH = 100


def _fail(message: str) -> int:
    print(one_line(f"edenfake drift: {message}", _ERROR_CHARS), file=sys.stderr)
    return 2


def _flat(error: Exception) -> str:
    # A catalog's problems come a line each: one line here, joined.
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


def _catalog(name: str) -> tuple[dict[str, Any], Catalog]:
    """The user's overlay and the catalog it makes; ValueError saying why not."""
    try:
        overlay = parse_json(read_limited(name))
    except OSError as exc:
        raise ValueError(exc.strerror or str(exc)) from None
    except ApiError as exc:
        raise ValueError(exc.detail.replace("JSON body", "JSON")) from None
    if not isinstance(overlay, dict):
        raise ValueError("a catalog is a JSON object with a 'models' object")
    try:
        return overlay, Catalog.from_data(overlay, source=name)
    except CatalogError as exc:
        raise ValueError(_flat(exc)) from None


def explain(kind: str) -> int:
    """``--explain KIND``: the kind's summary, explanation and remedy; exit 2 naming the kinds when unknown."""
    found = KINDS.get(kind)
    if found is None:
        close = difflib.get_close_matches(kind[:_FIELD_CHARS], KINDS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return _fail(f"--explain: the kinds are {', '.join(KINDS)}; not {clip(kind, _FIELD_CHARS)!r}{hint}")
    paragraphs = [f"{found.name}: {found.summary}", found.explanation, f"What to do: {found.remedy}"]
    print("\n\n".join(textwrap.fill(p, _WIDTH) for p in paragraphs))
    return 0


def _allowed(names: list[str]) -> str | None:
    """Why the --allow-extra-field names cannot be used, or None."""
    if len(names) > _EXTRA_FIELDS:
        return f"--allow-extra-field: at most {_EXTRA_FIELDS} names, not {len(names)}"
    for name in names:
        if not _FIELD_MIN <= len(name) <= _FIELD_CHARS:
            return f"--allow-extra-field: a field name has {_FIELD_MIN} to {_FIELD_CHARS} characters, not {len(name)}"
    return None


def run(args: argparse.Namespace) -> int:
    if args.explain is not None:
        return explain(args.explain)
    if args.cassette is None:
        return _fail("a cassette directory is needed (edenfake drift DIR), or --explain KIND")
    extra: list[str] = args.allow_extra_field
    problem = _allowed(extra)
    if problem is not None:
        return _fail(problem)
    try:
        cassette = Cassette.load(args.cassette)
    except CassetteError as exc:
        return _fail(str(exc))
    overlay = None
    catalog = None
    if args.catalog:
        try:
            overlay, catalog = _catalog(args.catalog)
        except ValueError as exc:
            return _fail(f"cannot use the catalog {args.catalog}: {exc}")
    try:
        report = drift(cassette, catalog=catalog, overlay=overlay, allow_extra_fields=extra)
    except CassetteError as exc:  # an exchange that cannot be sent: a hand-edited line, a file gone since
        return _fail(str(exc))
    print(report.json_text() if args.json else report.table())
    if args.suggest_catalog:
        try:
            Catalog.from_data(report.suggestion, source=args.suggest_catalog)
            text = json.dumps(report.suggestion, indent=2, allow_nan=False) + "\n"
            Path(args.suggest_catalog).write_text(text, encoding="utf-8")
        except OSError as exc:
            return _fail(f"could not write the suggested catalog: {exc.strerror or exc}")
        except CatalogError as exc:
            return _fail(f"could not write the suggested catalog: {_flat(exc)}")
        print(f"catalog overlay written to {args.suggest_catalog}", file=sys.stderr)
    if report.exchanges and not report.compared:
        return 2  # nothing was checked: no verdict
    return 1 if report.drifted else 0
