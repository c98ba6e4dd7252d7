"""What the journal keeps of a request body: JSON as it came when it hides nothing, else re-encoded with
credentials hidden, ``data:`` URLs replaced by their size and hash and long strings cut; a multipart body's
files as their name, type, size and hash, never their bytes."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from typing import Any

from edenfake import _redact
from edenfake._wire import compact_json

__all__ = ["JOURNAL_RAW_MAX", "JOURNAL_STRING_MAX", "file_summaries", "journal_json", "summarize_data_urls"]

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


def file_summaries(files: Iterable[tuple[str, str | None, str | None, bytes | memoryview]]) -> bytes:
    """The journal's summary of a multipart body's files, from (part, file name, content type, data): JSON
    bytes with each one's size and sha256, never the bytes."""
    return compact_json(
        [
            {
                "part": part,
                "filename": filename,
                "content_type": content_type,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            for part, filename, content_type, data in files
        ]
    ).encode()
