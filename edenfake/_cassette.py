"""Cassettes: exchanges with the real service, kept as a directory a person can read and diff.

    DIR/exchanges.jsonl        one exchange a line: {"request", "response", "duration_ms", "recorded_at"}
    DIR/files/<sha256>.<ext>   every image: each b64_json and url image of an answer, each uploaded input; once

A request keeps its method, path, allowlisted headers, and its ``json`` or its multipart ``form`` and ``files``
(``{part, filename, content_type, sha256, size, file}``); an answer keeps its status, allowlisted headers,
``json`` (images as ``{"$file": NAME}``, URL images as ``{"$file": NAME, "url": URL without its query}``) and
how the upstream wrote it (``format``, or a ``text`` template), so that a replay sends the same bytes back.

Nothing that authenticates reaches a cassette: headers come from an allowlist, credential ``extra_headers`` are
"***", URLs lose their query string and user info (a signed URL is a credential), and every secret seen in the
request (the bearer token, credential header values, those query strings) is scrubbed from the line wherever an
upstream echoed it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets as _secrets
import shutil
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edenfake import _redact
from edenfake._request import MULTIPART, is_json_media, parse_json, parse_multipart
from edenfake._wire import FakeRequest
from edenfake.errors import ApiError, EdenfakeError

__all__ = [
    "EXCHANGES",
    "REQUEST_HEADERS",
    "RESPONSE_HEADERS",
    "Cassette",
    "CassetteError",
    "Described",
    "Recorded",
    "StagedCassette",
    "Writer",
    "describe_request",
    "describe_response",
    "differences",
    "match_key",
    "rebuild_request",
    "restore_body",
]

EXCHANGES = "exchanges.jsonl"
FILES = "files"
#: the request headers a cassette keeps (never Authorization, cookies or anything else a client may add)
REQUEST_HEADERS = ("content-type", "accept", "user-agent")
#: the answer headers a cassette keeps: what a client reads of an answer
RESPONSE_HEADERS = ("content-type", "retry-after", "retry-after-ms")
#: secrets shorter than this are not scrubbed from lines: replacing "t" everywhere would wreck the JSON
MIN_SECRET = 8
_FILE_NAME = re.compile(r"^[0-9a-f]{64}\.[a-z0-9]{1,5}$")
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF8", "gif"),
    (b"%PDF", "pdf"),
)
_MEDIA = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "gif": "image/gif", "pdf": "application/pdf"}
#: how an upstream may have written its JSON: tried in order until one gives back its exact bytes
_FORMATS: dict[str, dict[str, Any]] = {
    "compact": {"separators": (",", ":"), "ensure_ascii": False},  # FastAPI's and Starlette's JSONResponse
    "compact-ascii": {"separators": (",", ":"), "ensure_ascii": True},
    "spaced-ascii": {},  # Python's json.dumps defaults
    "spaced": {"ensure_ascii": False},
}


class CassetteError(EdenfakeError, ValueError):
    """A cassette that cannot be read: a missing file, a line that is not an exchange."""


def file_name(data: bytes | memoryview) -> str:
    """``<sha256>.<ext>``: the name a file has in ``files/`` (its extension sniffed from its first bytes)."""
    head = bytes(data[:16])
    ext = next((e for magic, e in _MAGIC if head.startswith(magic)), None)
    if ext is None:
        ext = "webp" if head[:4] == b"RIFF" and head[8:12] == b"WEBP" else "bin"
    return f"{hashlib.sha256(data).hexdigest()}.{ext}"


def media_type(name: str) -> str:
    return _MEDIA.get(name.rpartition(".")[2], "application/octet-stream")


@dataclass
class Described:
    """A request or an answer as a cassette keeps it: the JSON ``record``, the ``files`` it refers to (name ->
    bytes) and the ``secrets`` left out of it, to be scrubbed wherever else they turn up."""

    record: dict[str, Any]
    files: dict[str, bytes | memoryview] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    #: what could not be kept as it came (an image URL that could not be fetched)
    notes: list[str] = field(default_factory=list)


# -- requests ---------------------------------------------------------------------------------------------------


def describe_request(request: FakeRequest) -> Described:
    """``request`` as a cassette keeps it (and as replay matches it)."""
    out = Described({"method": request.method, "path": request.path})
    headers: dict[str, str] = {}
    for name, value in request.headers:
        if _redact.is_credential_header(name):
            out.secrets.add(value)
            out.secrets.add(value.partition(" ")[2].strip())
        elif name in REQUEST_HEADERS and name not in headers:
            headers[name] = value
    if request.query:
        # never kept (an API key may travel there), but scrubbed if an upstream repeats it
        out.secrets.update(v for _, v in urllib.parse.parse_qsl(request.query))
    content_type = headers.get("content-type")
    media = content_type.partition(";")[0].strip().lower() if content_type is not None else "application/json"
    if media == MULTIPART:
        headers["content-type"] = MULTIPART  # the boundary is chosen afresh by each client: not part of a request
    out.record["headers"] = headers
    body = request.body
    if not body:
        return out
    try:
        if media == MULTIPART:
            _describe_form(out, content_type or "", body)
        elif is_json_media(media):
            out.record["json"] = _kept_json(parse_json(body), out, top=True)
        else:
            raise ValueError(media)
    except (ApiError, ValueError):
        # Not readable as what it says it is: kept as a digest only (it may hold anything, secrets included).
        out.record.pop("form", None)
        out.record.pop("files", None)
        out.record["body"] = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
    return out


def _describe_form(out: Described, content_type: str, body: bytes) -> None:
    form: dict[str, Any] = {}
    files: list[dict[str, Any]] = []
    for part in parse_multipart(content_type, body):
        if part.filename is None and part.name not in ("image", "image[]", "mask", "file"):
            form[part.name] = _kept_form_field(part.name, part.text, out)
            continue
        name = file_name(part.data)
        out.files[name] = part.data
        files.append(
            {
                "part": part.name,
                "filename": part.filename,
                "content_type": part.content_type,
                "sha256": name.partition(".")[0],
                "size": len(part.data),
                "file": name,
            }
        )
    out.record["form"] = form
    out.record["files"] = files


def _kept_form_field(name: str, text: str, out: Described) -> str:
    if name != "extra_headers":
        kept = _kept_string(text, out)
        return kept if isinstance(kept, str) else text
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    _credential_values(value, out)
    return json.dumps(_redact.redact_extra_headers(value), separators=(",", ":"))


def _credential_values(headers: Any, out: Described) -> None:
    # The values redact_extra_headers hides: kept aside, to be scrubbed from anything an upstream echoes.
    if not isinstance(headers, dict):
        out.secrets.update(_strings(headers))
        return
    redacted = _redact.redact_extra_headers(headers)
    for (name, value), (shown_name, shown) in zip(headers.items(), redacted.items(), strict=True):
        if shown == _redact.REDACTED:
            out.secrets.update(_strings(value))
            if shown_name != name:  # a name that is not a header name was hidden too: it may hold a secret
                out.secrets.add(name)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _kept_json(value: Any, out: Described, *, top: bool = False) -> Any:
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        for key, item in value.items():
            if top and key == "extra_headers" and item is not None:
                _credential_values(item, out)
                kept[key] = _redact.redact_extra_headers(item)
            else:
                kept[key] = _kept_json(item, out)
        return kept
    if isinstance(value, list):
        return [_kept_json(v, out) for v in value]
    if isinstance(value, str):
        return _kept_string(value, out)
    return value


def _kept_string(value: str, out: Described) -> Any:
    """A data: URL becomes a file reference; a URL loses its query string and user info."""
    if value.startswith("data:") and ";base64," in value[:200]:
        head, _, payload = value.partition(",")
        try:
            data = base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            return value
        name = file_name(data)
        out.files[name] = data
        return {"$file": name, "data_url": head}
    return strip_url(value, out.secrets)


def strip_url(value: str, secrets: set[str]) -> str:
    """``value`` without its query string, fragment and user info when it is a URL (their parts go to
    ``secrets``); anything else unchanged."""
    if not value.startswith(("http://", "https://")) or any(c.isspace() for c in value):
        return value
    parts = urllib.parse.urlsplit(value)
    if not (parts.query or parts.fragment or "@" in parts.netloc):
        return value
    for text in (parts.query, parts.fragment):
        if text:
            secrets.add(text)
            secrets.update(v for _, v in urllib.parse.parse_qsl(text, keep_blank_values=True))
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        secrets.update(p for p in userinfo.split(":") if p)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def match_key(record: dict[str, Any]) -> str:
    """What replay compares: method, path, the body's fields (images by sha256), never a boundary or a header."""
    files = [(f.get("part"), f.get("sha256")) for f in record.get("files") or ()]
    body = record.get("body")
    parts = [
        record.get("method"),
        record.get("path"),
        ["json", record["json"]] if "json" in record else None,
        record.get("form"),
        files,
        body.get("sha256") if isinstance(body, dict) else None,
    ]
    return json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# -- answers ----------------------------------------------------------------------------------------------------


