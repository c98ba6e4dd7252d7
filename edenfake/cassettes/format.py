"""The cassette on disk, read and checked once, so that everything after loading can trust it.

    DIR/exchanges.jsonl        one exchange a line (contracts/cassette.schema.json states its shape)
    DIR/files/<sha256>.<ext>   every image: each b64_json and url image of an answer, each uploaded input; once

:meth:`Cassette.load` refuses, with one line naming the file, the line and what is wrong (CassetteError), a
cassette any part of which could not be replayed as it is: a line that is not strict JSON (no NaN, no number
that overflows, no nesting past 64 levels), an exchange that breaks the schema (types, statuses 200-599,
allowlisted header names, Latin-1 header values without CR or LF), and a file it names that is not a regular
file directly inside ``files/`` (no symlink, no FIFO, ``files/`` itself no symlink), is larger than
MAX_FILE_BYTES, or whose bytes do not hash to its name. :meth:`Cassette.read` checks a file's bytes again each
time it reads them: a file changed since loading is a CassetteError, never served.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edenfake import _media, contracts
from edenfake._files import open_regular
from edenfake._redact import one_line
from edenfake._request import parse_json
from edenfake._schemas import load_file
from edenfake.errors import ApiError, EdenfakeError

__all__ = [
    "EXCHANGES",
    "FILES",
    "FORMATS",
    "MAX_FILE_BYTES",
    "MAX_LINE_BYTES",
    "MAX_LINES",
    "REQUEST_HEADERS",
    "RESPONSE_HEADERS",
    "Cassette",
    "CassetteError",
    "Recorded",
    "answer_files",
    "check_entry",
    "file_name",
    "header_problem",
    "media_type",
    "one_line",
    "open_regular",
    "parse_line",
    "restore_body",
    "restored_images",
]

EXCHANGES = "exchanges.jsonl"
FILES = "files"
#: a file of ``files/`` larger than this is refused (read and written)
MAX_FILE_BYTES = 128 * 1024 * 1024
#: a line of exchanges.jsonl longer than this is refused
MAX_LINE_BYTES = 256 * 1024 * 1024
#: a cassette holds at most this many exchanges
MAX_LINES = 100_000

_SCHEMA = load_file("cassette.schema.json")
#: the request headers a cassette keeps (never Authorization, cookies or anything else a client may add)
REQUEST_HEADERS: tuple[str, ...] = tuple(_SCHEMA["$defs"]["Request"]["properties"]["headers"]["properties"])
#: the answer headers a cassette keeps: what a client reads of an answer
RESPONSE_HEADERS: tuple[str, ...] = tuple(_SCHEMA["$defs"]["Response"]["properties"]["headers"]["properties"])
_FILE_NAME = re.compile(_SCHEMA["$defs"]["FileName"]["pattern"])
_HEADER_VALUE = re.compile(_SCHEMA["$defs"]["HeaderValue"]["pattern"])
_HEADER_VALUE_MAX: int = _SCHEMA["$defs"]["HeaderValue"]["maxLength"]
#: a header name (RFC 9110's token), in lower case as ASGI servers and httpx give it
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9a-z-]{1,200}$")
#: how an upstream may have written its JSON (the schema's ``format``): tried in order until one gives back its
#: exact bytes
FORMATS: dict[str, dict[str, Any]] = {
    "compact": {"separators": (",", ":"), "ensure_ascii": False},  # FastAPI's and Starlette's JSONResponse
    "compact-ascii": {"separators": (",", ":"), "ensure_ascii": True},
    "spaced-ascii": {},  # Python's json.dumps defaults
    "spaced": {"ensure_ascii": False},
}
#: an image string of a ``text`` template: kind, "/" when the upstream escaped slashes, file name
MARKER = re.compile(r"\x00(b64|url)(/?):([^\x00]*)\x00")


class CassetteError(EdenfakeError, ValueError):
    """A cassette that cannot be read: a missing or unsafe file, a line that is not an exchange."""


def file_name(data: bytes | memoryview) -> str:
    """``<sha256>.<ext>``: the name a file has in ``files/`` (its extension sniffed from its first bytes)."""
    kind = _media.sniff(data)
    return f"{hashlib.sha256(data).hexdigest()}.{kind.extension if kind is not None else 'bin'}"


def media_type(name: str) -> str:
    return _media.media_type_of(name)


def header_problem(name: str, value: str) -> str | None:
    """Why the header ``name: value`` cannot be sent on (or kept), or None: the schema's rule for a value."""
    if not _HEADER_NAME.match(name):
        return "its name is not a lower-case header name"
    if len(value) > _HEADER_VALUE_MAX or not _HEADER_VALUE.match(value):
        return f"its value is not Latin-1 text of at most {_HEADER_VALUE_MAX} characters without CR, LF or NUL"
    return None


# -- one line ---------------------------------------------------------------------------------------------------


