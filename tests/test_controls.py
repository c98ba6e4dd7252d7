"""Every control a test sets (a fault's times, retry_after, hang and detail; latency and its seed; the chaos
rate and statuses; credits; the rate limit; the clock) takes the same values whether it is set from Python, over
the admin API or through ``EdenFake(...)``, and a refusal names the same field with the same sentence: all of
them read their bounds from ``contracts/admin.schema.json`` (the console reads them there too: see
tests/test_console.py). Hypothesis draws values at, just inside and just outside each bound, and of wrong types.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

import edenfake
from edenfake import EdenFake, contracts, create_app
from edenfake.errors import InvalidSetting
from edenfake.faults import FAULT_NAMES, FAULT_STATUSES
from tests.helpers import FROZEN, examples

ADMIN = contracts.load("admin")["$defs"]


@dataclass(frozen=True)
class Control:
    """One control: the admin route and body that set it to a value, and the Python call that does."""

    field: str
    method: str
    path: str
    body: Callable[[Any], dict[str, Any]]
    python: Callable[[EdenFake, Any], object]
    #: the request definition whose property bounds it
    definition: str
    #: ``EdenFake(option=value)`` sets it too
    option: str | None = None


CONTROLS = [
    Control("fail", "POST", "/_edenfake/faults", lambda v: {"fail": v}, lambda f, v: f.fail(v), "FaultRequest"),
    Control(
        "times",
        "POST",
        "/_edenfake/faults",
        lambda v: {"fail": 500, "times": v},
        lambda f, v: f.fail(500, times=v),
        "FaultRequest",
    ),
    Control(
        "retry_after",
        "POST",
        "/_edenfake/faults",
        lambda v: {"fail": 429, "retry_after": v},
        lambda f, v: f.fail(429, retry_after=v),
        "FaultRequest",
    ),
    Control(
        "hang",
        "POST",
        "/_edenfake/faults",
        lambda v: {"fail": "timeout", "hang": v},
        lambda f, v: f.fail("timeout", hang=v),
        "FaultRequest",
    ),
    Control(
        "detail",
        "POST",
        "/_edenfake/faults",
        lambda v: {"fail": 500, "detail": v},
        lambda f, v: f.fail(500, detail=v),
        "FaultRequest",
    ),
    Control(
        "credits",
        "PUT",
        "/_edenfake/credits",
        lambda v: {"credits": v},
        lambda f, v: f.set_credits(v),
        "CreditsRequest",
        option="credits",
    ),
    Control(
        "per_second",
        "PUT",
        "/_edenfake/rate-limit",
        lambda v: {"per_second": v},
        lambda f, v: f.set_rate_limit(v),
        "RateLimitRequest",
        option="rate_limit",
    ),
    Control(
        "seconds",
        "PUT",
        "/_edenfake/latency",
        lambda v: {"seconds": v},
        lambda f, v: f.set_latency(v),
        "LatencyRequest",
        option="latency",
    ),
    Control(
        "seed",
        "PUT",
        "/_edenfake/latency",
        lambda v: {"seconds": 0, "seed": v},
        lambda f, v: f.set_latency(0, seed=v),
        "LatencyRequest",
    ),
    Control("rate", "PUT", "/_edenfake/chaos", lambda v: {"rate": v}, lambda f, v: f.set_chaos(v), "ChaosRequest"),
    Control(
        "statuses",
        "PUT",
        "/_edenfake/chaos",
        lambda v: {"rate": 0, "statuses": v},
        lambda f, v: f.set_chaos(0, statuses=v),
        "ChaosRequest",
    ),
    Control(
        "at",
        "PUT",
        "/_edenfake/clock",
        lambda v: {"at": v},
        lambda f, v: f.clock.set(v),
        "ClockRequest",
        option="clock",
    ),
    Control(
        "advance",
        "PUT",
        "/_edenfake/clock",
        lambda v: {"advance": v},
        lambda f, v: f.clock.advance(v),
        "ClockRequest",
    ),
]


def _schema(control: Control) -> dict[str, Any]:
    schema: dict[str, Any] = ADMIN[control.definition]["properties"][control.field]
    return ADMIN["LatencyBounds"] if control.field == "seconds" else schema


def _around(bound: float) -> list[float]:
    """A bound, just inside and just outside it, as integers and as floats."""
    return [
        bound,
        float(bound),
        bound - 1,
        bound + 1,
        bound - 0.5,
        bound + 0.5,
        math.nextafter(bound, -math.inf),
        math.nextafter(bound, math.inf),
    ]


WRONG_TYPES = st.sampled_from([None, True, False, "1", "", [], {}, 10**30, -(10**30), 1e300, -1e300])


def values(control: Control) -> st.SearchStrategy[Any]:
    """Values at and around each bound of ``control``'s property, and of every wrong type."""
    schema = _schema(control)
    if control.field in ("fail", "statuses"):
        kinds = st.sampled_from([*FAULT_STATUSES, *FAULT_NAMES, 418, 400, 429.0, True, "Timeout", "content_polcy"])
        if control.field == "fail":
            return st.one_of(kinds, WRONG_TYPES)
        return st.one_of(
            st.lists(kinds, max_size=18),
            st.lists(st.sampled_from(FAULT_STATUSES), min_size=15, max_size=18),
            WRONG_TYPES,
        )
    if control.field == "detail":
        lengths = st.sampled_from([0, 1, 2, 999, 1000, 1001, 5000])
        return st.one_of(lengths.map(lambda n: "x" * n), st.text(max_size=3), WRONG_TYPES)
    low, high = schema["minimum"], schema["maximum"]
    edges = st.sampled_from([*_around(low), *_around(high)])
    numbers = st.one_of(
        edges,
        st.integers(min_value=int(low) - 5, max_value=int(high) + 5),
        st.floats(min_value=float(low) - 5, max_value=float(high) + 5, allow_nan=False),
    )
    if control.field == "seconds":  # a number, or a [low, high] range of them
        return st.one_of(numbers, st.lists(numbers, max_size=3), WRONG_TYPES)
    return st.one_of(numbers, WRONG_TYPES)


