"""A request read once: size limit, Content-Encoding and media type checked, then its JSON or multipart body
parsed (at most once, when first asked for) into the :class:`Exchange` that handlers, fault matchers and the
journal all read. Nothing else checks a body's size or type, or parses it."""

from __future__ import annotations

import array
import contextlib
import itertools
import json
import re
import sys
from functools import cache
from typing import Any

from edenfake import _redact, _tags, contracts
from edenfake._multipart import MULTIPART, Part, invalid, parse_multipart
from edenfake._schemas import json_types
from edenfake._summaries import file_summaries, journal_json
from edenfake._wire import JSON_MEDIA, Encoded, FakeRequest, Refusal, compact_json, encode_error
from edenfake.errors import ApiError, BadRequest, InvalidTags, PayloadTooLarge, UnsupportedMediaType

__all__ = [
    "MAX_DEPTH",
    "MULTIPART",
    "STRICT_DECODER",
    "Exchange",
    "Part",
    "is_json_media",
    "parse_json",
    "parse_multipart",
    "read",
]

#: JSON nested deeper than this is refused before it is parsed
MAX_DEPTH = 64
_UNREAD: Any = object()


class Exchange:
    """One request on its way through the core: its route, its body as read once, and what the journal will
    say of it. Each exchange parses its own body: nothing here is shared with another request."""

    __slots__ = (
        "_fields",
        "_json",
        "_parts",
        "_tags",
        "fault",
        "journal_answer",
        "journal_inputs",
        "kind",
        "model",
        "outside",
        "problem",
        "provider",
        "rate_window",
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
        #: what the journal keeps of the answer (JSON bytes), when it differs from the answer (images)
        self.journal_answer: bytes | None = None
        #: what the journal keeps of an edit's input images (a JSON list, see journal.py)
        self.journal_inputs = b"[]"
        #: the answer came from a cassette
        self.replayed = False
        #: the answer came from outside the fake (a cassette, or an upstream through the recorder): the journal
        #: checks that what it keeps of it is strict JSON; the fake's own answers are strict by construction
        self.outside = False
        #: the call's tags once worked out (or their refusal), see tags()
        self._tags: dict[str, str] | InvalidTags | None = None
        #: the rate limiter's window after counting this request (an edenfake._ratelimit.Window), if it did
        self.rate_window: object = None

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
            fields: dict[str, Any] = {}
            for part in self.parts():
                if part.filename is not None or part.name in skip:
                    continue
                problem = _field_problem(part, fields)
                if problem is not None:
                    self.problem = encode_error(invalid(problem))
                    raise Refusal(self.problem)
                fields[part.name] = _coerce(contract, part.name, part.text)
            self._fields = fields
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

    def tags(self) -> dict[str, str]:
        """The call's tags (see edenfake._tags): the ``X-EdenAI-Tags`` header's, on a route that declares it, and
        a JSON body's ``tags`` over them, keys lower-case; InvalidTags (400) when they break a rule. Worked out
        once; a caller may change what it gets."""
        if self._tags is None:
            self._tags = self._work_out_tags()
        if isinstance(self._tags, InvalidTags):
            raise self._tags
        return dict(self._tags)

    def valid_tags(self) -> dict[str, str]:
        """The call's tags, or {} when they are refused (what the journal and fault matching see)."""
        try:
            return self.tags()
        except InvalidTags:
            return {}

    def _work_out_tags(self) -> dict[str, str] | InvalidTags:
        route = self.route
        if route is None:
            return {}
        reads = _tags.reads_header(route.method, route.path)
        header = [v for k, v in self.request.headers if k == _tags.HEADER] if reads else None
        body = self.fields().get("tags") if self.kind == "json" and _tags.reads_body(route.json_contract) else None
        if not header and body is None:
            return {}  # most calls carry none
        try:
            return _tags.merged(header, body, limit=_tags.header_limit(route.method, route.path))
        except InvalidTags as exc:
            return exc

    # -- what the journal keeps ------------------------------------------------------------------------

    def journal_request(self) -> bytes | None:
        """The request body as the journal keeps it: JSON bytes, with credential headers' values and image
        data left out; None when the body is not JSON. Strict JSON: the strict parser took it, or the fake
        encoded it."""
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
        files = file_summaries(
            (p.name, p.filename, p.content_type, p.data)
            for p in self._parts
            if p.filename is not None or p.name in _file_parts(self.route.form_contract if self.route else None)
        )
        try:
            form = self.form()
        except Refusal:
            form = {}
        return compact_json(_redact.redact_body(form)).encode(), files


def read(request: FakeRequest, route: contracts.Route | None, limit: int) -> Exchange:
    """Check ``request``'s envelope for ``route``: its size against ``limit``, its Content-Encoding and media
    type. The body is parsed later, when first asked for. A request a door already read (``request.exchange``)
    is not read again: its exchange is taken, once."""
    ready, request.exchange = request.exchange, None
    if isinstance(ready, Exchange) and ready.route is route:
        return ready
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

#: brackets as +1 and -1 (a signed byte each); every other byte dropped
_SIGNS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(sorted(set(range(128)) - set(b"[]{}")))
#: the depth scan's passes work through pieces of this many characters
_CHUNK = 1 << 16


class _NonFinite(ValueError):
    pass


def _constant(name: str) -> Any:
    raise _NonFinite(name)


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NonFinite(text)
    return value


#: the strict decoder (no NaN, Infinity or numbers that overflow to them; the C scanner still does the work),
#: built once: json.loads with hooks builds a decoder per call
STRICT_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_float)


