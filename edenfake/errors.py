"""The errors the fake answers with, one class per kind, each knowing its status and body.

EdenfakeError
 ├── ApiError                    an answer the fake sends to the client
 │    ├── BadRequest             400 INVALID_JSON / INVALID_BODY
 │    ├── InvalidModel           400 INVALID_MODEL
 │    ├── InvalidTags            400 INVALID_TAGS
 │    ├── Unauthorized           401 UNAUTHORIZED
 │    ├── InsufficientCredit     402 INSUFFICIENT_CREDIT
 │    ├── NotFound               404 {"detail": "Not Found"}
 │    ├── MethodNotAllowed       405 {"detail": "Method Not Allowed"}
 │    ├── PayloadTooLarge        413 PAYLOAD_TOO_LARGE
 │    ├── UnsupportedMediaType   415 UNSUPPORTED_MEDIA_TYPE
 │    ├── RequestValidationError 422 {"detail": [{"loc", "msg", "type"}, ...]}
 │    ├── RateLimited            429 RATE_LIMITED (+ Retry-After)
 │    ├── RegionNotAllowed       451 REGION_NOT_ALLOWED
 │    ├── InternalError          500 INTERNAL_ERROR
 │    ├── ProviderError          502 PROVIDER_ERROR (a refusal of a value: 400 by default, see the catalog)
 │    └── ServiceUnavailable     503 SERVICE_UNAVAILABLE
 ├── InvalidSetting              a control set to a value it cannot take (a ValueError naming the field)
 ├── ContractError               a document breaks a contract (raised by edenfake.contracts)
 └── CatalogError                a catalog file is not valid
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class EdenfakeError(Exception):
    """Base of every error edenfake raises."""


class ApiError(EdenfakeError):
    """An error answer: ``status``, a JSON ``body`` and extra ``headers``."""

    status = 500
    error_code: str | None = "INTERNAL_ERROR"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail}
        if self.error_code is not None:
            body["error_code"] = self.error_code
        body.update(self.extra)
        return body


class BadRequest(ApiError):
    status = 400
    error_code = "INVALID_JSON"

    def __init__(self, detail: str, *, error_code: str = "INVALID_JSON") -> None:
        super().__init__(detail)
        self.error_code = error_code


class InvalidModel(ApiError):
    status = 400
    error_code = "INVALID_MODEL"


class InvalidTags(ApiError):
    """400: a request's tags break a rule (see edenfake._tags); ``tag`` names the tag (None for a rule of them
    all: too many, a header too long), ``rule`` the rule."""

    status = 400
    error_code = "INVALID_TAGS"

    def __init__(self, detail: str, *, tag: str | None, rule: str) -> None:
        super().__init__(detail, tag=tag, rule=rule)


class Unauthorized(ApiError):
    status = 401
    error_code = "UNAUTHORIZED"

    def __init__(self, detail: str = "Invalid or missing authentication token") -> None:
        super().__init__(detail, headers={"www-authenticate": "Bearer"})


class InsufficientCredit(ApiError):
    status = 402
    error_code = "INSUFFICIENT_CREDIT"

    DETAIL = "User does not have sufficient credits"

    def __init__(self, *, required: float, available: float) -> None:
        super().__init__(
            self.DETAIL,
            required_credits=required,
            available_credits=available,
        )


class NotFound(ApiError):
    status = 404
    error_code = None

    def __init__(self, detail: str = "Not Found") -> None:
        super().__init__(detail)


class MethodNotAllowed(ApiError):
    status = 405
    error_code = None

    def __init__(self, allow: list[str]) -> None:
        super().__init__("Method Not Allowed", headers={"allow": ", ".join(allow)})


class PayloadTooLarge(ApiError):
    status = 413
    error_code = "PAYLOAD_TOO_LARGE"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"Request body is larger than {max_bytes} bytes", max_bytes=max_bytes)


class RequestTimeout(ApiError):
    """A connection that did not deliver its whole request (head and body) in time: answered by the server's
    connection itself, before any route."""

    status = 408
    error_code = "REQUEST_TIMEOUT"

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"The request did not arrive whole within {seconds:g} s (head and body); send it at once",
            timeout_seconds=seconds,
        )


class HeadersTooLarge(ApiError):
    """A request head (request line and headers) past the server's bound: answered by the connection itself."""

    status = 431
    error_code = "HEADERS_TOO_LARGE"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"The request line and headers are larger than {max_bytes} bytes", max_bytes=max_bytes)


class UnsupportedMediaType(ApiError):
    status = 415
    error_code = "UNSUPPORTED_MEDIA_TYPE"


def problem(loc: tuple[str | int, ...], type_: str, msg: str) -> dict[str, Any]:
    """One entry of a 422's ``detail``: the field's place in the body, the rule's name, a sentence."""
    return {"type": type_, "loc": ["body", *loc], "msg": msg}


class RequestValidationError(ApiError):
    """422 in FastAPI's shape: every violated rule, each naming its field in ``loc``."""

    status = 422
    error_code = None

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {"detail": self.errors}


