"""Answers as a cassette keeps them, and the writers that add exchanges to a cassette directory.

An answer keeps its status, allowlisted headers (a value that is not Latin-1, or holds CR or LF, is dropped with
a note), ``json`` (images as ``{"$file": NAME}``, URL images as ``{"$file": NAME, "url": URL without its
query}``, every other URL without its query either) and how the upstream wrote it (``format``, or a ``text``
template), so that a replay sends the same bytes back. A JSON answer that is not UTF-8 is kept as its JSON and
replayed as compact UTF-8 JSON. An exchange is scrubbed of every secret in every spelling before it is written,
checked again for any spelling left, and checked against the format as loading checks it: a line is written
only if the cassette will load.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets as _secrets
import shutil
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edenfake._redact import one_line
from edenfake._request import is_json_media, parse_json
from edenfake.cassettes.format import (
    EXCHANGES,
    FILES,
    FORMATS,
    MAX_FILE_BYTES,
    RESPONSE_HEADERS,
    Cassette,
    CassetteError,
    check_entry,
    file_name,
    header_problem,
    open_regular,
    parse_line,
)
from edenfake.cassettes.matching import Described, add_named_secrets
from edenfake.cassettes.scrub import leaked, scrubbed, secret_pattern, strip_url, strip_urls
from edenfake.errors import ApiError, EdenfakeError

__all__ = ["MAX_FETCHES", "MAX_NOTES", "StagedCassette", "TooLarge", "Writer", "describe_response"]

#: at most this many image URLs of one answer are fetched (the API's n is at most 10); the others are noted
MAX_FETCHES = 16
#: at most this many notes an exchange (the last says how many more there were)
MAX_NOTES = 32

#: fetch(url, limit): the image's bytes, or why they could not be had; TooLarge past ``limit`` bytes
Fetch = Callable[[str, int], "bytes | str"]


class TooLarge(EdenfakeError):
    """An upstream's answer, or an image it points at, larger than the recorder takes: nothing is recorded."""


def describe_response(
    status: int,
    headers: list[tuple[str, str]] | dict[str, str],
    body: bytes,
    fetch: Fetch,
    *,
    budget: int = MAX_FILE_BYTES,
) -> Described:
    """An upstream's answer as a cassette keeps it. ``fetch`` gets an image URL's bytes; all the images of the
    answer together may take ``budget`` bytes (TooLarge beyond)."""
    pairs = list(headers.items()) if isinstance(headers, dict) else headers
    out = Described({"status": status, "headers": {}})
    kept: dict[str, str] = out.record["headers"]
    for name, value in pairs:
        name = name.lower()
        if name in RESPONSE_HEADERS and name not in kept:
            problem = header_problem(name, value)
            if problem is None:
                kept[name] = value
            else:
                note(out, f"header {name} dropped: {problem}")
    media = kept.get("content-type", "").partition(";")[0].strip().lower()
    original: Any = None
    if body and (is_json_media(media) or not media):
        try:
            original = parse_json(body)
        except ApiError:
            original = None
    if original is None:
        if body:
            try:
                out.record["text"] = strip_urls(body.decode("utf-8"), out.secrets)
            except UnicodeDecodeError:
                out.record["body_b64"] = base64.b64encode(body).decode("ascii")
        return out
    add_named_secrets(original, out.secrets)  # an answer's token or api_key field: scrubbed wherever it is spelled
    literals: list[tuple[str, str]] = []
    out.record["json"] = _kept_answer(original, out, fetch, literals, budget)
    style = next((n for n, p in FORMATS.items() if _dumps(original, p) == body), None)
    if style is not None:
        out.record["format"] = style
        return out
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        note(out, "the answer is JSON but not UTF-8: it is replayed as compact UTF-8 JSON")
        out.record["format"] = "compact"
        return out
    out.record["text"] = _template(text, literals)
    return out


