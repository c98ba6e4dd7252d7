"""The fake's state and the steps every route shares: authentication, faults, credits, the model lookup, the
contract check, the stores and the journal. No HTTP framework and no route lives here; the routes use it."""

from __future__ import annotations

import functools
import hashlib
import hmac
import itertools
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NoReturn

from edenfake import _options, _redact, contracts
from edenfake._regions import served_in
from edenfake._request import Exchange
from edenfake._sessions import CURRENT, PerSession, Sessions, State
from edenfake._store import ByteStore
from edenfake._wire import FakeRequest
from edenfake.catalog import Catalog, ModelSpec
from edenfake.errors import (
    InsufficientCredit,
    InvalidModel,
    InvalidSetting,
    RegionNotAllowed,
    RequestValidationError,
    Unauthorized,
    hide_setting_frames,
    naming_option,
)
from edenfake.faults import (
    CHAOS_STATUSES,
    Fault,
    FaultKind,
    FaultPlan,
    RateLimiter,
    RequestView,
    check_control,
    documented_statuses,
)
from edenfake.images import ImageCache
from edenfake.journal import Journal

__all__ = ["Clock", "Core", "Upload", "UploadStore"]
__tracebackhide__ = hide_setting_frames  # pytest shows a refused setting at the test's own line

#: what POST /v3/upload defaults to (the contract's UploadForm): what a file is for, and the days it is kept
UPLOAD_DEFAULTS = {
    name: schema["default"] for name, schema in contracts.load("edit-request#/$defs/UploadForm")["properties"].items()
}
UPLOAD_TTL = UPLOAD_DEFAULTS["expires_in_days"] * 86400.0


@functools.cache  # the contract does not change; a fixture builds a clock per test
def _time_bounds() -> tuple[float, float]:
    schema = contracts.load("admin#/$defs/ClockRequest/properties/at")
    return float(schema["minimum"]), float(schema["maximum"])


class Clock:
    """The fake's time. Real time by default; ``set()`` freezes it, ``advance()`` moves it. It stays within what
    a date can show (the admin contract's ``ClockRequest``): anything else is a ValueError."""

    def __init__(self, at: float | None = None) -> None:
        self._low, self._high = _time_bounds()
        self._frozen: float | None = None
        #: set and advance change the time under it, so that two advances never lose one
        self._lock = threading.Lock()
        if at is not None:  # real time needs no check (a fixture builds a clock per test)
            self.set(at)

    def now(self) -> float:
        frozen = self._frozen  # one read: another thread may set it meanwhile
        return time.time() if frozen is None else frozen

    def set(self, at: float | None) -> None:
        """Freeze the clock at ``at`` (Unix seconds, within the admin contract's ``ClockRequest.at``); ``None``
        returns to real time."""
        check_control("at", at)
        with self._lock:
            self._frozen = None if at is None else float(at)

    def advance(self, seconds: float) -> None:
        """Move the clock forward (``ClockRequest.advance`` bounds the step), freezing it first if it runs in
        real time; the clock after it must stay within ``ClockRequest.at``."""
        check_control("advance", seconds)
        with self._lock:
            after = self.now() + seconds
            if after > self._high:
                raise InvalidSetting(
                    "advance",
                    f"advance: the clock would pass {self._high:.0f}, the latest it may show (got {seconds!r})",
                )
            self._frozen = float(after)

    @property
    def frozen(self) -> bool:
        return self._frozen is not None


