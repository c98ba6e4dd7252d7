"""The journal's questions refuse what no call can answer: a field no request contract has (with the closest
one), a status or tags of the wrong type, a count or a page that is no whole number. Before, such a question
answered [] or "expected 1, got 1", and an assertion built on it passed or failed for the wrong reason."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

import edenfake
from edenfake._calls import CallList, Queries
from edenfake._handle import Handle
from tests.helpers import FROZEN

BODY = {"model": "openai/gpt-image-1", "prompt": "a fox", "quality": "low"}


@pytest.fixture(scope="module")
def eden() -> Iterator[Handle]:
    with edenfake.mock(clock=FROZEN) as handle:
        httpx.post("https://api.edenai.run/v3/images/generations", json=BODY, headers={"Authorization": "Bearer t"})
        yield handle


def _both(eden: Handle) -> list[Queries]:
    """The live journal and the same calls as a list read back (what a shared server's worker holds)."""
    return [eden.calls, CallList(eden.calls)]


@pytest.mark.parametrize(
    ("ask", "says"),
    [
        (lambda c: c.filter(promt="a fox"), "calls.filter(): unknown request field 'promt'; did you mean 'prompt'?"),
        (lambda c: c.filter(status="200"), "calls.filter(): status is an integer, got str"),
        (lambda c: c.filter(status=True), "status is an integer, got bool"),
        (lambda c: c.filter(tags="env"), "calls.filter(): tags is a dict of tag names to values, got str"),
        (lambda c: c.assert_called(times="1"), "calls.assert_called(): times is a whole number of requests, got '1'"),
        (lambda c: c.assert_called(times=-1), "times is a whole number of requests, got -1"),
        (lambda c: c.assert_called_with(modle="x"), "unknown request field 'modle'; did you mean 'model'?"),
        (lambda c: c.assert_any_call(sise="1024x1024"), "unknown request field 'sise'; did you mean 'size'?"),
    ],
)
def test_a_question_no_call_can_answer_is_refused_naming_the_closest_field(
    eden: Handle, ask: Callable[[Queries], object], says: str
) -> None:
    for calls in _both(eden):
        with pytest.raises(TypeError) as info:
            ask(calls)
        assert says in str(info.value)


def test_a_page_needs_whole_numbers(eden: Handle) -> None:
    for bad in ({"offset": -1}, {"limit": -2}, {"offset": "1"}):
        with pytest.raises(ValueError, match=r"calls\.page\(\): (offset|limit) is a whole number"):
            eden.calls.page(**bad)  # type: ignore[arg-type]
    assert [c.prompt for c in eden.calls.page(0, 1)] == ["a fox"]


def test_questions_that_make_sense_still_answer(eden: Handle) -> None:
    for calls in _both(eden):
        assert calls.filter(prompt="a fox", status=200, path="/v3/images/generations") == [calls.last]
        assert calls.filter(prompt="a wolf") == [] and calls.filter(tags={"env": "x"}) == []
        calls.assert_called(times=1)
        calls.assert_called_with(model="openai/gpt-image-1", quality="low")
        calls.assert_any_call(prompt="a fox")
        assert calls.count == 1 and len(calls) == 1
