"""The fake fuzzed from its own OpenAPI document with schemathesis: valid and invalid requests on every route.

No answer may be a 5xx (the provider's refusal of a value the model lacks is a 400 naming the field, as Eden's
error guide describes input problems); every answer must match the document, and every 4xx must say what is wrong.
The admin routes are fuzzed apart, on a fake of their own: no 5xx, and any JSON they answer must be strict
JSON (no NaN or Infinity). Each test stands alone: none reads what another one left behind.
``EDENFAKE_FUZZ=long`` runs many more cases.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import pytest

# 4.30 (the newest on Python 3.10) cannot resolve the bundled document's references.
schemathesis = pytest.importorskip("schemathesis", minversion="4.32", reason="the fuzz needs schemathesis >= 4.32")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from edenfake import EdenFake, contracts, create_app  # noqa: E402
from edenfake.contracts import validate_exchange  # noqa: E402
from tests.helpers import AUTH, FROZEN, LONG_FUZZ, strict_json  # noqa: E402

LONG = LONG_FUZZ
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
SETTINGS = settings(
    deadline=None,
    derandomize=not LONG,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


def _schema(fake: EdenFake, max_examples: int) -> Any:
    """The OpenAPI document ``fake``'s app serves, loaded by schemathesis, every route."""
    loaded = schemathesis.openapi.from_asgi("/openapi.json", create_app(fake))
    loaded.config.generation.update(modes=MODES, max_examples=max_examples)
    return loaded


# The schemas are loaded when a fuzz test first runs, not when the module is collected (loading one takes about
# a second): collecting the suite, or running `-k` anything else, does not pay for them.
@pytest.fixture(scope="module")
def public_fake() -> EdenFake:
    return EdenFake(clock=FROZEN)


@pytest.fixture(scope="module")
def public_schema(public_fake: EdenFake) -> Any:
    return _schema(public_fake, 300 if LONG else 12).exclude(tag="admin")


# The admin routes change the fake's own state (faults, latency, clock): they get their own fake.
@pytest.fixture(scope="module")
def admin_fake() -> EdenFake:
    return EdenFake(clock=FROZEN)


@pytest.fixture(scope="module")
def admin_schema(admin_fake: EdenFake) -> Any:
    return _schema(admin_fake, 200 if LONG else 5)


# (the operations' filters are the lazy schema's: it replaces those of the schema its fixture returns)
PUBLIC = schemathesis.pytest.from_fixture("public_schema").exclude(tag="admin")
ADMIN = schemathesis.pytest.from_fixture("admin_schema").include(tag="admin")


@pytest.fixture(autouse=True)
def _node_id_for_the_lazy_schema(request: pytest.FixtureRequest) -> None:
    # schemathesis' lazy schema reads and sets a test item's `_nodeid`, which pytest 9.2 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def media_type_of(response: Any) -> str:
    media = response.headers.get("content-type", [""])
    return str(media[0] if isinstance(media, list) else media)


