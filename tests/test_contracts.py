"""The contract files: valid schemas, resolvable references, and the checks edenfake offers on top of them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from edenfake import ContractError, contracts

CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


@pytest.mark.parametrize("name", sorted(contracts.CONTRACTS))
def test_each_schema_is_valid_against_its_meta_schema(name: str) -> None:
    Draft202012Validator.check_schema(contracts.load(name))


@pytest.mark.parametrize("name", sorted(contracts.CONTRACTS))
def test_every_ref_in_each_schema_resolves(name: str) -> None:
    schema = contracts.load(name)
    resolver = contracts._registry().resolver(base_uri=schema["$id"])
    refs = _refs(schema)
    for ref in refs:
        resolver.lookup(ref)  # raises when unresolvable
    assert refs or name == "catalog" or name == "models-list"


def test_every_ref_in_the_openapi_document_resolves() -> None:
    doc = contracts.load("openapi")
    resolver = contracts._registry().resolver(base_uri=contracts.BASE_URI + "openapi.json")
    refs = _refs(doc)
    assert len(refs) > 10
    for ref in refs:
        if ref.startswith("#/"):  # the document's own components (headers): a pointer into it
            node: Any = doc
            for part in ref[2:].split("/"):
                node = node[part]
            assert isinstance(node, dict)
        else:
            resolver.lookup(ref)


def test_the_bundled_openapi_document_is_self_contained_and_resolves() -> None:
    doc = contracts.openapi_document()
    refs = _refs(doc)
    assert all(ref.startswith("#/components/") for ref in refs)
    for ref in refs:
        node: Any = doc
        for part in ref[2:].split("/"):
            node = node[part]
        assert isinstance(node, dict)


def test_contract_files_are_listed_and_shipped() -> None:
    on_disk = {p.name for p in CONTRACTS.glob("*.json")}
    assert on_disk == {*contracts.CONTRACTS.values(), "openapi.json"}
    for p in CONTRACTS.glob("*.json"):
        json.loads(p.read_text())


def test_validate_request_lists_every_violation_with_its_json_path() -> None:
    with pytest.raises(ContractError) as info:
        contracts.validate_request({"model": "nope", "prompt": "", "n": 0, "extra_headers": {"Cookie": "a"}})
    paths = [v.json_path for v in info.value.violations]
    assert paths == ["$.extra_headers.Cookie", "$.model", "$.n", "$.prompt"]
    assert "$.prompt" in str(info.value) and "string_too_short" in str(info.value)


def test_validate_request_accepts_a_minimal_request() -> None:
    contracts.validate_request({"model": "openai/gpt-image-1", "prompt": "x"})


def test_validate_response_accepts_the_vendors_example_and_refuses_broken_items() -> None:
    contracts.validate_response(
        {
            "created": 1779792103,
            "data": [{"b64_json": "iVBOR", "url": None, "revised_prompt": None}],
            "output_format": "png",
            "size": "1024x1024",
            "usage": {"total_tokens": 291, "input_tokens": 19, "output_tokens": 272},
            "cost": 0.010975,
            "provider": "google",
        }
    )
    with pytest.raises(ContractError) as info:
        contracts.validate_response({"data": [{"url": None, "b64_json": None}], "cost": "1"})
    assert {v.json_path for v in info.value.violations} == {"$.data[0]", "$.cost"}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"detail": "Invalid or missing authentication token", "error_code": "UNAUTHORIZED"}),
        (402, {"detail": "x", "error_code": "INSUFFICIENT_CREDIT", "required_credits": 1, "available_credits": 0}),
        (422, {"detail": [{"loc": ["body", "n"], "msg": "m", "type": "t"}]}),
        (429, {"detail": "Rate limit exceeded", "error_code": "RATE_LIMITED", "retry_after": 1.5}),
        (502, {"detail": "x", "error_code": "PROVIDER_ERROR", "provider": "openai"}),
    ],
)
def test_validate_error_knows_each_status(status: int, body: dict[str, Any]) -> None:
    contracts.validate_error(body, status=status)
    contracts.validate_error(body)
    with pytest.raises(ContractError):
        contracts.validate_error({**body, "detail": 5}, status=status)


def test_validate_error_refuses_a_wrong_code_for_the_status() -> None:
    with pytest.raises(ContractError):
        contracts.validate_error({"detail": "x", "error_code": "RATE_LIMITED", "retry_after": 1}, status=401)


def test_exchange_checks_route_status_and_media_type() -> None:
    ok = {"data": [{"b64_json": "x"}]}
    assert contracts.exchange_violations("POST", "/v3/images/generations", 200, ok) == []
    [v] = contracts.exchange_violations("POST", "/v3/images/generations", 418, ok)
    assert v.type == "undocumented_status"
    [v] = contracts.exchange_violations("POST", "/v3/images/generations", 200, ok, media_type="text/html")
    assert v.type == "undocumented_media_type"
    [v] = contracts.exchange_violations("POST", "/v3/other", 200, ok)
    assert v.type == "undocumented_route"
    assert contracts.exchange_violations("GET", "/_edenfake/images/abc.png", 200, None, media_type="image/png") == []


def test_each_error_class_answers_a_status_its_contract_kind_carries() -> None:
    # The statuses are stated in errors.schema.json ("x-statuses"); each class must agree with it.
    from edenfake import errors

    kinds = {
        errors.BadRequest: "BadRequest",
        errors.InvalidModel: "InvalidModel",
        errors.Unauthorized: "Unauthorized",
        errors.InsufficientCredit: "InsufficientCredit",
        errors.NotFound: "PlainError",
        errors.MethodNotAllowed: "PlainError",
        errors.PayloadTooLarge: "PayloadTooLarge",
        errors.UnsupportedMediaType: "UnsupportedMediaType",
        errors.RequestValidationError: "HTTPValidationError",
        errors.RateLimited: "RateLimited",
        errors.InternalError: "ServerError",
        errors.ProviderError: "ProviderError",
        errors.ServiceUnavailable: "ServerError",
    }
    for cls, kind in kinds.items():
        assert kind in contracts.error_definitions(cls.status), (cls.__name__, cls.status, kind)
    assert contracts.error_definition(400) == "EdenError"  # the most general kind of a status comes first


def _patterns(node: object, where: str = "") -> Iterator[tuple[str, str]]:
    """Every ``pattern`` of a schema document, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield where, value
            yield from _patterns(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _patterns(value, f"{where}/{index}")


def test_no_pattern_uses_a_shorthand_whose_meaning_differs_between_ecma_and_python() -> None:
    # JSON Schema's patterns are ECMA-262's; the fake judges them with Python's re. \s, \d and \w differ
    # between the two (Python's \s takes \x1c-\x1f and \x85, its \d every script's digits): a schema-driven
    # client (schemathesis) sent the model '0/\x1f', valid by ECMA's \S, and the fake refused it by Python's.
    shorthand = re.compile(r"(?<!\\)(?:\\\\)*\\[dDwWsSbB]")
    contracts_dir = Path(__file__).resolve().parent.parent / "contracts"
    found = [
        f"{path.name}{where}: {pattern}"
        for path in sorted(contracts_dir.glob("*.json"))
        for where, pattern in _patterns(json.loads(path.read_text()))
        if shorthand.search(pattern)
    ]
    assert not found, found
    assert shorthand.search("^[^/\\s]+$") and not shorthand.search("^[^/\\\\s]+$")  # an escaped backslash is not one