class RateLimited(ApiError):
    status = 429
    error_code = "RATE_LIMITED"

    def __init__(self, retry_after: float, detail: str = "Rate limit exceeded") -> None:
        seconds = max(0.0, retry_after)
        super().__init__(
            detail,
            headers=retry_after_headers(seconds),
            retry_after=round(seconds, 3),
        )


class RegionNotAllowed(ApiError):
    """451: the model is not served in the region the request pins (its host, or ``model@region``), as Eden's
    EU endpoint refuses models not cleared for the EU. ``available_models`` names those that are."""

    status = 451
    error_code = "REGION_NOT_ALLOWED"

    def __init__(self, detail: str, *, region: str, available_models: list[str]) -> None:
        super().__init__(detail, region=region, available_models=available_models)


class InternalError(ApiError):
    status = 500
    error_code = "INTERNAL_ERROR"


class ProviderError(ApiError):
    status = 502
    error_code = "PROVIDER_ERROR"

    def __init__(
        self,
        detail: str,
        *,
        provider: str,
        status: int = 502,
        param: str | None = None,
        value: Any = None,
        allowed: list[Any] | None = None,
    ) -> None:
        extra: dict[str, Any] = {"provider": provider, "param": param}
        if param is not None:
            extra["value"] = value
        if allowed is not None:
            extra["allowed"] = allowed
        super().__init__(detail, **extra)
        self.status = status


class ServiceUnavailable(ApiError):
    status = 503
    error_code = "SERVICE_UNAVAILABLE"


class InvalidSetting(EdenfakeError, ValueError):
    """A control (a fault, the latency, the clock, the credits) set to a value it cannot take; ``field`` names
    it as the admin API does."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        #: the option that was given the value, when an option was (``rate_limit`` for the field ``per_second``)
        self.option: str | None = None


@contextlib.contextmanager
def naming_option(option: str) -> Iterator[None]:
    """A refusal of an option's value names the option (``exc.option``, and the message's start, where the
    control's own field was: ``latency: ...``, not ``seconds: ...``), so that the CLI can name its flag."""
    try:
        yield
    except InvalidSetting as exc:
        message = str(exc)
        if exc.option is None and exc.field != option and message.startswith(exc.field):
            renamed = InvalidSetting(exc.field, option + message[len(exc.field) :])
            renamed.option = option
            raise renamed from None
        exc.option = exc.option or option
        raise


class ContractError(EdenfakeError, ValueError):
    """A document breaks a contract; ``violations`` lists every broken rule with its JSON path."""

    def __init__(self, contract: str, violations: list[Any]) -> None:
        self.contract = contract
        self.violations = violations
        lines = "\n".join(f"  {v}" for v in violations)
        super().__init__(f"{len(violations)} violation(s) of {contract}:\n{lines}")


class CatalogError(EdenfakeError, ValueError):
    """A catalog file cannot be used; the message says which entry and why."""


class _Reshaped(ApiError):
    # An error answered in another shape than its class's (see shaped): the same status and headers.

    def __init__(self, exc: ApiError, body: dict[str, Any]) -> None:
        super().__init__(exc.detail, headers=exc.headers)
        self.status = exc.status
        self.error_code = exc.error_code
        self._body = body

    def body(self) -> dict[str, Any]:
        return self._body


#: what an InsufficientCredit says in the "error_object" shape, as v3/general/buying-credits.mdx gives it
INSUFFICIENT_CREDITS_TEXT = "Insufficient credits"


def shaped(exc: ApiError, shape: str) -> ApiError:
    """``exc`` in the shape the catalog's ``error_shapes`` names: ``"detail"``, edenfake's (and Eden's API
    reference's) ``{detail, error_code, ...}``, leaves it as it is; ``"error_object"`` answers a 429 as
    ``{"error": {"code": 429, "message": ...}}`` and a 402 as ``{"error": "Insufficient credits"}`` (a fault's
    own detail instead, where it gave one), as other pages of Eden's docs give them. Headers stay the same."""
    if shape != "error_object" or exc.status not in (402, 429):
        return exc
    if exc.status == 429:
        return _Reshaped(exc, {"error": {"code": 429, "message": exc.detail}})
    text = INSUFFICIENT_CREDITS_TEXT if exc.detail == InsufficientCredit.DETAIL else exc.detail
    return _Reshaped(exc, {"error": text})


def retry_after_headers(seconds: float) -> dict[str, str]:
    """``Retry-After`` in whole seconds (rounded up, so a client never retries early) and ``retry-after-ms``,
    which the openai SDK reads first. A wait of 0 is sent as 1 ms: the SDK ignores a wait of 0 and backs off
    on its own (about a second), which is not what a test asking for no wait wants."""
    whole = int(seconds) if seconds == int(seconds) else int(seconds) + 1
    return {"retry-after": str(whole), "retry-after-ms": str(max(1, round(seconds * 1000)))}


def hide_setting_frames(excinfo: Any) -> bool:
    """pytest's ``__tracebackhide__`` for the modules a control passes through: a refused setting is the
    caller's mistake, so pytest shows the test's line and the message, not edenfake's frames (any other
    error keeps them, for a bug report)."""
    return bool(excinfo.errisinstance(InvalidSetting))