def describe_response(
    status: int,
    headers: list[tuple[str, str]] | dict[str, str],
    body: bytes,
    fetch: Callable[[str], bytes | str],
) -> Described:
    """An upstream's answer as a cassette keeps it. ``fetch(url)`` gets an image URL's bytes (or says why not)."""
    pairs = list(headers.items()) if isinstance(headers, dict) else headers
    kept: dict[str, str] = {}
    for name, value in pairs:
        name = name.lower()
        if name in RESPONSE_HEADERS and name not in kept:
            kept[name] = value
    out = Described({"status": status, "headers": kept})
    content_type = kept.get("content-type", "")
    original: Any = None
    if body and (is_json_media(content_type.partition(";")[0].strip().lower()) or not content_type):
        try:
            original = parse_json(body)
        except ApiError:
            original = None
    if original is None:
        if body:
            try:
                out.record["text"] = body.decode("utf-8")
            except UnicodeDecodeError:
                out.record["body_b64"] = base64.b64encode(body).decode("ascii")
        return out
    literals: list[tuple[str, str]] = []
    out.record["json"] = _kept_answer(original, out, fetch, literals)
    form = next((n for n, p in _FORMATS.items() if json.dumps(original, **p).encode() == body), None)
    if form is not None:
        out.record["format"] = form
    else:
        out.record["text"] = _template(body.decode("utf-8", "surrogatepass"), literals)
    return out


