"""vcrpy cassettes read as exchanges, for ``edenfake import``: the YAML that ``vcr.use_cassette`` writes (and
pytest-recording's ``cassettes/<module>/<test>.yaml``), and vcrpy's JSON serializer.

YAML needs PyYAML (``pip install 'edenfake[vcr]'``). It is read with PyYAML's safe loader after a pass over its
events that refuses, as one :class:`~edenfake.cassettes.har.SourceError`, what no vcrpy cassette holds and a
hostile file would: an anchor or an alias (the "billion laughs"), any tag but ``!!binary``, nesting past 64
levels, more than MAX_EVENTS events. A body is ``string`` text (sent as UTF-8) or ``!!binary`` bytes; a
response body vcrpy kept compressed (``decode_compressed_response`` off) is decoded here, gzip or deflate, at
most MAX_BODY_BYTES (past that, or another encoding, the exchange is skipped and the reason said).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edenfake._redact import one_line
from edenfake.cassettes.har import MAX_BODY_BYTES, MAX_ENTRIES, Exchange, SourceError

__all__ = ["MAX_DEPTH", "MAX_EVENTS", "load_yaml", "read_vcr"]

#: a YAML source nests at most this many mappings and sequences
MAX_DEPTH = 64
#: a YAML source holds at most this many parser events (scalars, mapping and sequence starts and ends)
MAX_EVENTS = 20_000_000
_BINARY = "tag:yaml.org,2002:binary"
INSTALL = "reading a vcrpy YAML cassette needs PyYAML: pip install 'edenfake[vcr]'"


def load_yaml(source: Path, data: bytes) -> Any:
    """A YAML document read safely (see the module's docstring); SourceError naming the problem otherwise."""
    try:
        import yaml
    except ImportError:
        raise SourceError(f"{source}: {INSTALL}") from None
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{source}: not a HAR log or a vcrpy cassette: not UTF-8 text ({exc.reason})") from None
    depth = events = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            events += 1
            if events > MAX_EVENTS:
                raise SourceError(f"{source}: more than {MAX_EVENTS} YAML events")
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise SourceError(f"{source}: holds a YAML anchor or alias, which no vcrpy cassette does: refused")
            tag = getattr(event, "tag", None)
            if tag is not None and tag not in (_BINARY, "!"):
                shown = one_line(str(tag).replace("tag:yaml.org,2002:", "!!"), 80)
                raise SourceError(f"{source}: holds the YAML tag {shown}; only !!binary is read")
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise SourceError(f"{source}: nested more than {MAX_DEPTH} levels deep")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = one_line(str(getattr(exc, "problem", None) or exc), 160)
        raise SourceError(
            f"{source}: not a HAR log or a vcrpy cassette: not YAML{at} ({problem}); truncated?"
        ) from None


def _error(source: Path, where: str, rule: str) -> SourceError:
    return SourceError(f"{source}: {one_line(where, 120)}: {rule}")


def _headers(source: Path, where: str, value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise _error(source, where, "must be a mapping of header names to lists of values")
    out: list[tuple[str, str]] = []
    for name, values in value.items():
        if not isinstance(name, str):
            raise _error(source, where, "a header name must be a string")
        for item in values if isinstance(values, list) else [values]:
            if not isinstance(item, (str, bytes)):
                raise _error(source, f"{where}.{name}", "a header value must be a string")
            out.append((name.lower(), item.decode("latin-1") if isinstance(item, bytes) else item))
    return out


def _body(source: Path, where: str, value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, dict):  # a response's {"string": ...}
        value = value.get("string")
        if value is None:
            return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    raise _error(source, where, "must be text or !!binary bytes")


def decoded(body: bytes, encoding: str) -> bytes | str:
    """``body`` with its Content-Encoding undone (gzip, deflate), at most MAX_BODY_BYTES, or why it cannot be."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip() and c.strip().lower() != "identity"]
    if not codings or not body:
        return body
    if len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate"):
        return f"its answer is encoded {one_line(', '.join(codings), 60)}, which an import does not decode"
    if not _compressed(body, codings[0]):
        # vcrpy's requests (urllib3) stub keeps the body decoded beside the header that says it is not
        return body
    # deflate: zlib-wrapped (what the RFC says) or gzip, as the recorder reads it
    wbits = zlib.MAX_WBITS | 16 if codings[0] != "deflate" else zlib.MAX_WBITS | 32
    try:
        decoder = zlib.decompressobj(wbits)
        out = decoder.decompress(body, MAX_BODY_BYTES + 1)
        if len(out) > MAX_BODY_BYTES:
            return f"its answer decodes to more than {MAX_BODY_BYTES} bytes ({codings[0]})"
        if not decoder.eof:
            return f"its answer's {codings[0]} stream is cut short"
    except zlib.error as exc:
        return f"its answer is not valid {codings[0]} ({one_line(str(exc), 80)})"
    return out


def _compressed(body: bytes, coding: str) -> bool:
    gzip = body[:2] == b"\x1f\x8b"
    if coding != "deflate" or gzip:
        return gzip
    return len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0  # a zlib header


def read_vcr(source: Path, document: Any) -> Iterator[Exchange]:
    """The interactions of a vcrpy cassette (YAML or JSON, already loaded), in order."""
    interactions = document.get("interactions") if isinstance(document, dict) else None
    if not isinstance(interactions, list):
        raise SourceError(f'{source}: not a vcrpy cassette: no "interactions" list')
    if len(interactions) > MAX_ENTRIES:
        raise SourceError(f"{source}: {len(interactions)} interactions, more than the {MAX_ENTRIES} an import takes")
    for index, item in enumerate(interactions):
        where = f"interactions[{index}]"
        request = item.get("request") if isinstance(item, dict) else None
        response = item.get("response") if isinstance(item, dict) else None
        if not isinstance(request, dict) or not isinstance(response, dict):
            raise _error(source, where, "must hold a request mapping and a response mapping")
        method, uri = request.get("method"), request.get("uri")
        if not isinstance(method, str) or not isinstance(uri, str):
            raise _error(source, f"{where}.request", "must name its method and uri as strings")
        status = response.get("status")
        code = status.get("code") if isinstance(status, dict) else status
        if not isinstance(code, int) or isinstance(code, bool):
            raise _error(source, f"{where}.response.status", "must hold an integer code")
        headers = _headers(source, f"{where}.response.headers", response.get("headers"))
        # vcrpy's httpx stub once kept the body as "content"
        raw = response.get("body") if "body" in response else response.get("content")
        exchange = Exchange(
            where=f"{source.name} interaction {index}",
            method=method.upper(),
            url=uri,
            request_headers=_headers(source, f"{where}.request.headers", request.get("headers")),
            request_body=_body(source, f"{where}.request.body", request.get("body")),
            status=code,
            response_headers=[(k, v) for k, v in headers if k != "content-encoding"],
        )
        body = _body(source, f"{where}.response.body", raw)
        if len(body) > MAX_BODY_BYTES:
            exchange.lost = f"its answer's body is larger than {MAX_BODY_BYTES} bytes"
            yield exchange
            continue
        answer = decoded(body, ",".join(v for k, v in headers if k == "content-encoding"))
        if isinstance(answer, str):
            exchange.lost = answer
        else:
            exchange.response_body = answer
        yield exchange
