"""EdenFake: a request in, a status, headers and body out, whichever door (Starlette app, in-process mock,
CLI) the request came through. It routes by the OpenAPI document, reads each request once, checks
authentication, faults and the rate limit, runs the route's handler and journals the call."""

from __future__ import annotations

import logging
import time
from typing import Any, NoReturn

from edenfake import _guard, _redact, contracts
from edenfake._core import Clock, Core
from edenfake._replay import Source, source_for
from edenfake._request import Exchange, read
from edenfake._wire import FakeRequest, FakeResponse, Refusal, encode_error
from edenfake.errors import ApiError, MethodNotAllowed, NotFound
from edenfake.routes import HANDLERS

__all__ = ["Clock", "EdenFake"]

log = logging.getLogger("edenfake")

API_PREFIX = "/v3/"
_INTERNAL = encode_error(ApiError("Internal error in edenfake; see the server log"))


class EdenFake(Core):
    """The fake Eden AI image service: its state and the answer to every request.

    All options are keyword-only (``edenfake._options.OPTIONS`` lists them with their defaults):
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
      image_cache_bytes  byte bound of the rendered-image cache (32 MiB)
      answer_cache_bytes byte bound of the encoded-answer cache (16 MiB)
      url_store_bytes    byte bound of the images kept for ``url`` results (64 MiB)
      upload_store_bytes byte bound of the files kept by POST /v3/upload (128 MiB)
      journal_size       calls kept in the journal (10,000; oldest dropped first)
      journal_bytes      bytes the journal may hold (64 MiB; images are kept as digests)
      admin_token        a token the admin API then requires as a bearer token (None: open, for loopback)
      replay             a cassette directory (``edenfake record``): /v3 requests that match a recorded one get
                         the recorded answer, before any rule of the fake's own but an injected fault
      unmatched          with ``replay``: "fake" (default) answers other requests as usual; "error" answers them
                         404 NOT_RECORDED, naming the closest recorded request and the fields that differ
    A misspelt option is a TypeError that names the closest one.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._routes = contracts.route_table()
        #: where /v3 answers come from before the fake's own rules (a cassette to replay), or None
        self.replay: Source | None = source_for(self._initial["replay"], self._initial["unmatched"])

    def reset(self) -> None:
        """As :meth:`Core.reset`; a replay starts again from the first of each recorded request."""
        super().reset()
        if self.replay is not None:
            self.replay.rewind()

    def limit_for(self, method: str, path: str) -> int:
        """The largest body a request to ``method path`` may have (doors stop reading past it)."""
        methods = self._routes.methods(path)
        return self.body_limit(methods.get(method) if methods is not None else None)

    def answer(self, request: FakeRequest) -> FakeResponse:
        """Answer one request. Never raises for anything a client can send."""
        refused = _guard.refusal(self, request)  # a web page's request the developer did not make: before anything else
        if refused is not None:
            return refused
        started = time.perf_counter()
        methods = self._routes.methods(request.path)
        route = methods.get(request.method) if methods is not None else None
        exchange = read(request, route, self.body_limit(route))
        api = request.path.startswith(API_PREFIX)
        delay = 0.0
        replayed = False
        try:
            if route is None:
                if api and self.replay is not None:
                    # a cassette answers every /v3 request it holds, on routes the document lacks too
                    self._from_cassette(request, exchange)
                _refuse_route(request.path, methods)
            if api:
                delay = self.faults.delay()
                fault = self.take_fault(exchange)
                if fault is not None:
                    if fault.breaks_connection:
                        response = FakeResponse(0, {}, b"", fault=fault.name, hang=fault.hang)
                        raise _Answered(response)
                    raise fault.error(self.catalog.get(str(exchange.fields().get("model"))))
                if self.replay is not None:
                    self._from_cassette(request, exchange)
                token = self.authenticate(request)
                if self.rate_limiter is not None:
                    self.rate_limiter.check(token)
            elif route.admin:
                self.authenticate_admin(request)
            response = HANDLERS[route.operation_id](self, exchange)
        except _Answered as answered:
            response = answered.response
            replayed = answered.replayed
        except Refusal as refusal:
            response = refusal.answer.response()
        except ApiError as exc:
            response = encode_error(exc).response()
        except Exception:  # a bug in the fake must not reach the client as a traceback
            log.exception("edenfake: internal error on %s %s", request.method, _escaped(request.path))
            response = _INTERNAL.response()
        elapsed = time.perf_counter() - started
        response.delay = delay
        if api:
            self._record(exchange, response, elapsed, replayed=replayed)
        if log.isEnabledFor(logging.INFO):
            model = f" model={_escaped(exchange.model)}" if exchange.model else ""
            fault_note = f" fault={exchange.fault}" if exchange.fault else " replayed" if replayed else ""
            status = response.status if response.fault is None else response.fault
            log.info(
                "%s %s %s %.1fms%s%s",
                _escaped(request.method),
                _escaped(request.path),
                status,
                elapsed * 1000,
                model,
                fault_note,
            )
        return response

    def _from_cassette(self, request: FakeRequest, exchange: Exchange) -> None:
        """Raise _Answered with the cassette's answer, if it has one for ``request``."""
        assert self.replay is not None
        found = self.replay.answer(self, request)
        if found is not None:
            # A recorded answer stands for every check the fake would make itself (the token, the rate limit,
            # credits): it is what the real service did. Only an injected fault comes before it.
            exchange.journal_answer = found.journal
            exchange.model = found.model
            raise _Answered(found.response, replayed=found.replayed)

    def _record(self, exchange: Exchange, response: FakeResponse, elapsed: float, *, replayed: bool = False) -> None:
        # Whatever happened to the request, it is journalled; a fault in journalling never reaches the client.
        try:
            request = exchange.request
            answer = exchange.journal_answer
            if answer is None and response.fault is None and response.media_type == "application/json":
                answer = response.body
            form, files = exchange.journal_form()
            self.calls.record(
                request.method,
                request.path,
                request.headers,
                exchange.journal_request(),
                response.status,
                answer,
                form=form,
                files=files,
                fault=exchange.fault,
                at=self.clock.now(),
                duration=elapsed,
                replayed=replayed,
            )
        except Exception:  # pragma: no cover - a bug; the answer still goes out
            log.exception("edenfake: could not journal %s %s", exchange.request.method, _escaped(exchange.request.path))


def _refuse_route(path: str, methods: dict[str, contracts.Route] | None) -> NoReturn:
    if methods is None:
        raise NotFound(_not_found_hint(path))
    raise MethodNotAllowed(sorted(methods))


class _Answered(Exception):
    """Raised with a response that is not an error (a dropped connection, a recorded answer), to leave the
    checks early."""

    def __init__(self, response: FakeResponse, *, replayed: bool = False) -> None:
        super().__init__()
        self.response = response
        self.replayed = replayed


def _escaped(value: str | None, limit: int = 200) -> str:
    """``value`` for a log line: control characters escaped, so one request is always one line."""
    text = _redact.clip(value or "", limit)
    if text.isprintable():
        return text
    return text.encode("unicode_escape").decode("ascii")


def _not_found_hint(path: str) -> str:
    if path.startswith(API_PREFIX) or path.startswith("/_edenfake/"):
        return "Not Found"
    return (
        f"Not Found: the API lives under /v3 (e.g. POST /v3/images/generations); set your client's base URL to "
        f"this server's address + /v3. GET /openapi.json lists every route (got {_redact.clip(path, 80)!r})"
    )
