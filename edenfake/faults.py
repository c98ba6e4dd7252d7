"""What can go wrong on purpose: queued faults, latency, a seeded chaos rate, credits and a rate limit."""

from __future__ import annotations

import functools
import random
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from edenfake import contracts
from edenfake._options import unknown_option
from edenfake.catalog import ModelSpec, content_policy_error
from edenfake.errors import (
    ApiError,
    InsufficientCredit,
    InternalError,
    InvalidSetting,
    ProviderError,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    retry_after_headers,
)

__all__ = ["Fault", "FaultPlan", "RateLimiter", "RequestView"]

FaultKind = Literal["timeout", "disconnect", "content_policy"]
#: the faults that break the connection instead of answering
CONNECTION_FAULTS = ("timeout", "disconnect")
#: at most this many faults wait at once
MAX_QUEUED = 1000
#: the longest a timeout holds a request, an answer asks a client to wait, or latency delays an answer (seconds)
MAX_HANG = 600.0
MAX_RETRY_AFTER = 3600.0


def _kinds() -> tuple[tuple[int, ...], tuple[str, ...]]:
    # What a fault may answer with is a rule of the admin API: its contract says it once.
    forms = contracts.load("admin#/$defs/FaultKind")["oneOf"]
    statuses = next(f["enum"] for f in forms if f["type"] == "integer")
    names = next(f["enum"] for f in forms if f["type"] == "string")
    return tuple(statuses), tuple(names)


#: statuses ``fail()`` can answer with, each in the real service's shape, and the broken connections
FAULT_STATUSES, FAULT_NAMES = _kinds()
#: what chaos answers with unless told otherwise
CHAOS_STATUSES: tuple[int | FaultKind, ...] = tuple(
    contracts.load("admin#/$defs/ChaosRequest")["properties"]["statuses"]["default"]
)


@functools.cache
def request_fields() -> frozenset[str]:
    """The names a fault's ``match`` may compare: every field of every request contract, and ``path``."""
    names = {"path"}
    for contract in (
        "generation-request",
        "edit-request",
        "edit-request#/$defs/EditForm",
        "edit-request#/$defs/UploadForm",
        "edit-request#/$defs/DeleteFiles",
    ):
        names.update(contracts.load(contract).get("properties", {}))
    return frozenset(names)


