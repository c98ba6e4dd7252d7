"""A journal's calls (:class:`Call`) and what it answers of them: ``count``, ``last``, ``filter()`` and the
assertions, for the live :class:`~edenfake.journal.Journal` and for :class:`CallList`, the calls a session of
a server elsewhere read back. A question no call can answer (a field no request contract has, a status that
is no integer) is a TypeError naming the closest field, never a silent empty answer."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, overload

from edenfake._options import unknown_option
from edenfake.faults import request_fields

__all__ = ["Call", "CallList", "Queries"]

_MISSING = object()


@dataclass(frozen=True)
class Call:
    """One request the fake answered."""

    method: str
    path: str
    headers: dict[str, str]
    #: the parsed JSON body, or None when the body was not JSON
    json: Any
    status: int
    #: the JSON answer, or None for binary answers; each image's base64 is replaced by
    #: ``{"sha256", "bytes", "format", "width", "height"}`` (the journal keeps no image data); an answer said to
    #: be JSON that is not strict JSON is ``{"not_json": {"bytes": N, "sha256": HEX}}``
    response: Any
    #: multipart text fields (image edits), or None
    form: dict[str, Any] | None = None
    #: uploaded files: part name, file name, content type, size and sha256 (never the bytes)
    files: list[dict[str, Any]] = field(default_factory=list)
    #: the injected fault that answered, e.g. "429", "timeout", "disconnect", or None
    fault: str | None = None
    #: the fake clock's time when the call came in
    at: float = 0.0
    #: seconds the core took, injected latency excluded
    duration: float = 0.0
    #: the answer came from a cassette (``replay=``), not from the fake's own rules
    replayed: bool = False
    #: an edit's input images (the mask last): ``{"role": "image" | "mask", "sha256", "format", "width",
    #: "height", "bytes", "hosted"}`` each (format, size and bytes None for a remote URL the fake does not fetch)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    #: the call's tags (the X-EdenAI-Tags header and a JSON body's ``tags``, merged; keys lower-case); {} when
    #: it had none, or when they were refused (a 400 INVALID_TAGS)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def fields(self) -> dict[str, Any]:
        """The request's fields: the JSON body, or the multipart text fields."""
        if isinstance(self.json, dict):
            return self.json
        return self.form or {}

    @property
    def model(self) -> Any:
        return self.fields.get("model")

    @property
    def prompt(self) -> Any:
        return self.fields.get("prompt")

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str | None:
        """An error answer's ``error_code`` (``"INVALID_MODEL"``, ``"RATE_LIMITED"``...), else None."""
        answer = self.response
        code = answer.get("error_code") if isinstance(answer, dict) and not self.ok else None
        return code if isinstance(code, str) else None

    def as_dict(self) -> dict[str, Any]:
        """The call as plain JSON-ready data (what ``GET /_edenfake/calls`` answers)."""
        return asdict(self)

    def summary(self) -> str:
        shown = {k: _short(v) for k, v in self.fields.items()}
        fault = f" [fault {self.fault}]" if self.fault else ""
        return f"{self.method} {self.path} -> {self.status}{fault} {shown}"


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 60:
        return value[:57] + "..."
    return value


def _check_query(where: str, fields: dict[str, Any], *, status: object = None, tags: object = None) -> None:
    """TypeError for a question no call can answer: a field no request contract has (with the closest one),
    a status that is not an integer, tags that are not a dict."""
    if status is not None and (not isinstance(status, int) or isinstance(status, bool)):
        raise TypeError(f"{where}: status is an integer, got {type(status).__name__}")
    if tags is not None and not isinstance(tags, Mapping):
        raise TypeError(f"{where}: tags is a dict of tag names to values, got {type(tags).__name__}")
    known = request_fields() - {"path", "tags"}
    for name in fields:
        if name not in known:
            raise TypeError(
                f"{where}: {unknown_option(name, known).replace('unknown option', 'unknown request field')}"
            )


