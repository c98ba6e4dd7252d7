"""What can go wrong on purpose: queued faults, latency, a seeded chaos rate, credits and a rate limit."""

from __future__ import annotations

import random
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from edenfake.errors import (
    ApiError,
    InsufficientCredit,
    InternalError,
    ProviderError,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
)

__all__ = ["Fault", "FaultPlan", "RateLimiter", "RequestView"]

#: statuses ``fail()`` can answer with, each in the real service's shape
FAULT_STATUSES = (401, 402, 429, 500, 502, 503)
FaultKind = Literal["timeout", "disconnect"]


@dataclass(frozen=True)
class RequestView:
    """What a fault's ``match`` sees of a request."""

    method: str
    path: str
    fields: Mapping[str, Any]
    headers: Mapping[str, str]


Matcher = Callable[[RequestView], bool] | Mapping[str, Any] | str | None


@dataclass
class Fault:
    """One queued fault: answers the next ``times`` matching requests (``None``: all of them)."""

    what: int | FaultKind
    times: int | None = 1
    match: Matcher = None
    retry_after: float | None = None
    detail: str | None = None
    #: timeouts: seconds a real server holds the request before dropping it
    hang: float = 30.0
    used: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.what, bool) or (isinstance(self.what, int) and self.what not in FAULT_STATUSES):
            raise ValueError(
                f"fail({self.what!r}): the status must be one of {', '.join(map(str, FAULT_STATUSES))}, "
                "or 'timeout' or 'disconnect'"
            )
        if isinstance(self.what, str) and self.what not in ("timeout", "disconnect"):
            raise ValueError(f"fail({self.what!r}): use a status, 'timeout' or 'disconnect'")
        if self.times is not None and self.times < 1:
            raise ValueError(f"times must be at least 1 (or None for every request), got {self.times}")

    @property
    def name(self) -> str:
        return str(self.what)

    @property
    def remaining(self) -> int | None:
        return None if self.times is None else self.times - self.used

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.used >= self.times

    def matches(self, request: RequestView) -> bool:
        m = self.match
        if m is None:
            return True
        if isinstance(m, str):
            return request.path == m
        if isinstance(m, Mapping):
            return all(
                (request.path == v) if k == "path" else (request.fields.get(k, _MISSING) == v) for k, v in m.items()
            )
        return bool(m(request))

    def error(self, provider: str | None) -> ApiError:
        """The error this fault answers with, in the real service's shape."""
        status = self.what
        exc: ApiError
        if status == 429:
            exc = RateLimited(
                self.retry_after if self.retry_after is not None else 1.0, self.detail or "Rate limit exceeded"
            )
            return exc
        if status == 401:
            exc = Unauthorized(self.detail or "Invalid or missing authentication token")
        elif status == 402:
            exc = InsufficientCredit(required=1.0, available=0.0)
        elif status == 500:
            exc = InternalError(self.detail or "Internal server error")
        elif status == 502:
            exc = ProviderError(
                self.detail or "The provider failed to process the request", provider=provider or "unknown"
            )
        else:
            exc = ServiceUnavailable(self.detail or "Service temporarily unavailable")
        if self.detail and status == 402:
            exc.detail = self.detail
        if self.retry_after is not None:
            exc.headers = {**exc.headers, "retry-after": str(max(0, round(self.retry_after)))}
        return exc

    def describe(self) -> str:
        rest = "" if self.times is None else f", {self.remaining} of {self.times} left"
        match = f", match={self.match!r}" if self.match is not None else ""
        return f"fail({self.what!r}{match}{rest})"


_MISSING = object()


@dataclass
class FaultPlan:
    """The queued faults, latency and chaos rate of one fake. Thread-safe."""

    faults: list[Fault] = field(default_factory=list)
    latency: float | tuple[float, float] = 0.0
    chaos_rate: float = 0.0
    chaos_statuses: tuple[int | FaultKind, ...] = (429, 500, 502, 503)
    _random: random.Random = field(default_factory=lambda: random.Random(0))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def armed(self) -> bool:
        """Whether any request could be answered by a fault (a cheap test for the hot path)."""
        return bool(self.faults) or self.chaos_rate > 0

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def take(self, request: RequestView) -> Fault | None:
        """The fault that answers ``request``: the first matching queued one, else a chaos draw."""
        with self._lock:
            for fault in self.faults:
                if not fault.exhausted and fault.matches(request):
                    fault.used += 1
                    return fault
            if self.chaos_rate and self._random.random() < self.chaos_rate:
                return Fault(self._random.choice(self.chaos_statuses), times=None)
        return None

    def delay(self) -> float:
        """Seconds to wait before answering this request."""
        if isinstance(self.latency, tuple):
            with self._lock:
                return self._random.uniform(*self.latency)
        return self.latency

    def seed(self, seed: int) -> None:
        with self._lock:
            self._random = random.Random(seed)

    def unused(self) -> list[Fault]:
        """Queued faults that have not answered every request they were queued for (``times=None`` never counts)."""
        with self._lock:
            return [f for f in self.faults if f.times is not None and not f.exhausted]

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.latency = 0.0
            self.chaos_rate = 0.0
            self._random = random.Random(0)


class RateLimiter:
    """At most ``per_second`` requests per account (token) in any one second of the fake's clock."""

    def __init__(self, per_second: int, clock: Callable[[], float]) -> None:
        if per_second < 1:
            raise ValueError(f"per_second must be at least 1, got {per_second}")
        self.per_second = per_second
        self._clock = clock
        self._seen: defaultdict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, account: str) -> None:
        """Count a request for ``account``; RateLimited (with the wait) when over the limit."""
        now = self._clock()
        with self._lock:
            seen = self._seen[account]
            while seen and seen[0] <= now - 1.0:
                seen.popleft()
            if len(seen) >= self.per_second:
                raise RateLimited(seen[0] + 1.0 - now)
            seen.append(now)
