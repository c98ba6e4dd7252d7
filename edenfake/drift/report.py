"""What drift found: each :class:`Difference`, and the :class:`Report` that groups them for a person (a table) or a
machine (strict JSON). Every text a report shows of a recording is cut and escaped here, so that any line of it
stays one bounded line whatever the real service (or a hand-edited cassette) held."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from edenfake.drift.kinds import KINDS

__all__ = ["DETAIL_CHARS", "Difference", "Report"]

#: the longest detail a difference (or a note) carries, in characters
DETAIL_CHARS = 300


@dataclass(frozen=True)
class Difference:
    """One difference between a recorded answer and the fake's."""

    kind: str
    exchange: int
    where: str
    detail: str
    #: a catalog overlay explains it (the report's suggestion makes the fake agree)
    catalog: bool = False
    #: what it is about within its exchange (a field's name, an image's index; "" for the exchange itself):
    #: the same difference found by another run has the same kind and subject
    subject: str = field(default="", repr=False)

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"

    @property
    def remedy(self) -> str:
        """What a user can do about it (its kind's remedy)."""
        return KINDS[self.kind].remedy


@dataclass
class Report:
    """What :func:`edenfake.drift.drift` found: the differences, notes on what could not be compared, and the
    catalog overlay that would explain what a catalog can."""

    cassette: str
    exchanges: int
    catalog: str
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: exchanges sent to the fake and compared (one whose request could not be rebuilt is noted, not compared)
    compared: int = 0
    suggestion: dict[str, Any] = field(default_factory=lambda: {"models": {}})

    @property
    def drifted(self) -> bool:
        return bool(self.differences)

    def by_kind(self) -> dict[str, list[Difference]]:
        grouped: dict[str, list[Difference]] = {}
        for kind in KINDS:
            found = [d for d in self.differences if d.kind == kind]
            if found:
                grouped[kind] = found
        return grouped

    def table(self) -> str:
        """The report for a person: one line per kind of difference, with its count and an example."""
        head = f"edenfake drift: {self.exchanges} exchange(s) in {self.cassette}, sent to a fresh fake ({self.catalog})"
        lines = [head]
        lines.extend(f"note: {n}" for n in self.notes)
        grouped = self.by_kind()
        if not grouped:
            if self.exchanges and not self.compared:
                lines.append(
                    f"nothing compared: none of the {self.exchanges} exchange(s) could be sent (see the notes)"
                )
            elif self.compared < self.exchanges:
                skipped = self.exchanges - self.compared
                lines.append(
                    f"no drift in the {self.compared} exchange(s) compared; {skipped} not sent (see the notes)"
                )
            else:
                lines.append(f"no drift: the fake answered all {self.exchanges} exchange(s) as recorded")
            return "\n".join(lines)
        width = max(len("kind"), *(len(k) for k in grouped))
        lines.append("")
        lines.append(f"{'kind':<{width}}  {'count':>5}  catalog  example")
        for kind, found in grouped.items():
            explained = sum(d.catalog for d in found)
            mark = "yes" if explained == len(found) else "no" if not explained else f"{explained}/{len(found)}"
            lines.append(f"{kind:<{width}}  {len(found):>5}  {mark:<7}  {found[0]}")
            lines.append(f"{'':<{width}}  what to do: {KINDS[kind].remedy}")
        explainable = sum(d.catalog for d in self.differences)
        lines.append("")
        summary = f"{len(self.differences)} difference(s) of {len(grouped)} kind(s)"
        if explainable:
            summary += f"; a catalog explains {explainable} (--suggest-catalog FILE writes it)"
        lines.append(summary + ". What a kind means, and what to do: edenfake drift --explain KIND")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "cassette": self.cassette,
            "exchanges": self.exchanges,
            "compared": self.compared,
            "catalog": self.catalog,
            "drift": self.drifted,
            "kinds": {
                kind: {
                    "count": len(found),
                    "catalog": sum(d.catalog for d in found),
                    "meaning": KINDS[kind].summary,
                    "remedy": KINDS[kind].remedy,
                    "example": str(found[0]),
                }
                for kind, found in self.by_kind().items()
            },
            "differences": [
                {**{k: v for k, v in asdict(d).items() if k != "subject"}, "remedy": d.remedy} for d in self.differences
            ],
            "notes": self.notes,
        }

    def json_text(self) -> str:
        """:meth:`as_json` as strict JSON text (no NaN: a report holds only strings, integers and booleans)."""
        return json.dumps(self.as_json(), indent=2, ensure_ascii=False, allow_nan=False)
