"""Sessions: many isolated fakes on one server, picked per request by ``X-Edenfake-Session: NAME``.

The design, the smallest sound one: everything a test can change (what ``Core._build_state`` builds: the
journal, the queued faults with latency and chaos, the credits, the rate limiter, the uploads, the hosted images;
and a replay's position) lives in a :class:`State`. A fake holds its default session's State and a bounded
:class:`Sessions` registry of named ones; its state attributes (``core.calls``, ``core.faults`` ...) are
:class:`PerSession` descriptors that read the State of the session the request runs under: :data:`CURRENT`, a
context variable that :meth:`EdenFake.answer` sets for a request carrying the header and clears after it. So
every route, the admin API included, acts on the request's session without knowing sessions exist. A request
without the header runs under the default session, exactly as a fake without sessions did. What sessions
share: the catalog, the options, the clock, the tokens and the image cache (bytes that depend on their spec).

Names follow ``admin.schema.json``'s ``SessionName`` (a bad one is a 400 naming the header and the rule). A
request to the API, or a change through the admin API, with a new name creates its session (after
``edenfake._guard``: a page elsewhere cannot create one); a read elsewhere (the journal, the state, the health
check, the console, a hosted image) never does, and under a name no session has sees a new, empty one;
past ``max_sessions`` the least recently used idle session is dropped, and a dropped session's next request
finds a fresh one. Each session's stores have the bounds of the options, so a server holds at most
``max_sessions + 1`` times them.

Hosted images: a ``url`` answered under a session carries it, ``/_edenfake/images/NAME?session=S``, so that a
client without the header (a browser, LangChain) fetches it; a request under another session (its header, or
no ``session`` query) does not see it, and the query never creates a session.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import inspect
import re
import threading
import urllib.parse
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar, overload

from edenfake import contracts
from edenfake._redact import clip, one_line
from edenfake._wire import FakeRequest
from edenfake.errors import BadRequest, NotFound
from edenfake.faults import unused_faults_message
from edenfake.journal import Call, CallList

__all__ = [
    "CURRENT",
    "HEADER",
    "PerSession",
    "RemoteSession",
    "Sessions",
    "State",
    "check_name",
    "describe_fault",
    "url_query",
]

#: the request header that picks a session (lower case, as doors hand headers to the core)
HEADER = "x-edenfake-session"
HEADER_NAME = "X-Edenfake-Session"
IMAGE_PREFIX = "/_edenfake/images/"
#: methods that only read: outside the API (``/v3/``), a request by one of them never creates a session
_READS = frozenset({"GET", "HEAD", "OPTIONS"})

T = TypeVar("T")


class State:
    """One session's state: what ``Core._build_state`` fills in (and fills in afresh on reset)."""

    __slots__ = ("active", "calls", "credits", "faults", "last_used", "name", "owner", "rate_limiter", "replay_used",
                 "uploads", "urls")  # fmt: skip

    def __init__(self, name: str, owner: object) -> None:
        self.name = name
        #: the registry it belongs to: a State of another fake never answers for this one
        self.owner = owner
        self.urls: Any = None
        self.uploads: Any = None
        self.calls: Any = None
        self.faults: Any = None
        self.credits: float | None = None
        self.rate_limiter: Any = None
        #: a replay's position: how many of each group of identical recorded requests were answered
        self.replay_used: dict[str, int] = {}
        self.last_used = 0.0
        #: requests running under it now: the bound drops idle sessions first
        self.active = 0


#: the State of the session the running request came under; None: the default session
CURRENT: contextvars.ContextVar[State | None] = contextvars.ContextVar("edenfake_session", default=None)


_current = CURRENT.get


class HasState(Protocol):
    sessions: Sessions
    _default_state: State

    def session_state(self) -> State: ...


class PerSession(Generic[T]):
    """A fake's attribute that lives in the State of the current session (see the module docstring)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> PerSession[T]: ...
    @overload
    def __get__(self, obj: HasState, objtype: type | None = None) -> T: ...
    def __get__(self, obj: HasState | None, objtype: type | None = None) -> PerSession[T] | T:
        if obj is None:
            return self
        state = _current()  # Core.session_state, inlined: every request reads these a few times
        if state is None or state.owner is not obj.sessions:
            state = obj._default_state
        value: T = getattr(state, self._name)  # no typing.cast: a call, on every read
        return value

    def __set__(self, obj: HasState, value: T) -> None:
        setattr(obj.session_state(), self._name, value)


@functools.cache
def _rule() -> tuple[re.Pattern[str], int, str]:
    schema = contracts.load("admin#/$defs/SessionName")
    return re.compile(schema["pattern"]), int(schema["maxLength"]), str(schema["description"])


def check_name(name: str, where: str = HEADER_NAME) -> str:
    """``name`` when it is a session name by the contract's ``SessionName``; else a 400 naming ``where``."""
    pattern, longest, rule = _rule()
    if not (0 < len(name) <= longest and pattern.fullmatch(name)):
        shown = one_line(clip(name, 80), 100)  # escaped once, here: a repr would escape the escapes again
        raise BadRequest(f"{where}: {rule} (got '{shown}')", error_code="INVALID_SESSION")
    return name