@dataclass(frozen=True)
class Upload:
    """A file stored by ``POST /v3/upload``."""

    file_id: str
    filename: str
    content_type: str
    data: bytes
    purpose: str
    created_at: float
    expires_at: float

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def describe(self) -> dict[str, Any]:
        """The answer of ``POST /v3/upload``: the API reference's fields, and the upload guide's names for two."""
        return {
            "file_id": self.file_id,
            "file_name": self.filename,
            "file_size": len(self.data),
            "file_mimetype": self.content_type,
            "purpose": self.purpose,
            "metadata": {},
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "filename": self.filename,
            "bytes": len(self.data),
        }


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class UploadStore:
    """Uploaded files, each kept until it expires on the fake's clock, at most ``max_bytes`` and ``max_files`` in
    all (the oldest go first)."""

    def __init__(self, clock: Clock, *, max_bytes: int, max_files: int = 1000, ttl: float = UPLOAD_TTL) -> None:
        self.clock = clock
        self._store: ByteStore[str] = ByteStore(max_bytes=max_bytes, ttl=ttl, clock=clock.now, max_items=max_files)
        #: the order of uploads, which a frozen clock does not tell (the listing is newest first)
        self._order = itertools.count()

    def put(
        self, filename: str, content_type: str, data: bytes | memoryview, purpose: str, *, ttl: float | None = None
    ) -> Upload:
        """Store a file (``ttl`` seconds, default 30 days); the same content and name get the same id."""
        digest = hashlib.sha256(filename.encode("utf-8", "surrogatepass") + b"\0" + data).digest()
        file_id = str(uuid.UUID(bytes=digest[:16], version=4))
        now = self.clock.now()
        kept = bytes(data)
        self._store.put(file_id, kept, (filename, content_type, purpose, now, next(self._order)), ttl=ttl)
        expires = self._store.expires_at(file_id)
        return Upload(file_id, filename, content_type, kept, purpose, now, expires if expires is not None else now)

    def get(self, file_id: str) -> Upload | None:
        """The upload, or None when unknown, evicted, deleted or expired."""
        found = self._store.get(_canonical_uuid(file_id))
        expires = self._store.expires_at(_canonical_uuid(file_id))
        if found is None or expires is None:
            return None
        data, (filename, content_type, purpose, created, _) = found
        assert isinstance(created, float)
        return Upload(_canonical_uuid(file_id), str(filename), str(content_type), data, str(purpose), created, expires)

    def listing(self, purpose: str | None = None) -> list[Upload]:
        """The files not yet expired (those with this ``purpose``, when given), newest first: by upload time,
        then by upload order. At most ``max_files``."""
        found: list[tuple[float, int, Upload]] = []
        for file_id, data, extras, expires in self._store.live_entries():
            filename, content_type, kind, created, order = extras
            assert isinstance(created, float) and isinstance(order, int)
            if purpose is None or kind == purpose:
                upload = Upload(file_id, str(filename), str(content_type), data, str(kind), created, expires)
                found.append((created, order, upload))
        found.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
        return [upload for _, _, upload in found]

    def delete_all(self) -> int:
        """Remove every file; the number that had not expired."""
        return len(self._store.drain())

    def delete(self, file_ids: Iterable[str]) -> int:
        """Remove these files; the number that were there (unknown ids are ignored, as the real route does)."""
        deleted = 0
        for file_id in {_canonical_uuid(i) for i in file_ids}:
            found = self._store.pop(file_id)
            if found is not None and found[2] > self.clock.now():
                deleted += 1
        return deleted

    def clear(self) -> None:
        self._store.clear()

    def __len__(self) -> int:
        return len(self._store)

    @property
    def size_bytes(self) -> int:
        return self._store.size_bytes


def _canonical_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value


