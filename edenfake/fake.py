"""EdenFake: a request in, a status, headers and body out, whichever door (Starlette app, in-process mock,
CLI) the request came through.

:meth:`EdenFake.answer` reads top to bottom: find the route in the OpenAPI document, read the request once
(its :class:`~edenfake._request.Exchange`), pass the gate (an injected fault, a cassette's recorded answer,
authentication, the rate limit), run the route's handler, journal the call and log one line.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import TYPE_CHECKING

from edenfake import _guard, _options, _redact, _sessions, contracts
from edenfake._core import Clock, Core
from edenfake._ratelimit import Window
from edenfake._request import Exchange, read
from edenfake._wire import FakeRequest, FakeResponse, Refusal, compact_json, encode_error
from edenfake.errors import ApiError, MethodNotAllowed, NotFound, Unauthorized, shaped
from edenfake.routes import HANDLERS

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from edenfake.cassettes.replay import Source

__all__ = ["Clock", "EdenFake"]

log = logging.getLogger("edenfake")

API_PREFIX = "/v3/"
_INTERNAL = encode_error(ApiError("Internal error in edenfake; see the server log"))


class EdenFake(Core):
    """The fake Eden AI image service: its state and the answer to every request.

    ``EdenFake(**options)``, or ``EdenFake(FakeOptions(...), **changes)``; every option is keyword-only and
    :class:`edenfake.FakeOptions` holds them with their defaults and meaning (``edenfake serve --help`` lists
    them too). A misspelt option is a TypeError that names the closest one.
    """

    def __init__(self, options: _options.FakeOptions | None = None, /, **changes: Unpack[_options.FakeKwargs]) -> None:
        super().__init__(_options.build(_options.FakeOptions, changes, "EdenFake()", base=options))
        self._routes = contracts.route_table()
        #: where /v3 answers come from before the fake's own rules (a cassette to replay), or None
        self.replay: Source | None = None
        if self.options.replay is not None or self.options.unmatched != "fake":
            from edenfake.cassettes.replay import source_for  # cassettes are read only by a fake that replays

            self.replay = source_for(self.options.replay, self.options.unmatched)

    def reset(self) -> None:
        """As :meth:`Core.reset`; a replay starts again from the first of each recorded request."""
        super().reset()
        if self.replay is not None:
            self.replay.rewind()

    def limit_for(self, method: str, path: str) -> int:
        """The largest body a request to ``method path`` may have (doors stop reading past it)."""
        return self.body_limit(self._routes.find(method, path)[0])

    def answer(self, request: FakeRequest) -> FakeResponse:
        """Answer one request. Never raises for anything a client can send."""
        refused = _guard.refusal(self, request)  # a web page's request the developer did not make: before anything else
        if refused is not None:
            return _for_method(request, refused)
        try:  # after the guard, and for the admin API its token: a refused request creates no session
            if self.admin_token is not None and request.header(_sessions.HEADER) is not None:
                route = self._routes.find(request.method, request.path)[0]
                if route is not None and route.admin:
                    self.authenticate_admin(request)
            session = self.sessions.chosen(request)
        except ApiError as exc:  # a bad session name or admin token: no state is touched, nothing journalled
            return _for_method(request, encode_error(shaped(exc, self.catalog.error_shapes)).response())
        if session is None:
            return self._answer(request)
        return _sessions.run_under(session, lambda: self._answer(request))

    def _answer(self, request: FakeRequest) -> FakeResponse:
        """:meth:`answer` under the request's session, once the guard let it through."""
        started = time.perf_counter()
        route, methods = self._routes.find(request.method, request.path)
        exchange = read(request, route, self.body_limit(route))
        api = request.path.startswith(API_PREFIX)
        delay = self.faults.delay() if api and route is not None else 0.0
        try:
            response = self._gate(exchange, methods, api)
            if response is None:
                assert route is not None  # the gate refuses a request no route takes
                response = HANDLERS[route.operation_id](self, exchange)
        except Refusal as refusal:
            response = refusal.answer.response()
        except ApiError as exc:
            response = encode_error(shaped(exc, self.catalog.error_shapes)).response()
        except Exception:  # a bug in the fake must not reach the client as a traceback
            log.exception("edenfake: internal error on %s %s", request.method, escaped(request.path))
            response = _INTERNAL.response()
        if api and self.rate_limiter is not None:
            response = self._with_rate_headers(exchange, response)
        response = _for_method(request, response)
        elapsed = time.perf_counter() - started
        response.delay = delay
        if api:
            self._journal(exchange, response, elapsed)
        if log.isEnabledFor(logging.INFO):
            _log_line(exchange, response, elapsed)
        return response

    def _gate(self, exchange: Exchange, methods: dict[str, contracts.Route] | None, api: bool) -> FakeResponse | None:
        """What answers before the route's handler, if anything: an injected fault (a dropped connection, or
        an error), a cassette's recorded answer; errors for a missing route, a missing or refused token, the
        rate limit, the admin token. None: the handler answers."""
        request = exchange.request
        if exchange.route is None:
            recorded = self._from_cassette(exchange) if api else None
            if recorded is not None:  # a cassette answers every /v3 request it holds, routes the document lacks too
                return recorded
            if methods is None:
                raise NotFound(_not_found_hint(request.path))
            raise MethodNotAllowed(sorted({*methods, *(["HEAD"] if "GET" in methods else [])}))
        if not api:
            if exchange.route.admin:
                self.authenticate_admin(request)
            return None
        fault = self.take_fault(exchange)
        if fault is not None:
            if fault.breaks_connection:
                return FakeResponse(0, {}, b"", fault=fault.name, hang=fault.hang)
            raise fault.error(self.catalog.get(str(exchange.fields().get("model"))))
        recorded = self._from_cassette(exchange)
        if recorded is not None:
            # A recorded answer stands for every check the fake would make itself (the token, the rate limit,
            # credits): it is what the real service did. Only an injected fault comes before it.
            return recorded
        token = self.authenticate(request)
        # An invalid tag is refused once the token is known, before the rate limiter counts the request and
        # before anything is charged (Eden: "before any provider is called, so it isn't billed").
        exchange.tags()
        if self.rate_limiter is not None:
            exchange.rate_window = self.rate_limiter.check(token)
        return None

    def _with_rate_headers(self, exchange: Exchange, response: FakeResponse) -> FakeResponse:
        """``response`` with the X-RateLimit headers of its token's window (openapi.json's components/headers
        say what each means): the window the limiter left when it counted the request, else the window as it
        stands; a 429 says none remain until its Retry-After. A dropped connection has no headers, and an
        answer that has them (a cassette's) keeps its own."""
        limiter = self.rate_limiter
        if limiter is None or response.fault is not None or "x-ratelimit-limit" in response.headers:
            return response
        window = exchange.rate_window
        if not isinstance(window, Window):
            try:
                account: str | None = self.authenticate(exchange.request)
            except Unauthorized:
                account = None
            window = limiter.peek(account)
        if response.status == 429:
            window = window.spent(self.clock.now(), _retry_wait(response.headers))
        return dataclasses.replace(response, headers={**response.headers, **window.headers()})

    def _from_cassette(self, exchange: Exchange) -> FakeResponse | None:
        """The cassette's answer for this request, if there is a cassette and it has one."""
        if self.replay is None:
            return None
        found = self.replay.answer(self, exchange.request)
        if found is None:
            return None
        exchange.journal_answer = found.journal
        exchange.outside = True
        exchange.model = found.model
        exchange.replayed = found.replayed
        return found.response

    def _journal(self, exchange: Exchange, response: FakeResponse, elapsed: float) -> None:
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
                inputs=exchange.journal_inputs,
                fault=exchange.fault,
                tags=_tags_json(exchange.valid_tags()),
                at=self.clock.now(),
                duration=elapsed,
                replayed=exchange.replayed,
                own_request=True,  # the exchange's pieces: parsed strictly, or encoded by the fake
                own_answer=not exchange.outside,
            )
        except Exception:  # pragma: no cover - a bug; the answer still goes out
            log.exception("edenfake: could not journal %s %s", exchange.request.method, escaped(exchange.request.path))


