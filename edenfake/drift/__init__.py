"""Drift: how far the fake has moved from the real service, judged by a cassette of the real service's answers.

Every recorded request is sent to a fresh fake, in recorded order, and the two answers are compared on what a
client depends on: the status and error code, each top-level field's presence and JSON type, the number of
images and which of url / b64_json / revised_prompt each carries, each image's format and pixel size, the cost
and the usage keys. Every recorded request and answer is also checked against the contract: a recorded answer
the contract refuses means the contract is wrong. ``edenfake drift --explain KIND`` says what each kind of
difference means and what to do. Loading the cassette has checked the shape of every line
(contracts/cassette.schema.json); what a recorded answer holds is the real service's to have said, and is
compared, never trusted.

    checking.py     drift(): the cassette compared, and the suggested overlay checked until it settles
    comparison.py   compare(): each exchange sent again and compared
    suggestion.py   the catalog overlay that explains what a catalog can (prices, sizes, n limits, ...)
    kinds.py        KINDS: every kind of difference, its summary, its remedy and its explanation
    report.py       Difference, Report: the table, the JSON, and how recorded text is shown (cut, escaped)
    command.py      ``edenfake drift``: reading the cassette and the catalog, printing, exit codes
"""

from __future__ import annotations

from edenfake.drift.checking import drift
from edenfake.drift.kinds import KINDS, DriftKind
from edenfake.drift.report import Difference, Report

__all__ = ["KINDS", "Difference", "DriftKind", "Report", "drift"]
