"""What can go wrong on purpose: queued faults, latency, a seeded chaos rate, credits and a rate limit; and the
bounds of every control a test sets, read from the admin contract alone (:func:`check_control`)."""

from __future__ import annotations

import functools
import math
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from edenfake import contracts
from edenfake._options import unknown_option
from edenfake._ratelimit import MAX_TRACKED, RateLimiter, Window
from edenfake._redact import clip
from edenfake._schemas import json_types, load_file
from edenfake.catalog import ModelSpec, content_policy_error
from edenfake.errors import (
    ApiError,
    InsufficientCredit,
    InternalError,
    InvalidSetting,
    ProviderError,
    RateLimited,
    RequestValidationError,
    ServiceUnavailable,
    Unauthorized,
    hide_setting_frames,
    retry_after_headers,
)

__all__ = ["CONTROLS", "MAX_TRACKED", "Fault", "FaultPlan", "RateLimiter", "RequestView", "Window", "check_control"]
#: pytest hides these frames from a refused setting's traceback (the test's own line shows)
__tracebackhide__ = hide_setting_frames

FaultKind = Literal["timeout", "disconnect", "content_policy"]
#: the faults that break the connection instead of answering
CONNECTION_FAULTS = ("timeout", "disconnect")
#: at most this many faults wait at once
MAX_QUEUED = 1000

#: every control a test sets (by Python, by the admin API, from the console), and the admin contract's property
#: that bounds it: ``(definition, property)`` under ``contracts/admin.schema.json``'s ``$defs``
CONTROLS: dict[str, tuple[str, str]] = {
    "fail": ("FaultRequest", "fail"),
    "times": ("FaultRequest", "times"),
    "retry_after": ("FaultRequest", "retry_after"),
    "hang": ("FaultRequest", "hang"),
    "match": ("FaultRequest", "match"),
    "detail": ("FaultRequest", "detail"),
    "credits": ("CreditsRequest", "credits"),
    "per_second": ("RateLimitRequest", "per_second"),
    "seconds": ("LatencyRequest", "seconds"),
    "seed": ("LatencyRequest", "seed"),
    "rate": ("ChaosRequest", "rate"),
    "statuses": ("ChaosRequest", "statuses"),
    "at": ("ClockRequest", "at"),
    "advance": ("ClockRequest", "advance"),
}


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    return isinstance(value, list) and any(_non_finite(v) for v in value)


def check_control(name: str, value: Any) -> Any:
    """``value``, when the admin contract lets control ``name`` take it; else InvalidSetting naming it, with the
    sentence the admin API answers for the same value (``credits: Input should be less than or equal to
    1000000000 (got 5000000000.0)``). Python, the admin routes and the console all check against this one
    contract, so they accept the same values.

    JSON Schema counts a number with no fraction as an integer (``429.0`` is ``429``, as a JSON reader in
    another language may write it): a control the contract types as an integer gets it back as an ``int``."""
    definition, prop = CONTROLS[name]
    shown = list(value) if isinstance(value, tuple) else value  # a Python pair is a JSON array
    if _non_finite(shown):  # JSON cannot carry them; the schema's bounds would not catch NaN
        raise InvalidSetting(name, f"{name}: Input should be a finite number (got {clip(repr(value), 100)})")
    found = contracts.violations(f"admin#/$defs/{definition}/properties/{prop}", shown, limit=contracts.MAX_VIOLATIONS)
    if found:
        where = name + "".join(f"[{p}]" for p in found[0].loc)
        raise InvalidSetting(name, f"{where}: {found[0].msg} (got {clip(repr(value), 100)})")
    return _whole(value) if _counts(name) else value


