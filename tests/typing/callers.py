"""Checked by mypy (``.ci/run``), never run: callers' mistakes that mypy must report. Each ignore names the
error it expects; with ``warn_unused_ignores`` (strict), an error mypy stopped finding fails the check."""

from __future__ import annotations

import edenfake

edenfake.EdenFake(credits="5")  # type: ignore[arg-type]
edenfake.EdenFake(credit=5)  # type: ignore[call-arg]
edenfake.mock(assert_all_mocked="yes")  # type: ignore[call-overload]
edenfake.serve(port="8000")  # type: ignore[arg-type]
edenfake.EdenFake(clock=1_779_792_103.0, credits=1.5, tokens=("a",), latency=(0.0, 0.1))
with edenfake.mock(base_urls=("http://gateway.test",), credits=2.0) as eden:
    eden.fail(429)

# The explicit doors: each library's own transport and adapter types, and only the libraries there are.
import httpx  # noqa: E402
import httpx2  # noqa: E402
import requests.adapters  # noqa: E402

door = edenfake.mock()
sync_door: httpx.BaseTransport = door.transport()
sync_door2: httpx2.BaseTransport = door.transport(library="httpx2")
async_door: httpx.AsyncBaseTransport = door.async_transport()
adapter: requests.adapters.HTTPAdapter = edenfake.Handle(edenfake.EdenFake()).requests_adapter()
wrong: httpx2.BaseTransport = door.transport()  # type: ignore[assignment]
door.transport(library="aiohttp")  # type: ignore[call-overload]
