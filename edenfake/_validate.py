"""``edenfake validate``: JSON documents (or JSON Lines of captured exchanges) checked against the contract.

A file is read whole, up to :data:`MAX_BYTES`, and each document parsed as the fake parses a request body
(strict JSON, at most ``MAX_DEPTH`` levels deep). An exchange's shape (``method``, ``path``, ``status``) is
checked before it is judged. Whatever a file holds, each line printed is one bounded line: ``FILE[:LINE]: ok``
or a violation on stdout, ``FILE[:LINE]: cannot read: ...`` on stderr. Exit 0 when every document conforms,
1 when any violates, 2 when any cannot be read (or is not the shape its kind needs).

A cassette (a directory holding ``exchanges.jsonl``, or that file named itself) is checked as ``edenfake
drift`` and replay load it (:mod:`edenfake.cassettes.format`: every line strict JSON and an exchange
``contracts/cassette.schema.json`` takes, every file it names a regular file of ``files/`` whose bytes hash
to its name), but every problem is reported, one line each as ``DIR/exchanges.jsonl:LINE: ...``, not the
first alone: exit 1 when there is one, 0 when there is none, 2 when ``exchanges.jsonl`` cannot be read.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from edenfake import contracts
from edenfake._files import read_regular
from edenfake._redact import one_line
from edenfake._request import parse_json
from edenfake.cassettes import format as cassette_format
from edenfake.cassettes.format import EXCHANGES, MAX_LINE_BYTES, MAX_LINES, CassetteError, open_regular
from edenfake.errors import ApiError

__all__ = ["MAX_BYTES", "cassette_problems", "check", "documents", "guess", "read_limited", "run"]

#: the largest file (or standard input) validate reads
MAX_BYTES = 64 * 1024 * 1024
#: the longest line validate prints, in characters
LINE_CHARS = 500
#: violations printed per document; the rest are counted
PROBLEMS_SHOWN = 100
_CONTRACTS = {"request": "generation-request", "edit-request": "edit-request", "response": "image-response"}
_AT_LINE = re.compile(r"line (\d+) column")


class Unreadable(ValueError):
    """A document that cannot be judged: not JSON, too deep, or not the shape its kind needs."""


def read_limited(name: str, limit: int = MAX_BYTES) -> bytes:
    """The bytes of file ``name`` ('-': standard input); OSError when it cannot be read, ValueError when it
    holds more than ``limit`` bytes."""
    if name == "-":
        stream = getattr(sys.stdin, "buffer", None)
        data = stream.read(limit + 1) if stream is not None else sys.stdin.read(limit + 1).encode()
        if len(data) > limit:
            raise ValueError(f"larger than {limit // (1024 * 1024)} MiB, the most edenfake reads")
        return data
    return read_regular(name, limit)  # a FIFO or a device is refused, never waited on


def _parsed(data: bytes) -> Any:
    try:
        return parse_json(data)
    except ApiError as exc:
        raise Unreadable(exc.detail.removeprefix("Invalid JSON body: ")) from None


def documents(data: bytes) -> list[tuple[int | None, Any]]:
    """One JSON document (line None), or JSON Lines (blank lines skipped): (line, document) pairs, where a
    document that cannot be read is an :class:`Unreadable`. Lines are JSON Lines when the first one is a
    document by itself; otherwise the file is one document, and where it breaks is its line."""
    if not data.strip():
        return [(None, Unreadable("no JSON document: the file is empty"))]
    try:
        return [(None, _parsed(data))]
    except Unreadable as whole:
        problem = whole
    found: list[tuple[int | None, Any]] = []
    for number, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            found.append((number, _parsed(line)))
        except Unreadable as exc:
            if not found:  # not JSON Lines: the whole document is what broke
                at = _AT_LINE.search(str(problem))
                return [(int(at.group(1)) if at else 1, problem)]
            found.append((number, exc))
    return found


def guess(document: object) -> str:
    """The kind of a document, from its fields."""
    if isinstance(document, dict):
        if {"method", "path", "status"} <= document.keys():
            return "exchange"
        if "data" in document:
            return "response"
        if "detail" in document:
            return "error"
        if "images" in document:
            return "edit-request"
    return "request"


def _got(value: Any) -> str:
    if isinstance(value, str):
        return repr(one_line(value, 40))
    if isinstance(value, (list, dict)):
        return "an array" if isinstance(value, list) else "an object"
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else one_line(str(value), 40)


def _exchange(document: Any) -> tuple[str, str, int, str]:
    """An exchange's method, path, status and media type; Unreadable naming the field and the rule."""
    if not isinstance(document, dict):
        raise Unreadable(f"an exchange is a JSON object {{method, path, status, body}}, got {_got(document)}")
    missing = [k for k in ("method", "path", "status") if k not in document]
    if missing:
        raise Unreadable(f"an exchange needs method, path and status (and body); missing: {', '.join(missing)}")
    method, path, status = document["method"], document["path"], document["status"]
    media = document.get("media_type", "application/json")
    if not isinstance(method, str) or not method:
        raise Unreadable(f"an exchange's 'method' must be an HTTP method name (a string), got {_got(method)}")
    if not isinstance(path, str) or not path.startswith("/"):
        raise Unreadable(f"an exchange's 'path' must be a string starting with /, got {_got(path)}")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise Unreadable(f"an exchange's 'status' must be an integer from 100 to 599, got {_got(status)}")
    if not isinstance(media, str):
        raise Unreadable(f"an exchange's 'media_type' must be a string, got {_got(media)}")
    return method, path, status, media


