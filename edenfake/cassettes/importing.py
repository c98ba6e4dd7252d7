"""``edenfake import``: HAR logs and vcrpy cassettes made into one edenfake cassette.

Each source's format is found from its content, never its name: a JSON object with ``log`` is a HAR log
(:mod:`edenfake.cassettes.har`), one with ``interactions`` a vcrpy JSON cassette, anything else is read as a
vcrpy YAML cassette (:mod:`edenfake.cassettes.vcr`). A source that is none of these, or that cannot be read
whole, stops the import (:class:`~edenfake.cassettes.har.SourceError`, one line) before anything is written.

An exchange is imported when its path is a /v3 route of the fake's contract and its method one the route takes,
whatever the host (a recording made against a stand-in on 127.0.0.1 counts; replay ignores hosts too). It
goes through what ``edenfake record`` does with an upstream's answer: ``describe_request``, ``describe_response``
and the cassette :class:`~edenfake.cassettes.writing.Writer` (scrubbing, the format check), so an imported
cassette is a recorded one. An answer's image URL is kept as a file when the source also holds the image's
download (a GET of that very URL answered 200). Every other exchange is skipped and counted by reason; the
cassette is written beside its place and moved into it once whole.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edenfake._multipart import MULTIPART, parse_multipart
from edenfake._redact import one_line
from edenfake._routing import route_table
from edenfake._wire import FakeRequest
from edenfake.cassettes.format import MAX_FILE_BYTES, CassetteError
from edenfake.cassettes.har import (
    MAX_ENTRIES,
    Exchange,
    SourceError,
    first_byte,
    looks_like_har,
    read_bounded_file,
    read_har,
)
from edenfake.cassettes.matching import describe_request
from edenfake.cassettes.vcr import load_yaml, read_vcr
from edenfake.cassettes.writing import Fetch, StagedCassette, TooLarge, describe_response
from edenfake.errors import ApiError

__all__ = ["Summary", "import_sources", "read_source"]

NOT_EDEN = "not an Eden route"
#: an image of an answer as a journal summarises it (its digest and size), where a recording has its bytes
_SUMMARY = re.compile(rb'"b64_json"\s*:\s*\{')


@dataclass
class Summary:
    """What an import did: exchanges imported, images kept, and what was skipped, by reason."""

    out: Path
    imported: int = 0
    images: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        skipped = sum(self.skipped.values())
        reasons = ", ".join(f"{n} {one_line(reason, 160)}" for reason, n in self.skipped.most_common(8))
        more = ", ..." if len(self.skipped) > 8 else ""
        kept = f" ({self.images} image download(s) kept as answer images)" if self.images else ""
        written = f"into {self.out}" if self.imported else f"(nothing written to {self.out})"
        tail = f"; {skipped} skipped: {reasons}{more}" if skipped else "; none skipped"
        return f"edenfake import: {self.imported} exchange(s) imported {written}{kept}{tail}"


def read_source(path: Path) -> list[Exchange]:
    """The exchanges of one source file, whatever its format; SourceError when it cannot be read whole."""
    data = read_bounded_file(path)
    if looks_like_har(data):
        from edenfake._request import parse_json

        try:
            document = parse_json(data)
        except ApiError as exc:
            problem = one_line(exc.detail.removeprefix("Invalid JSON body: "), 200)
            raise SourceError(f"{path}: not a HAR log or a vcrpy cassette: not JSON ({problem}); truncated?") from None
        if isinstance(document, dict) and "interactions" in document and "log" not in document:
            return list(read_vcr(path, document))
        return list(read_har(path, data))
    if not data.strip():
        raise SourceError(f"{path}: empty: not a HAR log or a vcrpy cassette")
    if first_byte(data) == b"[":  # JSON, or YAML's flow list: neither format either way
        raise SourceError(f'{path}: not a HAR log (a JSON object with "log") or a vcrpy cassette ("interactions:")')
    document = load_yaml(path, data)
    if not isinstance(document, dict) or "interactions" not in document:
        raise SourceError(f'{path}: not a HAR log (a JSON object with "log") or a vcrpy cassette ("interactions:")')
    return list(read_vcr(path, document))


def _skipped_reason(exchange: Exchange) -> str | None:
    if not exchange.path.startswith("/v3/"):
        return NOT_EDEN
    route, methods = route_table().find(exchange.method, exchange.path)
    if route is None or route.admin:
        return NOT_EDEN if methods is None else f"{exchange.method} is not a method of {exchange.path}"
    if exchange.lost is not None:
        return exchange.lost
    if not 200 <= exchange.status <= 599:
        return f"status {exchange.status} is not an answer a cassette keeps"
    if exchange.response_body and _SUMMARY.search(exchange.response_body):
        return "its answer's images are summaries, not their bytes (a HAR of an edenfake journal)"
    content_type = next((v for k, v in exchange.request_headers if k == "content-type"), "")
    if content_type.partition(";")[0].strip().lower() == MULTIPART and exchange.request_body:
        try:
            parse_multipart(content_type, exchange.request_body)
        except ApiError as exc:
            return f"its multipart body cannot be read ({one_line(exc.detail, 120)})"
    return None


def _exchanges(sources: Sequence[Path]) -> Iterator[Exchange]:
    count = 0
    for source in sources:
        for exchange in read_source(source):
            count += 1
            if count > MAX_ENTRIES:
                raise SourceError(f"the sources hold more than the {MAX_ENTRIES} exchanges an import takes")
            yield exchange


def import_sources(sources: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str]) -> Summary:
    """Import ``sources`` into a new cassette at ``out``; SourceError (nothing written) when a source cannot be
    read, or ``out`` is already something other than an empty directory."""
    target = Path(out)
    if target.is_symlink() or (target.exists() and (not target.is_dir() or any(target.iterdir()))):
        raise SourceError(f"--out {target}: already exists and is not an empty directory; name a new one")
    exchanges = list(_exchanges([Path(s) for s in sources]))
    summary = Summary(target)
    downloads = {
        e.url: e.response_body
        for e in exchanges
        if e.method == "GET" and e.status == 200 and e.response_body and e.lost is None
    }
    used: set[str] = set()

    def fetch(url: str, limit: int) -> bytes | str:
        data = downloads.get(url)
        if data is None:
            return "the recording does not hold its download"
        if len(data) > limit:
            raise TooLarge(f"the images of the answer are larger than {limit} bytes")
        used.add(url)
        return data

    not_eden: list[Exchange] = []
    if target.exists():
        target.rmdir()  # an empty directory: the staged cassette takes its place
    staged = StagedCassette(target)
    try:
        for exchange in exchanges:
            reason = _skipped_reason(exchange)
            if reason == NOT_EDEN:
                not_eden.append(exchange)
                continue
            if reason is not None:
                summary.skipped[reason] += 1
                continue
            if _import_one(exchange, staged, fetch, summary):
                summary.imported += 1
        for exchange in not_eden:
            if exchange.url in used and exchange.method == "GET":
                summary.images += 1
            else:
                summary.skipped[NOT_EDEN] += 1
        if summary.imported:
            staged.commit()
        else:
            staged.discard()
    except BaseException:
        staged.discard()
        raise
    return summary


def _import_one(exchange: Exchange, staged: StagedCassette, fetch: Fetch, summary: Summary) -> bool:
    request = FakeRequest(
        exchange.method, exchange.path, exchange.request_headers, exchange.request_body, query=exchange.query
    )
    described = describe_request(request)
    try:
        kept = describe_response(
            exchange.status,
            exchange.response_headers,
            exchange.response_body or b"",
            fetch,
            budget=MAX_FILE_BYTES,
        )
        recorded_at = exchange.started if exchange.started and len(exchange.started) <= 64 else None
        staged.writer.append(described, kept, duration_ms=exchange.duration_ms, recorded_at=recorded_at)
    except TooLarge as exc:
        summary.skipped[one_line(str(exc), 160)] += 1
        return False
    except (ValueError, CassetteError) as exc:
        summary.skipped[f"it cannot be kept safely ({one_line(str(exc), 160)})"] += 1
        return False
    return True
