"""A request read once: size limit, Content-Encoding and media type checked, then its JSON or multipart body
parsed (at most once, when first asked for) into the :class:`Exchange` that handlers, fault matchers and the
journal all read. Nothing else checks a body's size or type, or parses it."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header

from edenfake import _redact, contracts
from edenfake._wire import JSON_MEDIA, Encoded, FakeRequest, Refusal, compact_json, encode_error
from edenfake.errors import ApiError, BadRequest, PayloadTooLarge, UnsupportedMediaType

__all__ = ["MAX_DEPTH", "Exchange", "Part", "parse_json", "read"]

#: JSON nested deeper than this is refused before it is parsed
MAX_DEPTH = 64
#: at most this many parts in a multipart body
MAX_PARTS = 64
MULTIPART = "multipart/form-data"
_UNREAD: Any = object()


@dataclass(frozen=True)
class Part:
    """One part of a multipart body: a text field (``filename`` None) or a file.

    ``data`` is a view into the request body where the parser allows it, so a file part costs no copy.
    """

    name: str
    filename: str | None
    content_type: str | None
    data: bytes | memoryview

    @property
    def text(self) -> str:
        return bytes(self.data).decode("utf-8", "replace")


class Exchange:
    """One request on its way through the core: its route, its body as read once, and what the journal will
    say of it. Each exchange parses its own body: nothing here is shared with another request."""

    __slots__ = (
        "_fields",
        "_json",
        "_parts",
        "fault",
        "journal_answer",
        "journal_body",
        "kind",
        "model",
        "problem",
        "provider",
        "replayed",
        "request",
        "route",
    )

    def __init__(self, request: FakeRequest, route: contracts.Route | None) -> None:
        self.request = request
        self.route = route
        #: "json", "multipart", or None when the route takes no body
        self.kind: str | None = None
        #: a refusal found while reading (size, encoding, media type, syntax): answered once auth and faults pass
        self.problem: Encoded | None = None
        self._json: Any = _UNREAD
        self._parts: list[Part] | None = None
        self._fields: dict[str, Any] | None = None
        # What handlers learn, for the journal and the log.
        self.fault: str | None = None
        self.provider: str | None = None
        self.model: str | None = None
        #: what the journal keeps of the request body (JSON bytes), when a handler already knows it
        self.journal_body: bytes | None = None
        #: what the journal keeps of the answer (JSON bytes), when it differs from the answer (images)
        self.journal_answer: bytes | None = None
        #: the answer came from a cassette
        self.replayed = False

    def refuse_early(self) -> None:
        """Raise the refusal found while reading the envelope (413, 415), if any."""
        if self.problem is not None:
            raise Refusal(self.problem)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object, parsed once; a Refusal (413, 415, 400) when it is not one."""
        self.refuse_early()
        if self._json is _UNREAD:
            try:
                self._json = parse_json(self.request.body)
            except ApiError as exc:
                self._json = None
                self.problem = encode_error(exc)
        if self.problem is not None:
            raise Refusal(self.problem)
        value = self._json
        if not isinstance(value, dict):
            self.problem = encode_error(
                BadRequest(f"Request body must be a JSON object, got {_json_type(value)}", error_code="INVALID_BODY")
            )
            raise Refusal(self.problem)
        return value

    def parts(self) -> list[Part]:
        """The parts of a multipart body, parsed once; a Refusal (413, 415, 400) when it cannot be read."""
        self.refuse_early()
        if self._parts is None:
            try:
                self._parts = parse_multipart(self.request.header("content-type") or "", self.request.body)
            except ApiError as exc:
                self._parts = []
                self.problem = encode_error(exc)
        if self.problem is not None:
            raise Refusal(self.problem)
        return self._parts

    def form(self) -> dict[str, Any]:
        """A multipart body's text fields, each read as the type the route's contract expects (``n=2`` is 2)."""
        if self._fields is None:
            contract = self.route.form_contract if self.route is not None else None
            skip = _file_parts(contract)
            self._fields = {
                p.name: _coerce(contract, p.name, p.text)
                for p in self.parts()
                if p.filename is None and p.name not in skip
            }
        return self._fields

    def fields(self) -> dict[str, Any]:
        """The request's fields (the JSON object, or the form's text fields), or {} when the body cannot be read.
        Parsed for this request alone: a caller may keep or change what it gets."""
        try:
            if self.kind == "json":
                return self.json()
            if self.kind == "multipart":
                return self.form()
        except Refusal:
            pass
        return {}

    # -- what the journal keeps ------------------------------------------------------------------------

    def journal_request(self) -> bytes | None:
        """The request body as the journal keeps it: JSON bytes, with credential headers' values and image
        data left out; None when the body is not JSON."""
        if self.journal_body is not None:
            return self.journal_body
        if self.kind != "json" or (self.problem is not None and self._json is _UNREAD):
            return None
        if self._json is _UNREAD:
            with contextlib.suppress(Refusal):
                self.json()
        if self._json is None or self._json is _UNREAD:
            return None
        return journal_json(self.request.body, self._json)

    def journal_form(self) -> tuple[bytes | None, bytes]:
        """A multipart body's text fields (JSON bytes, credentials hidden) and a summary of its files (JSON
        bytes: part, file name, content type, size and sha256, never the bytes)."""
        if self.kind != "multipart" or self._parts is None:
            return None, b"[]"
        files = [
            {
                "part": p.name,
                "filename": p.filename,
                "content_type": p.content_type,
                "bytes": len(p.data),
                "sha256": hashlib.sha256(p.data).hexdigest(),
            }
            for p in self._parts
            if p.filename is not None or p.name in _file_parts(self.route.form_contract if self.route else None)
        ]
        try:
            form = self.form()
        except Refusal:
            form = {}
        return compact_json(_redact.redact_body(form)).encode(), compact_json(files).encode()


