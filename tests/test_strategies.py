"""The hypothesis strategies: valid examples pass the contract and the fake; invalid ones fail for their label."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from edenfake import EdenFake, FakeRequest, contracts
from edenfake import strategies as S
from tests.helpers import LONG_FUZZ, examples, run_python

EXAMPLES = examples(25, 400)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not LONG_FUZZ,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FAKE = EdenFake(clock=1_779_792_103)
AUTH = [("authorization", "Bearer t"), ("content-type", "application/json")]


def post(path: str, body: Any) -> tuple[int, Any]:
    response = FAKE.answer(FakeRequest("POST", path, AUTH, json.dumps(body).encode(), "https://api.edenai.run"))
    return response.status, response.json()


@SETTINGS
@given(S.generation_requests())
def test_valid_generation_requests_pass_the_contract_and_the_fake(body: dict[str, Any]) -> None:
    contracts.validate_request(body)
    status, answer = post("/v3/images/generations", body)
    assert status == 200, answer
    assert len(answer["data"]) == (body.get("n") or 1)


@SETTINGS
@given(S.edit_requests())
def test_valid_edit_requests_pass_the_contract_and_the_fake(body: dict[str, Any]) -> None:
    contracts.validate_request(body, route="edits")
    status, answer = post("/v3/images/edits", body)
    assert status == 200, answer


@SETTINGS
@given(S.invalid_generation_requests())
def test_invalid_requests_fail_for_exactly_their_labelled_rule(case: S.InvalidRequest) -> None:
    status, answer = post("/v3/images/generations", case.body)
    assert status == case.status, (case.rule, answer)
    if status == 422:
        found = [(d["loc"], d["type"]) for d in answer["detail"]]
        assert found == [(["body", *case.field], case.error)], (case.rule, answer)  # that rule, and only it
        assert contracts.violations("generation-request", case.body)
    else:
        assert answer["error_code"] == case.error, (case.rule, answer)
        if case.error == "PROVIDER_ERROR":  # the model's own rule names its field
            assert answer["param"] == case.field[0], (case.rule, answer)


@SETTINGS
@given(S.image_responses())
def test_every_response_shape_is_one_the_contract_allows(body: dict[str, Any]) -> None:
    contracts.validate_response(body)


@pytest.mark.parametrize(
    ("shape", "condition"),
    [
        ("null cost", lambda b: b.get("cost") is None),
        ("a number cost", lambda b: isinstance(b.get("cost"), (int, float))),
        ("empty data", lambda b: b["data"] == []),
        ("url only", lambda b: any(i.get("url") and i.get("b64_json") is None for i in b["data"])),
        ("b64 only", lambda b: any(i.get("b64_json") and not i.get("url") for i in b["data"])),
        ("url and b64", lambda b: any(i.get("url") and i.get("b64_json") for i in b["data"])),
        ("token usage", lambda b: isinstance(b.get("usage"), dict) and "total_tokens" in b["usage"]),
        ("empty usage", lambda b: b.get("usage") == {}),
    ],
)
def test_the_response_shapes_cover_the_corner_cases(shape: str, condition: Any) -> None:
    # Each shape a consumer must parse turns up: hypothesis finds one, or the test fails (NoSuchExample).
    quick = settings(max_examples=2000, database=None, deadline=None, phases=[Phase.generate])  # no shrinking
    found = find(S.image_responses(), condition, settings=quick)
    assert condition(found), shape
    contracts.validate_response(found)


@SETTINGS
@given(S.error_bodies())
def test_every_error_body_matches_its_status(status_and_body: tuple[int, dict[str, Any]]) -> None:
    status, body = status_and_body
    contracts.validate_error(body, status=status)


@SETTINGS
@given(S.broken_image_files())
def test_broken_files_are_refused_for_their_labelled_problem(broken: S.BrokenImage) -> None:
    request = httpx.Request(
        "POST",
        "https://api.edenai.run/v3/images/edits",
        data={"model": "openai/gpt-image-1", "prompt": "x"},
        files={"image": (broken.filename, broken.data, "image/png")},
    )
    body = request.read()
    response = FAKE.answer(
        FakeRequest(
            "POST",
            "/v3/images/edits",
            [("authorization", "Bearer t"), ("content-type", request.headers["content-type"])],
            body,
        )
    )
    assert response.status == 422
    assert [d["type"] for d in response.json()["detail"]] == [broken.problem]


@SETTINGS
@given(st.data())
def test_masks_valid_and_invalid(data: st.DataObject) -> None:
    size = data.draw(st.tuples(st.integers(8, 40), st.integers(8, 40)))
    image = data.draw(S.image_files(formats=st.just("png"), sizes=st.just(size)))
    valid = data.draw(st.booleans())
    mask, problem = data.draw(S.masks(width=size[0], height=size[1], valid=valid))
    request = httpx.Request(
        "POST",
        "https://api.edenai.run/v3/images/edits",
        data={"model": "openai/gpt-image-1", "prompt": "x"},
        files=[("image", ("a.png", image, "image/png")), ("mask", ("m.png", mask, "image/png"))],
    )
    response = FAKE.answer(
        FakeRequest(
            "POST",
            "/v3/images/edits",
            [("authorization", "Bearer t"), ("content-type", request.headers["content-type"])],
            request.read(),
        )
    )
    if problem is None:
        assert response.status == 200
    else:
        assert response.status == 422 and [d["type"] for d in response.json()["detail"]] == [problem]


def test_strategies_have_readable_reprs() -> None:
    assert "sampled_from" in repr(S.model_ids())
    assert repr(S.image_files()).startswith("builds(")


def test_a_list_where_a_strategy_belongs_says_how_to_pass_one() -> None:
    with pytest.raises(TypeError, match=r"st\.sampled_from\(\['openai/gpt-image-1'\]\)"):
        S.generation_requests(models=["openai/gpt-image-1"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="hypothesis strategy"):
        S.edit_requests(models="openai/gpt-image-1")  # type: ignore[arg-type]


def test_arguments_no_draw_can_honour_are_refused_naming_the_argument() -> None:
    with pytest.raises(TypeError, match=r"status must be an int \(one of \[.*429.*\]\), got '429'"):
        S.error_bodies(status="429")  # type: ignore[arg-type]
    for width, height in ((-1, 5), (0, 0), (5, 10_000)):
        with pytest.raises(ValueError, match=r"(width|height) must be an int from 1 to 4096"):
            S.masks(width=width, height=height)
    with pytest.raises(ValueError, match="'openai/dall-e-3' does not edit images; use model_ids\\(edits=True\\)"):
        find(S.edit_requests(models=st.sampled_from(["openai/dall-e-3"])), lambda body: True)


def test_without_hypothesis_the_import_says_which_extra_to_install() -> None:
    code = "import sys; sys.modules['hypothesis'] = None\nfrom edenfake import strategies"
    result = run_python("-c", code)
    assert result.returncode != 0
    assert "pip install 'edenfake[hypothesis]'" in result.stderr


def test_error_bodies_keep_to_every_length_bound_of_the_contract() -> None:
    # a 451's region is at most 20 characters: a strategy that drew up to 30 gave bodies the contract refuses
    from hypothesis.errors import NoSuchExample

    with pytest.raises(NoSuchExample):
        find(S.error_bodies(status=451), lambda pair: len(pair[1]["region"]) > 20, settings=settings(max_examples=300))


@pytest.mark.parametrize(
    ("kwargs", "hint"),
    [
        ({"models": "openai/gpt-image-1"}, "st.just('openai/gpt-image-1')"),  # sampled_from a str draws characters
        ({"models": ["openai/gpt-image-1"]}, "st.sampled_from(['openai/gpt-image-1'])"),
        ({"models": []}, "at least one model id"),  # hypothesis refuses sampled_from([])
        ({"catalog": "catalog.json"}, "edenfake.Catalog.load('catalog.json')"),
        ({"catalog": 5}, "catalog= takes an edenfake.Catalog, not int"),
    ],
)
def test_a_plain_value_where_a_strategy_or_a_catalog_goes_is_refused_with_what_to_pass(
    kwargs: dict[str, Any], hint: str
) -> None:
    for strategy in (S.generation_requests, S.edit_requests):
        with pytest.raises(TypeError) as info:
            strategy(**kwargs)
        assert hint in str(info.value), str(info.value)