@pytest.fixture(scope="module")
def door() -> Iterator[tuple[EdenFake, TestClient]]:
    fake = EdenFake(clock=FROZEN)
    with TestClient(create_app(fake), base_url="http://testserver") as client:
        yield fake, client


def _python(control: Control, fake: EdenFake, value: Any) -> InvalidSetting | None:
    try:
        control.python(fake, value)
    except InvalidSetting as exc:
        return exc
    return None


@pytest.mark.parametrize("control", CONTROLS, ids=[c.field for c in CONTROLS])
def test_python_the_admin_api_and_the_contract_accept_the_same_values(
    door: tuple[EdenFake, TestClient], control: Control
) -> None:
    fake, client = door

    @settings(
        max_examples=examples(40, 150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(value=values(control))
    def agree(value: Any) -> None:
        fake.reset()
        fake.clock.set(FROZEN)
        body = control.body(value)
        r = client.request(control.method, control.path, json=body)
        fake.reset()
        fake.clock.set(FROZEN)
        refusal = _python(control, fake, value)
        contract = contracts.violations(f"admin#/$defs/{control.definition}", body)
        assert r.status_code in (200, 201, 422), r.text[:300]
        assert (r.status_code != 422) == (refusal is None), (value, r.text[:300], refusal)
        if contract:  # the contract refuses it: so do both (a setter may refuse more: low > high, past 9999)
            assert refusal is not None, (value, contract)
        if refusal is not None:
            first = r.json()["detail"][0]
            assert first["loc"][:2] == ["body", control.field] and refusal.field == control.field
            where = "".join(f"[{p}]" for p in first["loc"][2:])
            assert str(refusal).startswith(f"{control.field}{where}: {first['msg']}"), (str(refusal), first)
        if control.option is not None and not isinstance(value, list):  # as an option, too
            try:
                EdenFake(**{"clock": FROZEN, control.option: value})
            except InvalidSetting as exc:  # the same rule and value, under the name the caller typed
                assert refusal is not None and exc.option == control.option and exc.field == refusal.field
                assert str(exc) == control.option + str(refusal)[len(control.field) :], (str(exc), str(refusal))
            else:
                assert refusal is None, (value, refusal)

    agree()
    fake.reset()
    fake.clock.set(FROZEN)


def test_a_range_is_the_same_as_a_tuple_or_a_list(door: tuple[EdenFake, TestClient]) -> None:
    fake, client = door
    for value in ([1, 2], [2, 1], [0, 601], [0]):
        listed, paired = _python(CONTROLS[7], fake, value), _python(CONTROLS[7], fake, tuple(value))
        assert (
            (listed is None)
            == (paired is None)
            == (client.put("/_edenfake/latency", json={"seconds": value}).status_code == 200)
        ), value
    fake.reset()


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: EdenFake(credits=5e9), id="credits=5e9"),
        pytest.param(lambda: EdenFake().set_rate_limit(2.5), id="set_rate_limit(2.5)"),  # type: ignore[arg-type]
        pytest.param(lambda: EdenFake().set_rate_limit(True), id="set_rate_limit(True)"),
        pytest.param(lambda: EdenFake(rate_limit=10**7), id="rate_limit=10**7"),
        pytest.param(lambda: EdenFake(latency=False), id="latency=False"),
        pytest.param(lambda: EdenFake().set_chaos(0.5, statuses=[503] * 17), id="17 statuses"),
        pytest.param(lambda: EdenFake().set_chaos(0.5, statuses=503), id="statuses=503"),  # type: ignore[arg-type]
        pytest.param(lambda: EdenFake().set_latency(0, seed=2**63), id="seed=2**63"),
        pytest.param(lambda: EdenFake(fault_seed=2**63), id="fault_seed=2**63"),
    ],
)
def test_python_refuses_what_the_admin_api_refuses(call: Callable[[], object]) -> None:
    with pytest.raises(InvalidSetting) as info:
        call()
    # a setter's refusal names its field (as the admin API does), an option's the option (as it was typed)
    assert str(info.value).startswith(f"{info.value.option or info.value.field}: ")