def parse_line(line: bytes, where: str) -> Any:
    """One line as strict JSON (the parser every request body goes through), or CassetteError."""
    try:
        return parse_json(line)
    except ApiError as exc:
        problem = one_line(exc.detail.removeprefix("Invalid JSON body: "))
        raise CassetteError(f"{where}: not JSON ({problem})") from None


def check_entry(entry: Any, where: str) -> set[str]:
    """An exchange checked against the schema and for the file references the schema cannot see; the names of
    the files it refers to. CassetteError naming the field and the rule."""
    found = contracts.violations("cassette", entry)
    if found:
        # what is missing or of the wrong type first: the extra fields of a broken entry say least
        first = min(found, key=lambda v: (v.type not in ("missing",) and not v.type.endswith("_type"), v.loc))
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise CassetteError(f"{where}: {one_line(first.json_path)}: {one_line(first.msg)}{more}")
    request, response = entry["request"], entry["response"]
    response["status"] = int(response["status"])  # JSON Schema's integer: a status of 200.0 is 200
    names = {f["file"] for f in request.get("files", ())}
    for index, upload in enumerate(request.get("files", ())):
        if not upload["file"].startswith(upload["sha256"]):
            raise CassetteError(f"{where}: $.request.files[{index}]: 'file' does not start with its 'sha256'")
    if "json" in request:
        for path, ref in _input_refs(request["json"], "$.request.json"):
            if set(ref) != {"$file", "data_url"} or not isinstance(ref["data_url"], str):
                raise CassetteError(f'{where}: {one_line(path)}: a reference is {{"$file": NAME, "data_url": ...}}')
            names.add(_name(ref["$file"], where, path))
    for index, key, ref in _answer_refs(response.get("json")):
        path = f"$.response.json.data[{index}].{key}"
        wanted = {"$file"} if key == "b64_json" else {"$file", "url"}
        if set(ref) != wanted or not isinstance(ref.get("url", ""), str):
            shown = '{"$file": NAME}' if key == "b64_json" else '{"$file": NAME, "url": URL}'
            raise CassetteError(f"{where}: {path}: a reference is {shown}")
        names.add(_name(ref["$file"], where, path))
    text = response.get("text")
    if isinstance(text, str) and "json" in response:
        for match in MARKER.finditer(text):
            names.add(_name(match.group(3), where, "$.response.text"))
    return names


def _name(value: Any, where: str, path: str) -> str:
    if not isinstance(value, str) or not _FILE_NAME.match(value):
        shown = one_line(repr(value), 80)
        raise CassetteError(f"{where}: {one_line(path)}: {shown} is not a cassette file name (<sha256>.<ext>)")
    return value


def _input_refs(value: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    # a request's data: URL images, wherever they were (depth is bounded by the parser)
    if isinstance(value, dict):
        if "$file" in value:
            yield path, value
            return
        for key, item in value.items():
            yield from _input_refs(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _input_refs(item, f"{path}[{index}]")


def _answer_refs(value: Any) -> Iterator[tuple[int, str, dict[str, Any]]]:
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        for index, item in enumerate(value["data"]):
            if isinstance(item, dict):
                for key in ("b64_json", "url"):
                    ref = item.get(key)
                    if isinstance(ref, dict):
                        yield index, key, ref


def answer_files(record: dict[str, Any]) -> list[tuple[int, str, str]]:
    """The images of a recorded answer: (item index, "b64_json" or "url", file name)."""
    return [(index, key, ref["$file"]) for index, key, ref in _answer_refs(record.get("json"))]


# -- the cassette ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """One recorded exchange: its line number (from 1), request and answer as the cassette keeps them."""

    number: int
    request: dict[str, Any]
    response: dict[str, Any]
    duration_ms: float | None
    recorded_at: str | None

    @property
    def model(self) -> str | None:
        fields = self.request.get("json") if "json" in self.request else self.request.get("form")
        model = fields.get("model") if isinstance(fields, dict) else None
        return model if isinstance(model, str) else None

    def describe(self) -> str:
        model = f" {one_line(self.model, 80)}" if self.model else ""
        return f"#{self.number} {one_line(self.request['method'], 20)} {one_line(self.request['path'], 120)}{model}"


class Cassette:
    """A cassette directory, read and checked once (see the module's docstring for what is checked)."""

    def __init__(self, path: Path, exchanges: list[Recorded], files: set[str] | None = None) -> None:
        self.path = path
        self.exchanges = exchanges
        #: the files the exchanges name, each checked against its name
        self.files = files if files is not None else set()

    def __len__(self) -> int:
        return len(self.exchanges)

    def __repr__(self) -> str:
        return f"<Cassette {str(self.path)!r}: {len(self)} exchange(s)>"

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Cassette:
        """Read the cassette at ``path``; CassetteError naming the file and line when it cannot be replayed."""
        root = Path(path)
        lines_file = root / EXCHANGES
        if not root.is_dir():
            raise CassetteError(f"no cassette at {root}: not a directory (record one with `edenfake record`)")
        try:
            f = open_regular(lines_file)
        except OSError as exc:
            raise CassetteError(f"cannot read {lines_file}: {one_line(exc.strerror or str(exc))}") from None
        exchanges: list[Recorded] = []
        files: set[str] = set()
        with f:
            for number, line in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), 1):
                where = f"{lines_file} line {number}"
                if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                    raise CassetteError(f"{where}: longer than {MAX_LINE_BYTES} bytes")
                if not line.strip():
                    continue
                if len(exchanges) == MAX_LINES:
                    raise CassetteError(f"{lines_file}: more than {MAX_LINES} exchanges")
                entry = parse_line(line, where)
                for name in sorted(check_entry(entry, where) - files):
                    _verify(root, name, where)
                    files.add(name)
                duration = entry.get("duration_ms")
                exchanges.append(
                    Recorded(
                        len(exchanges) + 1,
                        entry["request"],
                        entry["response"],
                        float(duration) if duration is not None else None,
                        entry.get("recorded_at"),
                    )
                )
        return cls(root, exchanges, files)

    def read(self, name: str) -> bytes:
        """The bytes of ``files/<name>``, checked again against their name; CassetteError naming the file when
        it is gone, is no longer a regular file, or its bytes no longer hash to its name."""
        if name not in self.files:
            raise CassetteError(f"{one_line(repr(name), 80)} is not a file of the cassette {self.path}")
        return _verify(self.path, name, "")


