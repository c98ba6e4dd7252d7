"""The keywords of edenfake's options classes as TypedDicts, for ``**kwargs: Unpack[...]``: mypy checks the
callers of ``EdenFake()``, ``edenfake.mock()`` and ``edenfake.serve()`` with them (a test holds them to the
dataclasses of :mod:`edenfake._options`, which re-exports them)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from edenfake.catalog import Catalog

__all__ = ["FakeKwargs", "MockKwargs", "ServeKwargs"]


class FakeKwargs(TypedDict, total=False):
    """The keywords of :class:`FakeOptions`, for ``**kwargs: Unpack[FakeKwargs]``."""

    catalog: Catalog | str | os.PathLike[str] | None
    seed: int
    clock: float | None
    url_ttl: float
    tokens: tuple[str, ...] | None
    credits: float | None
    rate_limit: int | None
    latency: float | tuple[float, float]
    fault_seed: int
    max_body_bytes: int
    max_upload_bytes: int
    image_cache_bytes: int
    url_store_bytes: int
    upload_store_bytes: int
    journal_size: int
    journal_bytes: int
    max_sessions: int
    admin_token: str | None
    allowed_hosts: tuple[str, ...]
    replay: str | os.PathLike[str] | Any
    unmatched: str


class MockKwargs(FakeKwargs, total=False):
    """The keywords of :class:`MockOptions`."""

    base_urls: tuple[str, ...]
    assert_all_mocked: bool
    assert_all_faults_used: bool


class ServeKwargs(FakeKwargs, total=False):
    """The keywords of :class:`ServeOptions`."""

    host: str
    port: int
    request_timeout: float
    max_connections: int
    assert_all_faults_used: bool
