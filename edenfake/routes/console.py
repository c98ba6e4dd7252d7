"""The console: ``GET /_edenfake/``, one self-contained page for local development, and the catalog read it
needs (``GET /_edenfake/catalog``). The page drives the fake through the public admin API alone."""

from __future__ import annotations

import functools
from importlib import resources

from edenfake._core import Core
from edenfake._request import Exchange
from edenfake._wire import FakeResponse, json_response

__all__ = ["HANDLERS", "page"]

CONSOLE_PATH = "/_edenfake/"
#: The page loads nothing but itself and this fake's own routes (no CDN, no font, no frame): a browser
#: refuses anything else, and no other site may frame the page's buttons.
_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-cache",
    "content-security-policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


@functools.cache
def page() -> bytes:
    """The console's HTML, shipped in the package (read once)."""
    return resources.files("edenfake").joinpath("static").joinpath("console.html").read_bytes()


def get_console(core: Core, exchange: Exchange) -> FakeResponse:
    return FakeResponse(200, dict(_HEADERS), page())


def get_console_redirect(core: Core, exchange: Exchange) -> FakeResponse:
    # A redirect keeps the URL's #fragment (where the admin token goes), so /_edenfake#token=... still works.
    body = b'<!doctype html><a href="/_edenfake/">/_edenfake/</a>'
    return FakeResponse(308, {"location": CONSOLE_PATH, "content-type": "text/html; charset=utf-8"}, body)


def admin_catalog(core: Core, exchange: Exchange) -> FakeResponse:
    # Read here, not from GET /v3/images/models: an API call would need an API token, land in the journal,
    # count against the rate limit and use up a queued fault.
    return json_response(200, core.catalog.data)


HANDLERS = {"getConsole": get_console, "getConsoleRedirect": get_console_redirect, "adminCatalog": admin_catalog}