def names_the_problem(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    detail = body.get("detail")
    if isinstance(detail, list):  # 422: each entry names its field
        return all(isinstance(d.get("loc"), list) and len(d["loc"]) >= 1 and d.get("msg") for d in detail)
    return isinstance(detail, str) and bool(detail)


#: the ``type`` edenfake.contracts gives a 422 item for each JSON Schema keyword it words itself
_WORDED = frozenset(
    {
        *("string_type", "int_type", "int_parsing", "float_type", "dict_type", "list_type", "bool_type"),
        *("none_required", "missing", "string_too_short", "string_too_long", "string_pattern_mismatch"),
        *("greater_than_equal", "less_than_equal", "greater_than", "less_than", "too_short", "too_long"),
        *("unique_items", "literal_error", "extra_forbidden", "oneOf", "anyOf"),
    }
)


@functools.cache
def schema_rules() -> frozenset[str]:
    """The ``type`` of a 422 item that names a rule the OpenAPI document states: a keyword edenfake words
    itself, one it leaves as its name, or the type a contract's ``x-error`` gives it. A schema-valid request
    never breaks those; it may still be refused for a rule JSON Schema cannot state (a latency range's order,
    the clock's last date, an upload id no upload has): ``value_error`` and the like."""
    from jsonschema import Draft202012Validator

    found = {*_WORDED, *Draft202012Validator.VALIDATORS}  # a keyword not worded keeps its name

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            custom = node.get("x-error")
            for entry in custom if isinstance(custom, list) else [custom] if isinstance(custom, dict) else []:
                found.add(entry.get("type", entry.get("keyword")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for name in [*contracts.CONTRACTS, "openapi"]:
        walk(contracts.load(name))
    return frozenset(found - {"value_error"})


def check_a_valid_request_is_not_refused_by_a_rule_of_the_document(case: Any, status: int, body: Any) -> None:
    """A request schemathesis generated as valid breaks none of the document's rules: when it is refused
    (422), its refusal names another rule. (Schemathesis' positive_data_acceptance check, less the rules the
    document cannot state; docs/how-to/schemathesis.md lists those.)"""
    if status != 422 or case.meta is None or case.meta.generation.mode.is_negative:
        return
    items = body.get("detail") if isinstance(body, dict) else None
    broken = [d for d in items if d.get("type") in schema_rules()] if isinstance(items, list) else []
    assert not broken, f"{case.method} {case.path}: a valid request was refused by the document's rules: {broken}"


def check_public_answer(fake: EdenFake, case: Any) -> int:
    """Send ``case`` to ``fake``, freshly reset, and check its answer; the status, for the caller to count."""
    fake.reset()
    response = case.call(headers=AUTH)
    media = media_type_of(response)
    body = response.json() if media.startswith("application/json") else None
    assert response.status_code < 500, response.text
    if isinstance(body, dict) and body.get("error_code") == "PROVIDER_ERROR":
        # The model's own refusal (a size it lacks...): a 400 naming the field, so that clients do not retry it.
        assert response.status_code == 400 and body["param"], body
    validate_exchange(case.method, case.path, response.status_code, body, media_type=media)
    if 400 <= response.status_code < 500:
        assert names_the_problem(body), body
    check_a_valid_request_is_not_refused_by_a_rule_of_the_document(case, response.status_code, body)
    return int(response.status_code)


@pytest.mark.slow("test_the_fuzz_reached_every_route_and_both_kinds_of_input makes the same checks of each route")
@PUBLIC.parametrize()
@SETTINGS
def test_no_input_breaks_the_fake(case: Any, public_fake: EdenFake) -> None:
    check_public_answer(public_fake, case)


def drive(fake: EdenFake, operation: Any, mode: GenerationMode, statuses: Counter[int]) -> None:
    """A small fuzz of one operation in one mode, through schemathesis's strategy API; each status counted."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(SETTINGS, max_examples=60 if LONG else 6, database=None)
    def run(case: Any) -> None:
        statuses[check_public_answer(fake, case)] += 1

    run()


def test_the_fuzz_reached_every_route_and_both_kinds_of_input(public_fake: EdenFake, public_schema: Any) -> None:
    """Drives its own fuzz, one operation and one mode at a time, so that a fuzz that generates nothing for a
    route or for a kind of input fails here instead of passing quietly (and without another test's help)."""
    operations = [result.ok() for result in public_schema.get_all_operations()]
    assert len(operations) >= 5, [op.label for op in operations]
    seen: dict[tuple[str, str], Counter[int]] = {}
    no_negative: list[str] = []
    for operation in operations:
        for mode in MODES:
            statuses = seen[operation.label, mode.value] = Counter()
            try:
                drive(public_fake, operation, mode, statuses)
            except Unsatisfiable:
                # Nothing in the request can be made invalid (GET /healthz takes no input): no negative case.
                assert mode is GenerationMode.NEGATIVE, operation.label
                no_negative.append(operation.label)
    summary = {f"{label} {mode}": dict(counts) for (label, mode), counts in seen.items()}
    if LONG:
        print(f"\nfuzz: {summary}; no negative case possible: {no_negative}")

    def total(mode: GenerationMode, klass: int | None = None) -> int:
        return sum(
            n
            for (_, m), counts in seen.items()
            if m == mode.value
            for s, n in counts.items()
            if klass in (None, s // 100)
        )

    for operation in operations:  # every route got valid input, and invalid input wherever it can be made
        assert sum(seen[operation.label, "positive"].values()) > 0, summary
        assert sum(seen[operation.label, "negative"].values()) > 0 or operation.label in no_negative, summary
    assert len(no_negative) <= len(operations) // 2, (no_negative, summary)
    assert total(GenerationMode.POSITIVE, 2) > 0, summary  # valid input gets through somewhere
    assert total(GenerationMode.NEGATIVE, 4) > 0, summary  # and invalid input is refused
    assert total(GenerationMode.POSITIVE) + total(GenerationMode.NEGATIVE) >= 40, summary


@ADMIN.parametrize()
@SETTINGS
def test_no_input_breaks_the_admin_routes(case: Any, admin_fake: EdenFake, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only two promises here: no 5xx, and strict JSON. Whether the answers match the OpenAPI document is
    # tests/test_admin.py's business, so the contract check conftest puts on every answer is lifted.
    monkeypatch.undo()
    admin_fake.reset()
    admin_fake.clock.set(FROZEN)  # reset leaves the clock where a PUT /_edenfake/clock put it
    response = case.call(headers=AUTH)
    assert response.status_code < 500, (response.status_code, response.text[:2000])
    if media_type_of(response).startswith("application/json"):
        try:
            strict_json(response.content)
        except ValueError as exc:
            raise AssertionError(f"{case.method} {case.path} answered {response.status_code}: {exc}") from None
        check_a_valid_request_is_not_refused_by_a_rule_of_the_document(case, response.status_code, response.json())
