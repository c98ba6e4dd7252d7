"""The failure matrix: every way the fake can fail a request on purpose, one :class:`Mode` each, read from the
admin contract's fault kinds (``admin#/$defs/FaultKind``) and the error each builds (status, ``error_code``,
``Retry-After``), never from a table of its own; the :class:`Failure` a test gets from the ``edenfake_failure``
fixture; the selection a marker or ini option makes; and the summary table at the end of the run.

A test asking for ``edenfake_failure`` runs once per mode. The fake answers the test's first request with the
failure and the next ones normally (a client that retries succeeds), unless ``times`` says more (None: every
request). Framework-free: the pytest plugin does the parametrizing and the reporting."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from edenfake.faults import CONNECTION_FAULTS, FAULT_NAMES, FAULT_STATUSES, Fault, check_control

if TYPE_CHECKING:
    from edenfake._handle import Handle

__all__ = ["HANG", "Failure", "Mode", "modes", "select", "summary"]

Kind = Literal["status", "timeout", "disconnect", "content_policy"]
#: seconds a live server holds a ``timeout`` mode's request before it drops the connection: the consumer's own
#: client timeout (set it lower, e.g. 1 s, in tests) ends the wait first; the in-process mock raises at once
HANG = 10.0
#: the statuses the openai SDK retries (``_should_retry``: 408, 409, 429 and every 5xx), beside broken connections
_RETRIED = (408, 409, 429)
#: the openai SDK's exception class per status (any other 4xx/5xx: APIStatusError; 5xx: InternalServerError)
_OPENAI_CLASSES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    409: "ConflictError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
}
#: test ids and summary columns are cut to this many characters
NAME_CHARS = 80


@dataclass(frozen=True)
class Mode:
    """One failure: what ``fail()`` queues for it, and what the client then sees."""

    #: the test id: ``429-RATE_LIMITED``, ``content-policy``, ``timeout``
    id: str
    kind: Kind
    #: what ``fail()`` takes: a status, or a fault's name
    fault: int | str
    #: None where the connection breaks instead of answering
    status: int | None
    error_code: str | None
    #: seconds the answer's Retry-After asks for (None: no such header)
    retry_after: float | None

    @property
    def label(self) -> str:
        """The summary's column head: the status alone, or the id."""
        return str(self.status) if self.kind == "status" else self.id

    def names(self) -> frozenset[str]:
        """What a marker or ini option may call it: its id, its fault's name, its status, its kind."""
        names = {self.id, str(self.fault), self.kind.replace("_", "-"), self.kind}
        if self.status is not None and self.kind == "status":
            names.add(str(self.status))
        return frozenset(n.lower() for n in names)


@functools.cache
def modes() -> tuple[Mode, ...]:
    """Every mode, in the admin contract's order: its statuses, then its named faults."""
    found = []
    kinds: tuple[int | str, ...] = (*FAULT_STATUSES, *FAULT_NAMES)
    for what in kinds:
        if what in CONNECTION_FAULTS:
            found.append(Mode(str(what), "timeout" if what == "timeout" else "disconnect", what, None, None, None))
            continue
        error = Fault(what).error(None)  # type: ignore[arg-type]  # the contract's kinds are Fault's kinds
        header = {k.lower(): v for k, v in error.headers.items()}.get("retry-after")
        retry_after = float(header) if header is not None else None
        if what == "content_policy":
            found.append(Mode("content-policy", "content_policy", what, error.status, error.error_code, retry_after))
        else:
            name = f"{error.status}-{error.error_code}" if error.error_code else str(error.status)
            found.append(Mode(name, "status", what, error.status, error.error_code, retry_after))
    return tuple(found)


def select(include: Iterable[str | int] | None, exclude: Iterable[str | int], where: str) -> list[Mode]:
    """The modes ``include`` names (None: all of them) less those ``exclude`` names, each name checked: an
    unknown one is a ValueError naming ``where`` and the names there are."""
    known = {name: mode for mode in modes() for name in mode.names()}

    def named(values: Iterable[str | int], field: str) -> set[Mode]:
        if isinstance(values, (str, int)):  # exclude="timeout": one name, not its letters
            values = [values]
        chosen = set()
        for value in values:
            mode = known.get(str(value).strip().lower())
            if mode is None:
                shown = ", ".join(m.id for m in modes())
                raise ValueError(
                    f"{where}: {field}: unknown failure mode {str(value)[:NAME_CHARS]!r}; the modes are {shown} "
                    "(or a status, 'content_policy')"
                )
            chosen.add(mode)
        return chosen

    wanted = named(include, "include") if include is not None else set(modes())
    dropped = named(exclude, "exclude")
    return [m for m in modes() if m in wanted and m not in dropped]