def _tags_json(tags: dict[str, str]) -> bytes:
    return compact_json(tags).encode() if tags else b"{}"  # most calls carry none


def _for_method(request: FakeRequest, response: FakeResponse) -> FakeResponse:
    """``response`` as ``request``'s method takes it: a HEAD gets the GET's headers, its body's length, no body."""
    if request.method != "HEAD":
        return response
    return dataclasses.replace(
        response, headers={**response.headers, "content-length": str(len(response.body))}, body=b""
    )


def _log_line(exchange: Exchange, response: FakeResponse, elapsed: float) -> None:
    request = exchange.request
    model = f" model={escaped(exchange.model)}" if exchange.model else ""
    note = f" fault={exchange.fault}" if exchange.fault else " replayed" if exchange.replayed else ""
    status = response.status if response.fault is None else response.fault
    log.info("%s %s %s %.1fms%s%s", escaped(request.method), escaped(request.path), status, elapsed * 1000, model, note)


def _retry_wait(headers: dict[str, str]) -> float:
    # The seconds a 429 asks to wait: retry-after-ms (which the fake always sends), else Retry-After; a value
    # that is not a finite number of seconds (a cassette's) counts as none, and a day at most.
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            seconds = float(headers.get(name, "")) * scale
        except ValueError:
            continue
        if math.isfinite(seconds):
            return min(max(seconds, 0.0), 86400.0)
    return 0.0


def escaped(value: str | None, limit: int = 200) -> str:
    """``value`` for a log line: control characters escaped, so one request is always one line."""
    return _redact.one_line(value or "", limit)


def _not_found_hint(path: str) -> str:
    if path.startswith(API_PREFIX) or path.startswith("/_edenfake/"):
        return "Not Found"
    return (
        f"Not Found: the API lives under /v3 (e.g. POST /v3/images/generations); set your client's base URL to "
        f"this server's address + /v3. GET /openapi.json lists every route (got {_redact.clip(path, 80)!r})"
    )
