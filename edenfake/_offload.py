"""Where an answer is worked out for a door that runs on an event loop (the ASGI door, the mock's async
clients): on the loop itself when it is quick, in a worker thread when it is CPU-heavy (input images to decode,
files to hash, a body big enough that parsing it is work, many pixels to render), so that one heavy request
never holds up the others waiting on the same loop. The request is read once, here, and the core takes that
reading."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from edenfake import contracts
from edenfake._request import Exchange, read
from edenfake._wire import FakeRequest, FakeResponse
from edenfake.fake import EdenFake

__all__ = ["LOOP_BODY_MAX", "LOOP_PIXELS_MAX", "WORKERS", "answer", "is_heavy", "read_ahead"]

#: heavy answers worked out at once on each event loop; more wait their turn (each may hold one decoded input
#: image, up to MAX_INPUT_PIXELS x 4 bytes)
WORKERS = 4
#: a JSON body larger than this is parsed in a worker thread: reading it is work enough
LOOP_BODY_MAX = 64 * 1024
#: a generation of more pixels than this (n x width x height: two 1024x1024 images) renders in a worker thread
LOOP_PIXELS_MAX = 2 * 1024 * 1024
#: what a request that names no "WxH" size is counted as (the models' defaults are about a megapixel)
_DEFAULT_PIXELS = 1024 * 1024
_SIZE = re.compile(r"([1-9][0-9]{0,4})x([1-9][0-9]{0,4})")

if TYPE_CHECKING:
    import anyio
    from anyio.lowlevel import RunVar


async def answer(fake: EdenFake, request: FakeRequest) -> FakeResponse:
    """``fake.answer(request)``, in a worker thread when :func:`is_heavy` says so, else right here."""
    if not is_heavy(read_ahead(fake, request)):
        return fake.answer(request)
    import anyio.to_thread  # imported only once an answer is heavy: a quick one never needs a thread

    return await anyio.to_thread.run_sync(fake.answer, request, limiter=_limiter())


def read_ahead(fake: EdenFake, request: FakeRequest) -> Exchange:
    """``request`` read (its envelope) for its route, kept on the request for the core to take."""
    route = contracts.route_table().find(request.method, request.path)[0]
    exchange = read(request, route, fake.body_limit(route))
    request.exchange = exchange
    return exchange


def is_heavy(exchange: Exchange) -> bool:
    """Whether answering ``exchange`` may take long CPU work: its route takes files (edits decode images,
    uploads hash them), its JSON body is over LOOP_BODY_MAX, or it asks for more than LOOP_PIXELS_MAX pixels.
    Decided from the envelope and, for a small JSON body, its fields, parsed once for the core too."""
    route = exchange.route
    if route is None or exchange.kind is None or exchange.problem is not None:
        return False  # no body to read, or refused before it is read (413, 415): quick
    if route.takes_files or len(exchange.request.body) > LOOP_BODY_MAX:
        return True
    return _pixels(exchange.fields()) > LOOP_PIXELS_MAX


def _pixels(fields: dict[str, Any]) -> int:
    n = fields.get("n")
    count = n if isinstance(n, int) and not isinstance(n, bool) and n > 1 else 1
    size = fields.get("size")
    found = _SIZE.fullmatch(size) if isinstance(size, str) else None
    return count * (int(found[1]) * int(found[2]) if found is not None else _DEFAULT_PIXELS)


@functools.cache
def _limiters() -> RunVar[anyio.CapacityLimiter]:
    from anyio.lowlevel import RunVar

    return RunVar("edenfake_workers")


def _limiter() -> anyio.CapacityLimiter:
    # One per event loop: a limiter belongs to the loop it was first used on.
    import anyio

    try:
        return _limiters().get()
    except LookupError:
        limiter = anyio.CapacityLimiter(WORKERS)
        _limiters().set(limiter)
        return limiter