def test_a_non_finite_number_is_refused_in_python_as_json_cannot_carry_it() -> None:
    fake = EdenFake()
    for setter, field in (
        (lambda v: fake.set_credits(v), "credits"),
        (lambda v: fake.set_latency(v), "seconds"),
        (lambda v: fake.set_latency((0, v)), "seconds"),
        (lambda v: fake.set_chaos(v), "rate"),
        (lambda v: fake.clock.set(v), "at"),
        (lambda v: fake.fail(429, retry_after=v), "retry_after"),
    ):
        for value in (math.nan, math.inf, -math.inf):
            with pytest.raises(InvalidSetting, match="finite") as info:
                setter(value)
            assert info.value.field == field


def test_an_injected_422_is_fastapi_s_validation_answer_and_says_its_detail() -> None:
    fake = EdenFake(clock=FROZEN)
    client = TestClient(create_app(fake))
    fake.fail(422, detail="prompt: too spicy")
    body = {"model": "openai/gpt-image-1", "prompt": "a fox"}
    r = client.post("/v3/images/generations", json=body, headers={"Authorization": "Bearer t"})
    assert r.status_code == 422
    assert r.json() == {"detail": [{"loc": ["body"], "msg": "prompt: too spicy", "type": "value_error"}]}
    contracts.validate_exchange("POST", "/v3/images/generations", 422, r.json())
    assert client.post("/v3/images/generations", json=body, headers={"Authorization": "Bearer t"}).status_code == 200


@pytest.mark.parametrize(
    ("options", "start"),
    [
        ({"latency": (2, 1)}, "latency: a latency range must have low <= high"),
        ({"latency": -1}, "latency: "),
        ({"rate_limit": 0}, "rate_limit: "),
        ({"clock": -1}, "clock: "),
        ({"credits": 5e9}, "credits: "),
    ],
)
def test_an_option_s_refusal_names_the_option_as_it_was_typed(options: dict[str, Any], start: str) -> None:
    # mock() and the marker take the option's name (latency=), not the admin API's field (seconds)
    with pytest.raises(InvalidSetting) as info:
        edenfake.mock(**options)
    assert str(info.value).startswith(start) and info.value.option == next(iter(options))


@pytest.mark.parametrize("ttl", [math.inf, 1e12, 0, -1])
def test_url_ttl_is_refused_past_a_year_in_python_as_on_the_command_line(ttl: float) -> None:
    with pytest.raises(ValueError, match=r"url_ttl must be a number of seconds > 0 and <= 31536000"):
        EdenFake(url_ttl=ttl)