class Queries:
    """What a journal answers of its calls, oldest first: the live :class:`Journal`, and :class:`CallList`, the
    calls a session of a server elsewhere read back."""

    if TYPE_CHECKING:

        def __iter__(self) -> Iterator[Call]: ...
        def __len__(self) -> int: ...

    def _newest(self) -> Call | None:
        raise NotImplementedError

    @property
    def count(self) -> int:
        return len(self)

    @property
    def last(self) -> Call:
        """The newest call; AssertionError when there is none."""
        newest = self._newest()
        if newest is None:
            raise AssertionError("edenfake received no request")
        return newest

    def filter(
        self, *, path: str | None = None, status: int | None = None, tags: dict[str, str] | None = None, **fields: Any
    ) -> list[Call]:
        """The calls to ``path`` (and with ``status``) whose request fields equal ``fields`` and that carry each
        of ``tags`` (the call's merged tags; keys compared in lower case, as they are kept)."""
        _check_query("calls.filter()", fields, status=status, tags=tags)
        wanted = {str(k).lower(): v for k, v in (tags or {}).items()}
        return [
            c
            for c in self
            if (path is None or c.path == path)
            and (status is None or c.status == status)
            and all(c.tags.get(k, _MISSING) == v for k, v in wanted.items())
            and all(c.fields.get(k, _MISSING) == v for k, v in fields.items())
        ]

    def assert_called(self, *, times: int | None = None, path: str | None = None) -> None:
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 0):
            raise TypeError(f"calls.assert_called(): times is a whole number of requests, got {times!r}")
        calls = self.filter(path=path)
        where = f" to {path}" if path else ""
        if times is None and not calls:
            raise AssertionError(f"edenfake received no request{where}")
        if times is not None and len(calls) != times:
            raise AssertionError(f"expected {times} request(s){where}, got {len(calls)}:\n{self._listing(calls)}")

    def assert_not_called(self) -> None:
        if len(self):
            raise AssertionError(f"expected no request, got {len(self)}:\n{self._listing(list(self))}")

    def assert_called_with(self, **fields: Any) -> None:
        """The newest call's request fields equal ``fields`` (other fields are not compared)."""
        _check_query("calls.assert_called_with()", fields)
        last = self.last
        diffs = [
            f"  {k}: expected {v!r}, sent {last.fields.get(k, '<missing>')!r}"
            for k, v in fields.items()
            if last.fields.get(k, _MISSING) != v
        ]
        if diffs:
            raise AssertionError("the last request differs:\n" + "\n".join(diffs) + f"\nit was: {last.summary()}")

    def assert_any_call(self, **fields: Any) -> None:
        """Some call's request fields equal ``fields``."""
        _check_query("calls.assert_any_call()", fields)
        if not self.filter(**fields):
            raise AssertionError(f"no request had {fields!r}; received:\n{self._listing(list(self))}")

    def _listing(self, calls: list[Call]) -> str:
        if not calls:
            return "  (none)"
        return "\n".join(f"  {i}: {c.summary()}" for i, c in enumerate(calls))


class CallList(Queries):
    """Calls read back from a server (a session's journal, oldest first), with the journal's questions:
    ``count``, ``last``, ``filter()``, ``assert_called()`` and the rest. It is what it was when read."""

    def __init__(self, calls: Iterable[Call]) -> None:
        self._list = list(calls)

    @overload
    def __getitem__(self, index: int) -> Call: ...
    @overload
    def __getitem__(self, index: slice) -> list[Call]: ...
    def __getitem__(self, index: int | slice) -> Call | list[Call]:
        return self._list[index]

    def __iter__(self) -> Iterator[Call]:
        return iter(self._list)

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, CallList)):
            return self._list == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<CallList of {len(self)} call(s)>"

    def _newest(self) -> Call | None:
        return self._list[-1] if self._list else None