@dataclass(frozen=True)
class Failure:
    """What a test of the matrix gets: the mode it runs under, and what its client should see."""

    mode: Mode
    #: how many requests the failure answers (1: the first only, then normal answers; None: every request)
    times: int | None = 1
    #: timeouts on a live server: seconds the request is held before the connection drops
    hang: float = HANG

    def __post_init__(self) -> None:
        object.__setattr__(self, "times", check_control("times", self.times))  # 2.0 is the count 2
        check_control("hang", self.hang)

    @property
    def id(self) -> str:
        return self.mode.id

    @property
    def kind(self) -> Kind:
        return self.mode.kind

    @property
    def status(self) -> int | None:
        return self.mode.status

    @property
    def error_code(self) -> str | None:
        return self.mode.error_code

    @property
    def retry_after(self) -> float | None:
        return self.mode.retry_after

    @property
    def retryable(self) -> bool:
        """Whether the openai SDK retries it: a broken connection, 408, 409, 429 and every 5xx."""
        status = self.mode.status
        return status is None or status in _RETRIED or status >= 500

    @property
    def openai_error(self) -> type[Exception] | None:
        """The openai SDK's exception for it (APITimeoutError, RateLimitError, ...), or None without openai."""
        try:
            import openai
        except ImportError:
            return None
        status = self.mode.status
        if status is None:
            name = "APITimeoutError" if self.mode.kind == "timeout" else "APIConnectionError"
        else:
            name = _OPENAI_CLASSES.get(status, "InternalServerError" if status >= 500 else "APIStatusError")
        found: type[Exception] = getattr(openai, name)
        return found

    def arm(self, handle: Handle) -> None:
        """Queue the failure on ``handle``'s fake for its next request(s)."""
        handle.fail(self.mode.fault, times=self.times, hang=self.hang)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        rest = "every request" if self.times is None else f"first {self.times} request(s)"
        return f"<edenfake failure {self.id}: {rest}>"


#: what the summary shows per outcome
CELLS = {"passed": "ok", "failed": "FAIL", "error": "ERR", "skipped": "skip", "xfailed": "xfail", "xpassed": "XPASS"}


def summary(results: Mapping[str, Mapping[str, str]], width: int = NAME_CHARS) -> list[str]:
    """The table of ``results`` (test -> mode id -> outcome): one row per test, one column per mode that ran,
    ``ok`` where the test passed under it, ``FAIL`` where not, ``.`` where it did not run."""
    ran = {mode for outcomes in results.values() for mode in outcomes}
    columns = [m for m in modes() if m.id in ran]
    counts: dict[str, int] = {}
    for outcomes in results.values():
        for outcome in outcomes.values():
            counts[outcome] = counts.get(outcome, 0) + 1
    told = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
    names = [_cut(test, width) for test in results]
    first = max([len("test"), *map(len, names)])
    rows = [[CELLS.get(outcomes.get(m.id, ""), ".") for m in columns] for outcomes in results.values()]
    heads = [m.label for m in columns]
    # each column as wide as its heading or its widest cell ("FAIL" under "401"), so that the cells line up
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(heads)]
    lines = [
        f"{len(results)} test(s) x {len(columns)} failure mode(s): {told}",
        "  ".join(["test".ljust(first), *(h.ljust(w) for h, w in zip(heads, widths, strict=True))]).rstrip(),
    ]
    for name, row in zip(names, rows, strict=True):
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=True)]
        lines.append("  ".join([name.ljust(first), *cells]).rstrip())
    return lines


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else "\u2026" + text[-(width - 1) :]


def row_name(nodeid: str, mode_id: str) -> str:
    """The test a matrix run belongs to: its node id less the mode's part of the parameter id."""
    base, bracket, params = nodeid.partition("[")
    if not bracket:
        return nodeid
    params = params[:-1] if params.endswith("]") else params
    parts: Sequence[str] = params.split(f"-{mode_id}", 1) if f"-{mode_id}" in params else params.split(mode_id, 1)
    rest = "".join(parts).strip("-")
    return f"{base}[{rest}]" if rest else base
