"""What keeps a web page the developer visits from driving or reading a fake served over HTTP.

A browser lets any page send some requests to any address, this machine's included, without asking the server
first: a form post, ``fetch`` with ``mode: "no-cors"``, ``navigator.sendBeacon``, an image. And a page whose
name its owner points at 127.0.0.1 (DNS rebinding) is even let read the answers, as the same origin. The fake
answers no CORS preflight, so what is left is checked here, at the top of :meth:`EdenFake.answer`, before
anything is read, journalled, charged or used up (a refused request leaves no trace but a log line):

1. ``Host`` (when sent) must name this machine: ``localhost``, ``*.localhost``, an IP address (a page cannot
   rebind one), the address the server is bound to, or one of the fake's ``allowed_hosts`` (``--allowed-host``,
   say a compose service name; ``*`` allows any). ``localhost.`` is not ``localhost``. On every route: the
   journal, hosted images and /v3 are all state.
2. ``Origin`` (when sent, ``null`` included) must be this fake's own origin, or name loopback (any port), the
   bound address or an allowed host. A page elsewhere cannot queue faults, spend credits or use up a fault
   through /v3, even with the simple requests a browser sends without asking.
3. A request the browser marks ``Sec-Fetch-Site: cross-site`` and sends without an Origin (an ``<img>``, a
   ``<script>``, a link) is refused too, but for the two a page may embed or link: hosted images and the
   console page.
4. Without an admin token, a POST or PUT to the admin API (a change) must say ``Content-Type:
   application/json``, a bodiless POST too: no browser sends that cross-site without a preflight, which the
   fake never grants. A DELETE needs no such header: no browser sends a DELETE cross-site without a preflight
   at all (a form cannot, nor ``fetch`` in ``no-cors`` mode, nor a beacon). With an admin token, the bearer
   header it needs is itself one no page can send cross-site.

Refusals are 403 in the API's error shape (``errors.schema.json``'s ``Forbidden``), naming the rule and how to
allow the request. Doors no browser can reach (the in-process mock) hand the core no server address, and are
never refused.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
from typing import TYPE_CHECKING, Any

from edenfake._answers import IMAGE_PREFIX
from edenfake._redact import clip, one_line
from edenfake._request import is_json_media
from edenfake._routing import route_table
from edenfake._wire import FakeRequest, FakeResponse, encode_error
from edenfake.errors import ApiError

if TYPE_CHECKING:
    from edenfake._core import Core

__all__ = ["Forbidden", "refusal"]

log = logging.getLogger("edenfake")

ADMIN_PREFIX = "/_edenfake/"
#: the reads a page elsewhere may embed or link (``Sec-Fetch-Site: cross-site`` without an Origin)
_EMBEDDABLE = ("/_edenfake/", "/_edenfake")
#: the changes a page elsewhere could send without a preflight but for their Content-Type (a DELETE never can)
_CHANGES = frozenset({"POST", "PUT", "PATCH"})
#: a Host header, or an Origin's authority: a name or an IP address (IPv6 in brackets), then a port
_AUTHORITY = re.compile(r"(?P<host>\[[0-9a-f:.]+(?:%[0-9a-z._~-]+)?\]|[0-9a-z._-]+)(?::(?P<port>[0-9]{1,5}))?")
_ORIGIN = re.compile(r"(?P<scheme>https?)://(?P<authority>[^/?#]{1,300})")
_HOW = "(edenfake serve --allowed-host NAME, or allowed_hosts=['NAME'])"


class Forbidden(ApiError):
    """403: a request a web page may have sent without the developer's say (see the module's rules)."""

    status = 403

    def __init__(self, detail: str, error_code: str) -> None:
        super().__init__(detail)
        self.error_code = error_code


def refusal(fake: Core, request: FakeRequest) -> FakeResponse | None:
    """The 403 for ``request`` when a browser may have sent it on a page's behalf alone, else None."""
    if request.server_host is None:
        return None  # a door no browser reaches
    try:
        _check(fake, request)
    except Forbidden as exc:
        if log.isEnabledFor(logging.INFO):
            log.info("%s %s 403 refused: %s", one_line(request.method, 20), one_line(request.path), exc.error_code)
        return encode_error(exc).response()
    return None