#: JSON bodies up to this size are journalled as they came (when nothing in them needs hiding)
JOURNAL_RAW_MAX = 64 * 1024
#: longer strings are journalled cut, with their length and hash (a valid prompt is at most 32,000 characters)
JOURNAL_STRING_MAX = 32_000


def journal_json(raw: bytes, value: Any) -> bytes:
    """What the journal keeps of a JSON body: ``raw`` itself when it hides nothing, else ``value`` re-encoded
    with credential headers' values hidden, long ``data:`` URLs replaced by their size and hash, and other
    strings longer than JOURNAL_STRING_MAX cut."""
    hides = (isinstance(value, dict) and value.get("extra_headers") is not None) or b'"data:' in raw
    if len(raw) <= JOURNAL_RAW_MAX and not hides:
        return raw
    return compact_json(summarize_data_urls(_redact.redact_body(value))).encode()


def summarize_data_urls(value: Any) -> Any:
    """A copy of a JSON value with each long ``data:`` URL replaced by its size and hash."""
    if isinstance(value, dict):
        return {k: summarize_data_urls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [summarize_data_urls(v) for v in value]
    if isinstance(value, str) and len(value) > JOURNAL_STRING_MAX and not value.startswith("data:"):
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{value[:1000]}...<cut: {len(value)} characters, sha256={digest}>"
    if isinstance(value, str) and value.startswith("data:") and len(value) > 100:
        head, _, payload = value.partition(",")
        try:  # the decoded bytes' hash: the one the image fingerprint records for this input
            data = base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            digest = hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()
            return f"{_redact.clip(head, 60)},<{len(payload)} characters, not base64, sha256={digest}>"
        return f"{_redact.clip(head, 60)},<{len(data)} bytes sha256={hashlib.sha256(data).hexdigest()}>"
    return value


def read(request: FakeRequest, route: contracts.Route | None, limit: int) -> Exchange:
    """Check ``request``'s envelope for ``route``: its size against ``limit``, its Content-Encoding and media
    type. The body is parsed later, when first asked for."""
    exchange = Exchange(request, route)
    if route is None or not route.media_types:
        return exchange  # a route without a body ignores whatever came
    problem: ApiError | None = None
    if request.oversize or len(request.body) > limit:
        problem = PayloadTooLarge(limit)
    else:
        encoding = (request.header("content-encoding") or "identity").strip().lower()
        if encoding != "identity":
            problem = UnsupportedMediaType(
                f"Content-Encoding '{_redact.clip(encoding, 40)}' is not supported; send the body uncompressed"
            )
    content_type = request.header("content-type")
    media = content_type.partition(";")[0].strip().lower() if content_type is not None else JSON_MEDIA
    if is_json_media(media) and JSON_MEDIA in route.media_types:
        exchange.kind = "json"
    elif media == MULTIPART and route.takes_files:
        exchange.kind = "multipart"
    elif problem is None:
        accepted = " or ".join(route.media_types)
        shown = _redact.clip(media or content_type or "", 60)
        problem = UnsupportedMediaType(f"Content-Type must be {accepted} for {route.path}, got '{shown}'")
    if problem is not None:
        exchange.problem = encode_error(problem)
    return exchange


def is_json_media(media: str) -> bool:
    return media == JSON_MEDIA or (media.startswith("application/") and media.endswith("+json"))


# -- JSON, strictly ---------------------------------------------------------------------------------------

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class _NonFinite(ValueError):
    pass


def _constant(name: str) -> Any:
    raise _NonFinite(name)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NonFinite(text)
    return value


def json_depth(text: str) -> int:
    """How deeply ``text`` nests arrays and objects (strings skipped), counted without recursion."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0  # cannot be deeper than the limit: spare the scan
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def parse_json(body: bytes) -> Any:
    """Standard JSON only: no NaN, Infinity or numbers that overflow to them, no nesting past MAX_DEPTH.
    BadRequest (400 INVALID_JSON) naming the problem otherwise."""
    if not body.strip():
        raise BadRequest("Request body is empty; send a JSON object")
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except (UnicodeDecodeError, LookupError) as exc:
        raise BadRequest(f"Invalid JSON body: not UTF-8 text ({_redact.clip(str(exc), 120)})") from None
    if json_depth(text) > MAX_DEPTH:
        raise BadRequest(f"Invalid JSON body: nested too deeply (more than {MAX_DEPTH} levels of arrays and objects)")
    try:
        return json.loads(text, parse_constant=_constant, parse_float=_float)
    except _NonFinite as exc:
        raise BadRequest(
            f"Invalid JSON body: {_redact.clip(str(exc), 40)} is not a finite number "
            "(JSON has no NaN or Infinity, and numbers must fit in a double)"
        ) from None
    except RecursionError:
        raise BadRequest("Invalid JSON body: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and int() past Python's digit limit
        raise BadRequest(f"Invalid JSON body: {_redact.clip(str(exc), 200)}") from None


def _json_type(value: Any) -> str:
    for kind, name in ((list, "an array"), (str, "a string"), (bool, "a boolean"), ((int, float), "a number")):
        if isinstance(value, kind):
            return name
    return "null"


# -- multipart --------------------------------------------------------------------------------------------


def parse_multipart(content_type: str, body: bytes, *, max_parts: int = MAX_PARTS) -> list[Part]:
    """The parts of a multipart/form-data body; BadRequest when it cannot be read."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadRequest("multipart/form-data needs a boundary parameter in Content-Type", error_code="INVALID_BODY")
    parts: list[Part] = []
    current: dict[str, Any] = {}
    header_field: list[bytes] = []
    header_value: list[bytes] = []
    whole = memoryview(body)

    def on_part_begin() -> None:
        current.clear()
        current.update(headers={}, data=[])

    def on_part_data(data: bytes, start: int, end: int) -> None:
        # The parser hands out ranges of the body itself (or, rarely, of its boundary buffer): keep the
        # ranges, not copies.
        current["data"].append((data, start, end))

    def on_part_end() -> None:
        disposition = current["headers"].get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        name = options.get(b"name")
        if not name:
            raise BadRequest(
                "a multipart part has no name (or an empty one) in its Content-Disposition", error_code="INVALID_BODY"
            )
        filename = options.get(b"filename")
        ctype = current["headers"].get(b"content-type")
        parts.append(
            Part(
                name=name.decode("utf-8", "replace"),
                filename=filename.decode("utf-8", "replace") if filename is not None else None,
                content_type=ctype.decode("latin-1") if ctype is not None else None,
                data=_joined(current["data"], body, whole),
            )
        )
        if len(parts) > max_parts:
            raise BadRequest(f"more than {max_parts} multipart parts", error_code="INVALID_BODY")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.append(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.append(data[start:end])

    def on_header_end() -> None:
        current["headers"][b"".join(header_field).lower()] = b"".join(header_value)
        header_field.clear()
        header_value.clear()

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except BadRequest:
        raise
    except Exception as exc:  # python-multipart raises its own errors for malformed bodies
        raise BadRequest(
            f"Invalid multipart body: {_redact.clip(str(exc), 200)}", error_code="INVALID_BODY"
        ) from None
    if not parts:
        raise BadRequest("Invalid multipart body: no parts (is the boundary right?)", error_code="INVALID_BODY")
    return parts


def _joined(ranges: list[tuple[bytes, int, int]], body: bytes, whole: memoryview) -> bytes | memoryview:
    # One contiguous run of the body: a view of it. Anything else (data split by a boundary look-behind): a copy.
    if not ranges:
        return b""
    if all(buf is body for buf, _, _ in ranges) and all(
        ranges[i][2] == ranges[i + 1][1] for i in range(len(ranges) - 1)
    ):
        return whole[ranges[0][1] : ranges[-1][2]]
    return b"".join(buf[start:end] for buf, start, end in ranges)


@cache
def _form_types(contract: str) -> dict[str, list[str]]:
    # The JSON types each text field may take, read from the contract: a form sends only strings.
    found: dict[str, list[str]] = {}
    for name, schema in contracts.load(contract)["properties"].items():
        ref = schema.get("$ref", "")
        target = contracts.load("generation-request#" + ref.partition("#")[2]) if ref else schema
        kinds = target.get("type", [])
        found[name] = [kinds] if isinstance(kinds, str) else list(kinds)
    return found


@cache
def _file_parts(contract: str | None) -> frozenset[str]:
    # The parts of the route's multipart form that carry files, from the OpenAPI document.
    if contract is None:
        return frozenset()
    for route in contracts.route_table().routes:
        if route.form_contract == contract:
            schema = contracts.load("openapi")["paths"][route.path][route.method.lower()]["requestBody"]["content"]
            properties = schema[MULTIPART]["schema"]["properties"]
            return frozenset(n for n, s in properties.items() if _is_file(s))
    return frozenset()


def _is_file(schema: dict[str, Any]) -> bool:
    item = schema.get("items", schema)
    return isinstance(item, dict) and "contentMediaType" in item


def _coerce(contract: str | None, name: str, value: str) -> Any:
    # A value that does not read as the type stays a string, and the contract names the field.
    kinds = _form_types(contract).get(name, ["string"]) if contract else ["string"]
    stripped = value.strip().lstrip("+-")
    if "integer" in kinds and stripped.isascii() and stripped.isdigit():
        try:
            return int(value)
        except ValueError:  # past Python's digit limit: the contract refuses the string
            return value
    if "object" in kinds and value.strip().startswith("{"):
        try:
            return parse_json(value.encode("utf-8", "surrogatepass"))
        except ApiError:
            return value
    return value