def _kept_answer(original: Any, out: Described, fetch: Callable[[str], bytes | str], literals: list[Any]) -> Any:
    if not (isinstance(original, dict) and isinstance(original.get("data"), list)):
        return original
    items: list[Any] = []
    for index, item in enumerate(original["data"]):
        if not isinstance(item, dict):
            items.append(item)
            continue
        kept = dict(item)
        b64 = item.get("b64_json")
        if isinstance(b64, str) and b64:
            try:
                data = base64.b64decode(b64, validate=True)
            except (binascii.Error, ValueError):
                data = None
            if data is not None:
                name = file_name(data)
                out.files[name] = data
                kept["b64_json"] = {"$file": name}
                literals.append((b64, f"\x00b64:{name}\x00"))
        url = item.get("url")
        if isinstance(url, str) and url:
            stripped = strip_url(url, out.secrets)
            fetched = fetch(url)
            if isinstance(fetched, str):
                out.notes.append(f"data[{index}].url: the image was not kept ({fetched})")
                kept["url"] = stripped
                literals.append((url, json.dumps(stripped)))
            else:
                name = file_name(fetched)
                out.files[name] = fetched
                kept["url"] = {"$file": name, "url": stripped}
                literals.append((url, f"\x00url:{name}\x00"))
        items.append(kept)
    return {**original, "data": items}


