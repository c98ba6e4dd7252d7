"""edenfake: a fake Eden AI image API for tests and offline development.

The public API is what this module exports; everything else is private and may change. Names are imported
on first use, so that ``import edenfake`` (and the pytest plugin) cost next to nothing until used.

Where things live, lowest layer first (``tests/test_layout.py`` holds every module to its layer):

- contracts and data: ``contracts/*.json`` read by ``_schemas``; ``contracts`` (validators, the route table of
  ``_routing``), ``_redact`` (what an answer may echo), ``catalog`` (models, prices, rules), ``_regions``
  (where models are served: hosts, ``model@CODE``), ``_options`` (every option, once; ``_kwargs``, their
  keywords for mypy), ``errors``, ``_media`` (file kinds), ``_files`` (files a user names, read within a
  bound), ``_png``, ``_glyphs`` (label text), ``_inspect``
  (an image's fingerprint read back), ``_store`` and ``_acceptor`` (a contract as a fast "valid?" predicate);
- requests and state: ``_wire`` (requests and answers as plain data), ``_request`` and ``_multipart`` (a body
  read once), ``_query`` (a query string read), ``_summaries`` (what the journal keeps of a body), ``images``
  (placeholders and their cache), ``journal`` (its questions in ``_calls``), ``faults``, ``_sessions``
  (``X-Edenfake-Session``: each session's state); the cassette files: ``cassettes.format``, ``.matching``,
  ``.scrub``, ``.writing``;
- the core: ``_core`` (state, authentication, credits, stores);
- answers: ``_answers`` (image answers), ``routes/`` (one module per group of the OpenAPI document's
  operations), ``_guard`` (requests a web page may not make), ``cassettes.replay``;
- the fake: ``fake.EdenFake.answer``, one request in, one answer out;
- doors and tools: ``app`` (ASGI), ``_offload`` (heavy answers off the event loop), ``server`` and ``_bounds``
  (each connection's time and size), ``_mock`` (httpx and httpx2 in process), ``_handle`` (a test's controls),
  ``plugin`` (pytest), ``cli``, ``_validate``, ``cassettes.recording`` and ``.session`` (record), ``drift/``
  (compare with a recording), ``strategies/`` (hypothesis).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from edenfake._core import Clock
    from edenfake._handle import Handle
    from edenfake._mock import MockHandle, mock
    from edenfake._options import FakeOptions, MockOptions, ServeOptions
    from edenfake._wire import FakeRequest, FakeResponse
    from edenfake.app import create_app
    from edenfake.catalog import Catalog, ModelSpec, Plan
    from edenfake.errors import ApiError, CatalogError, ContractError, EdenfakeError
    from edenfake.fake import EdenFake
    from edenfake.faults import Fault, RequestView
    from edenfake.images import ImageInfo, ImageSpec, inspect_image
    from edenfake.journal import Call, Journal
    from edenfake.server import LiveServer, serve

_WHERE = {
    "ApiError": "edenfake.errors",
    "Call": "edenfake.journal",
    "Catalog": "edenfake.catalog",
    "CatalogError": "edenfake.errors",
    "Clock": "edenfake._core",
    "ContractError": "edenfake.errors",
    "EdenFake": "edenfake.fake",
    "EdenfakeError": "edenfake.errors",
    "FakeRequest": "edenfake._wire",
    "FakeResponse": "edenfake._wire",
    "FakeOptions": "edenfake._options",
    "Fault": "edenfake.faults",
    "Handle": "edenfake._handle",
    "ImageInfo": "edenfake.images",
    "ImageSpec": "edenfake.images",
    "Journal": "edenfake.journal",
    "LiveServer": "edenfake.server",
    "MockHandle": "edenfake._mock",
    "MockOptions": "edenfake._options",
    "ModelSpec": "edenfake.catalog",
    "Plan": "edenfake.catalog",
    "RequestView": "edenfake.faults",
    "ServeOptions": "edenfake._options",
    "create_app": "edenfake.app",
    "inspect_image": "edenfake.images",
    "mock": "edenfake._mock",
    "serve": "edenfake.server",
}

__all__ = [
    "ApiError",
    "Call",
    "Catalog",
    "CatalogError",
    "Clock",
    "ContractError",
    "EdenFake",
    "EdenfakeError",
    "FakeOptions",
    "FakeRequest",
    "FakeResponse",
    "Fault",
    "Handle",
    "ImageInfo",
    "ImageSpec",
    "Journal",
    "LiveServer",
    "MockHandle",
    "MockOptions",
    "ModelSpec",
    "Plan",
    "RequestView",
    "ServeOptions",
    "create_app",
    "inspect_image",
    "mock",
    "serve",
]


_SUBMODULES = {"contracts", "strategies"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"edenfake.{name}")
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'edenfake' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
