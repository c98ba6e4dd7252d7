"""The request journal: every call the fake answered, with credentials redacted, and assertions over them."""

from __future__ import annotations

import functools
import re
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, overload

from edenfake import contracts

__all__ = ["Call", "Journal", "redact_headers"]

_REDACTED = "***"


@cache
def _credential_pattern() -> re.Pattern[str]:
    # The contract's own definition of a credential header decides what the journal hides.
    return re.compile(contracts.load("generation-request#/$defs/credentialHeaderName")["pattern"])


@functools.lru_cache(maxsize=1024)
def _is_credential(name: str) -> bool:
    return _credential_pattern().match(name) is not None


def redact_headers(headers: Mapping[str, str] | Sequence[tuple[str, str]]) -> dict[str, str]:
    """Headers with credential values hidden (the auth scheme is kept: ``Bearer ***``)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in pairs:
        if _is_credential(name):
            scheme, sep, _ = value.partition(" ")
            value = (
                f"{scheme} {_REDACTED}"
                if sep and name.lower() in ("authorization", "proxy-authorization")
                else _REDACTED
            )
        out[name] = value
    return out


def redact_body(body: Any) -> Any:
    """A request body with credential values in ``extra_headers`` hidden, as a careless client may send them."""
    if isinstance(body, dict) and isinstance(body.get("extra_headers"), dict):
        return {**body, "extra_headers": redact_headers({str(k): str(v) for k, v in body["extra_headers"].items()})}
    return body


@dataclass(frozen=True)
class Call:
    """One request the fake answered."""

    method: str
    path: str
    headers: dict[str, str]
    #: the parsed JSON body, or None when the body was not JSON
    json: Any
    status: int
    #: the parsed JSON answer, or None for binary answers
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

    def summary(self) -> str:
        shown = {k: _short(v) for k, v in self.fields.items()}
        fault = f" [fault {self.fault}]" if self.fault else ""
        return f"{self.method} {self.path} -> {self.status}{fault} {shown}"


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 60:
        return value[:57] + "..."
    return value


_MISSING = object()


class Journal:
    """The calls a fake answered, oldest first. Thread-safe; bounded (oldest dropped past ``max_calls``)."""

    def __init__(self, *, max_calls: int = 10_000) -> None:
        self.max_calls = max_calls
        # Calls, or the raw fields of calls nobody has read yet: recording sits on every request's path,
        # so building and redacting a Call waits until a test or the admin API looks.
        self._calls: deque[Call | tuple[Any, ...]] = deque(maxlen=max_calls)
        self._lock = threading.Lock()
        self.dropped = 0

    def record_raw(
        self,
        method: str,
        path: str,
        headers: Sequence[tuple[str, str]],
        json: Any,
        status: int,
        response: Any,
        form: dict[str, Any] | None,
        files: list[dict[str, Any]],
        fault: str | None,
        at: float,
        duration: float,
    ) -> None:
        """Record a call from its raw fields; it is built, with credentials redacted, when first read."""
        with self._lock:
            if len(self._calls) == self.max_calls:
                self.dropped += 1
            # the deque drops the oldest
            self._calls.append((method, path, headers, json, status, response, form, files, fault, at, duration))

    def _built(self) -> deque[Call]:
        # Callers hold the lock.
        calls = self._calls
        for i, entry in enumerate(calls):
            if isinstance(entry, tuple):
                method, path, headers, body, status, response, form, files, fault, at, duration = entry
                calls[i] = Call(
                    method=method,
                    path=path,
                    headers=redact_headers(headers),
                    json=redact_body(body),
                    status=status,
                    response=response,
                    form=redact_body(form) if form is not None else None,
                    files=files,
                    fault=fault,
                    at=at,
                    duration=duration,
                )
        return calls  # type: ignore[return-value]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self.dropped = 0

    @overload
    def __getitem__(self, index: int) -> Call: ...
    @overload
    def __getitem__(self, index: slice) -> list[Call]: ...
    def __getitem__(self, index: int | slice) -> Call | list[Call]:
        with self._lock:
            if isinstance(index, slice):
                return list(self._built())[index]
            return self._built()[index]

    def __len__(self) -> int:
        return len(self._calls)

    def __iter__(self) -> Iterator[Call]:
        with self._lock:
            return iter(list(self._built()))

    def __repr__(self) -> str:
        return f"<Journal of {len(self)} call(s)>"

    @property
    def count(self) -> int:
        return len(self)

    @property
    def last(self) -> Call:
        """The newest call; AssertionError when there is none."""
        with self._lock:
            if not self._calls:
                raise AssertionError("edenfake received no request")
            return self._built()[-1]

    def filter(self, *, path: str | None = None, status: int | None = None, **fields: Any) -> list[Call]:
        """The calls to ``path`` (and with ``status``) whose request fields equal ``fields``."""
        return [
            c
            for c in self
            if (path is None or c.path == path)
            and (status is None or c.status == status)
            and all(c.fields.get(k, _MISSING) == v for k, v in fields.items())
        ]

    def assert_called(self, *, times: int | None = None, path: str | None = None) -> None:
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
        if not self.filter(**fields):
            raise AssertionError(f"no request had {fields!r}; received:\n{self._listing(list(self))}")

    def _listing(self, calls: list[Call]) -> str:
        if not calls:
            return "  (none)"
        return "\n".join(f"  {i}: {c.summary()}" for i, c in enumerate(calls))