def _template(text: str, literals: list[tuple[str, str]]) -> str:
    # The body as the upstream wrote it, each image string replaced by a marker: a NUL never appears raw in
    # JSON text, so a marker cannot be confused with anything an upstream sent. Some servers escape "/" in
    # strings ("\\/"): the marker says so, and the replay writes it back the same way.
    for value, marker in literals:
        plain = json.dumps(value)
        if plain in text:
            text = text.replace(plain, marker, 1)
            continue
        escaped = plain.replace("/", "\\/")
        if escaped in text:
            if marker.startswith("\x00"):
                kind, _, name = marker.strip("\x00").partition(":")
                marker = f"\x00{kind}/:{name}\x00"
            else:
                marker = marker.replace("/", "\\/")
            text = text.replace(escaped, marker, 1)
    return text


def restore_body(record: dict[str, Any], read: Callable[[str], bytes], url_for: Callable[[str], str]) -> bytes:
    """The answer's bytes: the upstream's own, images read back with ``read(name)``, URL images pointing at
    ``url_for(name)``."""
    if "text" in record:
        text: str = record["text"]
        if "json" not in record:
            return text.encode("utf-8")
        return _MARKER.sub(lambda m: _unmark(m, read, url_for), text).encode("utf-8", "surrogatepass")
    if "body_b64" in record:
        return base64.b64decode(record["body_b64"])
    if "json" not in record:
        return b""
    value = restored_images(
        record["json"], lambda name: base64.b64encode(read(name)).decode("ascii"), lambda ref: url_for(ref["$file"])
    )
    return json.dumps(value, **_FORMATS.get(record.get("format", "compact"), _FORMATS["compact"])).encode()


_MARKER = re.compile(r"\x00(b64|url)(/?):([^\x00]+)\x00")


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


def answer_files(record: dict[str, Any]) -> list[tuple[int, str, str]]:
    """The images of a recorded answer: (item index, "b64_json" or "url", file name)."""
    value = record.get("json")
    found: list[tuple[int, str, str]] = []
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        for index, item in enumerate(value["data"]):
            if isinstance(item, dict):
                for key in ("b64_json", "url"):
                    ref = item.get(key)
                    if isinstance(ref, dict) and isinstance(ref.get("$file"), str):
                        found.append((index, key, ref["$file"]))
    return found


# -- reading ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """One recorded exchange: its line number (from 1), request and answer as the cassette keeps them."""

    number: int
    request: dict[str, Any]
    response: dict[str, Any]
    duration_ms: float | None
    recorded_at: str | None

    @property
    def key(self) -> str:
        return match_key(self.request)

    @property
    def model(self) -> str | None:
        fields = self.request.get("json") if "json" in self.request else self.request.get("form")
        model = fields.get("model") if isinstance(fields, dict) else None
        return model if isinstance(model, str) else None

    def describe(self) -> str:
        model = f" {self.model}" if self.model else ""
        return f"#{self.number} {self.request['method']} {self.request['path']}{model}"