def json_depth(text: str) -> int:
    """How deeply ``text`` nests arrays and objects outside its strings, counted up to the first depth past
    MAX_DEPTH; 0 when it has too few brackets to nest past MAX_DEPTH.

    Linear in the text whatever it holds: a fixed number of passes, each made of C routines over pieces of at
    most _CHUNK characters (a loop in Python over a megabyte of quotes would take seconds, and one C call over
    all of it would hold the GIL for as long as it runs)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0  # cannot be deeper than the limit: spare the scan
    if "\\" in text:
        # An escaped character never ends a string. Dropping the backslash pairs, then each backslash with the
        # quote after it, reads every run of backslashes as JSON does, left to right. (Outside strings a
        # backslash is not JSON at all: the parser refuses the body whatever this counts.)
        text = text.replace("\\\\", "").replace('\\"', "")
    if '"' in text:
        # Now every quote opens or closes a string: every other piece between quotes is a string's content,
        # the last one too when a string is left open.
        outside: list[str] = []
        inside = 0
        for start in range(0, len(text), _CHUNK):
            pieces = text[start : start + _CHUNK].split('"')
            outside += pieces[inside::2]
            inside ^= 1 - len(pieces) % 2  # an odd number of quotes in the piece
        text = "".join(outside)
        if text.count("[") + text.count("{") <= MAX_DEPTH:
            return 0
    signs = text.encode("ascii", "ignore").translate(_SIGNS, _NOT_BRACKETS)
    depth = deepest = 0
    for start in range(0, len(signs), _CHUNK):
        sums = list(itertools.accumulate(array.array("b", signs[start : start + _CHUNK]), initial=depth))
        deepest, depth = max(deepest, max(sums)), sums[-1]
        if deepest > MAX_DEPTH:
            break
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
        return STRICT_DECODER.decode(text)
    except _NonFinite as exc:
        raise BadRequest(
            f"Invalid JSON body: {_redact.clip(str(exc), 40)} is not a finite number "
            "(JSON has no NaN or Infinity, and numbers must fit in a double)"
        ) from None
    except RecursionError:
        raise BadRequest("Invalid JSON body: nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"Invalid JSON body: {_redact.clip(str(exc), 200)}") from None
    except ValueError:  # int() past Python's limit of digits: its message is advice about Python, not the body
        raise BadRequest(
            f"Invalid JSON body: an integer has more than {sys.get_int_max_str_digits()} digits"
            if hasattr(sys, "get_int_max_str_digits")
            else "Invalid JSON body: an integer has too many digits"
        ) from None


def _field_problem(part: Part, fields: dict[str, Any]) -> str | None:
    """Why a multipart text field cannot be read as the JSON body's field would be: given twice (which value
    was meant?), or not UTF-8 text (a JSON body of such bytes is a 400 too)."""
    shown = _redact.clip(part.name, 60)
    if part.name in fields:
        return f"the field {shown!r} is given twice; send it once"
    try:
        bytes(part.data).decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the field {shown!r} is not UTF-8 text (byte {exc.start})"
    return None


def _json_type(value: Any) -> str:
    for kind, name in ((list, "an array"), (str, "a string"), (bool, "a boolean"), ((int, float), "a number")):
        if isinstance(value, kind):
            return name
    return "null"


# -- multipart forms --------------------------------------------------------------------------------------


@cache
def _form_types(contract: str) -> dict[str, list[str]]:
    # The JSON types each text field may take, read from the contract: a form sends only strings.
    found: dict[str, list[str]] = {}
    for name, schema in contracts.load(contract)["properties"].items():
        found[name] = sorted(json_types(schema, contract.partition("#")[0]))
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


#: a form field's integer: ASCII digits with a sign, a fraction of zeros ("2.0") and spaces around allowed
_FORM_INT = re.compile(r"\s*([+-]?[0-9]+)(?:\.0*)?\s*", re.ASCII)


def _coerce(contract: str | None, name: str, value: str) -> Any:
    # A value that does not read as the type stays a string, and the contract names the field.
    kinds = _form_types(contract).get(name, ["string"]) if contract else ["string"]
    whole = _FORM_INT.fullmatch(value)
    if "integer" in kinds and whole:  # as pydantic reads a form's integer: spaces, zeros and a ".0" aside
        try:
            return int(whole[1])
        except ValueError:  # past Python's digit limit: the contract refuses the string
            return value
    if "object" in kinds and value.strip().startswith("{"):
        try:
            return parse_json(value.encode("utf-8", "surrogatepass"))
        except ApiError:
            return value
    return value