def _whole(value: Any) -> Any:
    """Integral floats as ints, in a list or tuple too."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_whole(v) for v in value)
    return value


@functools.cache
def _counts(name: str) -> bool:
    """Whether control ``name`` is a count, status or seed: its contract types it integer, never number."""
    definition, prop = CONTROLS[name]
    types = json_types(contracts.load(f"admin#/$defs/{definition}/properties/{prop}"), "admin")
    return "integer" in types and "number" not in types


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


@functools.cache
def documented_statuses(method: str, path: str) -> frozenset[int] | None:
    """The statuses the OpenAPI document lists for ``method path`` (a route's own path, not a request's), or
    None when it has no such operation. Answers marked ``x-edenfake-only`` (a bad session name: the real
    service has no sessions) are left out: a fault plays the real service."""
    operation = contracts.load("openapi")["paths"].get(path, {}).get(method.lower())
    if operation is None:
        return None
    responses = operation["responses"]
    return frozenset(int(s) for s in responses if s.isdigit() and not responses[s].get("x-edenfake-only"))


@functools.cache
def _answer_status(what: int | str) -> int | None:
    # The status a fault answers with, from the error it builds (content_policy: the catalog's refusal);
    # None for the faults that break the connection.
    if what in CONNECTION_FAULTS:
        return None
    return Fault(what).error(None).status  # type: ignore[arg-type]


@dataclass(frozen=True)
class RequestView:
    """What a fault's ``match`` sees of a request."""

    method: str
    path: str
    fields: Mapping[str, Any]
    headers: Mapping[str, str]
    #: the request's tags, header and body merged, keys lower-case ({} when none, or when they are refused)
    tags: Mapping[str, str] = field(default_factory=dict)


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
    #: the first error a ``match`` function raised (that request was taken as not matching), for the report
    match_error: str | None = field(default=None, init=False, compare=False)

    def __post_init__(self) -> None:
        self.what = check_control("fail", self.what)
        self.times = check_control("times", self.times)
        if self.retry_after is not None:
            self.retry_after = float(check_control("retry_after", self.retry_after))
        self.hang = float(check_control("hang", self.hang))
        check_control("detail", self.detail)
        if isinstance(self.match, Mapping):
            known = request_fields()
            for name in self.match:
                if name not in known:
                    hint = unknown_option(str(name), known).replace("unknown option", "unknown request field")
                    raise InvalidSetting("match", f"fail(match=...): {hint}")
            if "tags" in self.match:  # the admin contract says what a tags match is, for Python and the admin API
                check_control("match", {"tags": self.match["tags"]})
            if "path" in self.match:
                _check_path(self.match["path"])
        elif isinstance(self.match, str):
            _check_path(self.match)
        elif self.match is not None and not callable(self.match):
            raise InvalidSetting(
                "match",
                "fail(match=...): a dict of request fields, a path, or a function taking the request and returning"
                f" a bool; got {type(self.match).__name__}",
            )

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

    def applies_to(self, statuses: frozenset[int] | None) -> bool:
        """Whether this fault may answer on a route documenting ``statuses``: a broken connection can happen
        anywhere; an answer only where the route's contract lists its status (no content_policy 400 on
        ``GET /v3/images/models``). A fault that does not apply waits for a request it does."""
        return _applies(self.what, statuses)

    def matches(self, request: RequestView) -> bool:
        m = self.match
        if m is None:
            return True
        if isinstance(m, str):
            return request.path == m
        if isinstance(m, Mapping):
            return all(_field_matches(request, k, v) for k, v in m.items())
        try:
            return bool(m(request))
        except Exception as exc:  # the caller's function: a request it cannot judge is one it does not match
            if self.match_error is None:  # the first one is kept, for the unused-fault report
                self.match_error = f"{type(exc).__name__}: {clip(str(exc), 200)} (on {request.method} {request.path})"
            return False

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
        elif status == 422:
            msg = self.detail or "Injected validation error"
            exc = RequestValidationError([{"loc": ["body"], "msg": msg, "type": "value_error"}])
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
        raised = f"; its match raised {self.match_error}" if self.match_error else ""
        return f"fail({self.what!r}{match}{rest}){raised}"