class Cassette:
    """A cassette directory, read and checked once: every line an exchange, every file it names present."""

    def __init__(self, path: Path, exchanges: list[Recorded]) -> None:
        self.path = path
        self.exchanges = exchanges

    def __len__(self) -> int:
        return len(self.exchanges)

    def __repr__(self) -> str:
        return f"<Cassette {str(self.path)!r}: {len(self)} exchange(s)>"

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Cassette:
        """Read the cassette at ``path``; CassetteError naming the file and line when it cannot be read."""
        root = Path(path)
        lines_file = root / EXCHANGES
        if not root.is_dir():
            raise CassetteError(f"no cassette at {root}: not a directory (record one with `edenfake record`)")
        try:
            text = lines_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CassetteError(f"cannot read {lines_file}: {exc}") from None
        exchanges: list[Recorded] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            where = f"{lines_file} line {number}"
            try:
                entry = json.loads(line, parse_constant=_no_constant)
            except ValueError as exc:
                raise CassetteError(f"{where}: not JSON ({exc})") from None
            exchanges.append(_checked(entry, where, len(exchanges) + 1))
            for name in _file_refs(entry):
                if not _FILE_NAME.match(name):
                    raise CassetteError(f"{where}: {name!r} is not a cassette file name (<sha256>.<ext>)")
                if not (root / FILES / name).is_file():
                    raise CassetteError(f"{where}: refers to {FILES}/{name}, which is missing")
        return cls(root, exchanges)

    def read(self, name: str) -> bytes:
        """The bytes of ``files/<name>``."""
        if not _FILE_NAME.match(name):
            raise CassetteError(f"{name!r} is not a cassette file name")
        return (self.path / FILES / name).read_bytes()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _checked(entry: Any, where: str, number: int) -> Recorded:
    if not isinstance(entry, dict):
        raise CassetteError(f"{where}: an exchange is a JSON object")
    request, response = entry.get("request"), entry.get("response")
    if not isinstance(request, dict) or not isinstance(request.get("method"), str):
        raise CassetteError(f"{where}: 'request' needs a 'method'")
    if not isinstance(request.get("path"), str) or not request["path"].startswith("/"):
        raise CassetteError(f"{where}: 'request' needs a 'path' starting with /")
    status = response.get("status") if isinstance(response, dict) else None
    if not isinstance(response, dict) or not isinstance(status, int) or not 100 <= status <= 599:
        raise CassetteError(f"{where}: 'response' needs a 'status' between 100 and 599")
    for name, value in (("request", request), ("response", response)):
        headers = value.get("headers", {})
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise CassetteError(f"{where}: '{name}.headers' must be an object of strings")
    duration = entry.get("duration_ms")
    recorded_at = entry.get("recorded_at")
    return Recorded(
        number,
        request,
        response,
        float(duration) if isinstance(duration, (int, float)) else None,
        recorded_at if isinstance(recorded_at, str) else None,
    )


def _file_refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("$file", "file") and isinstance(item, str):
                yield item
            else:
                yield from _file_refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _file_refs(item)


def rebuild_request(record: dict[str, Any], read: Callable[[str], bytes], *, token: str) -> FakeRequest | None:
    """The request a recorded one stands for, with ``token`` as its bearer token (None when its body was not
    kept). Images come back from their files; a multipart body gets a boundary of its own."""
    headers = [(k, v) for k, v in record.get("headers", {}).items() if k != "content-type"]
    headers.append(("authorization", f"Bearer {token}"))
    request = FakeRequest(record["method"], record["path"], headers)
    if "body" in record:
        return None
    if "json" in record:
        body = json.dumps(_inputs_restored(record["json"], read), separators=(",", ":"), ensure_ascii=False)
        request.body = body.encode("utf-8", "surrogatepass")
        request.headers.append(("content-type", record.get("headers", {}).get("content-type", "application/json")))
    elif "form" in record or "files" in record:
        boundary = "edenfake-" + _secrets.token_hex(8)
        chunks: list[bytes] = []
        for name, value in (record.get("form") or {}).items():
            chunks.append(_part(boundary, f'name="{name}"', None, str(value).encode()))
        for f in record.get("files") or ():
            disposition = f'name="{f["part"]}"; filename="{f.get("filename") or "file"}"'
            chunks.append(_part(boundary, disposition, f.get("content_type"), read(f["file"])))
        request.body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
        request.headers.append(("content-type", f"{MULTIPART}; boundary={boundary}"))
    return request


def _part(boundary: str, disposition: str, content_type: str | None, data: bytes) -> bytes:
    head = f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + data + b"\r\n"


def _inputs_restored(value: Any, read: Callable[[str], bytes]) -> Any:
    if isinstance(value, dict):
        if "$file" in value and "data_url" in value:
            return f"{value['data_url']},{base64.b64encode(read(value['$file'])).decode('ascii')}"
        return {k: _inputs_restored(v, read) for k, v in value.items()}
    if isinstance(value, list):
        return [_inputs_restored(v, read) for v in value]
    return value