def note(out: Described, text: str) -> None:
    """Add a note (one line, bounded) to what could not be kept as it came."""
    if len(out.notes) < MAX_NOTES:
        out.notes.append(one_line(text, 500))


def _dumps(value: Any, style: dict[str, Any]) -> bytes:
    return json.dumps(value, **style).encode("utf-8", "surrogatepass")


def _stripped(value: Any, secrets: set[str]) -> Any:
    # every URL of an answer loses its query string and user info, wherever it is
    if isinstance(value, str):
        return strip_urls(value, secrets)
    if isinstance(value, list):
        return [_stripped(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _stripped(v, secrets) for k, v in value.items()}
    return value


def _kept_answer(original: Any, out: Described, fetch: Fetch, literals: list[tuple[str, str]], budget: int) -> Any:
    if not (isinstance(original, dict) and isinstance(original.get("data"), list)):
        return _stripped(original, out.secrets)
    items: list[Any] = []
    fetched = skipped = 0
    for index, item in enumerate(original["data"]):
        if not isinstance(item, dict):
            items.append(_stripped(item, out.secrets))
            continue
        kept: dict[str, Any] = {}
        for key, value in item.items():
            if key == "b64_json" and isinstance(value, str) and value:
                try:
                    data = base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    kept[key] = value
                    continue
                name = file_name(data)
                out.files[name] = data
                kept[key] = {"$file": name}
                literals.append((value, f"\x00b64:{name}\x00"))
            elif key == "url" and isinstance(value, str) and value:
                stripped = strip_url(value, out.secrets)
                got: bytes | str | None = None
                if fetched < MAX_FETCHES:
                    fetched += 1
                    got = fetch(value, budget)
                else:
                    skipped += 1
                if got is None or isinstance(got, str):
                    if got is not None:
                        note(out, f"data[{index}].url: the image was not kept ({got})")
                    kept[key] = stripped
                    literals.append((value, json.dumps(stripped)))
                else:
                    budget -= len(got)
                    name = file_name(got)
                    out.files[name] = got
                    kept[key] = {"$file": name, "url": stripped}
                    literals.append((value, f"\x00url:{name}\x00"))
            else:
                kept[key] = _stripped(value, out.secrets)
        items.append(kept)
    if skipped:
        note(out, f"{skipped} image URL(s) past the first {MAX_FETCHES} of the answer were not fetched")
    return {k: items if k == "data" else _stripped(v, out.secrets) for k, v in original.items()}


def _template(text: str, literals: list[tuple[str, str]]) -> str:
    # The body as the upstream wrote it, each image string replaced by a marker: a NUL never appears raw in
    # JSON text, so a marker cannot be confused with anything an upstream sent. Some servers escape "/" in
    # strings ("\\/"): the marker says so, and the replay writes it back the same way.
    for value, marker in literals:
        for plain in dict.fromkeys((json.dumps(value), json.dumps(value, ensure_ascii=False))):
            if plain in text:
                text = text.replace(plain, marker, 1)
                break
            escaped = plain.replace("/", "\\/")
            if escaped in text:
                if marker.startswith("\x00"):
                    kind, _, name = marker.strip("\x00").partition(":")
                    marker = f"\x00{kind}/:{name}\x00"
                else:
                    marker = marker.replace("/", "\\/")
                text = text.replace(escaped, marker, 1)
                break
    return text


# -- writing ----------------------------------------------------------------------------------------------------


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def exchange_line(request: Described, response: Described, *, duration_ms: float, recorded_at: str) -> str:
    """One exchange as a line of exchanges.jsonl: scrubbed, checked for any secret left and against the format
    (ValueError when it would not load, or still spells a secret: better no line than a leaking one)."""
    entry: dict[str, Any] = {
        "request": request.record,
        "response": response.record,
        "duration_ms": round(max(duration_ms, 0.0), 1),
        "recorded_at": recorded_at,
    }
    if response.notes:
        entry["notes"] = response.notes
    pattern = secret_pattern(request.secrets | response.secrets)
    entry = scrubbed(entry, pattern)
    line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        data = line.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate an upstream escaped: kept escaped
        line = json.dumps(entry, separators=(",", ":"), allow_nan=False)
        data = line.encode("ascii")
    if leaked(line, pattern):
        raise ValueError("a secret of the request is still spelled in the exchange after scrubbing; not recorded")
    check_entry(parse_line(data, "the exchange"), "the exchange")
    return line


class Writer:
    """Adds exchanges to a cassette directory as they complete: each file written once and atomically
    (a temporary name, then a rename), each exchange one line, flushed at once. Thread-safe."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        files = self.directory / FILES
        files.mkdir(parents=True, exist_ok=True)
        if files.is_symlink():
            raise CassetteError(f"{files} is a symlink: a cassette's files live in the cassette")
        self._lock = threading.Lock()
        #: exchanges written by this writer
        self.count = 0
        lines = self.directory / EXCHANGES
        self._total = 0
        if lines.exists() or lines.is_symlink():
            try:
                with open_regular(lines) as f:
                    self._total = sum(1 for line in f if line.strip())
            except OSError as exc:
                raise CassetteError(f"cannot extend {lines}: {one_line(str(exc))}") from None

    def write_file(self, name: str, data: bytes | memoryview) -> None:
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"a file of {len(data)} bytes is more than a cassette keeps ({MAX_FILE_BYTES})")
        target = self.directory / FILES / name
        if target.exists():
            return
        temporary = target.with_name(f".{name}.{_secrets.token_hex(4)}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, target)

    def append(
        self, request: Described, response: Described, *, duration_ms: float, recorded_at: str | None = None
    ) -> int:
        """Write one exchange (its files first, so a line never names a missing file); its number (from 1).
        ValueError (nothing written) when it cannot be kept safely; OSError when the disk refuses."""
        line = exchange_line(request, response, duration_ms=duration_ms, recorded_at=recorded_at or now_iso())
        for name, data in {**request.files, **response.files}.items():
            self.write_file(name, data)
        return self.append_line(line)

    def append_line(self, line: str) -> int:
        with self._lock, open(self.directory / EXCHANGES, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            self.count += 1
            self._total += 1
            return self._total


class StagedCassette:
    """A cassette written beside its place and moved into it by :meth:`commit`, so that whoever reads the
    place (another pytest worker, the next run) finds the old cassette or the new one, never half of one.
    Nothing is left beside the place when it cannot be staged."""

    def __init__(self, target: str | os.PathLike[str], *, keep: Cassette | None = None) -> None:
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.staging = self.target.parent / f".{self.target.name}.recording-{os.getpid()}-{_secrets.token_hex(4)}"
        #: exchanges carried over from the cassette this one extends
        self.kept = 0
        try:
            self.writer = Writer(self.staging)
            if keep is not None:
                self._carry_over(keep)
            else:
                (self.staging / EXCHANGES).touch()
        except BaseException:
            self.discard()
            raise

    def _carry_over(self, keep: Cassette) -> None:
        for name in sorted(keep.files):
            self.writer.write_file(name, keep.read(name))
        with open_regular(keep.path / EXCHANGES) as f:
            lines = [line for line in f if line.strip()]
        if len(lines) != len(keep):
            raise CassetteError(f"{keep.path / EXCHANGES} changed since it was loaded")
        (self.staging / EXCHANGES).write_bytes(b"".join(line.rstrip(b"\r\n") + b"\n" for line in lines))
        self.kept = len(lines)

    def commit(self) -> None:
        """Put the new cassette in place of the old one (renames only)."""
        retired = None
        if self.target.exists():
            retired = self.target.parent / f".{self.target.name}.retired-{os.getpid()}-{_secrets.token_hex(4)}"
            os.rename(self.target, retired)
        os.rename(self.staging, self.target)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