_MISSING = object()


def _check_path(path: object) -> None:
    """A fault's path match: a path of the API's document (a template's, such as an image's), or the refusal."""
    if not isinstance(path, str):
        raise InvalidSetting("match", f"fail(match=...): a path is a string, got {type(path).__name__}")
    if contracts.route_table().methods(path) is None:
        known = [p for p in load_file("openapi.json")["paths"] if "{" not in p]
        hint = unknown_option(clip(path, 200), known).replace("unknown option", "no route has the path")
        raise InvalidSetting("match", f"fail(match=...): {hint.replace('known options', 'paths')}")


def _field_matches(request: RequestView, name: str, value: Any) -> bool:
    # "path" compares the path; "tags" holds when the request carries each of these tags (keys compared in
    # lower case, as tags are stored); any other name compares the request's field.
    if name == "path":
        return bool(request.path == value)
    if name == "tags":
        return all(request.tags.get(str(k).lower(), _MISSING) == v for k, v in value.items())
    return bool(request.fields.get(name, _MISSING) == value)


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

    def take(self, request: RequestView, statuses: frozenset[int] | None) -> Fault | None:
        """The fault that answers ``request``: the first matching queued one that may answer on its route, whose
        contract lists ``statuses`` (see :meth:`Fault.applies_to`), else a chaos draw among those statuses. A
        fault that has answered all its requests leaves the queue."""
        with self._lock:
            for i, fault in enumerate(self.faults):
                if fault.applies_to(statuses) and fault.matches(request):
                    fault.used += 1
                    if fault.exhausted:
                        del self.faults[i]
                    return fault
            if self.chaos_rate and self._random.random() < self.chaos_rate:
                drawn = [s for s in self.chaos_statuses if _applies(s, statuses)]
                if drawn:
                    return Fault(self._random.choice(drawn), times=None)
        return None

    def set_latency(self, seconds: float | tuple[float, float] | list[float], *, seed: int | None = None) -> None:
        """Delay every API answer by ``seconds``, or by a seeded draw from a ``(low, high)`` range (the admin
        contract's ``LatencyRequest`` bounds both)."""
        check_control("seconds", seconds)
        seed = check_control("seed", seed)
        latency: float | tuple[float, float]
        if isinstance(seconds, (tuple, list)):
            low, high = (float(s) for s in seconds)
            if low > high:
                raise InvalidSetting("seconds", f"seconds: a latency range must have low <= high (got {seconds!r})")
            latency = (low, high)
        else:
            latency = float(seconds)
        with self._lock:
            self.latency = latency
            if seed is not None:
                self._random = random.Random(seed)

    def set_chaos(
        self, rate: float, *, statuses: Iterable[int | FaultKind] = CHAOS_STATUSES, seed: int | None = None
    ) -> None:
        """Fail a seeded random ``rate`` (0..1) of API requests with one of ``statuses`` (on each route, one of
        those its contract lists)."""
        check_control("rate", rate)
        listed = isinstance(statuses, Iterable) and not isinstance(statuses, (str, bytes, Mapping))
        chosen: Any = tuple(statuses) if listed else statuses  # anything else: the contract names what it is
        chosen = check_control("statuses", chosen)
        seed = check_control("seed", seed)
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


def _applies(what: int | str, statuses: frozenset[int] | None) -> bool:
    status = _answer_status(what)
    return status is None or statuses is None or status in statuses


def unused_faults_message(described: list[str], switch_off: str) -> str | None:
    """What to say of queued faults that never answered (each as :meth:`Fault.describe` words it), or None."""
    if not described:
        return None
    listing = "\n".join(f"  {line}" for line in described)
    return (
        f"{len(described)} queued fault(s) never answered a request:\n{listing}\n"
        f"Remove them, fix the requests they were meant for, or {switch_off}."
    )