class Core:
    """The state of one fake and the steps its routes share. See :class:`edenfake.EdenFake` for the options.

    What a test can change lives in the State of the request's session (edenfake._sessions): the default one
    unless a request names another with ``X-Edenfake-Session``."""

    urls: PerSession[ByteStore[str]] = PerSession()
    uploads: PerSession[UploadStore] = PerSession()
    calls: PerSession[Journal] = PerSession()
    faults: PerSession[FaultPlan] = PerSession()
    credits: PerSession[float | None] = PerSession()
    rate_limiter: PerSession[RateLimiter | None] = PerSession()

    def __init__(self, options: _options.FakeOptions) -> None:
        #: what this fake was built from; :meth:`reset` builds its state from them again
        self.options = options
        self.catalog = options.catalog if isinstance(options.catalog, Catalog) else Catalog.load(options.catalog)
        self.seed = options.seed
        with naming_option("clock"):
            self.clock = Clock(options.clock)
        self.tokens = frozenset(options.tokens) if options.tokens is not None else None
        self.admin_token = options.admin_token
        self.max_body_bytes = options.max_body_bytes
        self.max_upload_bytes = options.max_upload_bytes
        #: rendered images: a cache of bytes that depend on their spec alone, kept across resets
        self.images = ImageCache(max_bytes=options.image_cache_bytes)
        self._credits_lock = threading.Lock()
        #: the named sessions; the default session's State is the fake's own
        self.sessions = Sessions(options.max_sessions, self._build_state, self.clock.now)
        self._default_state = State("", self.sessions)
        self._build_state()

    def session_state(self) -> State:
        """The State of the session the running request came under (the default one outside a request)."""
        state = CURRENT.get()
        return state if state is not None and state.owner is self.sessions else self._default_state

    def _build_state(self) -> None:
        """Everything a test can change, built from the options: the journal, the hosted images, the uploads,
        the faults, latency and chaos, the credits and the rate limit; in the current session's State."""
        o = self.options
        #: the images answered, bytes with their media type: `url` results by name, base64 ones by sha256
        self.urls: ByteStore[str] = ByteStore(max_bytes=o.url_store_bytes, ttl=o.url_ttl, clock=self.clock.now)
        self.uploads = UploadStore(self.clock, max_bytes=o.upload_store_bytes)
        self.calls = Journal(max_calls=o.journal_size, max_bytes=o.journal_bytes)
        self.faults = FaultPlan()
        self.credits: float | None = None
        self.rate_limiter: RateLimiter | None = None
        # A fresh FaultPlan already has no latency and the draws of seed 0; None is no limit. Only other values
        # go through their setters (and their checks against the admin contract): a fixture builds a fake per
        # test, and most tests change none of these.
        if o.credits is not None:
            with naming_option("credits"):
                self.set_credits(o.credits)
        if o.rate_limit is not None:
            with naming_option("rate_limit"):
                self.set_rate_limit(o.rate_limit)
        if o.latency != 0.0 or isinstance(o.latency, bool) or o.fault_seed != 0:  # False == 0.0, but no latency
            with naming_option("latency"):
                self.set_latency(o.latency, seed=o.fault_seed)

    # -- what tests drive ----------------------------------------------------------------------------

    def fail(
        self,
        what: int | FaultKind,
        *,
        times: int | None = 1,
        match: Any = None,
        retry_after: float | None = None,
        detail: str | None = None,
        hang: float = 30.0,
    ) -> Fault:
        """Answer the next ``times`` matching API requests with ``what``: a status (401, 402, 422, 429, 500, 502,
        503, each in the real service's shape), ``"timeout"``, ``"disconnect"`` or ``"content_policy"`` (the
        model's provider refusing the content: a 400 with its own code and message, from the catalog).

        ``match`` narrows it: a path, a dict of request fields (``{"model": "openai/dall-e-3"}``; the key
        ``"path"`` compares the path, and ``"tags"`` matches a call carrying each of its tags:
        ``{"tags": {"client": "acme"}}``) or a callable taking a RequestView. ``times=None``: every request.
        At most 1,000 faults wait at once (ValueError past that).
        """
        return self.faults.add(Fault(what, times=times, match=match, retry_after=retry_after, detail=detail, hang=hang))

    def set_latency(self, seconds: float | tuple[float, float] | list[float], *, seed: int | None = None) -> None:
        """Delay every API answer by ``seconds``, or by a seeded uniform draw from a ``(low, high)`` range."""
        self.faults.set_latency(seconds, seed=seed)

    def set_chaos(
        self, rate: float, *, statuses: Iterable[int | FaultKind] = CHAOS_STATUSES, seed: int | None = None
    ) -> None:
        """Fail a seeded random ``rate`` (0..1) of API requests with one of ``statuses``."""
        self.faults.set_chaos(rate, statuses=statuses, seed=seed)

    def set_rate_limit(self, per_second: int | None) -> None:
        """Refuse with 429 past ``per_second`` requests per token in one second of the fake's clock (None: off)."""
        per_second = check_control("per_second", per_second)
        self.rate_limiter = None if per_second is None else RateLimiter(per_second, self.clock.now)

    def set_credits(self, credits: float | None) -> None:
        """The account's balance in USD; answers that cost more than what is left get 402 (None: unlimited)."""
        check_control("credits", credits)
        with self._credits_lock:
            self.credits = credits + 0.0 if isinstance(credits, float) else credits  # -0.0 + 0.0 is 0.0

    def set_clock(self, at: float | None) -> None:
        """Freeze the clock at ``at`` (Unix seconds); None returns it to real time."""
        self.clock.set(at)

    def reset(self) -> None:
        """Back to the state the fake was built with: journal, faults, latency, chaos, credits, rate limit,
        hosted images and uploads built again from the options, in the current session alone (the default
        one outside a request; ``sessions.clear()`` drops the named ones); the clock, the catalog and the
        image cache (bytes that depend on their spec alone) stay."""
        self._build_state()

    # -- steps the routes share ----------------------------------------------------------------------

    def body_limit(self, route: contracts.Route | None) -> int:
        """The largest body ``route`` takes: routes that carry images take ``max_upload_bytes``."""
        return self.max_upload_bytes if route is not None and route.takes_files else self.max_body_bytes

    def authenticate(self, request: FakeRequest) -> str:
        """The bearer token, or Unauthorized when it is missing, empty, malformed or not accepted."""
        value = request.header("authorization")
        if value is None:
            raise Unauthorized()
        scheme, _, token = value.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise Unauthorized()
        if self.tokens is not None and token not in self.tokens:
            raise Unauthorized()
        return token

    def authenticate_admin(self, request: FakeRequest) -> None:
        """Unauthorized unless the admin token (when one is set) comes as a bearer token."""
        if self.admin_token is None:
            return
        scheme, _, token = (request.header("authorization") or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.admin_token.encode()):
            raise Unauthorized("The admin API needs 'Authorization: Bearer <admin token>' (set by --admin-token)")

    def take_fault(self, exchange: Exchange) -> Fault | None:
        """The queued (or chaos) fault that answers this request, if any."""
        if not self.faults.armed:
            return None
        request = exchange.request
        fields, tags = exchange.fields(), exchange.valid_tags()
        view = RequestView(request.method, request.path, fields, dict(request.headers), tags)
        route = exchange.route
        fault = self.faults.take(view, documented_statuses(route.method, route.path) if route is not None else None)
        if fault is not None:
            exchange.fault = fault.name
        return fault

    def check_contract(self, contract: str, body: Any) -> None:
        """RequestValidationError (422) listing the rules of ``contract`` that ``body`` breaks (at most 20)."""
        if found := contracts.refusal_details(contract, body):
            raise RequestValidationError(found)

    def region_of(self, request: FakeRequest) -> str | None:
        """The region the request's host pins (the catalog's regions: api.eu.edenai.run is the EU), or None."""
        host = request.header("host")
        if host is None:
            host = request.base_url.partition("://")[2].partition("/")[0]
        return self.catalog.regions.of_host(host)

    def model_for(self, model_id: str, *, edits: bool = False) -> ModelSpec:
        """The catalog's model for ``model_id``: InvalidModel (400) when it lacks it or the model cannot serve
        the route. ``model@CODE`` is the model itself: answered and priced as it (the journal keeps the request
        as it was sent); whether the region may serve it is :meth:`check_region`'s, which the routes call first."""
        model = self.catalog.get(self.catalog.regions.split(model_id)[0])
        route = "image editing" if edits else "image generation"
        if model is None or (edits and not model.edits):
            known = ", ".join(sorted(m.id for m in self.catalog if m.edits or not edits))
            raise InvalidModel(
                f"Model '{_redact.clip(model_id, 100)}' is not available for {route}. Available models: {known}"
            )
        return model

    def check_region(self, model_id: object, request: FakeRequest, *, edits: bool = False) -> None:
        """RegionNotAllowed (451) when ``request`` pins a region, by its host or ``model_id``'s ``@CODE``, that
        the catalog's model does not serve. The routes call it before the body's other checks, as Eden's gate
        runs ahead of input validation; a model the catalog lacks (or not a string) is :meth:`model_for`'s."""
        if not isinstance(model_id, str):
            return
        base, pinned = self.catalog.regions.split(model_id)
        model = self.catalog.get(base)
        if model is None or (edits and not model.edits):
            return
        at_host = self.region_of(request)
        for region in dict.fromkeys(r for r in (at_host, pinned) if r is not None):
            if region not in model.regions or (at_host is not None and region != at_host):
                self._refuse_region(model_id, region, at_host, edits=edits)

    def _refuse_region(self, model_id: str, region: str, at_host: str | None, *, edits: bool) -> NoReturn:
        served = [m.id for m in served_in(self.catalog, at_host or region, edits=edits)]
        name = self.catalog.regions.name(region)
        shown = _redact.clip(model_id, 100)
        if at_host is not None and region != at_host:
            why = f"'{shown}' pins region '{region}' ({name}), and this endpoint serves region '{at_host}' alone"
        elif at_host is not None:
            why = f"Model '{shown}' is not available on the {name} endpoint (region '{region}')"
        else:
            why = f"Model '{shown}' is not available in region '{region}' ({name})"
        route = "image editing" if edits else "image generation"
        listed = ", ".join(served[:100]) or "none"
        raise RegionNotAllowed(
            f"{why}. Models available there for {route}: {listed}",
            region=at_host or region,
            available_models=served[:100],
        )

    def charge(self, cost: float) -> None:
        """Take ``cost`` from the credits; InsufficientCredit when they do not cover it."""
        if self.credits is None:  # unlimited (the usual case): nothing to take, no lock to wait for
            return
        with self._credits_lock:
            if self.credits is None:
                return
            if cost > self.credits + 1e-12:
                raise InsufficientCredit(required=cost, available=round(self.credits, 6))
            self.credits = round(self.credits - cost, 9)