def check(kind: str, document: Any, status: int | None) -> list[contracts.Violation]:
    """What ``document``, read as ``kind``, breaks; Unreadable when it is not the shape its kind needs (an
    exchange) or ``status`` names no error body."""
    if kind == "exchange":
        method, path, answered, media = _exchange(document)
        return contracts.exchange_violations(method, path, answered, document.get("body"), media_type=media)
    if kind == "error":
        try:
            return contracts.error_violations(document, status=status)
        except KeyError as exc:
            raise Unreadable(exc.args[0]) from None
    return contracts.violations(_CONTRACTS[kind], document)


def _cassette_root(name: str) -> Path | None:
    """The cassette directory ``name`` means (a directory holding exchanges.jsonl, or that file), or None."""
    if name == "-":
        return None
    path = Path(name)
    try:
        if path.is_dir():
            lines = path / EXCHANGES
            return path if lines.exists() or lines.is_symlink() else None
        if path.name == EXCHANGES:
            return path.parent
    except OSError:  # a path the system cannot follow (a loop, too long): read as a file, which says why not
        return None
    return None


def _is_dir(name: str) -> bool:
    try:
        return Path(name).is_dir()
    except OSError:
        return False


def cassette_problems(root: Path) -> tuple[int, int, list[str]]:
    """Every problem of the cassette at ``root``, one line each, as loading it finds them (but all of them):
    (exchanges, files, problems). OSError when exchanges.jsonl cannot be read."""
    lines_file = root / EXCHANGES
    problems: list[str] = []
    verified: set[str] = set()  # the files found sound
    count = 0
    with open_regular(lines_file) as f:
        for number, line in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), 1):
            where = f"{lines_file}:{number}"
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                problems.append(f"{where}: longer than {MAX_LINE_BYTES} bytes")
                break  # the rest of this line would read as more lines
            if not line.strip():
                continue
            count += 1
            if count > MAX_LINES:
                problems.append(f"{lines_file}: more than {MAX_LINES} exchanges")
                break
            problems.extend(_line_problems(root, line, where, verified))
            if len(problems) > PROBLEMS_SHOWN:
                break
    return count, len(verified), problems


def _line_problems(root: Path, line: bytes, where: str, verified: set[str]) -> list[str]:
    try:
        entry = cassette_format.parse_line(line, where)
    except CassetteError as exc:
        return [str(exc)]
    found = contracts.violations("cassette", entry)
    if found:
        return [f"{where}: {_shown(v)}" for v in found[:PROBLEMS_SHOWN]]
    try:
        names = cassette_format.check_entry(entry, where)
    except CassetteError as exc:
        return [str(exc)]
    problems = []
    for name in sorted(names - verified):
        try:
            cassette_format._verify(root, name, where)  # the loader's own check of a file
            verified.add(name)
        except CassetteError as exc:
            problems.append(str(exc))
    return problems


def _shown(violation: contracts.Violation) -> str:
    return f"{one_line(violation.json_path, 200)}: {one_line(violation.msg, 250)} [{one_line(violation.type, 40)}]"


def run(args: argparse.Namespace) -> int:
    """``edenfake validate FILE...``: 0 when every document conforms, 1 when any violates, 2 when any cannot
    be read."""
    worst = 0

    def say(line: str, *, error: bool = False) -> None:
        print(one_line(line, LINE_CHARS), file=sys.stderr if error else sys.stdout)

    for name in args.files:
        root = _cassette_root(name) if args.kind == "auto" else None
        if root is None and name != "-" and _is_dir(name):
            say(f"{name}: cannot read: a directory, and not a cassette (it holds no {EXCHANGES})", error=True)
            worst = 2
            continue
        if root is not None:
            try:
                exchanges, files, trouble = cassette_problems(root)
            except OSError as exc:
                say(f"{root / EXCHANGES}: cannot read: {exc.strerror or exc}", error=True)
                worst = 2
                continue
            for text in trouble[:PROBLEMS_SHOWN]:
                say(text)
            if len(trouble) > PROBLEMS_SHOWN:
                say(f"{root}: more problems, not shown")
            if trouble:
                worst = max(worst, 1)
            else:
                say(f"{root}: ok (cassette: {exchanges} exchange(s), {files} file(s))")
            continue
        try:
            found = documents(read_limited(name))
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            say(f"{name}: cannot read: {reason}", error=True)
            worst = 2
            continue
        for line, document in found:
            where = f"{name}:{line}" if line is not None else name
            if isinstance(document, Unreadable):
                say(f"{where}: cannot read: {document}", error=True)
                worst = 2
                continue
            kind = args.kind if args.kind != "auto" else guess(document)
            try:
                problems = check(kind, document, args.status)
            except Unreadable as exc:
                say(f"{where}: {exc}", error=True)
                worst = 2
                continue
            if not problems:
                say(f"{where}: ok ({kind})")
                continue
            worst = max(worst, 1)
            for problem in problems[:PROBLEMS_SHOWN]:
                say(f"{where}: {_shown(problem)}")
            if len(problems) > PROBLEMS_SHOWN:
                say(f"{where}: and {len(problems) - PROBLEMS_SHOWN} more violation(s), not shown")
    return worst
