"""A fault's ``match``: what it may be is checked when the fault is queued, through Python and the admin API
alike, and a match function that raises is the caller's error, reported as such, never the fake's 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

import edenfake
from edenfake import EdenFake, create_app
from edenfake.errors import InvalidSetting
from tests.helpers import FROZEN

AUTH = {"Authorization": "Bearer t"}
GENERATE = "https://api.edenai.run/v3/images/generations"
MODELS = "https://api.edenai.run/v3/images/models"
BODY = {"model": "openai/gpt-image-1", "prompt": "a fox", "quality": "low"}


@pytest.mark.parametrize(
    ("match", "says"),
    [
        (5, "a dict of request fields, a path, or a function taking the request and returning a bool; got int"),
        ([1], "got list"),
        (b"/v3/images/generations", "got bytes"),
        ({"path": 5}, "a path is a string, got int"),
        ("/v3/images/generate", "no route has the path '/v3/images/generate'; did you mean '/v3/images/generations'?"),
        ({"path": "/v3/nope"}, "no route has the path '/v3/nope'; did you mean '/v3/models'?"),
        ("images", "no route has the path 'images'; paths: /_edenfake"),
    ],
)
def test_a_match_that_could_never_answer_is_refused_when_queued(match: Any, says: str) -> None:
    fake = EdenFake(clock=FROZEN)
    with pytest.raises(InvalidSetting, match=r"^fail\(match=\.\.\.\): ") as info:
        fake.fail(500, match=match)
    assert says in str(info.value) and info.value.field == "match"
    assert fake.faults.faults == []  # nothing was queued


def test_the_admin_api_refuses_the_same_paths_in_the_same_words() -> None:
    with TestClient(create_app(EdenFake(clock=FROZEN)), headers={"Content-Type": "application/json"}) as admin:
        for match, says in [
            ({"path": "/v3/nope"}, "fail(match=...): no route has the path '/v3/nope'; did you mean '/v3/models'?"),
            ({"path": 5}, "fail(match=...): a path is a string, got int"),
        ]:
            answer = admin.post("/_edenfake/faults", json={"fail": 503, "match": match})
            assert answer.status_code == 422
            assert answer.json()["detail"][0]["msg"] == says and answer.json()["detail"][0]["loc"] == ["body", "match"]
        assert admin.get("/_edenfake/faults").json()["faults"] == []


def test_paths_the_document_has_are_taken_templates_included() -> None:
    with edenfake.mock(clock=FROZEN, assert_all_faults_used=False) as eden:
        eden.fail(503, match="/v3/images/generations")
        eden.fail(503, match={"path": "/_edenfake/images/0123abcd.png"})  # a hosted image's path
        assert httpx.post(GENERATE, json=BODY, headers=AUTH).status_code == 503
        assert httpx.get(MODELS, headers=AUTH).status_code == 200


def test_a_match_function_that_raises_skips_that_request_and_the_fake_answers_on() -> None:
    with edenfake.mock(clock=FROZEN) as eden:
        eden.fail(500, match=lambda request: request.fields["prompt"] == "storm")
        # The models list has no prompt: the function raises, the request is answered, and so is the next.
        assert httpx.get(MODELS, headers=AUTH).status_code == 200
        assert httpx.get(MODELS, headers=AUTH).status_code == 200
        assert httpx.post(GENERATE, json=BODY, headers=AUTH).status_code == 200  # "a fox" is no storm
        stormy = httpx.post(GENERATE, json={**BODY, "prompt": "storm"}, headers=AUTH)
        assert stormy.status_code == 500 and "see the server log" not in stormy.text  # the fault, not a bug
        assert eden.unused_faults() == []
    assert [call.status for call in eden.calls] == [200, 200, 200, 500]


def test_the_first_error_of_a_match_function_is_in_the_unused_fault_report() -> None:
    eden = edenfake.mock(clock=FROZEN)
    with pytest.raises(AssertionError) as info, eden:
        eden.fail(500, match=lambda request: request.fields["prompt"] == "storm")
        assert httpx.get(MODELS, headers=AUTH).status_code == 200
        assert httpx.get("https://api.edenai.run/v3/models", headers=AUTH).status_code == 200
    report = str(info.value)
    assert "its match raised KeyError: 'prompt' (on GET /v3/images/models)" in report  # the first, once
    assert report.count("its match raised") == 1
