"""The core of the fake: a parsed HTTP request in, a status, headers and body out.

No HTTP framework lives here. The Starlette app, the in-process mock and the CLI all hand their
requests to :class:`EdenFake.handle`, so a request behaves the same whichever door it came through.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from edenfake import contracts
from edenfake._wire import JSON_MEDIA, FakeRequest, FakeResponse, compact_json, error_response, json_response
from edenfake.catalog import Catalog, ModelSpec, Plan
from edenfake.errors import (
    ApiError,
    BadRequest,
    InsufficientCredit,
    InvalidModel,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestValidationError,
    Unauthorized,
    UnsupportedMediaType,
)
from edenfake.faults import Fault, FaultKind, FaultPlan, RateLimiter, RequestView
from edenfake.images import ImageCache, ImageSpec
from edenfake.journal import Journal

__all__ = ["Clock", "EdenFake", "FakeRequest", "FakeResponse", "UrlStore"]

log = logging.getLogger("edenfake")

IMAGE_PREFIX = "/_edenfake/images/"
MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
API_PREFIX = "/v3/"
_MEMO_MAX_BODY = 16 * 1024
_MEMO_ENTRIES = 1024
_UNPARSED = object()
_UPLOAD_PATHS = frozenset({"/v3/images/edits", "/v3/upload"})
ADMIN_PREFIX = "/_edenfake/"


class Clock:
    """The fake's time. Real time by default; ``set()`` freezes it, ``advance()`` moves it."""

    def __init__(self, at: float | None = None) -> None:
        self._frozen = at

    def now(self) -> float:
        return time.time() if self._frozen is None else self._frozen

    def set(self, at: float | None) -> None:
        """Freeze the clock at ``at`` (Unix seconds); ``None`` returns to real time."""
        self._frozen = at

    def advance(self, seconds: float) -> None:
        """Move the clock forward, freezing it first if it runs in real time."""
        self._frozen = self.now() + seconds

    @property
    def frozen(self) -> bool:
        return self._frozen is not None