def _check(fake: Core, request: FakeRequest) -> None:
    host = origin = site = media = None
    for name, value in request.headers:  # one pass, the first of each (as FakeRequest.header reads them)
        if name == "host" and host is None:
            host = value
        elif name == "origin" and origin is None:
            origin = value
        elif name == "sec-fetch-site" and site is None:
            site = value
        elif name == "content-type" and media is None:
            media = value
    bound = request.server_host or ""
    allowed = fake.options.allowed_hosts
    if host and not host_allowed(host, bound, allowed):
        raise Forbidden(
            f"Host {clip(host, 100)!r} is not a name of this fake: it answers localhost, *.localhost, an IP address "
            f"and the address it is bound to, so that no web page reaches it by DNS rebinding. To use this name, "
            f"allow it {_HOW}.",
            "HOST_NOT_ALLOWED",
        )
    if origin is not None and origin.strip().lower() == "null":
        raise Forbidden(
            "Origin 'null' is a page with no site (a sandboxed frame, a local file, a redirect from elsewhere): this "
            "fake takes requests from its own pages and this machine's alone, so that no web page drives or reads "
            "it. Call it from one of those, or from a client that sends no Origin.",
            "ORIGIN_NOT_ALLOWED",
        )
    if origin is not None and not origin_allowed(origin, f"{_scheme(request)}://{host or ''}", bound, allowed):
        raise Forbidden(
            f"Origin {clip(origin, 100)!r} is a page of another site: this fake takes requests from its own pages "
            f"and this machine's (localhost, 127.0.0.1, [::1]) alone, so that no web page drives or reads it. To "
            f"take requests from that page's host, allow it {_HOW}.",
            "ORIGIN_NOT_ALLOWED",
        )
    if (
        origin is None
        and (site or "").lower() == "cross-site"
        and not (request.method in ("GET", "HEAD") and _embeddable(request.path))
    ):
        raise Forbidden(
            "The browser marks this request cross-site (Sec-Fetch-Site) and it carries no Origin: a page of "
            "another site sent it. Only hosted images and the console page may be embedded or linked from "
            "elsewhere; call the fake from its own pages, this machine's, or a client that is not a browser.",
            "CROSS_SITE_REQUEST",
        )
    if (
        request.method in _CHANGES
        and request.path.startswith(ADMIN_PREFIX)
        and fake.admin_token is None
        and not is_json_media((media or "").partition(";")[0].strip().lower())
        and _admin_change(request.method, request.path)
    ):
        raise Forbidden(
            "Without an admin token, the admin API changes state only on requests no web page can send "
            "cross-site: send 'Content-Type: application/json' (on a bodiless POST too), "
            "or start the fake with --admin-token TOKEN and send 'Authorization: Bearer TOKEN'.",
            "ADMIN_NEEDS_JSON",
        )


def _admin_change(method: str, path: str) -> bool:
    # Only the admin API's own changes: any other method or path there changes nothing (405, 404).
    methods = route_table().methods(path)
    route = methods.get(method) if methods is not None else None
    return route is not None and route.admin


def _embeddable(path: str) -> bool:
    return path.startswith(IMAGE_PREFIX) or path in _EMBEDDABLE


def _parsed_host(authority: str) -> tuple[str, Any] | None:
    """An authority's host (lower case) and its IP address (None for a name); None when it is malformed."""
    found = _AUTHORITY.fullmatch(authority.lower())
    if found is None:
        return None
    host = found.group("host")
    try:
        return host, ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host, None


def _names_this_machine(host: str, ip: Any, bound: str, allowed: tuple[str, ...]) -> bool:
    """Loopback (a name or an address), the bound address, or an allowed host."""
    if ip is not None:
        mapped = getattr(ip, "ipv4_mapped", None)
        if ip.is_loopback or (mapped is not None and mapped.is_loopback):
            return True
    elif host == "localhost" or host.endswith(".localhost"):
        return True
    server = _parsed_host(f"[{bound}]" if ":" in bound and not bound.startswith("[") else bound)
    if server is not None and (server[0] == host or (ip is not None and server[1] == ip)):
        return True
    names = {name.strip().lower() for name in allowed}
    return host in names


# Decided once per distinct value (a client sends the same few): each is a pure function of its strings.


@functools.lru_cache(maxsize=256)
def host_allowed(value: str, bound: str, allowed: tuple[str, ...]) -> bool:
    """Whether a ``Host`` header names this fake: an IP address, or a name of this machine (see the module)."""
    parsed = _parsed_host(value)
    if parsed is None:
        return False
    host, ip = parsed
    return ip is not None or _names_this_machine(host, ip, bound, allowed)


@functools.lru_cache(maxsize=256)
def origin_allowed(value: str, own: str, bound: str, allowed: tuple[str, ...]) -> bool:
    """Whether an ``Origin`` is the fake's own (``own``: its scheme and Host) or a page of this machine."""
    found = _ORIGIN.fullmatch(value.strip().lower())
    if found is None:
        return False  # not a web origin
    if f"{found.group('scheme')}://{found.group('authority')}" == own.lower():
        return True  # the fake's own page
    parsed = _parsed_host(found.group("authority"))
    return parsed is not None and _names_this_machine(*parsed, bound, allowed)


def _scheme(request: FakeRequest) -> str:
    return request.base_url.partition("://")[0].lower() or "http"
