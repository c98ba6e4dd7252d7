"""Secrets kept out of a cassette: URLs lose their query string, fragment and user info (a signed URL is a
credential), and every secret seen in an exchange is replaced by "***" in every spelling a JSON writer or a URL
may give it.

A secret is looked for as written raw, with any of its characters escaped the ways JSON allows (``\\/``,
``\\u003d`` in either case of hex, a surrogate pair beyond the BMP, the short escapes), or percent-encoded
(``%2F``, ``%2f``; ``+`` for a space). :func:`scrubbed` replaces it in every string of a decoded exchange (keys
too, and inside a ``body_b64``'s bytes); :func:`leaked` says whether any spelling is left in a written line.
"""

from __future__ import annotations

import base64
import functools
import re
import urllib.parse
from collections.abc import Iterable
from typing import Any

from edenfake._redact import REDACTED

__all__ = [
    "MAX_SPELLED",
    "MIN_SECRET",
    "add_query_secrets",
    "leaked",
    "scrubbed",
    "secret_pattern",
    "strip_url",
    "strip_urls",
]

#: secrets shorter than this are not scrubbed: replacing "t" everywhere would wreck the JSON
MIN_SECRET = 8
#: secrets longer than this are looked for as written raw and percent-encoded only (every spelling of each of
#: their characters would make a pattern too big to build for each exchange)
MAX_SPELLED = 512
#: a URL inside a longer text: the scheme, then anything up to a space, a quote, an angle bracket or a backslash
_URL = re.compile(r"\b(?:https?|wss?|ftp)://[^\s\"'<>\\]+", re.IGNORECASE)
_SCHEME = re.compile(r"^(?:https?|wss?|ftp)://", re.IGNORECASE)
_SHORT = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def strip_url(value: str, secrets: set[str]) -> str:
    """``value`` without its query string, fragment and user info when it is a URL (scheme in any case), their
    parts added to ``secrets``; anything else unchanged. Never raises, whatever the URL looks like."""
    match = _SCHEME.match(value)
    if match is None:
        return value
    scheme, rest = value[: match.end()], value[match.end() :]
    cut = next((i for i, c in enumerate(rest) if c in "?#"), len(rest))
    head, tail = rest[:cut], rest[cut + 1 :]
    if cut < len(rest):
        query, _, fragment = tail.partition("#") if rest[cut] == "?" else ("", "", tail)
        for text in (query, fragment):
            add_query_secrets(text, secrets)
    slash = head.find("/")
    authority, path = (head, "") if slash < 0 else (head[:slash], head[slash:])
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
        for part in userinfo.split(":"):
            if part:
                secrets.update((part, urllib.parse.unquote(part)))
    if cut == len(rest) and authority + path == head:
        return value
    return scheme + authority + path


def add_query_secrets(text: str, secrets: set[str]) -> None:
    """The query string ``text`` and each of its values (as written and decoded) added to ``secrets``."""
    if not text:
        return
    secrets.add(text)
    for pair in text.split("&"):
        _, _, raw = pair.partition("=")
        if raw:
            secrets.update((raw, urllib.parse.unquote_plus(raw)))


def strip_urls(text: str, secrets: set[str]) -> str:
    """``text`` with :func:`strip_url` applied to each URL in it (the whole text, or URLs inside a sentence)."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: strip_url(m.group(), secrets), text)


def _hex(code: int, width: int) -> str:
    # each hex digit in either case: JSON and percent-encoding both allow it
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{code:0{width}x}")


def _spelled(char: str) -> str:
    forms = [re.escape(char)]
    code = ord(char)
    if code < 0x10000:
        forms.append(r"\\u" + _hex(code, 4))
    else:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        forms.append(r"\\u" + _hex(high, 4) + r"\\u" + _hex(low, 4))
    if char in _SHORT:
        forms.append(re.escape(_SHORT[char]))
    forms.append("".join("%" + _hex(b, 2) for b in char.encode("utf-8", "surrogatepass")))
    if char == " ":
        forms.append(r"\+")
    return "(?:" + "|".join(forms) + ")"


def secret_pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for every spelling of every secret long enough to look for (longest first), or None."""
    return _pattern(frozenset(s for s in secrets if len(s) >= MIN_SECRET))


@functools.lru_cache(maxsize=64)  # a session sends the same token again and again: built once
def _pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    kept = sorted(secrets, key=lambda s: (-len(s), s))
    if not kept:
        return None
    alternatives = []
    for secret in kept:
        if len(secret) <= MAX_SPELLED:
            alternatives.append("".join(_spelled(c) for c in secret))
        else:
            alternatives += [re.escape(secret), re.escape(urllib.parse.quote(secret, safe=""))]
    return re.compile("|".join(alternatives))


def scrubbed(value: Any, pattern: re.Pattern[str] | None) -> Any:
    """``value`` (decoded JSON) with every spelling of a secret replaced by "***" in each string and key; a
    ``body_b64`` is scrubbed in its bytes."""
    if pattern is None:
        return value
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, list):
        return [scrubbed(v, pattern) for v in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "body_b64" and isinstance(item, str):
                out[key] = _scrubbed_bytes(item, pattern)
            else:
                out[pattern.sub(REDACTED, key)] = scrubbed(item, pattern)
        return out
    return value


def _scrubbed_bytes(b64: str, pattern: re.Pattern[str]) -> str:
    # bytes that are not UTF-8 stay as they are (surrogateescape), and UTF-8 text in them is scrubbed
    text = base64.b64decode(b64).decode("utf-8", "surrogateescape")
    clean = pattern.sub(REDACTED, text)
    return b64 if clean == text else base64.b64encode(clean.encode("utf-8", "surrogateescape")).decode("ascii")


def leaked(line: str, pattern: re.Pattern[str] | None) -> bool:
    """Whether ``line`` (an exchange as written) still spells a secret anywhere (at any level of escaping)."""
    return pattern is not None and pattern.search(line) is not None
