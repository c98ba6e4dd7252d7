"""Cassettes: exchanges with the real service, kept as a directory a person can read and diff, and replayed.

format.py     the directory on disk (contracts/cassette.schema.json states a line), loading and checking it
              whole, reading files back safely, writing an answer's bytes back
matching.py   requests as a cassette keeps them, the match key replay compares, their differences
scrub.py      secrets kept out: URLs stripped of their query, every JSON and URL spelling of a secret
writing.py    answers as a cassette keeps them, the writer, the staged cassette a test records into
recording.py  the upstream (bounded reads), the Recording source, the proxy door of ``edenfake record``
replay.py     the Replay source, the NOT_RECORDED answer, what the journal keeps of a replayed answer
session.py    one test's cassette for the pytest plugin
har.py        HAR 1.2 logs (devtools, playwright, mitmproxy, Polly.js) read as exchanges, checked field by field
vcr.py        vcrpy cassettes (YAML read safely: no anchors, no tag but !!binary; JSON) read as exchanges
importing.py  ``edenfake import``: sources into a new cassette through the recorder's describe-and-write path
"""

from __future__ import annotations

import urllib.parse

__all__ = ["upstream_base"]


def upstream_base(url: str) -> str:
    """The service a recorder forwards to, as ``url`` names it (the host, or ``.../v3`` as the openai SDK takes
    it), without ``/v3``: requests carry it already. ValueError naming the rule the URL breaks."""
    shown = repr(url) if len(url) <= 200 else repr(url[:200]) + "\u2026"
    try:
        parts = urllib.parse.urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:  # an unclosed [IPv6] host, say
        raise ValueError(f"the upstream must be an http:// or https:// URL ({exc}), got {shown}") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise ValueError(f"the upstream must be an http:// or https:// URL, got {shown}")
    if len(hostname) > 253:
        raise ValueError(f"the upstream's host name is longer than a DNS name may be (253), got {shown}")
    if parts.username or parts.password or parts.query:
        raise ValueError("the upstream URL carries no credentials or query: the caller's Authorization is sent")
    base = url.rstrip("/")
    return base[: -len("/v3")] if base.endswith("/v3") else base
