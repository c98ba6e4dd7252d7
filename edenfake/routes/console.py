"""The console: ``GET /_edenfake/``, one self-contained page for local development, and the catalog read it
needs (``GET /_edenfake/catalog``). The page drives the fake through the public admin API alone."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from importlib import resources

from edenfake._core import Core
from edenfake._request import Exchange
from edenfake._wire import FakeResponse, json_response

__all__ = ["HANDLERS", "page"]

CONSOLE_PATH = "/_edenfake/"
_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


@functools.cache
def page() -> bytes:
    """The console's HTML, shipped in the package (read once)."""
    return resources.files("edenfake").joinpath("static").joinpath("console.html").read_bytes()


@functools.cache
def _headers() -> dict[str, str]:
    """The page loads nothing but itself and this fake's own routes (no CDN, no font, no frame): a browser
    refuses anything else, no other site may frame the page's buttons, and the only script that runs is the
    page's own, named by its sha256 (a script injected into the page, by markup in a journal entry say, does
    not run)."""
    scripts = _SCRIPT.findall(page())
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in scripts)
    script_src = hashes or "'none'"
    return {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-cache",
        "content-security-policy": (
            f"default-src 'none'; script-src {script_src}; style-src 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        ),
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
    }


def get_console(core: Core, exchange: Exchange) -> FakeResponse:
    return FakeResponse(200, dict(_headers()), page())


def get_console_redirect(core: Core, exchange: Exchange) -> FakeResponse:
    # A redirect keeps the URL's #fragment (where the admin token goes), so /_edenfake#token=... still works.
    body = b'<!doctype html><a href="/_edenfake/">/_edenfake/</a>'
    return FakeResponse(308, {"location": CONSOLE_PATH, "content-type": "text/html; charset=utf-8"}, body)


def admin_catalog(core: Core, exchange: Exchange) -> FakeResponse:
    # Read here, not from GET /v3/images/models: an API call would need an API token, land in the journal,
    # count against the rate limit and use up a queued fault.
    return json_response(200, core.catalog.data)


HANDLERS = {"getConsole": get_console, "getConsoleRedirect": get_console_redirect, "adminCatalog": admin_catalog}