def _verify(root: Path, name: str, where: str) -> bytes:
    """The bytes of ``root/files/name`` when it is a regular file directly inside ``files/`` (itself no
    symlink), at most MAX_FILE_BYTES, whose sha256 is its name."""
    folder = root / FILES
    prefix = f"{where}: " if where else ""
    target = f"{FILES}/{name}"
    if folder.is_symlink() or not folder.is_dir():
        raise CassetteError(f"{prefix}refers to {target}, but {folder} is not a directory (or is a symlink)")
    try:
        with open_regular(folder / name) as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise CassetteError(f"{prefix}{target} holds {size} bytes, more than {MAX_FILE_BYTES}")
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise CassetteError(f"{prefix}refers to {target}, which is missing") from None
    except OSError as exc:
        problem = "a symlink" if (folder / name).is_symlink() else one_line(exc.strerror or str(exc))
        raise CassetteError(f"{prefix}refers to {target}, which is {problem}: only regular files are read") from None
    if len(data) > MAX_FILE_BYTES or hashlib.sha256(data).hexdigest() != name.partition(".")[0]:
        changed = "" if where else " (it changed since the cassette was loaded)"
        raise CassetteError(f"{prefix}the bytes of {folder / name} do not hash to its name{changed}")
    return data


# -- answers read back -------------------------------------------------------------------------------------------


def restore_body(record: dict[str, Any], read: Callable[[str], bytes], url_for: Callable[[str], str]) -> bytes:
    """The answer's bytes: the upstream's own, images read back with ``read(name)``, URL images pointing at
    ``url_for(name)``."""
    if "text" in record:
        text: str = record["text"]
        if "json" not in record:
            return text.encode("utf-8", "surrogatepass")
        return MARKER.sub(lambda m: _unmark(m, read, url_for), text).encode("utf-8", "surrogatepass")
    if "body_b64" in record:
        return base64.b64decode(record["body_b64"])
    if "json" not in record:
        return b""
    value = restored_images(
        record["json"], lambda name: base64.b64encode(read(name)).decode("ascii"), lambda ref: url_for(ref["$file"])
    )
    style = FORMATS[record.get("format", "compact")]
    return json.dumps(value, allow_nan=False, **style).encode("utf-8", "surrogatepass")


def _unmark(match: re.Match[str], read: Callable[[str], bytes], url_for: Callable[[str], str]) -> str:
    kind, escaped, name = match.groups()
    value = base64.b64encode(read(name)).decode("ascii") if kind == "b64" else url_for(name)
    written = json.dumps(value)
    return written.replace("/", "\\/") if escaped else written


def restored_images(value: Any, b64_for: Callable[[str], Any], url_for: Callable[[dict[str, Any]], Any]) -> Any:
    """A recorded answer's JSON with each ``{"$file": ...}`` image replaced: ``b64_json`` by ``b64_for(file)``,
    ``url`` by ``url_for(reference)``."""
    if not (isinstance(value, dict) and isinstance(value.get("data"), list)):
        return value
    items = []
    for item in value["data"]:
        if isinstance(item, dict):
            item = dict(item)
            b64 = item.get("b64_json")
            if isinstance(b64, dict) and "$file" in b64:
                item["b64_json"] = b64_for(b64["$file"])
            url = item.get("url")
            if isinstance(url, dict) and "$file" in url:
                item["url"] = url_for(url)
        items.append(item)
    return {**value, "data": items}
