"""Where faults may answer, and what the rate limiter keeps.

A fault answers only on routes whose contract lists the status it answers with (a broken connection can
happen anywhere): a ``content_policy`` refusal (400) never answers ``GET /v3/images/models``, which documents
no 400; it waits for a request it may answer. Chaos draws among the statuses the route lists. The rate limiter
tracks at most MAX_TRACKED tokens, and forgets first those whose last second holds no request."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

from edenfake import EdenFake, FakeRequest, contracts
from edenfake.faults import FAULT_NAMES, FAULT_STATUSES, MAX_TRACKED, RateLimiter, documented_statuses
from tests.helpers import FROZEN

MODELS = ("GET", "/v3/images/models")
GENERATE = ("POST", "/v3/images/generations")
BODY = b'{"model": "openai/gpt-image-1", "prompt": "a fox", "quality": "low"}'


def ask(fake: EdenFake, method: str, path: str, *, token: str = "t", body: bytes = BODY) -> tuple[int, str | None]:
    """The status the core answers (0 for a broken connection) and the fault it names."""
    headers = [("authorization", f"Bearer {token}"), ("content-type", "application/json")]
    response = fake.answer(FakeRequest(method, path, headers=headers, body=body if method == "POST" else b""))
    return response.status, response.fault


def api_routes() -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in contracts.route_table().routes if r.path.startswith("/v3/")]


def test_a_fault_answers_only_where_the_routes_contract_lists_its_status() -> None:
    """Each kind of fault, queued for every request, against each API route: the route answers with the fault
    where its contract lists the fault's status, and as if there were none elsewhere (the fault unused)."""
    problems = []
    for method, path in api_routes():
        listed = documented_statuses(method, path)
        assert listed is not None
        for kind in [*FAULT_STATUSES, *FAULT_NAMES]:
            fake = EdenFake(clock=FROZEN)
            fault = fake.fail(kind, times=None)  # type: ignore[arg-type]
            try:
                status, broken = ask(fake, method, path)
            except Exception as exc:  # the contract check of every answer (tests/conftest.py) raises
                problems.append(f"{method} {path} {kind!r}: {str(exc)[:200]}")
                continue
            if broken is not None:  # a timeout or a disconnect: on any route
                applies = broken == kind
            else:
                expected = fault.error(None).status
                applies = status in listed and (status == expected) == (expected in listed)
                applies = applies and fake.calls[0].fault == (str(kind) if expected in listed else None)
                applies = applies and (fault.used == 1) == (expected in listed)
            if not applies:
                problems.append(f"{method} {path} {kind!r}: answered {status} (fault {broken}), used {fault.used}")
    assert not problems, "\n".join(problems)


def test_a_content_policy_fault_waits_past_the_model_list_for_a_generation() -> None:
    fake = EdenFake(clock=FROZEN)
    fault = fake.fail("content_policy")
    assert ask(fake, *MODELS) == (200, None)
    assert fault.used == 0 and fake.faults.faults == [fault] and fake.faults.unused() == [fault]
    assert ask(fake, *GENERATE) == (400, None)
    assert fake.calls[1].fault == "content_policy" and fake.faults.faults == []


def test_chaos_draws_only_among_the_statuses_a_route_lists() -> None:
    fake = EdenFake(clock=FROZEN)
    fake.set_chaos(1.0, statuses=["content_policy"])
    assert [ask(fake, *MODELS)[0] for _ in range(20)] == [200] * 20
    assert ask(fake, *GENERATE)[0] == 400
    fake.set_chaos(1.0, statuses=["content_policy", 503], seed=3)
    assert {ask(fake, *MODELS)[0] for _ in range(50)} == {503}
    assert {ask(fake, *GENERATE)[0] for _ in range(50)} == {400, 503}


# -- the rate limiter's bound --------------------------------------------------------------------------------


def _held(build: Callable[[], RateLimiter], tokens: int) -> tuple[int, int]:
    """Bytes a limiter holds after ``tokens`` distinct tokens in the same second, and the tokens it tracks."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        limiter = build()
        for i in range(tokens):
            limiter.check(f"token-{i:06d}")
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return held, len(limiter._seen)


def test_ten_thousand_tokens_in_one_second_keep_the_limiter_bounded() -> None:
    build = lambda: RateLimiter(5, lambda: float(FROZEN))  # noqa: E731 - the clock never moves
    bounded, tracked = _held(build, MAX_TRACKED)
    many, tracked_many = _held(build, 10_000)
    assert tracked == tracked_many == MAX_TRACKED
    assert many < bounded * 1.2 + 10_000, (many, bounded)  # ten times the tokens, the same memory


def test_tokens_whose_second_is_over_are_forgotten() -> None:
    now = [float(FROZEN)]
    limiter = RateLimiter(1, lambda: now[0])
    for i in range(10_000):
        now[0] += 0.01  # a hundred tokens a second, each seen once
        limiter.check(f"token-{i}")
    assert limiter.tracked <= 101


def test_a_busy_token_stays_limited_while_ten_thousand_others_come_in_the_same_second() -> None:
    fake = EdenFake(clock=FROZEN, rate_limit=2, journal_size=10)
    assert [ask(fake, *MODELS, token="busy")[0] for _ in range(3)] == [200, 200, 429]
    limiter = fake.rate_limiter
    assert limiter is not None
    for i in range(10_000):
        limiter.check(f"other-{i}")  # what the core does for each request (answering each would take minutes)
        if i % (MAX_TRACKED // 2) == 0:  # still busy: the limiter keeps it, and it stays over its limit
            assert ask(fake, *MODELS, token="busy")[0] == 429
    assert limiter.tracked == MAX_TRACKED
    assert ask(fake, *MODELS, token="busy")[0] == 429
    assert ask(fake, *MODELS, token="other-9999")[0] == 200  # its second request this second
    assert ask(fake, *MODELS, token="other-9999")[0] == 429
