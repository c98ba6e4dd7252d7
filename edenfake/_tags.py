"""Request tags: key/value labels a client puts on a call to split its cost (Eden's ``v3/general/tags.mdx``),
from the ``X-EdenAI-Tags`` header and a JSON body's ``tags`` object, merged by key (the body over the header;
the fake has no key defaults) and checked against their rules.

The rules are read from the contracts, nothing here restates them: the bounds and characters of a key and a
value, the most tags a call carries and the reserved prefix from ``generation-request.schema.json``'s
``$defs/tags``; which routes read the header, and its longest value, from the ``X-EdenAI-Tags`` parameter of
``openapi.json``'s operations. A refusal is :class:`~edenfake.errors.InvalidTags` (400 ``INVALID_TAGS``), naming
the tag (clipped) and the rule in Eden's own words.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from edenfake import _schemas, contracts
from edenfake._redact import clip, one_line
from edenfake.errors import InvalidTags

__all__ = ["HEADER", "TagRules", "header_limit", "merged", "reads_header", "reads_body", "rules"]

#: the request header that carries tags, as a door hands header names to the core (lower case)
HEADER = "x-edenai-tags"
#: characters of a refused tag's key or value the refusal echoes
_ECHO = 80


@dataclass(frozen=True)
class TagRules:
    """What ``generation-request.schema.json#/$defs/tags`` allows."""

    max_tags: int
    key_min: int
    key_max: int
    value_min: int
    value_max: int
    characters: re.Pattern[str]
    reserved: str


@functools.cache
def rules() -> TagRules:
    """The tag rules, read once from the request contract."""
    schema = contracts.load("generation-request#/$defs/tags")
    keys, values = schema["propertyNames"], schema["additionalProperties"]
    return TagRules(
        max_tags=int(schema["maxProperties"]),
        key_min=int(keys["minLength"]),
        key_max=int(keys["maxLength"]),
        value_min=int(values["minLength"]),
        value_max=int(values["maxLength"]),
        characters=re.compile(values["pattern"]),
        reserved=str(schema["x-reserved-prefix"]),
    )


@functools.cache
def _header_parameter(method: str, path: str) -> Mapping[str, Any] | None:
    # read, not copied: the parameter found is only read (a copy of the whole document was about 5 ms of a first
    # request)
    operation = _schemas.load_file("openapi.json")["paths"].get(path, {}).get(method.lower(), {})
    for parameter in _schemas.parameters(operation):
        if parameter.get("in") == "header" and parameter.get("name", "").lower() == HEADER:
            found: Mapping[str, Any] = parameter
            return found
    return None


def reads_header(method: str, path: str) -> bool:
    """Whether the route ``method path`` (its OpenAPI path) reads the tags header: those that declare it."""
    return _header_parameter(method, path) is not None


def header_limit(method: str, path: str) -> int:
    """The longest tags header (all its values, joined by commas) the route takes, from its declaration."""
    parameter = _header_parameter(method, path)
    return int(parameter["schema"]["maxLength"]) if parameter is not None else 0


@functools.cache
def reads_body(contract: str | None) -> bool:
    """Whether a JSON body of ``contract`` may carry a ``tags`` object (its contract declares the field)."""
    return contract is not None and "tags" in contracts.load(contract).get("properties", {})


def _shown(text: str) -> str:
    # Control characters escaped, then cut again: an escape is longer than the character it stands for.
    return clip(one_line(text, _ECHO), _ECHO)


def _refuse(detail: str, tag: str | None, rule: str) -> InvalidTags:
    return InvalidTags(detail, tag=None if tag is None else _shown(tag), rule=rule)


def _check(key: Any, value: Any, where: str) -> tuple[str, str]:
    """``(key lower-cased, value)`` when the pair keeps every rule; else InvalidTags naming it."""
    r = rules()
    if not isinstance(key, str) or not isinstance(value, str):
        raise _refuse(f"tag '{_shown(str(key))}': keys and values must be strings", str(key), "not_string")
    if not r.key_min <= len(key) <= r.key_max:
        raise _refuse(f"tag '{_shown(key)}': key must be {r.key_min} to {r.key_max} characters", key, "key_length")
    if not r.value_min <= len(value) <= r.value_max:
        raise _refuse(
            f"tag '{_shown(key)}': value must be {r.value_min} to {r.value_max} characters", key, "value_length"
        )
    if r.characters.fullmatch(key) is None or r.characters.fullmatch(value) is None:
        raise _refuse(
            f"tag {_shown(key)}={_shown(value)}: only letters, digits and - _ . : / are allowed ({where})",
            key,
            "characters",
        )
    lowered = key.lower()
    if lowered.startswith(r.reserved):
        raise _refuse(f"tag '{_shown(key)}': the '{r.reserved}' prefix is reserved", key, "reserved")
    return lowered, value


def _pairs(pairs: Iterable[tuple[Any, Any]], where: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in pairs:
        lowered, kept = _check(key, value, where)
        if lowered in found:
            raise _refuse(f"tag '{_shown(lowered)}' appears twice in the {where}", lowered, "duplicate")
        found[lowered] = kept
    return found


def from_header(values: Iterable[str], limit: int) -> dict[str, str]:
    """The tags of every ``X-EdenAI-Tags`` value (a header sent twice keeps the pairs of both, as Eden's page
    says): ``key=value`` pairs split by commas, spaces around a pair ignored, empty pairs skipped."""
    joined = ",".join(values)
    if len(joined) > limit:
        raise _refuse(
            f"the X-EdenAI-Tags header is longer than {limit} characters (got {len(joined)})", None, "header_too_long"
        )
    pairs = []
    for segment in joined.split(","):
        segment = segment.strip()
        if not segment:
            continue
        key, sep, value = segment.partition("=")
        if not sep:
            raise _refuse(f"tag '{_shown(segment)}' in the header is not key=value", segment, "not_key_value")
        pairs.append((key.strip(), value.strip()))
    return _pairs(pairs, "header")


def merged(header: Iterable[str] | None, body: Any, *, limit: int) -> dict[str, str]:
    """The call's tags: the header's (``None``: the route does not read it), then the body's ``tags`` over
    them by key; a body ``tags`` that is not an object is ignored, as Eden's page says. InvalidTags when any
    tag breaks a rule, or when more than the most a call carries remain after merging."""
    tags = from_header(header, limit) if header is not None else {}
    if isinstance(body, Mapping):
        tags.update(_pairs(body.items(), "body"))
    most = rules().max_tags
    if len(tags) > most:
        raise _refuse(f"at most {most} tags per call, got {len(tags)}", None, "too_many")
    return tags