class UrlStore:
    """Images behind ``url`` results: kept for ``ttl`` seconds, and at most ``max_bytes`` in all (oldest go first)."""

    def __init__(self, clock: Clock, *, ttl: float = 3600.0, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.clock = clock
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[bytes, str, float]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(self, name: str, data: bytes, media_type: str) -> None:
        if len(data) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(name, None)
            if old is not None:
                self._bytes -= len(old[0])
            self._items[name] = (data, media_type, self.clock.now() + self.ttl)
            self._bytes += len(data)
            while self._bytes > self.max_bytes:
                _, (evicted, _, _) = self._items.popitem(last=False)
                self._bytes -= len(evicted)

    def get(self, name: str) -> tuple[bytes, str] | None:
        """The bytes and media type behind ``name``, or None when unknown, evicted or expired."""
        with self._lock:
            item = self._items.get(name)
            if item is None:
                return None
            if self.clock.now() >= item[2]:
                del self._items[name]
                self._bytes -= len(item[0])
                return None
            return item[0], item[1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size_bytes(self) -> int:
        return self._bytes


@dataclass
class Exchange:
    """One request on its way through the core, and what the journal will say of it."""

    request: FakeRequest
    json: Any = None
    form: dict[str, Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    fault: str | None = None
    provider: str | None = None
    #: an image answer's data items and the JSON around its `created`, made once and remembered
    encoded_items: tuple[list[dict[str, Any]], bytes, bytes, int] | None = None
    _parsed: bool = False

    def fields(self) -> dict[str, Any]:
        if isinstance(self.json, dict):
            return self.json
        return self.form or {}


Handler = Callable[["EdenFake", Exchange], FakeResponse]


class EdenFake:
    """The fake Eden AI image service: its state and the handling of every request.

    All options are keyword-only:
      catalog            a Catalog, a path to a catalog file merged over the built-in one, or None
      seed               changes every image's bytes (same seed, same bytes)
      clock              Unix time to freeze the clock at; None runs in real time
      url_ttl            seconds a ``url`` result stays served (default 3600, as OpenAI's URLs)
      tokens             bearer tokens accepted; None accepts any well-formed token
      credits            USD the account holds; requests that cost more get 402 (None: unlimited)
      rate_limit         requests per second per token before 429 (None: no limit; the real default is 10)
      latency            seconds added to every API answer, or a (low, high) range drawn with ``fault_seed``
      fault_seed         seed of the latency and chaos draws
      max_body_bytes     larger bodies are refused with 413 (default 1 MiB), on routes without images
      max_upload_bytes   the same for the edit and upload routes (default 64 MiB)
      image_cache_bytes  byte cap of the rendered-image cache
      url_store_bytes    byte cap of the images kept for ``url`` results
      upload_store_bytes byte cap of the files kept by POST /v3/upload
      journal_size       calls kept in the journal (oldest dropped first)
    """

    def __init__(
        self,
        *,
        catalog: Catalog | str | os.PathLike[str] | None = None,
        seed: int = 0,
        clock: float | None = None,
        url_ttl: float = 3600.0,
        tokens: Collection[str] | None = None,
        credits: float | None = None,
        rate_limit: int | None = None,
        latency: float | tuple[float, float] = 0.0,
        fault_seed: int = 0,
        max_body_bytes: int = 1024 * 1024,
        max_upload_bytes: int = 64 * 1024 * 1024,
        image_cache_bytes: int = 64 * 1024 * 1024,
        url_store_bytes: int = 256 * 1024 * 1024,
        upload_store_bytes: int = 256 * 1024 * 1024,
        journal_size: int = 10_000,
    ) -> None:
        self.catalog = catalog if isinstance(catalog, Catalog) else Catalog.load(catalog)
        self.seed = seed
        self.clock = Clock(clock)
        self.tokens = frozenset(tokens) if tokens is not None else None
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.images = ImageCache(max_bytes=image_cache_bytes)
        self.urls = UrlStore(self.clock, ttl=url_ttl, max_bytes=url_store_bytes)
        self._memo: OrderedDict[tuple[str, bool, bytes], tuple[Any, Any]] = OrderedDict()
        self._memo_lock = threading.Lock()
        self._parsed: OrderedDict[bytes, Any] = OrderedDict()
        self._answers: OrderedDict[tuple[Any, ...], tuple[Any, ...]] = OrderedDict()
        self.calls = Journal(max_calls=journal_size)
        self.faults = FaultPlan()
        self._initial_credits = credits
        self._initial_rate_limit = rate_limit
        self._initial_latency = latency
        self._initial_fault_seed = fault_seed
        self._credits_lock = threading.Lock()
        self.credits: float | None = credits
        self.rate_limiter: RateLimiter | None = None
        self.set_rate_limit(rate_limit)
        self.set_latency(latency, seed=fault_seed)
        self._routes: dict[str, dict[str, Handler]] = {
            "/v3/images/generations": {"POST": EdenFake._generations},
            "/v3/images/models": {"GET": EdenFake._models},
            "/openapi.json": {"GET": EdenFake._openapi},
            "/healthz": {"GET": EdenFake._health},
        }
        # The admin and edit routes live beside this object, and import it.
        from edenfake import admin, edits

        self._routes.update(admin.ROUTES)
        self._routes["/v3/images/edits"] = {"POST": edits.post_edits}
        self._routes["/v3/upload"] = {"POST": edits.post_upload}
        self._routes["/v3/upload/delete"] = {"POST": edits.post_upload_delete}
        self.uploads = edits.UploadStore(self.clock, max_bytes=upload_store_bytes)

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
        """Answer the next ``times`` matching API requests with ``what``: a status (401, 402, 429, 500, 502,
        503, each in the real service's shape), ``"timeout"`` or ``"disconnect"``.

        ``match`` narrows it: a path, a dict of request fields (``{"model": "openai/dall-e-3"}``; the key
        ``"path"`` compares the path) or a callable taking a RequestView. ``times=None``: every request.
        """
        return self.faults.add(Fault(what, times=times, match=match, retry_after=retry_after, detail=detail, hang=hang))

    def set_latency(self, seconds: float | tuple[float, float], *, seed: int | None = None) -> None:
        """Delay every API answer by ``seconds``, or by a seeded uniform draw from a ``(low, high)`` range."""
        if isinstance(seconds, tuple):
            low, high = seconds
            if not 0 <= low <= high:
                raise ValueError(f"latency range must satisfy 0 <= low <= high, got {seconds}")
        elif seconds < 0:
            raise ValueError(f"latency must not be negative, got {seconds}")
        self.faults.latency = seconds
        if seed is not None:
            self.faults.seed(seed)

    def set_chaos(
        self, rate: float, *, statuses: Iterable[int | FaultKind] = (429, 500, 502, 503), seed: int | None = None
    ) -> None:
        """Fail a seeded random ``rate`` (0..1) of API requests with one of ``statuses``."""
        if not 0 <= rate <= 1:
            raise ValueError(f"chaos rate must be between 0 and 1, got {rate}")
        chosen = tuple(statuses)
        for what in chosen:
            Fault(what)  # refuses what fail() would refuse
        self.faults.chaos_rate = rate
        self.faults.chaos_statuses = chosen
        if seed is not None:
            self.faults.seed(seed)

    def set_rate_limit(self, per_second: int | None) -> None:
        """Refuse with 429 past ``per_second`` requests per token in one second of the fake's clock (None: off)."""
        self.rate_limiter = None if per_second is None else RateLimiter(per_second, self.clock.now)

    def set_credits(self, credits: float | None) -> None:
        """The account's balance in USD; answers that cost more than what is left get 402 (None: unlimited)."""
        if credits is not None and credits < 0:
            raise ValueError(f"credits must not be negative, got {credits}")
        with self._credits_lock:
            self.credits = credits

    def reset(self) -> None:
        """Back to the state the fake was built with: journal, faults, latency, chaos, credits, rate limit,
        hosted images and uploads cleared; the clock and catalog stay."""
        self.calls.clear()
        self.faults.clear()
        self.set_credits(self._initial_credits)
        self.set_rate_limit(self._initial_rate_limit)
        self.set_latency(self._initial_latency, seed=self._initial_fault_seed)
        self.urls.clear()
        self.uploads.clear()

    # -- the one entry point -------------------------------------------------------------------------

    def handle(self, request: FakeRequest) -> FakeResponse:
        """Answer one request. Never raises for anything a client can send."""
        started = time.perf_counter()
        exchange = Exchange(request)
        api = request.path.startswith(API_PREFIX)
        delay = 0.0
        try:
            if api:
                delay = self.faults.delay()
                response = self._api(exchange)
            else:
                response = self._dispatch(exchange)
        except ApiError as exc:
            response = error_response(exc)
        except Exception:  # a bug in the fake must not reach the client as a traceback
            log.exception("edenfake: internal error on %s %s", request.method, request.path)
            response = error_response(ApiError("Internal error in edenfake; see the server log"))
        elapsed = time.perf_counter() - started
        response.delay = delay
        if api:
            self._record(exchange, response, elapsed)
        if log.isEnabledFor(logging.INFO):
            model = exchange.fields().get("model")
            shown = f" model={model}" if isinstance(model, str) else ""
            fault = f" fault={exchange.fault}" if exchange.fault else ""
            log.info("%s %s %d %.1fms%s%s", request.method, request.path, response.status, elapsed * 1000, shown, fault)
        return response

    def _handler(self, request: FakeRequest) -> Handler:
        """The route's handler; 404 for an unknown path, 405 for a method the path does not take."""
        methods = self._routes.get(request.path)
        if methods is None:
            if request.method == "GET" and request.path.startswith(IMAGE_PREFIX):
                return EdenFake._hosted_image
            raise NotFound()
        handler = methods.get(request.method)
        if handler is None:
            raise MethodNotAllowed(sorted(methods))
        return handler

    def _api(self, exchange: Exchange) -> FakeResponse:
        request = exchange.request
        handler = self._handler(request)
        self._peek(exchange)
        fault = None
        if self.faults.armed:
            fault = self.faults.take(
                RequestView(request.method, request.path, exchange.fields(), dict(request.headers))
            )
        if fault is not None:
            exchange.fault = fault.name
            if isinstance(fault.what, str):
                return FakeResponse(0, {}, b"", fault=fault.what, hang=fault.hang)
            model = self.catalog.get(str(exchange.fields().get("model")))
            raise fault.error(model.provider if model else None)
        token = self.authenticate(request)
        if self.rate_limiter is not None:
            self.rate_limiter.check(token)
        return handler(self, exchange)

    def _dispatch(self, exchange: Exchange) -> FakeResponse:
        return self._handler(exchange.request)(self, exchange)

    def _peek(self, exchange: Exchange) -> None:
        # Parse a JSON body once, early, so that fault matchers and the journal see its fields even when
        # the request is refused later; a body that does not parse is left for read_json to refuse.
        request = exchange.request
        if request.oversize or not request.body or len(request.body) > self.body_limit(request.path):
            return
        if self.faults.armed and (request.header("content-type") or "").lower().startswith("multipart/form-data"):
            from edenfake.edits import form_fields, parse_multipart

            try:
                parts = parse_multipart(request.header("content-type") or "", request.body)
            except ApiError:
                return
            exchange.form = form_fields(parts, request.path)
            return
        media = (request.header("content-type") or JSON_MEDIA).partition(";")[0].strip().lower()
        if media == JSON_MEDIA or (media.startswith("application/") and media.endswith("+json")):
            small = len(request.body) <= _MEMO_MAX_BODY
            with self._memo_lock:
                parsed = self._parsed.get(request.body, _UNPARSED) if small else _UNPARSED
            if parsed is _UNPARSED:
                try:
                    parsed = json.loads(request.body)
                except (ValueError, RecursionError):
                    parsed = None
                if small:
                    with self._memo_lock:
                        self._parsed[request.body] = parsed
                        if len(self._parsed) > _MEMO_ENTRIES:
                            self._parsed.popitem(last=False)
            exchange.json = parsed
            exchange._parsed = True

    def _record(self, exchange: Exchange, response: FakeResponse, elapsed: float) -> None:
        answer: Any = response.payload
        if answer is None and response.body and response.media_type == JSON_MEDIA:
            try:
                answer = json.loads(response.body)
            except ValueError:  # pragma: no cover - the core only writes valid JSON
                answer = None
        request = exchange.request
        body = exchange.json
        if body is not None and (request.path in _UPLOAD_PATHS or len(request.body) > _MEMO_MAX_BODY):
            from edenfake.edits import summarize_data_urls

            body = summarize_data_urls(body)  # the journal keeps no image data
        self.calls.record_raw(
            request.method,
            request.path,
            request.headers,
            body,
            response.status,
            answer,
            exchange.form,
            exchange.files,
            exchange.fault,
            self.clock.now(),
            elapsed,
        )

    # -- routes --------------------------------------------------------------------------------------

    def _health(self, exchange: Exchange) -> FakeResponse:
        return json_response(200, {"status": "ok"})

    def _openapi(self, exchange: Exchange) -> FakeResponse:
        return FakeResponse(200, {"content-type": JSON_MEDIA}, _openapi_bytes())

    def _models(self, exchange: Exchange) -> FakeResponse:
        return json_response(200, self.catalog.models_list())

    def _generations(self, exchange: Exchange) -> FakeResponse:
        body, model, plan = self.planned(exchange, "generation-request")
        return image_json_response(self.image_response(exchange, model, plan, body["prompt"]), exchange)

    def planned(
        self, exchange: Exchange, contract: str, *, edits: bool = False
    ) -> tuple[dict[str, Any], ModelSpec, Plan]:
        """Read a JSON body, check it against ``contract``, find its model and apply the model's rules.

        The outcome depends on the body's bytes alone (the catalog and contracts do not change), so it is
        remembered for small bodies: a test suite or a load test that repeats a request pays for it once.
        """
        request = exchange.request
        self.read_json_envelope(request)  # headers decide these, not the bytes: checked before the memo
        key = (contract, edits, request.body) if len(request.body) <= _MEMO_MAX_BODY else None
        if key is not None:
            with self._memo_lock:
                found = self._memo.get(key)
                if found is not None:
                    self._memo.move_to_end(key)
        if key is None or found is None:
            found = self._plan_uncached(exchange, contract, edits)
            if key is not None:
                with self._memo_lock:
                    self._memo[key] = found
                    if len(self._memo) > _MEMO_ENTRIES:
                        self._memo.popitem(last=False)
        body, outcome = found
        exchange.json = body
        if isinstance(outcome, ApiError):
            # The same error object answers every repeat of this body: without a fresh traceback each
            # raise would chain onto the last one's frames, and keep them all alive.
            raise outcome.with_traceback(None)
        return body, outcome[0], outcome[1]

    def _plan_uncached(self, exchange: Exchange, contract: str, edits: bool) -> tuple[Any, Any]:
        try:
            body = self.read_json(exchange)
        except ApiError as exc:
            return exchange.json, exc
        try:
            self.check_contract(contract, body)
            model = self.model_for(body["model"], edits=edits)
            return body, (model, model.plan(body))
        except ApiError as exc:
            return body, exc

    def _hosted_image(self, exchange: Exchange) -> FakeResponse:
        found = self.urls.get(exchange.request.path[len(IMAGE_PREFIX) :])
        if found is None:
            raise NotFound("Image not found or expired")
        data, media_type = found
        return FakeResponse(200, {"content-type": media_type, "cache-control": "private, max-age=60"}, data)

    # -- steps the routes share ----------------------------------------------------------------------

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

    def body_limit(self, path: str) -> int:
        """The largest body ``path`` takes: routes that carry images take ``max_upload_bytes``."""
        return self.max_upload_bytes if path in _UPLOAD_PATHS else self.max_body_bytes

    def read_json_envelope(self, request: FakeRequest) -> None:
        """413 or 415 when the body is too large or its Content-Type is not JSON."""
        limit = self.body_limit(request.path)
        if request.oversize or len(request.body) > limit:
            raise PayloadTooLarge(limit)
        check_content_encoding(request)
        content_type = request.header("content-type")
        if content_type is not None:
            media = content_type.partition(";")[0].strip().lower()
            if media != JSON_MEDIA and not (media.startswith("application/") and media.endswith("+json")):
                raise UnsupportedMediaType(
                    f"Content-Type must be application/json for {request.path}, got '{media or content_type}'"
                )

    def read_json(self, exchange: Exchange) -> dict[str, Any]:
        """The body as a JSON object; 413, 415 or 400 when it is too large, not JSON, or not an object."""
        request = exchange.request
        self.read_json_envelope(request)
        if not request.body.strip():
            raise BadRequest("Request body is empty; send a JSON object")
        if exchange._parsed and exchange.json is not None:
            body = exchange.json
        else:
            try:
                body = json.loads(request.body)
            except RecursionError:
                raise BadRequest("Invalid JSON body: nested too deeply") from None
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
                raise BadRequest(f"Invalid JSON body: {exc}") from None
            exchange.json = body
        if not isinstance(body, dict):
            raise BadRequest(f"Request body must be a JSON object, got {_json_type(body)}", error_code="INVALID_BODY")
        return body

    def check_contract(self, contract: str, body: dict[str, Any]) -> None:
        found = contracts.violations(contract, body)
        if found:
            raise RequestValidationError([v.as_detail() for v in found])

    def model_for(self, model_id: str, *, edits: bool = False) -> ModelSpec:
        model = self.catalog.get(model_id)
        route = "image editing" if edits else "image generation"
        if model is None or (edits and not model.edits):
            known = ", ".join(sorted(m.id for m in self.catalog if m.edits or not edits))
            raise InvalidModel(f"Model '{model_id}' is not available for {route}. Available models: {known}")
        return model

    def charge(self, cost: float) -> None:
        """Take ``cost`` from the credits; InsufficientCredit when they do not cover it."""
        with self._credits_lock:
            if self.credits is None:
                return
            if cost > self.credits + 1e-12:
                raise InsufficientCredit(required=cost, available=round(self.credits, 6))
            self.credits = round(self.credits - cost, 9)

    def image_response(
        self,
        exchange: Exchange,
        model: ModelSpec,
        plan: Plan,
        prompt: str,
        *,
        inputs: tuple[str, ...] = (),
        image_tokens: int = 0,
    ) -> dict[str, Any]:
        """The body of a successful image answer for ``plan``, charged to the credits."""
        self.charge(plan.cost)
        exchange.provider = plan.provider
        url_base = exchange.request.base_url if plan.response_format == "url" else None
        key = (plan, prompt, inputs, url_base, image_tokens)
        with self._memo_lock:
            found = self._answers.get(key)
        if found is None:
            found = self._answer_parts(model, plan, prompt, inputs, url_base, image_tokens)
            with self._memo_lock:
                self._answers[key] = found
                if len(self._answers) > _MEMO_ENTRIES:
                    self._answers.popitem(last=False)
        items, hosted, fixed, head, tail = found
        for name, spec in hosted:  # each answer hands out its URLs afresh, with a fresh expiry
            self.urls.put(name, self.images.get(spec), MEDIA_TYPES[spec.format])
        body: dict[str, Any] = {"created": int(self.clock.now()), "data": items, **fixed}
        exchange.encoded_items = (items, head, tail, len(body))
        return body

    def _answer_parts(
        self,
        model: ModelSpec,
        plan: Plan,
        prompt: str,
        inputs: tuple[str, ...],
        url_base: str | None,
        image_tokens: int,
    ) -> tuple[list[dict[str, Any]], list[tuple[str, ImageSpec]], dict[str, Any], bytes, bytes]:
        # All of an image answer but its `created`: built once per plan, prompt, inputs and host, with its
        # JSON in two pieces that `created` goes between.
        items, hosted = self._image_items(plan, prompt, inputs, url_base)
        fixed: dict[str, Any] = {
            "usage": model.usage(plan, prompt, image_tokens=image_tokens),
            "cost": plan.cost,
            "provider": plan.provider,
        }
        reported = {
            "output_format": plan.output_format,
            "size": plan.size,
            "quality": plan.quality,
            "background": plan.background,
        }
        for name in model.entry.get("report_fields", ["output_format", "size"]):
            fixed[name] = reported[name]
        head = ('{"data":' + _encode_items(items) + ',"created":').encode()
        tail = ("," + compact_json(fixed)[1:]).encode()
        return items, hosted, fixed, head, tail

    def _image_items(
        self, plan: Plan, prompt: str, inputs: tuple[str, ...], url_base: str | None
    ) -> tuple[list[dict[str, Any]], list[tuple[str, ImageSpec]]]:
        # The data items depend on the plan, prompt, inputs and (for URLs) host alone: built once, shared.
        items = []
        hosted = []
        for index in range(plan.n):
            spec = ImageSpec(
                model=plan.model,
                prompt=prompt,
                width=plan.width,
                height=plan.height,
                format=plan.output_format,
                quality=plan.quality,
                index=index,
                seed=self.seed,
                inputs=inputs,
                background=plan.background,
            )
            item: dict[str, Any] = {"url": None, "b64_json": None, "revised_prompt": None}
            if url_base is not None:
                name = f"{spec.key[:32]}.{_EXTENSIONS[plan.output_format]}"
                hosted.append((name, spec))
                item["url"] = f"{url_base}{IMAGE_PREFIX}{name}"
            else:
                item["b64_json"] = self.images.get_b64(spec)
            if plan.revised_prompt:
                item["revised_prompt"] = revise_prompt(prompt)
            items.append(item)
        return items, hosted


def image_json_response(body: dict[str, Any], exchange: Exchange | None = None) -> FakeResponse:
    """A 200 answer for an image response body, encoded without scanning its base64 strings.

    Base64 needs no JSON escaping, and the strings run to megabytes: the rest of the body goes through
    ``json.dumps``, the images are spliced in as they are.
    """
    items = body["data"]
    known = exchange.encoded_items if exchange is not None else None
    created = body.get("created")
    if known is not None and known[0] is items and known[3] == len(body) and type(created) is int:
        # The body as image_response built it: its JSON is the remembered pieces around `created`.
        data = known[1] + str(created).encode() + known[2]
        return FakeResponse(200, {"content-type": JSON_MEDIA}, data, payload=body)
    rest = compact_json({k: v for k, v in body.items() if k != "data"})
    encoded = '{"data":' + _encode_items(items) + ("," + rest[1:] if rest != "{}" else "}")
    return FakeResponse(200, {"content-type": JSON_MEDIA}, encoded.encode(), payload=body)


def _encode_items(items: list[dict[str, Any]]) -> str:
    parts = []
    for item in items:
        b64 = item.get("b64_json")
        if b64 is None or item["url"] is not None or len(item) != 3:
            parts.append(compact_json(item))
        else:
            revised = item["revised_prompt"]
            parts.append(
                '{"url":null,"b64_json":"'
                + b64
                + '","revised_prompt":'
                + ("null" if revised is None else json.dumps(revised))
                + "}"
            )
    return "[" + ",".join(parts) + "]"


def check_content_encoding(request: FakeRequest) -> None:
    """415 for a compressed body: the real service reads bodies as they are sent."""
    encoding = (request.header("content-encoding") or "identity").strip().lower()
    if encoding != "identity":
        raise UnsupportedMediaType(f"Content-Encoding '{encoding}' is not supported; send the body uncompressed")


def revise_prompt(prompt: str) -> str:
    """What the fake answers as ``revised_prompt`` (models that rewrite prompts): recognisably derived."""
    return f"A detailed, high-quality image of: {prompt}"


def _json_type(value: Any) -> str:
    names: Iterable[tuple[type, str]] = (
        (list, "an array"),
        (str, "a string"),
        (bool, "a boolean"),
        (int, "a number"),
        (float, "a number"),
    )
    for kind, name in names:
        if isinstance(value, kind):
            return name
    return "null"


_openapi_cache: list[bytes] = []


def _openapi_bytes() -> bytes:
    if not _openapi_cache:
        _openapi_cache.append(json.dumps(contracts.openapi_document()).encode())
    return _openapi_cache[0]
