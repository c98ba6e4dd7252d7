"""A multipart/form-data body split into its parts, with python-multipart: every way the body can be malformed
(the boundary, a part's headers, a missing closing boundary, too many parts) is a BadRequest naming the rule."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edenfake import _redact
from edenfake.errors import BadRequest

if TYPE_CHECKING:  # python-multipart is imported by the first multipart body: a JSON request never needs it
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser

__all__ = ["MAX_PARTS", "MULTIPART", "Part", "invalid", "parse_multipart"]

#: the parser's logger, for this module's parsers alone: silent (a user's own logging of python-multipart stays)
_QUIET = logging.Logger("edenfake.multipart", logging.CRITICAL + 1)

#: at most this many parts in a multipart body
MAX_PARTS = 64
MULTIPART = "multipart/form-data"


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


#: RFC 2046's boundary: 1 to 70 of these characters, the last one not a space
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
_BOUNDARY_CHARS = "letters, digits, space and '()+_,-./:=?"


def invalid(rule: str) -> BadRequest:
    """The 400 for a multipart body that breaks ``rule``."""
    return BadRequest(f"Invalid multipart body: {rule}", error_code="INVALID_BODY")


def _boundary(content_type: str) -> bytes:
    """The boundary ``content_type`` names (quoted or not), checked against RFC 2046; BadRequest otherwise."""
    from python_multipart.multipart import parse_options_header

    try:
        _, params = parse_options_header(content_type)
    except ValueError:  # UnicodeEncodeError: the parser reads header values as Latin-1
        raise invalid("the Content-Type header holds characters outside Latin-1") from None
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadRequest("multipart/form-data needs a boundary parameter in Content-Type", error_code="INVALID_BODY")
    text = boundary.decode("latin-1")
    if len(text) > 70:
        raise invalid(f"the boundary is {len(text)} characters long; RFC 2046 allows 1 to 70")
    if not _BOUNDARY.fullmatch(text):
        odd = next((c for c in text if not _BOUNDARY.fullmatch(c)), " ")
        raise invalid(f"the boundary holds {odd!r}; RFC 2046 allows only {_BOUNDARY_CHARS}, and not a space at the end")
    return boundary


def parse_multipart(content_type: str, body: bytes, *, max_parts: int = MAX_PARTS) -> list[Part]:
    """The parts of a multipart/form-data body; BadRequest (400 INVALID_BODY) naming the rule it breaks
    otherwise: the boundary, a part's headers, the closing boundary, the number of parts."""
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header

    boundary = _boundary(content_type)
    parts: list[Part] = []
    ended: list[bool] = []  # the closing boundary came
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
        try:  # a name is matched against the contract's fields: one that is not text names none of them
            name.decode("utf-8")
        except UnicodeDecodeError:
            shown = _redact.clip(name.decode("utf-8", "replace"), 60)
            raise BadRequest(
                f"a multipart part's name {shown!r} is not UTF-8 text", error_code="INVALID_BODY"
            ) from None
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

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_end": lambda: ended.append(True),
    }
    try:
        parser = MultipartParser(boundary, callbacks)
    except Exception as exc:  # the parser's own checks of the boundary
        raise invalid(f"the boundary is refused: {_redact.clip(str(exc), 200)}") from None
    parser.logger = _QUIET  # what it logs of a broken body it also raises, and the 400 says it in one line
    try:
        parser.write(body)
        parser.finalize()
    except BadRequest:
        raise
    except MultipartParseError as exc:
        raise invalid(_parse_rule(exc, parser, boundary)) from None
    except Exception as exc:  # anything else python-multipart may raise for a body it cannot read
        raise invalid(_redact.clip(str(exc), 200)) from None
    if not ended and not current:  # no part began
        raise invalid("no parts (is the boundary right?)")
    if not ended:
        shown = _redact.clip(boundary.decode("latin-1"), 70)
        raise invalid(f"the body ends before its closing boundary '--{shown}--' (was it cut short?)")
    if not parts:
        raise invalid("no parts")
    return parts


def _parse_rule(exc: MultipartParseError, parser: MultipartParser, boundary: bytes) -> str:
    # python-multipart's own words for most malformations; its limits said with their numbers.
    message = str(exc)
    if message.startswith("Expected boundary character"):
        shown = _redact.clip(boundary.decode("latin-1"), 70)
        where = getattr(exc, "offset", None)
        return f"the body does not match the boundary '--{shown}' named in Content-Type (at byte {where})"
    if message.startswith("Maximum header size"):
        limit = getattr(parser, "max_header_size", None)
        return f"a part's header line is longer than {limit} bytes" if limit else "a part's header line is too long"
    if message.startswith("Maximum header count"):
        limit = getattr(parser, "max_header_count", None)
        return f"a part has more than {limit} header lines" if limit else "a part has too many header lines"
    return _redact.clip(message, 200)


def _joined(ranges: list[tuple[bytes, int, int]], body: bytes, whole: memoryview) -> bytes | memoryview:
    # One contiguous run of the body: a view of it. Anything else (data split by a boundary look-behind): a copy.
    if not ranges:
        return b""
    if all(buf is body for buf, _, _ in ranges) and all(
        ranges[i][2] == ranges[i + 1][1] for i in range(len(ranges) - 1)
    ):
        return whole[ranges[0][1] : ranges[-1][2]]
    return b"".join(buf[start:end] for buf, start, end in ranges)