def _seconds(value: Any, what: str, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= limit:
        raise InvalidSetting(what, f"{what} must be a number of seconds from 0 to {limit:g}, got {value!r}")
    return float(value)


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
        what = self.what
        if isinstance(what, bool) or (isinstance(what, int) and what not in FAULT_STATUSES):
            raise InvalidSetting(
                "fail",
                f"fail({what!r}): the status must be one of {', '.join(map(str, FAULT_STATUSES))}, "
                f"or one of {', '.join(map(repr, FAULT_NAMES))}",
            )
        if not isinstance(what, int) and what not in FAULT_NAMES:
            raise ValueError(
                f"fail({what!r}): use a status as an integer, or one of {', '.join(map(repr, FAULT_NAMES))}"
            )
        if self.times is not None and (
            isinstance(self.times, bool) or not isinstance(self.times, int) or not 1 <= self.times <= 1_000_000
        ):
            raise InvalidSetting(
                "times", f"times must be an integer from 1 to 1000000 (or None for every request), got {self.times!r}"
            )
        if self.retry_after is not None:
            self.retry_after = _seconds(self.retry_after, "retry_after", MAX_RETRY_AFTER)
        self.hang = _seconds(self.hang, "hang", MAX_HANG)
        if self.detail is not None and (not isinstance(self.detail, str) or not 1 <= len(self.detail) <= 1000):
            raise InvalidSetting("detail", "detail must be a string of 1 to 1000 characters")
        if isinstance(self.match, Mapping):
            known = request_fields()
            for name in self.match:
                if name not in known:
                    hint = unknown_option(str(name), known).replace("unknown option", "unknown request field")
                    raise InvalidSetting("match", f"fail(match=...): {hint}")

    @property
    def name(self) -> str:
        return str(self.what)

    @property
    def breaks_connection(self) -> bool:
        """Whether it drops the connection (a timeout, a disconnect) rather than answering."""
        return self.what in CONNECTION_FAULTS

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

    def error(self, model: ModelSpec | None) -> ApiError:
        """The error this fault answers with, in the real service's shape, for a request naming ``model``."""
        status = self.what
        provider = model.provider if model is not None else None
        exc: ApiError
        if status == "content_policy":
            # The catalog knows each provider's refusal; a model it lacks gets the contract's default one.
            exc = model.content_policy_error() if model is not None else content_policy_error("unknown")
            if self.detail:
                exc.detail = self.detail
            return exc
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
            exc.headers = {**exc.headers, **retry_after_headers(self.retry_after)}
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
    chaos_statuses: tuple[int | FaultKind, ...] = CHAOS_STATUSES
    _random: random.Random = field(default_factory=lambda: random.Random(0))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def armed(self) -> bool:
        """Whether any request could be answered by a fault (a cheap test for the hot path)."""
        return bool(self.faults) or self.chaos_rate > 0

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            if len(self.faults) >= MAX_QUEUED:
                raise InvalidSetting("fail", f"{MAX_QUEUED} faults are queued already; clear some (or reset) first")
            self.faults.append(fault)
        return fault

    def take(self, request: RequestView) -> Fault | None:
        """The fault that answers ``request``: the first matching queued one, else a chaos draw. A fault that
        has answered all its requests leaves the queue."""
        with self._lock:
            for i, fault in enumerate(self.faults):
                if fault.matches(request):
                    fault.used += 1
                    if fault.exhausted:
                        del self.faults[i]
                    return fault
            if self.chaos_rate and self._random.random() < self.chaos_rate:
                return Fault(self._random.choice(self.chaos_statuses), times=None)
        return None

    def set_latency(self, seconds: float | tuple[float, float] | list[float], *, seed: int | None = None) -> None:
        """Delay every API answer by ``seconds`` (0..600), or by a seeded draw from a ``(low, high)`` range."""
        if isinstance(seconds, (tuple, list)):
            if len(seconds) != 2:
                raise ValueError(f"a latency range is (low, high), got {seconds!r}")
            low, high = (_seconds(s, "latency", MAX_HANG) for s in seconds)
            if low > high:
                raise ValueError(f"a latency range must have low <= high, got {list(seconds)!r}")
            latency: float | tuple[float, float] = (low, high)
        else:
            latency = _seconds(seconds, "latency", MAX_HANG)
        with self._lock:
            self.latency = latency
            if seed is not None:
                self._random = random.Random(seed)

    def set_chaos(
        self, rate: float, *, statuses: Iterable[int | FaultKind] = CHAOS_STATUSES, seed: int | None = None
    ) -> None:
        """Fail a seeded random ``rate`` (0..1) of API requests with one of ``statuses``."""
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"chaos rate must be a number from 0 to 1, got {rate!r}")
        chosen = tuple(statuses)
        if not chosen:
            raise ValueError("chaos needs at least one status to answer with")
        for what in chosen:
            Fault(what)  # refuses what fail() would refuse
        with self._lock:
            self.chaos_rate = float(rate)
            self.chaos_statuses = chosen
            if seed is not None:
                self._random = random.Random(seed)

    def delay(self) -> float:
        """Seconds to wait before answering this request."""
        if isinstance(self.latency, tuple):
            with self._lock:
                return self._random.uniform(*self.latency)
        return self.latency

    def unused(self) -> list[Fault]:
        """Queued faults that never answered a request (``times=None`` never counts). A fault that answered at
        least once was used, even if fewer times than queued for (a client that stopped retrying)."""
        with self._lock:
            return [f for f in self.faults if f.times is not None and f.used == 0]

    def clear_queue(self) -> None:
        with self._lock:
            self.faults.clear()

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
