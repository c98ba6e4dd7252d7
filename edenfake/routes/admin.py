"""The admin routes under ``/_edenfake/``: read the journal, queue faults, set credits, move the clock, reset.

They let tests in any language, and runs in another process, drive a fake they reach only over HTTP. Their
bodies are checked against ``contracts/admin.schema.json``; a value the contract lets through but a setter
refuses (a latency range with low > high, a clock moved past year 9999) is a 422 naming the field too.

Served over HTTP without an admin token, every POST and PUT must say ``Content-Type: application/json``,
a bodiless reset too, and no request may come under a foreign Host or from another site's
page: ``edenfake._guard`` refuses those (403) before they reach these handlers.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any

from edenfake import _redact, _sessions
from edenfake._core import Core
from edenfake._query import read_query
from edenfake._request import Exchange
from edenfake._wire import FakeResponse, json_response
from edenfake.errors import InvalidSetting, NotFound, RequestValidationError
from edenfake.faults import CHAOS_STATUSES, Fault

__all__ = ["HANDLERS", "state"]


def _body(core: Core, exchange: Exchange) -> dict[str, Any]:
    body = exchange.json()
    assert exchange.route is not None and exchange.route.json_contract is not None
    core.check_contract(exchange.route.json_contract, body)
    return body


def _applied(field: str, setter: Callable[[], object]) -> None:
    """Run ``setter``; its ValueError becomes a 422 naming ``field``."""
    try:
        setter()
    except ValueError as exc:
        named = exc.field if isinstance(exc, InvalidSetting) else field
        message = str(exc)
        if message.startswith(f"{named}: "):  # the loc names the field already
            message = message[len(named) + 2 :]
        raise RequestValidationError(
            [{"type": "value_error", "loc": ["body", named], "msg": _redact.clip(message, 300)}]
        ) from None


def _fault_dict(fault: Fault) -> dict[str, Any]:
    match = fault.match if fault.match is None or isinstance(fault.match, (str, dict)) else repr(fault.match)
    return {"fail": fault.what, "times": fault.times, "used": fault.used, "match": match}


def state(core: Core) -> dict[str, Any]:
    latency = core.faults.latency
    return {
        "calls": len(core.calls),
        "faults": [_fault_dict(f) for f in core.faults.faults],
        "credits": core.credits,
        "rate_limit": core.rate_limiter.per_second if core.rate_limiter else None,
        "latency": list(latency) if isinstance(latency, tuple) else latency,
        "chaos_rate": core.faults.chaos_rate,
        "clock": {"now": core.clock.now(), "frozen": core.clock.frozen},
    }


def admin_state(core: Core, exchange: Exchange) -> FakeResponse:
    return json_response(200, state(core))


def admin_calls(core: Core, exchange: Exchange) -> FakeResponse:
    query = read_query(exchange)
    offset, limit = query["offset"], query["limit"]
    calls = [c.as_dict() for c in core.calls.page(offset, limit)]
    return json_response(
        200, {"calls": calls, "count": len(core.calls), "dropped": core.calls.dropped, "offset": offset, "limit": limit}
    )


def admin_calls_har(core: Core, exchange: Exchange) -> FakeResponse:
    query = read_query(exchange)
    har = core.calls.to_har(base_url=exchange.request.base_url, offset=query["offset"], limit=query["limit"])
    return json_response(200, har, {"content-disposition": 'attachment; filename="edenfake-calls.har"'})


def admin_clear_calls(core: Core, exchange: Exchange) -> FakeResponse:
    core.calls.clear()
    return json_response(200, {"calls": [], "count": 0, "dropped": 0, "offset": 0, "limit": 100})


def admin_faults(core: Core, exchange: Exchange) -> FakeResponse:
    return json_response(200, {"faults": [_fault_dict(f) for f in core.faults.faults]})


def admin_add_fault(core: Core, exchange: Exchange) -> FakeResponse:
    body = _body(core, exchange)
    added: list[Fault] = []
    _applied(
        "fail",
        lambda: added.append(
            core.fail(
                body["fail"],
                times=body.get("times", 1),
                match=body.get("match"),
                retry_after=body.get("retry_after"),
                detail=body.get("detail"),
                hang=body.get("hang", 30.0),
            )
        ),
    )
    return json_response(201, _fault_dict(added[0]))


def admin_clear_faults(core: Core, exchange: Exchange) -> FakeResponse:
    core.faults.clear_queue()
    return json_response(200, {"faults": []})


def admin_credits(core: Core, exchange: Exchange) -> FakeResponse:
    body = _body(core, exchange)
    _applied("credits", lambda: core.set_credits(body["credits"]))
    return json_response(200, state(core))


def admin_rate_limit(core: Core, exchange: Exchange) -> FakeResponse:
    body = _body(core, exchange)
    _applied("per_second", lambda: core.set_rate_limit(body["per_second"]))
    return json_response(200, state(core))


def admin_latency(core: Core, exchange: Exchange) -> FakeResponse:
    body = _body(core, exchange)
    _applied("seconds", lambda: core.set_latency(body["seconds"], seed=body.get("seed")))
    return json_response(200, state(core))


def admin_chaos(core: Core, exchange: Exchange) -> FakeResponse:
    body = _body(core, exchange)
    statuses = body.get("statuses", CHAOS_STATUSES)
    _applied("rate", lambda: core.set_chaos(body["rate"], statuses=statuses, seed=body.get("seed")))
    return json_response(200, state(core))


def admin_clock(core: Core, exchange: Exchange) -> FakeResponse:
    body = _body(core, exchange)
    if "advance" in body:
        _applied("advance", lambda: core.clock.advance(body["advance"]))
    else:
        _applied("at", lambda: core.clock.set(body["at"]))
    return json_response(200, state(core))


def admin_reset(core: Core, exchange: Exchange) -> FakeResponse:
    request = exchange.request
    if request.oversize or request.body.strip():  # a body is the contract's empty object; none at all will do
        _body(core, exchange)  # (and one past the admin routes' bound is a 413, not an absent body)
    core.reset()
    return json_response(200, state(core))


def admin_sessions(core: Core, exchange: Exchange) -> FakeResponse:
    listed = core.sessions.listing()
    sessions = core.sessions
    return json_response(
        200, {"sessions": listed, "count": len(listed), "max_sessions": sessions.limit, "dropped": sessions.dropped}
    )


def admin_drop_session(core: Core, exchange: Exchange) -> FakeResponse:
    name = _sessions.check_name(urllib.parse.unquote(exchange.request.path.rsplit("/", 1)[1]), "name (path)")
    if not core.sessions.drop(name):
        raise NotFound(f"No session named {name!r}")
    return json_response(200, {"name": name, "dropped": True})


HANDLERS = {
    "adminState": admin_state,
    "adminCalls": admin_calls,
    "adminCallsHar": admin_calls_har,
    "adminClearCalls": admin_clear_calls,
    "adminFaults": admin_faults,
    "adminAddFault": admin_add_fault,
    "adminClearFaults": admin_clear_faults,
    "adminCredits": admin_credits,
    "adminRateLimit": admin_rate_limit,
    "adminLatency": admin_latency,
    "adminChaos": admin_chaos,
    "adminClock": admin_clock,
    "adminReset": admin_reset,
    "adminSessions": admin_sessions,
    "adminDropSession": admin_drop_session,
}
