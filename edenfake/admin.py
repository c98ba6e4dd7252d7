"""The admin routes under ``/_edenfake/``: read the journal, queue faults, set credits, move the clock, reset.

They let tests in any language, and runs in another process, drive a fake they reach only over HTTP.
Their bodies are checked against ``contracts/admin.schema.json``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from edenfake._wire import FakeResponse, json_response
from edenfake.faults import Fault

if TYPE_CHECKING:
    from edenfake.fake import EdenFake, Exchange, Handler

__all__ = ["ROUTES"]


def _body(fake: EdenFake, exchange: Exchange, definition: str) -> dict[str, Any]:
    body = fake.read_json(exchange)
    fake.check_contract(f"admin#/$defs/{definition}", body)
    return body


def _fault_dict(fault: Fault) -> dict[str, Any]:
    match = fault.match if fault.match is None or isinstance(fault.match, (str, dict)) else repr(fault.match)
    return {"fail": fault.what, "times": fault.times, "used": fault.used, "match": match}


def state(fake: EdenFake) -> dict[str, Any]:
    return {
        "calls": len(fake.calls),
        "faults": [_fault_dict(f) for f in fake.faults.faults],
        "credits": fake.credits,
        "rate_limit": fake.rate_limiter.per_second if fake.rate_limiter else None,
        "latency": list(fake.faults.latency) if isinstance(fake.faults.latency, tuple) else fake.faults.latency,
        "chaos_rate": fake.faults.chaos_rate,
        "clock": {"now": fake.clock.now(), "frozen": fake.clock.frozen},
    }


def get_state(fake: EdenFake, exchange: Exchange) -> FakeResponse:
    return json_response(200, state(fake))


def get_calls(fake: EdenFake, exchange: Exchange) -> FakeResponse:
    calls = [asdict(c) for c in fake.calls]
    return json_response(200, {"calls": calls, "count": len(calls), "dropped": fake.calls.dropped})


def delete_calls(fake: EdenFake, exchange: Exchange) -> FakeResponse:
    fake.calls.clear()
    return json_response(200, {"calls": [], "count": 0, "dropped": 0})


def get_faults(fake: EdenFake, exchange: Exchange) -> FakeResponse:
    return json_response(200, {"faults": [_fault_dict(f) for f in fake.faults.faults]})


def post_fault(fake: EdenFake, exchange: Exchange) -> FakeResponse:
    body = _body(fake, exchange, "FaultRequest")
    fault = fake.fail(
        body["fail"],
        times=body.get("times", 1),
        match=body.get("match"),
        retry_after=body.get("retry_after"),
        detail=body.get("detail"),
        hang=body.get("hang", 30.0),
    )
    return json_response(201, _fault_dict(fault))


def delete_faults(fake: EdenFake, exchange: Exchange) -> FakeResponse:
    fake.faults.faults.clear()
    return json_response(200, {"faults": []})


def put_credits(fake: EdenFake, exchange: Exchange) -> FakeResponse:
    fake.set_credits(_body(fake, exchange, "CreditsRequest")["credits"])
    return json_response(200, state(fake))


def put_rate_limit(fake: EdenFake, exchange: Exchange) -> FakeResponse:
    fake.set_rate_limit(_body(fake, exchange, "RateLimitRequest")["per_second"])
    return json_response(200, state(fake))


def put_latency(fake: EdenFake, exchange: Exchange) -> FakeResponse:
    body = _body(fake, exchange, "LatencyRequest")
    seconds = body["seconds"]
    fake.set_latency(tuple(seconds) if isinstance(seconds, list) else seconds, seed=body.get("seed"))
    return json_response(200, state(fake))


def put_chaos(fake: EdenFake, exchange: Exchange) -> FakeResponse:
    body = _body(fake, exchange, "ChaosRequest")
    fake.set_chaos(body["rate"], statuses=body.get("statuses", (429, 500, 502, 503)), seed=body.get("seed"))
    return json_response(200, state(fake))


def put_clock(fake: EdenFake, exchange: Exchange) -> FakeResponse:
    body = _body(fake, exchange, "ClockRequest")
    if "advance" in body:
        fake.clock.advance(body["advance"])
    else:
        fake.clock.set(body["at"])
    return json_response(200, state(fake))


def post_reset(fake: EdenFake, exchange: Exchange) -> FakeResponse:
    fake.reset()
    return json_response(200, state(fake))


ROUTES: dict[str, dict[str, Handler]] = {
    "/_edenfake/state": {"GET": get_state},
    "/_edenfake/calls": {"GET": get_calls, "DELETE": delete_calls},
    "/_edenfake/faults": {"GET": get_faults, "POST": post_fault, "DELETE": delete_faults},
    "/_edenfake/credits": {"PUT": put_credits},
    "/_edenfake/rate-limit": {"PUT": put_rate_limit},
    "/_edenfake/latency": {"PUT": put_latency},
    "/_edenfake/chaos": {"PUT": put_chaos},
    "/_edenfake/clock": {"PUT": put_clock},
    "/_edenfake/reset": {"POST": post_reset},
}
