"""The admin routes under /_edenfake/: driving a fake over HTTP, as a test in another language would."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from edenfake import EdenFake

URL = "/v3/images/generations"
BODY = {"model": "openai/gpt-image-1", "prompt": "a red fox", "quality": "low"}
#: what a bodiless change to the admin API sends (no web page can send it cross-site)
JSON = {"Content-Type": "application/json"}


def test_the_journal_is_readable_and_clearable(client: TestClient) -> None:
    client.post(URL, json=BODY)
    client.post(URL, json={**BODY, "n": 0})
    calls = client.get("/_edenfake/calls").json()
    assert calls["count"] == 2 and calls["dropped"] == 0
    assert [c["status"] for c in calls["calls"]] == [200, 422]
    assert calls["calls"][0]["json"]["prompt"] == "a red fox"
    assert calls["calls"][0]["headers"]["authorization"] == "Bearer ***"
    assert client.delete("/_edenfake/calls", headers=JSON).json()["count"] == 0
    assert client.get("/_edenfake/calls").json()["count"] == 0


def test_admin_requests_are_not_journalled(client: TestClient) -> None:
    client.get("/_edenfake/state")
    client.get("/_edenfake/calls")
    assert client.get("/_edenfake/state").json()["calls"] == 0


def test_a_fault_queued_over_http_answers_the_next_request(client: TestClient) -> None:
    r = client.post("/_edenfake/faults", json={"fail": 429, "retry_after": 2, "match": {"model": "openai/gpt-image-1"}})
    assert r.status_code == 201 and r.json()["times"] == 1
    limited = client.post(URL, json=BODY)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "2"
    assert limited.json() == {"detail": "Rate limit exceeded", "error_code": "RATE_LIMITED", "retry_after": 2}
    assert client.post(URL, json=BODY).status_code == 200
    assert client.get("/_edenfake/faults").json()["faults"] == []  # used up: pruned


@pytest.mark.parametrize(
    ("body", "loc"),
    [({"fail": 418}, ["body", "fail"]), ({"fail": 500, "times": 0}, ["body", "times"]), ({}, ["body", "fail"])],
)
def test_bad_admin_bodies_are_422_naming_the_field(client: TestClient, body: dict[str, Any], loc: list[str]) -> None:
    r = client.post("/_edenfake/faults", json=body)
    assert r.status_code == 422
    assert loc in [d["loc"] for d in r.json()["detail"]]


def test_credits_rate_limit_latency_chaos_and_clock_over_http(client: TestClient, fake: EdenFake) -> None:
    assert client.put("/_edenfake/credits", json={"credits": 0.011}).json()["credits"] == 0.011
    assert client.post(URL, json=BODY).status_code == 200
    assert client.post(URL, json=BODY).status_code == 402
    client.put("/_edenfake/credits", json={"credits": None})
    state = client.put("/_edenfake/rate-limit", json={"per_second": 1}).json()
    assert state["rate_limit"] == 1
    assert [client.post(URL, json=BODY).status_code for _ in range(2)] == [200, 429]
    client.put("/_edenfake/rate-limit", json={"per_second": None})
    assert client.put("/_edenfake/latency", json={"seconds": [0.0, 0.01], "seed": 3}).json()["latency"] == [0.0, 0.01]
    assert client.put("/_edenfake/chaos", json={"rate": 0.0, "statuses": [503]}).json()["chaos_rate"] == 0.0
    assert client.put("/_edenfake/clock", json={"at": 100}).json()["clock"] == {"now": 100, "frozen": True}
    assert client.put("/_edenfake/clock", json={"advance": 5}).json()["clock"]["now"] == 105
    assert client.post(URL, json=BODY).json()["created"] == 105


def test_reset_over_http(client: TestClient, fake: EdenFake) -> None:
    client.post(URL, json=BODY)
    client.post("/_edenfake/faults", json={"fail": 500, "times": 3})
    client.put("/_edenfake/credits", json={"credits": 5})
    state = client.post("/_edenfake/reset", headers=JSON).json()
    assert state["calls"] == 0 and state["faults"] == [] and state["credits"] is None


def test_a_number_with_no_fraction_is_the_integer_json_schema_says_it_is(client: TestClient, fake: EdenFake) -> None:
    # 429.0 and 429 are one JSON number (a client in another language may write either); openapi.json types
    # these fields integer, and schema-driven clients send what it allows
    queued = client.post("/_edenfake/faults", json={"fail": 429.0, "times": 2.0})
    assert queued.status_code == 201 and '"fail":429,"times":2,' in queued.text
    assert [client.post(URL, json=BODY).status_code for _ in range(3)] == [429, 429, 200]
    limited = client.put("/_edenfake/rate-limit", json={"per_second": 2.0})
    assert limited.status_code == 200 and '"rate_limit":2,' in limited.text
    assert client.post(URL, json=BODY).headers["x-ratelimit-limit"] == "2"
    assert client.put("/_edenfake/chaos", json={"rate": 0.5, "statuses": [502.0, "timeout"], "seed": 3.0}).is_success
    assert [(s, type(s)) for s in fake.faults.chaos_statuses] == [(502, int), ("timeout", str)]
    assert client.put("/_edenfake/latency", json={"seconds": 0, "seed": -5.0}).is_success
    fake.reset()
    fake.fail(500.0, times=1.0)  # Python takes what the contract takes, as the same integers
    assert fake.faults.faults[0].what == 500 and type(fake.faults.faults[0].what) is int
    assert client.post(URL, json=BODY).status_code == 500


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/_edenfake/faults", {"fail": 429.5}, "fail"),
        ("/_edenfake/faults", {"fail": True}, "fail"),
        ("/_edenfake/faults", {"fail": 500, "times": 1.5}, "times"),
        ("/_edenfake/rate-limit", {"per_second": 2.5}, "per_second"),
        ("/_edenfake/rate-limit", {"per_second": True}, "per_second"),
        ("/_edenfake/chaos", {"rate": 0.5, "seed": 0.5}, "seed"),
    ],
)
def test_a_fraction_or_a_boolean_is_not_an_integer_over_http_or_in_python(
    client: TestClient, fake: EdenFake, path: str, body: dict[str, Any], field: str
) -> None:
    method = client.post if path.endswith("faults") else client.put
    refused = method(path, json=body)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", field]
    setter = {
        "/_edenfake/faults": lambda: fake.fail(body["fail"], times=body.get("times", 1)),
        "/_edenfake/rate-limit": lambda: fake.set_rate_limit(body["per_second"]),
        "/_edenfake/chaos": lambda: fake.set_chaos(body["rate"], seed=body["seed"]),
    }[path]
    with pytest.raises(ValueError, match=field):
        setter()


@pytest.mark.parametrize("path", ["/_edenfake/calls", "/_edenfake/calls.har"])
@pytest.mark.parametrize(
    ("query", "kind", "msg"),
    [
        ("offset=13042087276894508", "less_than_equal", "Input should be less than or equal to 999999999999"),
        ("offset=" + "9" * 5000, "less_than_equal", "Input should be less than or equal to 999999999999"),
        ("offset=-1", "greater_than_equal", "Input should be greater than or equal to 0"),
        ("offset=1e3", "int_parsing", "Input should be a valid integer, unable to parse string as an integer"),
        ("limit=1001", "less_than_equal", "Input should be less than or equal to 1000"),
    ],
)
def test_a_journal_pages_query_is_refused_naming_the_parameter_and_its_bound(
    client: TestClient, path: str, query: str, kind: str, msg: str
) -> None:
    refused = client.get(f"{path}?{query}")
    assert refused.status_code == 422
    (problem,) = refused.json()["detail"]
    assert (problem["type"], problem["loc"], problem["msg"]) == (kind, ["query", query.partition("=")[0]], msg)
    assert len(problem["input"]) <= 50  # clipped, never the whole echo


def test_a_journal_page_takes_what_its_schema_allows(client: TestClient) -> None:
    client.post(URL, json=BODY)
    assert client.get("/_edenfake/calls?offset=999999999999").json()["calls"] == []  # past the end: empty
    assert len(client.get("/_edenfake/calls?offset=%2B0&limit=1").json()["calls"]) == 1
    too_many = client.get("/_edenfake/calls?" + "&".join(f"p{i}=1" for i in range(101)))
    assert too_many.status_code == 422 and too_many.json()["detail"][0]["type"] == "too_many_parameters"


def test_every_integer_query_parameter_states_both_bounds() -> None:
    from edenfake import contracts

    for path, operations in contracts.openapi_document()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                if parameter.get("in") == "query" and schema.get("type") == "integer":
                    where = f"{method.upper()} {path} ?{parameter['name']}"
                    assert "minimum" in schema and "maximum" in schema, where


def test_a_refusal_of_an_objects_size_or_a_repeated_item_names_the_rule_not_a_python_object(
    client: TestClient,
) -> None:
    from edenfake import contracts

    too_many = client.post(
        "/_edenfake/faults", json={"fail": 500, "match": {"tags": {f"k{i}": "v" for i in range(11)}}}
    )
    (problem,) = too_many.json()["detail"]
    assert (problem["type"], problem["loc"], problem["msg"]) == (
        "too_long",
        ["body", "match", "tags"],
        "Object should have at most 10 fields",
    )
    extra = client.post("/_edenfake/reset", headers=JSON, content=b'{"all": true}').json()["detail"]
    assert extra[0]["type"] == "extra_forbidden" and "'all'" in extra[0]["msg"]
    (twice,) = contracts.violations("catalog#/properties/answer_extra_fields", ["cost", "cost"])
    assert (twice.type, twice.msg) == ("unique_items", "List should have no item twice")
    for message in (problem["msg"], extra[0]["msg"], twice.msg):
        assert "{" not in message and "[" not in message  # no repr of what was sent
