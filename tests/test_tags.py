"""Request tags (Eden's ``v3/general/tags.mdx``): the ``X-EdenAI-Tags`` header on every route that runs a model or
stores a file, multipart included, and a JSON body's ``tags``, merged by key (the body wins), stored with keys in
lower case, in the journal's ``tags``, matched by ``fail(match={"tags": ...})`` and ``calls.filter(tags=...)``.
A tag that breaks a rule is a 400 INVALID_TAGS naming the tag and the rule, after the token and before the rate
limit counts the call or anything is charged."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from hypothesis import HealthCheck, Phase, given, settings

import edenfake
from edenfake import EdenFake, contracts
from edenfake.errors import InvalidSetting
from edenfake.strategies import InvalidRequest, generation_requests, invalid_generation_requests
from tests.helpers import AUTH, FROZEN, MASK, data_url, png

EDEN = "https://api.edenai.run/v3"
BODY: dict[str, Any] = {"model": "openai/gpt-image-1", "prompt": "a red fox", "quality": "low"}
GENERATIONS = f"{EDEN}/images/generations"


def _post(
    client: httpx.Client, tags: Any = None, header: str | list[str] | None = None, **extra: Any
) -> httpx.Response:
    body = {**BODY, **extra}
    if tags is not None:
        body["tags"] = tags
    headers: list[tuple[str, str]] = list(AUTH.items())
    for value in [header] if isinstance(header, str) else header or []:
        headers.append(("X-EdenAI-Tags", value))
    return client.post(GENERATIONS, json=body, headers=headers)


# -- merging ------------------------------------------------------------------------------------------------


def test_header_and_body_merge_by_key_the_body_winning_keys_in_lower_case() -> None:
    with edenfake.mock(clock=FROZEN) as eden, httpx.Client() as client:
        r = _post(client, {"Client": "globex", "project": "Invoices"}, "client=acme, env=prod")
        assert r.status_code == 200
        # Eden's own example: header client=acme,env=prod and body {"client": "globex"}; values kept as sent
        assert eden.calls.last.tags == {"client": "globex", "env": "prod", "project": "Invoices"}
        assert eden.calls.last.as_dict()["tags"] == eden.calls.last.tags


def test_a_header_sent_twice_keeps_the_pairs_of_both_and_spaces_and_empty_pairs_are_skipped() -> None:
    with edenfake.mock(clock=FROZEN) as eden, httpx.Client() as client:
        assert _post(client, header=[" client=acme ,", "env=prod,,team=a"]).status_code == 200
        assert eden.calls.last.tags == {"client": "acme", "env": "prod", "team": "a"}


def test_an_untagged_call_has_no_tags_and_a_body_tags_that_is_not_an_object_is_ignored() -> None:
    with edenfake.mock(clock=FROZEN) as eden, httpx.Client() as client:
        assert _post(client).status_code == 200
        assert eden.calls.last.tags == {}
        # "A tags field that is not an object, such as the list some SDKs send, is ignored rather than refused."
        for ignored in (["client:acme"], "client=acme", 3, None):
            body = {**BODY, "tags": ignored}
            r = client.post(GENERATIONS, json=body, headers={**AUTH, "X-EdenAI-Tags": "env=ci"})
            assert r.status_code == 200, (ignored, r.text)
            assert eden.calls.last.tags == {"env": "ci"}


def test_the_openai_sdk_sends_tags_with_extra_headers_and_extra_body_on_generations_and_multipart_edits() -> None:
    with edenfake.mock(clock=FROZEN) as eden:
        client = openai.OpenAI(api_key="test-token", base_url=EDEN, default_headers={"X-EdenAI-Tags": "client=acme"})
        client.images.generate(model="openai/gpt-image-1", prompt="a fox", extra_body={"tags": {"project": "invoices"}})
        assert eden.calls.last.tags == {"client": "acme", "project": "invoices"}
        client.images.edit(
            model="openai/gpt-image-1",
            image=("fox.png", png(), "image/png"),
            mask=("mask.png", MASK, "image/png"),
            prompt="add a hat",
            extra_headers={"X-EdenAI-Tags": "client=acme,env=prod"},
        )
        call = eden.calls.last
        assert call.form is not None and call.status == 200
        assert call.tags == {"client": "acme", "env": "prod"}  # multipart: the header alone


def test_a_json_edit_reads_body_tags_and_uploads_read_the_header() -> None:
    with edenfake.mock(clock=FROZEN) as eden, httpx.Client(headers=AUTH) as client:
        image = data_url(png())
        body = {**BODY, "images": [{"image_url": image}], "tags": {"Team": "design"}}
        r = client.post(f"{EDEN}/images/edits", json=body, headers={"X-EdenAI-Tags": "env=prod"})
        assert r.status_code == 200, r.text
        assert eden.calls.last.tags == {"team": "design", "env": "prod"}
        r = client.post(
            f"{EDEN}/upload", files={"file": ("fox.png", png(), "image/png")}, headers={"X-EdenAI-Tags": "env=ci"}
        )
        assert r.status_code == 200, r.text
        assert eden.calls.last.tags == {"env": "ci"}


def test_listing_routes_ignore_the_header_they_attribute_no_cost() -> None:
    with edenfake.mock(clock=FROZEN) as eden, httpx.Client(headers=AUTH) as client:
        r = client.get(f"{EDEN}/images/models", headers={"X-EdenAI-Tags": "not a pair"})
        assert r.status_code == 200
        assert eden.calls.last.tags == {}
        # nor do the deletions of uploads, in either spelling
        stored = client.post(f"{EDEN}/upload", files={"file": ("a.png", png(), "image/png")}).json()["file_id"]
        gone = client.post(f"{EDEN}/upload/delete", json={"file_ids": [stored]}, headers={"X-EdenAI-Tags": "eden:x=1"})
        assert gone.status_code == 200 and gone.json() == {"deleted_count": 1}, gone.text
        assert client.delete(f"{EDEN}/upload", headers={"X-EdenAI-Tags": "eden:x=1"}).status_code == 200


# -- every rule, refused before anything is charged or counted ------------------------------------------

LONG_KEY = "k" * 65
#: (body tags, header, the rule, what the message names)
REFUSED = [
    ({"build": 42}, None, "not_string", "tag 'build': keys and values must be strings"),
    ({LONG_KEY: "x"}, None, "key_length", "key must be 1 to 64 characters"),
    (None, "=acme", "key_length", "key must be 1 to 64 characters"),
    ({"client": ""}, None, "value_length", "tag 'client': value must be 1 to 128 characters"),
    (None, "client=" + "v" * 129, "value_length", "tag 'client': value must be 1 to 128 characters"),
    ({"client": "ac me"}, None, "characters", "tag client=ac me: only letters, digits and - _ . : / are allowed"),
    (None, "client=a*b", "characters", "tag client=a*b: only letters, digits and - _ . : / are allowed"),
    ({"cliént": "acme"}, None, "characters", "only letters, digits and - _ . : / are allowed"),
    ({"Eden:source": "x"}, None, "reserved", "tag 'Eden:source': the 'eden:' prefix is reserved"),
    (None, "eden:source=x", "reserved", "the 'eden:' prefix is reserved"),
    (None, "Client=a,client=b", "duplicate", "tag 'client' appears twice in the header"),
    ({"Client": "a", "client": "b"}, None, "duplicate", "tag 'client' appears twice in the body"),
    (None, "client", "not_key_value", "tag 'client' in the header is not key=value"),
    (
        {f"b{i}": "x" for i in range(5)},
        ",".join(f"h{i}=x" for i in range(6)),
        "too_many",
        "at most 10 tags per call, got 11",
    ),
    (None, "a=" + "b" * 4095, "header_too_long", "longer than 4096 characters (got 4097)"),
]


@pytest.mark.parametrize(("tags", "header", "rule", "says"), REFUSED, ids=[r[2] for r in REFUSED])
def test_an_invalid_tag_is_a_400_naming_the_rule_charging_and_counting_nothing(
    tags: Any, header: str | None, rule: str, says: str
) -> None:
    with edenfake.mock(clock=FROZEN, credits=1.0, rate_limit=1) as eden, httpx.Client() as client:
        r = _post(client, tags, header)
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["error_code"] == "INVALID_TAGS"
        assert body["rule"] == rule
        assert says in body["detail"]
        assert len(body["detail"]) < 300  # the echo is bounded, whatever was sent
        assert eden.credits == 1.0
        assert eden.calls.last.status == 400 and eden.calls.last.tags == {}
        # The limit is 1 per second: the refused call was not counted, so a good one passes in the same second.
        ok = _post(client)
        assert ok.status_code == 200, ok.text
        assert ok.headers["x-ratelimit-remaining"] == "0"
        assert eden.credits < 1.0


@pytest.mark.parametrize(
    "tags",
    [{"\x00\u2028\ud800" * 200: "x"}, {"k": "\x1b[31m" * 300}, {"a" * 10_000: "b" * 10_000}],
    ids=["control-key", "escape-value", "huge"],
)
def test_a_hostile_tag_is_echoed_escaped_and_bounded(tags: dict[str, str]) -> None:
    with edenfake.mock(clock=FROZEN) as eden, httpx.Client() as client:
        sent = json.dumps({**BODY, "tags": tags})  # ASCII, a lone surrogate as its escape
        r = client.post(GENERATIONS, content=sent, headers={**AUTH, "Content-Type": "application/json"})
        assert r.status_code == 400
        body = r.json()  # checked against the error contract too, whose `tag` is at most 81 characters
        assert len(body["detail"]) <= 250 and body["detail"].isprintable()
        assert body["tag"] is None or (len(body["tag"]) <= 81 and body["tag"].isprintable())
        assert eden.calls.last.status == 400


def test_ten_tags_after_merging_pass_and_a_key_in_both_header_and_body_is_no_duplicate() -> None:
    with edenfake.mock(clock=FROZEN) as eden, httpx.Client() as client:
        header = ",".join(f"h{i}=x" for i in range(6)) + ",shared=from-header"
        r = _post(client, {**{f"b{i}": "y" for i in range(3)}, "SHARED": "from-body"}, header)
        assert r.status_code == 200, r.text
        assert len(eden.calls.last.tags) == 10
        assert eden.calls.last.tags["shared"] == "from-body"


def test_a_refused_tag_comes_after_the_token() -> None:
    with edenfake.mock(clock=FROZEN) as eden, httpx.Client() as client:
        r = client.post(GENERATIONS, json={**BODY, "tags": {"eden:x": "y"}})
        assert r.status_code == 401
        assert eden.calls.last.status == 401


def test_the_request_contract_states_the_same_rules() -> None:
    from edenfake._tags import rules  # the module that applies them reads them from there

    r = rules()
    assert (r.max_tags, r.key_max, r.value_max, r.reserved) == (10, 64, 128, "eden:")
    good = {**BODY, "tags": {"client": "acme", "a.b/c:d-e_f": "X.y"}}
    assert contracts.violations("generation-request", good) == []
    for bad in ({"eden:x": "y"}, {"EDEN:x": "y"}, {"k": 1}, {"k": ""}, {"a b": "c"}, {f"k{i}": "v" for i in range(11)}):
        assert contracts.violations("generation-request", {**BODY, "tags": bad}), bad
    assert contracts.violations("generation-request", {**BODY, "tags": ["ignored"]}) == []
    assert "tags" in contracts.load("edit-request")["properties"]


@settings(max_examples=30, deadline=None)
@given(generation_requests())
def test_the_strategies_send_only_valid_tags(body: dict[str, Any]) -> None:
    if isinstance(body.get("tags"), dict):
        assert contracts.violations("generation-request", body) == []


def test_the_strategies_sometimes_send_tags() -> None:
    from hypothesis import find

    # the first draw with tags is enough: shrinking it to the smallest would only cost time
    found = find(
        generation_requests(),
        lambda b: bool(b.get("tags")),
        settings=settings(max_examples=500, phases=[Phase.generate], database=None),
    )
    assert isinstance(found["tags"], dict)


# two of the strategy's many broken rules are tags': the filter drops most draws, by design
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(invalid_generation_requests().filter(lambda case: case.error == "INVALID_TAGS"))
def test_the_invalid_request_strategies_break_tags_too(case: InvalidRequest) -> None:
    with edenfake.mock(clock=FROZEN), httpx.Client(headers=AUTH) as client:
        r = client.post(GENERATIONS, json=case.body)
        assert (r.status_code, r.json()["error_code"]) == (case.status, case.error)


# -- faults and the journal match tags ----------------------------------------------------------------------


def test_fail_match_tags_hits_only_the_tagged_call() -> None:
    with edenfake.mock(clock=FROZEN) as eden, httpx.Client() as client:
        eden.fail(503, match={"tags": {"Client": "acme"}})
        assert _post(client).status_code == 200
        assert _post(client, {"client": "globex"}).status_code == 200
        assert _post(client, {"env": "prod"}, "client=acme").status_code == 503
        assert eden.calls.last.fault == "503" and eden.calls.last.tags == {"client": "acme", "env": "prod"}
        assert _post(client, header="client=acme").status_code == 200  # used up
        assert [c.status for c in eden.calls.filter(tags={"CLIENT": "acme"})] == [503, 200]
        assert len(eden.calls.filter(tags={"client": "acme", "env": "prod"})) == 1


def test_a_tags_match_that_is_not_an_object_of_strings_is_refused_naming_it() -> None:
    fake = EdenFake(clock=FROZEN)
    with pytest.raises(InvalidSetting, match=r"match\[tags\]"):
        fake.fail(503, match={"tags": "client=acme"})
    with pytest.raises(InvalidSetting, match=r"match\[tags\]\[client\]"):
        fake.fail(503, match={"tags": {"client": 1}})


def test_a_live_server_reads_tags_and_the_admin_api_matches_and_lists_them() -> None:
    with edenfake.serve(clock=FROZEN) as server, httpx.Client(base_url=server.url, headers=AUTH) as client:
        r = client.post("/_edenfake/faults", json={"fail": 429, "match": {"tags": {"client": "acme"}}})
        assert r.status_code == 201, r.text
        bad = client.post("/_edenfake/faults", json={"fail": 429, "match": {"tags": ["client"]}})
        assert bad.status_code == 422 and "tags" in bad.text
        assert client.post("/v3/images/generations", json=BODY).status_code == 200
        tagged = client.post("/v3/images/generations", json=BODY, headers={"X-EdenAI-Tags": "client=acme"})
        assert tagged.status_code == 429
        refused = client.post("/v3/images/generations", json={**BODY, "tags": {"eden:x": "y"}})
        assert refused.status_code == 400 and refused.json()["rule"] == "reserved"
        calls = client.get("/_edenfake/calls").json()["calls"]
        assert [c["tags"] for c in calls] == [{}, {"client": "acme"}, {}]
        assert contracts.violations("admin#/$defs/Calls", client.get("/_edenfake/calls").json()) == []
