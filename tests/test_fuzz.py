"""The fake fuzzed from its own OpenAPI document with schemathesis: valid and invalid requests on every route.

No answer may be a 5xx, but for the provider's refusal of a value the model lacks (a 502 naming the field, as
the real service answers); every answer must match the document, and every 4xx must say what is wrong.
``EDENFAKE_FUZZ=long`` runs many more cases.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from edenfake import EdenFake, create_app
from edenfake.contracts import validate_exchange

LONG = os.environ.get("EDENFAKE_FUZZ") == "long"
FAKE = EdenFake(clock=1_779_792_103)
APP = create_app(FAKE)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=300 if LONG else 12
)
# The admin routes change the fake's own state (faults, latency, clock): they are driven by their own tests.
schema = schema.exclude(tag="admin")

COUNTS: dict[str, int] = {"cases": 0, "answers_checked": 0, "4xx": 0}


def names_the_problem(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    detail = body.get("detail")
    if isinstance(detail, list):  # 422: each entry names its field
        return all(isinstance(d.get("loc"), list) and len(d["loc"]) >= 1 and d.get("msg") for d in detail)
    return isinstance(detail, str) and bool(detail)


@schema.parametrize()
@settings(
    deadline=None,
    derandomize=not LONG,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_no_input_breaks_the_fake(case: Any) -> None:
    FAKE.reset()
    response = case.call(headers={"Authorization": "Bearer fuzz"})
    COUNTS["cases"] += 1
    media = response.headers.get("content-type", [""])
    media = media[0] if isinstance(media, list) else media
    body = response.json() if media.startswith("application/json") else None
    if response.status_code == 502:
        # The model's own refusal (a size it lacks...): the real service's provider error, naming the field.
        COUNTS["provider_refusals"] = COUNTS.get("provider_refusals", 0) + 1
        assert body["error_code"] == "PROVIDER_ERROR" and body["param"], body
    else:
        assert response.status_code < 500, response.text
    validate_exchange(case.method, case.path, response.status_code, body, media_type=media)
    COUNTS["answers_checked"] += 1
    if 400 <= response.status_code < 500:
        COUNTS["4xx"] += 1
        assert names_the_problem(body), body


def test_the_fuzz_reached_every_route_and_both_kinds_of_input() -> None:
    # Runs after the parametrized test in file order: a fuzz that ran nothing must not pass quietly.
    assert COUNTS["cases"] >= 20, COUNTS
    assert COUNTS["4xx"] > 0, COUNTS
    if LONG:
        print(f"\nfuzz: {COUNTS}")
