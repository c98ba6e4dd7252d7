"""drift(): the cassette compared with a fresh fake (:mod:`edenfake.drift.comparison`), then the overlay it
suggests checked: drift runs again with it, and with what that run suggests, until the overlay no longer
changes (at most :data:`SUGGESTION_PASSES` runs). A difference counts as explained by a catalog only when the
last run no longer finds it, so that applying the suggestion leaves none of what it claims to explain, and
suggesting again with it writes the same overlay."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from edenfake._redact import one_line
from edenfake.cassettes.format import Cassette
from edenfake.catalog import Catalog
from edenfake.drift.comparison import compare
from edenfake.drift.report import DETAIL_CHARS, Report
from edenfake.errors import CatalogError

__all__ = ["SUGGESTION_PASSES", "drift"]

#: how many times drift runs again with its suggested overlay to check it
SUGGESTION_PASSES = 4


def drift(
    cassette: Cassette,
    *,
    catalog: Catalog | None = None,
    overlay: dict[str, Any] | None = None,
    allow_extra_fields: Iterable[str] = (),
) -> Report:
    """Send every request of ``cassette`` to a fresh fake (with ``catalog``, built from ``overlay`` when that is
    the user's catalog file) and report how its answers differ from the recorded ones. A top-level field only
    the recording has is not reported when it is one of ``allow_extra_fields`` or the catalog's
    ``answer_extra_fields``. CassetteError naming the exchange when a file it names is gone, or changed, since
    the cassette was loaded.

    The suggested overlay is checked before it is offered: drift runs again with it (and again with what that
    run suggests, until the overlay no longer changes, at most :data:`SUGGESTION_PASSES` times), and a
    difference counts as explained by a catalog only when the last run no longer finds it."""
    used = catalog if catalog is not None else Catalog.default()
    source = "built-in catalog" if catalog is None else one_line(used.source, DETAIL_CHARS)
    allowed = frozenset(used.answer_extra_fields) | frozenset(allow_extra_fields)
    report = Report(one_line(str(cassette.path), DETAIL_CHARS), len(cassette), source)
    base = compare(cassette, used, overlay, allowed, report)
    suggestion = report.suggestion
    verdict = report
    if suggestion != base:
        for passes in range(1, SUGGESTION_PASSES + 1):
            verdict = Report(report.cassette, report.exchanges, report.catalog)
            try:
                trial = used.overlaid(suggestion, source=used.source)
            except CatalogError as exc:  # not expected: the suggestion keeps to what a catalog takes
                report.notes.append(f"the suggested catalog overlay is not a catalog: {one_line(str(exc), 200)}")
                report.differences = [replace(d, catalog=False) for d in report.differences]
                return report
            compare(cassette, trial, suggestion, allowed, verdict)
            proposed = verdict.suggestion
            if proposed == suggestion:
                break
            if passes == SUGGESTION_PASSES:
                report.notes.append(
                    f"the suggested catalog overlay still changed after {passes} check(s) against the cassette: "
                    "run drift again with it"
                )
                break
            suggestion = proposed
    _judged(report, verdict)
    report.suggestion = suggestion
    return report


def _judged(report: Report, verdict: Report) -> None:
    # What the checked overlay explains: a difference the run with it no longer finds (on an exchange whose
    # status it does not make differ); what it breaks: an exchange that agreed and no longer does.
    if verdict is report:
        return
    left = {(d.exchange, d.kind, d.subject) for d in verdict.differences}
    statuses = {d.exchange for d in verdict.differences if d.kind == "status"}
    report.differences = [
        replace(d, catalog=(d.exchange, d.kind, d.subject) not in left and d.exchange not in statuses)
        for d in report.differences
    ]
    before = {d.exchange for d in report.differences}
    broken = sorted({d.exchange for d in verdict.differences} - before)
    if broken:
        shown = ", ".join(f"#{n}" for n in broken[:10]) + (f" and {len(broken) - 10} more" if len(broken) > 10 else "")
        report.notes.append(
            f"the suggested catalog overlay makes {len(broken)} exchange(s) differ that agree now: {shown}"
        )