def url_query() -> str:
    """What a hosted image's URL carries after its name: ``?session=NAME`` under a session, else nothing."""
    state = CURRENT.get()
    return "" if state is None else f"?session={state.name}"


class Sessions:
    """The named sessions of one fake, at most ``limit``, least recently used first. Thread-safe."""

    def __init__(self, limit: int, build: Callable[[], None], now: Callable[[], float]) -> None:
        self.limit = limit
        #: fills in the State of the session being opened (it is CURRENT meanwhile): a fake's method, held weakly,
        #: since the fake holds its registry (a cycle would keep each fake a test drops, journal and stores and
        #: all, until the garbage collector's next full pass)
        self._build = weakref.WeakMethod(build) if inspect.ismethod(build) else lambda: build
        self._now = now
        self._by_name: OrderedDict[str, State] = OrderedDict()
        self._lock = threading.Lock()
        #: sessions dropped to keep within the limit, since the fake was built
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._by_name)

    def chosen(self, request: FakeRequest) -> State | None:
        """The State ``request`` runs under (None: the default session), opening a named one it asks for. A
        hosted image's ``session`` query only finds a session (404 when it is gone); the header creates one."""
        name = request.header(HEADER)
        if name is not None:
            name = check_name(name)
            if request.path.startswith("/v3/") or request.method not in _READS:
                return self.open(name)
            # A read (the journal, the state, the health check, the console, a hosted image) never creates a
            # session, nor drops one past the bound: under a name no session has, it sees a new, empty one.
            return self.find(name) or self._new(name)
        if request.path.startswith(IMAGE_PREFIX) and "session=" in request.query:
            values = urllib.parse.parse_qs(request.query).get("session")
            if values:
                found = self.find(check_name(values[0], "session (query)"))
                if found is None:
                    raise NotFound("Image not found or expired")
                return found
        return None

    def find(self, name: str) -> State | None:
        with self._lock:
            state = self._by_name.get(name)
            if state is not None:
                self._by_name.move_to_end(name)
                state.last_used = self._now()
            return state

    def _new(self, name: str) -> State:
        """A new State for ``name``, built from the fake's options and not yet held (the caller holds it)."""
        state = State(name, self)
        build = self._build()
        if build is None:
            raise RuntimeError("the fake these sessions belong to is gone")
        token = CURRENT.set(state)
        try:
            build()
        finally:
            CURRENT.reset(token)
        return state

    def open(self, name: str) -> State:
        """The session ``name``, created when new (dropping the least recently used idle one past the limit)."""
        with self._lock:
            state = self._by_name.get(name)
            if state is not None:
                self._by_name.move_to_end(name)
            else:
                state = self._by_name[name] = self._new(name)
                while len(self._by_name) > self.limit:
                    victim = next((s for s in self._by_name.values() if s.active == 0), None)
                    self._by_name.pop((victim or next(iter(self._by_name.values()))).name)
                    self.dropped += 1
            state.last_used = self._now()
            return state

    def drop(self, name: str) -> bool:
        """Forget the session ``name``; False when there is none."""
        with self._lock:
            return self._by_name.pop(name, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._by_name.clear()

    def listing(self) -> list[dict[str, Any]]:
        """Each session as ``admin.schema.json``'s ``Session``, least recently used first."""
        with self._lock:
            states = list(self._by_name.values())
        return [
            {
                "name": s.name,
                "calls": len(s.calls),
                "last_used": s.last_used,
                "faults_queued": len(s.faults.faults),
                "credits": s.credits,
            }
            for s in states
        ]


def run_under(state: State, answer: Callable[[], T]) -> T:
    """``answer()`` with ``state`` as the current session."""
    lock = state.owner._lock if isinstance(state.owner, Sessions) else threading.Lock()
    token = CURRENT.set(state)
    with lock:  # doors answer in threads: += alone could lose a count
        state.active += 1
    try:
        return answer()
    finally:
        with lock:
            state.active -= 1
        CURRENT.reset(token)


class RemoteSession:
    """The controls of one session of a fake served elsewhere, over its admin API: what the
    ``edenfake_server`` fixture hands a worker sharing one server (``--edenfake-shared-server``). Every request
    it sends, and every client pointed at it with :attr:`session_headers`, runs under ``session``."""

    def __init__(self, url: str, session: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.session = check_name(session, "session")
        self.timeout = timeout

    @property
    def base_url(self) -> str:
        """The URL to give an OpenAI-compatible client: ``url + "/v3"`` (with :attr:`session_headers`)."""
        return self.url + "/v3"

    @property
    def session_headers(self) -> dict[str, str]:
        """``{"X-Edenfake-Session": NAME}``: e.g. ``openai.OpenAI(base_url=..., default_headers=...)``."""
        return {HEADER_NAME: self.session}

    def admin(self, method: str, path: str, body: object = None) -> Any:
        """The admin API's JSON answer to ``method /_edenfake/path`` under this session; RuntimeError on an
        error status, naming it."""
        import json
        import urllib.error
        import urllib.request

        data = None if body is None and method == "GET" else json.dumps(body).encode()
        headers = {**self.session_headers, "Content-Type": "application/json"}
        sent = urllib.request.Request(f"{self.url}/_edenfake/{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(sent, timeout=self.timeout) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            detail = one_line(exc.read(2000).decode("utf-8", "replace"), 300)
            raise RuntimeError(f"{method} /_edenfake/{path}: {exc.code} {detail}") from None

    def fail(self, what: int | str, *, times: int | None = 1, match: Any = None, **more: Any) -> dict[str, Any]:
        """Queue a fault for this session's next ``times`` matching requests (``POST /_edenfake/faults``)."""
        return dict(self.admin("POST", "faults", {"fail": what, "times": times, "match": match, **more}))

    @property
    def calls(self) -> CallList:
        """This session's journal, oldest first: its last 1,000 calls (``GET /_edenfake/calls``), as the same
        :class:`~edenfake.journal.Call` records an in-process journal holds, with the journal's questions
        (``count``, ``last``, ``filter()``, ``assert_called()``...). Read afresh on each use."""
        count = int(self.admin("GET", "calls?limit=1")["count"])
        listed = self.admin("GET", f"calls?offset={max(count - 1000, 0)}&limit=1000")["calls"]
        known = {f.name for f in dataclasses.fields(Call)}
        return CallList(Call(**{k: v for k, v in c.items() if k in known}) for c in listed)

    @property
    def credits(self) -> float | None:
        found = self.admin("GET", "state")["credits"]
        return None if found is None else float(found)

    @credits.setter
    def credits(self, value: float | None) -> None:
        self.admin("PUT", "credits", {"credits": value})

    def set_credits(self, value: float | None) -> None:
        self.credits = value

    def set_rate_limit(self, per_second: int | None) -> None:
        self.admin("PUT", "rate-limit", {"per_second": per_second})

    def set_latency(self, seconds: float | list[float] | tuple[float, float], *, seed: int | None = None) -> None:
        sent = list(seconds) if isinstance(seconds, (list, tuple)) else seconds
        self.admin("PUT", "latency", {"seconds": sent, **({} if seed is None else {"seed": seed})})

    # The names the in-process handle (edenfake.Handle) gives the same controls.

    def rate_limit(self, per_second: int | None) -> None:
        """Refuse with 429 past ``per_second`` requests per token per second in this session (None: off)."""
        self.set_rate_limit(per_second)

    def latency(self, seconds: float | tuple[float, float] | list[float], *, seed: int | None = None) -> None:
        """Delay this session's API answers by ``seconds``, or by a seeded draw from a ``(low, high)`` range."""
        self.set_latency(seconds, seed=seed)

    def chaos(self, rate: float, *, statuses: Iterable[int | str] | None = None, seed: int | None = None) -> None:
        """Fail a seeded random ``rate`` of this session's API requests (``statuses``: what they answer)."""
        body: dict[str, Any] = {"rate": rate, "seed": seed}
        if statuses is not None:
            body["statuses"] = list(statuses)
        self.admin("PUT", "chaos", body)

    def assert_all_faults_used(self, *, switch_off: str = "pass assert_all_faults_used=False") -> None:
        """AssertionError listing this session's queued faults that never answered a request."""
        message = unused_faults_message([describe_fault(f) for f in self.unused_faults()], switch_off)
        if message:
            raise AssertionError(message)

    def reset(self) -> None:
        """This session back to the start (``POST /_edenfake/reset`` under it); other sessions keep theirs."""
        self.admin("POST", "reset", {})

    def unused_faults(self) -> list[dict[str, Any]]:
        """This session's queued faults that never answered a request."""
        return [f for f in self.admin("GET", "faults")["faults"] if f["used"] == 0]


def describe_fault(fault: dict[str, Any]) -> str:
    """A queued fault as the admin API lists it, in the words of ``Fault.describe``."""
    match = f", match={fault['match']!r}" if fault.get("match") is not None else ""
    times = fault.get("times")
    rest = "" if times is None else f", {times - int(fault.get('used', 0))} of {times} left"
    return f"fail({fault['fail']!r}{match}{rest})"