def differences(recorded: dict[str, Any], sent: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """What differs between two requests as a cassette keeps them: (field, recorded value, sent value)."""
    found: list[tuple[str, Any, Any]] = []
    for name in ("method", "path"):
        if recorded.get(name) != sent.get(name):
            found.append((name, recorded.get(name), sent.get(name)))
    kinds = [
        ("json" if "json" in r else "form" if "form" in r else "body" if "body" in r else None)
        for r in (recorded, sent)
    ]
    if kinds[0] != kinds[1]:
        return [*found, ("body", kinds[0] or "no body", kinds[1] or "no body")]
    kind = kinds[0]
    if kind in ("json", "form"):
        a, b = recorded.get(kind), sent.get(kind)
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted({*a, *b}, key=lambda k: (k not in a, k)):
                if a.get(key, _ABSENT) != b.get(key, _ABSENT):
                    found.append((key, a.get(key, _ABSENT), b.get(key, _ABSENT)))
        elif a != b:
            found.append(("body", a, b))
    elif kind == "body" and recorded["body"].get("sha256") != sent["body"].get("sha256"):
        found.append(("body", "another body", "this body"))
    files_a = [(f.get("part"), f.get("sha256")) for f in recorded.get("files") or ()]
    files_b = [(f.get("part"), f.get("sha256")) for f in sent.get("files") or ()]
    if files_a != files_b:
        found.append(("files", [p for p, _ in files_a], [p for p, _ in files_b]))
    return found


class _Absent:
    def __repr__(self) -> str:
        return "absent"


_ABSENT: Any = _Absent()


# -- writing ----------------------------------------------------------------------------------------------------


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def scrub(line: str, secrets: set[str]) -> str:
    """``line`` (JSON) with every secret long enough to look for replaced by "***", as written raw or escaped."""
    for secret in sorted((s for s in secrets if len(s) >= MIN_SECRET), key=len, reverse=True):
        escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
        for form in {secret, escaped, json.dumps(escaped, ensure_ascii=False)[1:-1]}:
            line = line.replace(form, _redact.REDACTED)
    return line


class Writer:
    """Adds exchanges to a cassette directory as they complete: each file written once and atomically
    (a temporary name, then a rename), each exchange one line, flushed at once. Thread-safe."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        (self.directory / FILES).mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        #: exchanges written by this writer
        self.count = 0
        lines = self.directory / EXCHANGES
        self._total = sum(1 for line in lines.open(encoding="utf-8") if line.strip()) if lines.exists() else 0

    def write_file(self, name: str, data: bytes | memoryview) -> None:
        target = self.directory / FILES / name
        if target.exists():
            return
        temporary = target.with_name(f".{name}.{_secrets.token_hex(4)}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, target)

    def append(
        self, request: Described, response: Described, *, duration_ms: float, recorded_at: str | None = None
    ) -> int:
        """Write one exchange (its files first, so a line never names a missing file); its number (from 1)."""
        for name, data in {**request.files, **response.files}.items():
            self.write_file(name, data)
        entry: dict[str, Any] = {
            "request": request.record,
            "response": response.record,
            "duration_ms": round(duration_ms, 1),
            "recorded_at": recorded_at or now_iso(),
        }
        if response.notes:
            entry["notes"] = response.notes
        line = scrub(json.dumps(entry, ensure_ascii=False, separators=(",", ":")), request.secrets | response.secrets)
        json.loads(line)  # a scrub that broke the JSON is a bug: better no line than a corrupt one
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
    place (another pytest worker, the next run) finds the old cassette or the new one, never half of one."""

    def __init__(self, target: str | os.PathLike[str], *, keep: Cassette | None = None) -> None:
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.staging = self.target.parent / f".{self.target.name}.recording-{os.getpid()}-{_secrets.token_hex(4)}"
        self.writer = Writer(self.staging)
        #: exchanges carried over from the cassette this one extends
        self.kept = 0
        if keep is not None:
            for recorded in keep.exchanges:
                for name in _file_refs({"r": recorded.request, "s": recorded.response}):
                    shutil.copyfile(keep.path / FILES / name, self.staging / FILES / name)
            text = (keep.path / EXCHANGES).read_text(encoding="utf-8")
            lines = [line for line in text.splitlines() if line.strip()]
            (self.staging / EXCHANGES).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
            self.kept = len(lines)
        else:
            (self.staging / EXCHANGES).touch()

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
