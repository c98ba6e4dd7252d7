"""What an answer, a log line or the journal may repeat of a client's input: strings cut, credential headers'
values hidden (the contract's ``credentialHeaderName`` says which headers carry credentials)."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from edenfake._schemas import resolve

__all__ = [
    "ECHO_CHARS",
    "REDACTED",
    "clip",
    "echo",
    "is_credential_header",
    "is_secret_header",
    "one_line",
    "redact_at",
    "redact_body",
    "redact_extra_headers",
    "redact_headers",
]

ECHO_CHARS = 200


def clip(text: str, limit: int = ECHO_CHARS) -> str:
    """``text`` cut to ``limit`` characters (marked with an ellipsis), for echoing a client's input."""
    return text if len(text) <= limit else text[:limit] + "\u2026"


def one_line(text: str, limit: int = ECHO_CHARS) -> str:
    """``text`` cut to ``limit`` characters, control characters and lone surrogates escaped: fit for one line of
    a log or a report, whatever a client, an upstream or a file held."""
    text = clip(text, limit)
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def redact_at(loc: tuple[str | int, ...], value: Any) -> Any:
    """``value``, found at ``loc`` in a request body, with what ``extra_headers`` must hide hidden."""
    if not loc or loc[0] != "extra_headers":
        return value
    if len(loc) == 1:
        return redact_extra_headers(value)
    name = loc[1]
    if isinstance(name, str) and _TOKEN.match(name) and not is_credential_header(name):
        return value
    return REDACTED


def echo(value: Any) -> Any:
    """What an answer may repeat of a client's ``value``: long strings cut, large values left out (None)."""
    if value is None:
        return None
    if isinstance(value, str):
        return clip(value)
    if isinstance(value, (bool, int, float)):
        return value if not isinstance(value, int) or abs(value) < 10**30 else None
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None
    return value if len(encoded) <= ECHO_CHARS + 100 else None


REDACTED = "***"
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@functools.cache
def _credential_pattern() -> re.Pattern[str]:
    return re.compile(resolve("generation-request#/$defs/credentialHeaderName")["pattern"])


def is_credential_header(name: str) -> bool:
    """Whether header ``name`` carries credentials, read as a careless client writes it: spaces around it, a
    trailing colon and any letter case are ignored."""
    return _credential_pattern().match(name.strip().rstrip(":").strip().lower()) is not None


#: what else a header's name says of a secret it may carry (X-Auth-Token, X-Amz-Security-Token, X-Client-Secret,
#: Ocp-Apim-Subscription-Key, X-Private-Key, X-Jwt, X-Signature): the journal, its exports and a cassette's
#: scrubbing treat those values as secrets too, though such a header may be forwarded (extra_headers)
_SECRET_NAME = re.compile(
    r"auth|token|secret|passw|credential|api[-_]?key|cookie|session[-_]?id|(^|[-_])key$|private|jwt|bearer|signature",
    re.IGNORECASE,
)
#: a value that says it is a credential, whatever its header's name (X-Upstream: Bearer sk-...)
_CREDENTIAL_VALUE = re.compile(r"(bearer|basic|token|digest)\s", re.IGNORECASE)


def is_secret_header(name: str) -> bool:
    """Whether header ``name`` may carry a secret: a credential header, or one whose name speaks of a secret."""
    return is_credential_header(name) or _SECRET_NAME.search(name) is not None


def redact_headers(pairs: Any) -> dict[str, str]:
    """Headers (a mapping or name/value pairs) with the values of credential headers, and of any whose name
    speaks of a secret, hidden; the scheme of an Authorization value is kept (``Bearer ***``)."""
    out: dict[str, str] = {}
    for name, value in pairs.items() if isinstance(pairs, dict) else pairs:
        says_credential = _CREDENTIAL_VALUE.match(value.strip()) is not None
        if says_credential or is_secret_header(name):
            scheme, sep, _ = value.strip().partition(" ")
            shows_scheme = says_credential or name.lower() in ("authorization", "proxy-authorization")
            value = f"{scheme} {REDACTED}" if sep and shows_scheme else REDACTED
        out[name] = value
    return out


def redact_extra_headers(value: Any) -> Any:
    """``extra_headers`` as an answer or the journal may show it: the value of every credential header
    hidden, whatever its type; a name that is not a valid header name hidden with its value (it may hold a
    secret); anything but an object (a string such as "Authorization: Bearer ...") hidden whole."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return REDACTED
    out: dict[str, Any] = {}
    for i, (name, item) in enumerate(value.items()):
        if not _TOKEN.match(name):  # kept invalid (a space in it), so that a replayed request is refused alike
            out[f"{REDACTED} {i}"] = REDACTED
        elif is_credential_header(name):
            out[name] = REDACTED
        else:
            out[name] = item if isinstance(item, str) else echo(item)
    return out


def redact_body(body: Any) -> Any:
    """A request body with its ``extra_headers`` redacted (see :func:`redact_extra_headers`)."""
    if isinstance(body, dict) and body.get("extra_headers") is not None:
        return {**body, "extra_headers": redact_extra_headers(body["extra_headers"])}
    return body
