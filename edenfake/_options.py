"""Every option of edenfake, defined once, as frozen keyword-only dataclasses whose field metadata says what
each option means, how the CLI spells it and whether a running fake can take it live: :class:`FakeOptions`
(:class:`~edenfake.EdenFake`), :class:`MockOptions` (``edenfake.mock()``, the ``edenfake`` fixture),
:class:`ServeOptions` (``edenfake.serve()``, ``edenfake serve``), :class:`MarkerOptions` (the marker). The CLI's
flags, the marker's help and the live-server fixture are generated from these fields; the ``*Kwargs``
TypedDicts let mypy check callers' keywords (a test holds them to the dataclasses). A misspelt option fails the
same way everywhere: "unknown option 'credit'; did you mean 'credits'?"."""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from edenfake._kwargs import FakeKwargs, MockKwargs, ServeKwargs

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform

    from edenfake.catalog import Catalog
else:

    def dataclass_transform(**_: Any) -> Any:  # for type checkers alone (typing has it from Python 3.11)
        return lambda decorator: decorator


__all__ = [
    "FakeKwargs",
    "FakeOptions",
    "MarkerOptions",
    "MockKwargs",
    "MockOptions",
    "ServeKwargs",
    "ServeOptions",
    "build",
    "cli_fields",
    "live_fields",
    "unknown_option",
]

MiB = 1024 * 1024
#: the real service: what `edenfake record` and `--edenfake-record` record unless told otherwise
EDEN_URL = "https://api.edenai.run"
#: the real service's hosts, which the mock routes to the fake by default
EDEN_BASE_URLS = (EDEN_URL, "https://api.eu.edenai.run")
#: a served connection's bounds by default: seconds to send a whole request, connections served at once
REQUEST_TIMEOUT = 60.0
MAX_CONNECTIONS = 1000
YEAR = 365 * 86400.0
#: what a replay does with a request no recording matches
UNMATCHED_CHOICES = ("fake", "error")
#: what ``--edenfake-record`` may be: replay only, record what a cassette lacks, record it afresh
RECORD_MODES = ("none", "once", "rewrite")


def _option(
    default: Any,
    help: str,
    *,
    cli: str | None = None,
    flag: str | None = None,
    metavar: str | None = None,
    setter: str | None = None,
    live: bool = False,
    choices: tuple[str, ...] | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    longest: float | None = None,
) -> Any:
    """A dataclass field with its metadata: ``cli`` is the CLI's value type ("int", "float", "str",
    "latency", "repeat"; None: not on the CLI), ``setter`` the fake's method that changes it live, ``minimum``
    and ``maximum`` an integer's bounds, ``longest`` a number of seconds' (above 0)."""
    metadata = {
        "help": help,
        "cli": cli,
        "flag": flag,
        "metavar": metavar,
        "setter": setter,
        "live": live or setter is not None,
        "choices": choices,
        "minimum": minimum,
        "maximum": maximum,
        "longest": longest,
    }
    return field(default=default, metadata=metadata)


C = TypeVar("C", bound=type)


@dataclass_transform(kw_only_default=True, frozen_default=True)
def _options_class(cls: C) -> C:
    """A frozen, keyword-only dataclass whose ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` and frozen
    ``__setattr__`` are :class:`FakeOptions`' own, written once for every options class: dataclasses would
    generate and compile them for each class (about 2 ms a class, paid by every process that loads the
    plugin). They behave as a ``@dataclass(frozen=True, kw_only=True)``'s do."""
    made: Any = dataclass(kw_only=True, init=False, repr=False, eq=False)(cls)
    made._defaults = tuple((f.name, f.default) for f in dataclasses.fields(made))
    return cast(C, made)


@_options_class
class FakeOptions:
    """What one fake is built from. Checked on construction: a wrong type or value is a TypeError or
    ValueError naming the option and the rule."""

    #: (name, default) of each field, in order
    _defaults: ClassVar[tuple[tuple[str, Any], ...]] = ()
    if TYPE_CHECKING:  # mypy sees a dataclass's own signature, field by field, and what fields() asks of one
        __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]
    else:

        def __init__(self, **given: Any) -> None:
            kind = type(self)
            for name in given:
                if name not in names(kind):
                    raise TypeError(f"{kind.__name__}(): {unknown_option(name, names(kind))}")
            for name, default in kind._defaults:
                object.__setattr__(self, name, given.get(name, default))
            self.__post_init__()

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name, _ in self._defaults)
        return f"{type(self).__qualname__}({shown})"

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name, _ in self._defaults)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, FakeOptions)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    catalog: Catalog | str | os.PathLike[str] | None = _option(
        None, "catalog JSON file merged over the built-in one", cli="str", metavar="FILE"
    )
    seed: int = _option(0, "seed of the placeholder images: same seed, same bytes", cli="int")
    clock: float | None = _option(
        None,
        "Unix time to freeze the clock at (answers become byte-identical); unset, it runs in real time",
        cli="float",
        metavar="UNIX_TIME",
        setter="set_clock",
    )
    url_ttl: float = _option(
        3600.0, "seconds a `url` result stays served (at most a year)", cli="float", metavar="SECONDS", longest=YEAR
    )
    tokens: tuple[str, ...] | None = _option(
        None,
        "a bearer token accepted (unset: any well-formed token; an empty list: none, every API call a 401)",
        cli="repeat",
        flag="--token",
        metavar="TOKEN",
    )
    credits: float | None = _option(
        None,
        "USD the account holds; answers costing more get 402 (unset: unlimited)",
        cli="float",
        metavar="USD",
        setter="set_credits",
    )
    rate_limit: int | None = _option(
        None,
        "requests per second per token before 429 (unset: no limit; the real one is 10)",
        cli="int",
        metavar="PER_SECOND",
        setter="set_rate_limit",
    )
    latency: float | tuple[float, float] = _option(
        0.0,
        "seconds added to every API answer, or a low,high range drawn with the fault seed",
        cli="latency",
        metavar="SECONDS|LOW,HIGH",
        setter="set_latency",
    )
    fault_seed: int = _option(0, "seed of the latency and chaos draws", cli="int")
    max_body_bytes: int = _option(
        1 * MiB, "larger JSON bodies get 413, on routes without images", cli="int", metavar="BYTES", minimum=1
    )
    max_upload_bytes: int = _option(
        64 * MiB, "larger bodies get 413 on the edit and upload routes", cli="int", metavar="BYTES", minimum=1
    )
    image_cache_bytes: int = _option(
        32 * MiB, "bytes of rendered images (and their base64) kept for reuse", cli="int", metavar="BYTES", minimum=0
    )
    url_store_bytes: int = _option(
        64 * MiB, "bytes of images kept behind `url` results (oldest go first)", cli="int", metavar="BYTES", minimum=0
    )
    upload_store_bytes: int = _option(
        128 * MiB, "bytes of files kept by POST /v3/upload (oldest go first)", cli="int", metavar="BYTES", minimum=0
    )
    journal_size: int = _option(
        10_000, "calls kept in the journal (oldest dropped first)", cli="int", metavar="CALLS", minimum=1
    )
    journal_bytes: int = _option(
        64 * MiB,
        "bytes the journal may hold (images are kept as digests, never base64)",
        cli="int",
        metavar="BYTES",
        minimum=1,
    )
    max_sessions: int = _option(
        256,
        "named sessions (X-Edenfake-Session) kept at once, each with stores as bounded as the unnamed "
        "session's; past it the least recently used idle one is dropped",
        cli="int",
        metavar="SESSIONS",
        minimum=1,
        maximum=100_000,
    )
    admin_token: str | None = _option(
        None,
        "a token the admin API (/_edenfake/) then requires as 'Authorization: Bearer TOKEN' (unset: open)",
        cli="str",
        metavar="TOKEN",
    )
    allowed_hosts: tuple[str, ...] = _option(
        (),
        "more Host names the server answers (loopback names and IP addresses always are), e.g. a compose service name",
        cli="repeat",
        flag="--allowed-host",
        metavar="HOST",
    )
    #: a cassette directory, or an answer source (``edenfake.cassettes``: a Replay, a Recording)
    replay: str | os.PathLike[str] | Any = _option(
        None,
        "a cassette directory (from `edenfake record`): /v3 requests that match a recorded one get its answer",
        cli="str",
        metavar="DIR",
    )
    unmatched: str = _option(
        "fake",
        "with replay: a request no recording matches gets the fake's own answer ('fake') or a 404 NOT_RECORDED "
        "naming the closest recorded request ('error')",
        cli="str",
        metavar="fake|error",
        choices=UNMATCHED_CHOICES,
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            minimum = f.metadata.get("minimum")
            if minimum is not None or f.name in ("seed", "fault_seed"):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise TypeError(f"{f.name} must be an integer, got {_shown(value)}")
                maximum = f.metadata.get("maximum")
                if minimum is not None and maximum is not None and not minimum <= value <= maximum:
                    raise ValueError(f"{f.name} must be {minimum}-{maximum}, got {_shown(value)}")
                if minimum is not None and value < minimum:
                    raise ValueError(f"{f.name} must be at least {minimum}, got {_shown(value)}")
            choices = f.metadata.get("choices")
            if choices is not None and value not in choices:
                raise ValueError(f"{f.name} must be {' or '.join(map(repr, choices))}, got {_shown(value)}")
            longest = f.metadata.get("longest")  # a number of seconds
            if longest is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= longest
            ):
                most = "" if longest == math.inf else f" and <= {longest:.15g}"
                raise ValueError(f"{f.name} must be a number of seconds > 0{most}, got {_shown(value)}")
        for name in ("tokens", "allowed_hosts", "base_urls"):  # base_urls: the mock's options only
            value = getattr(self, name, None)
            if value is None:
                continue
            if isinstance(value, str) or not isinstance(value, Iterable):
                raise TypeError(f"{name} must be a list of strings, got {_shown(value)}")
            kept = tuple(value)
            if not all(isinstance(v, str) and v.strip() for v in kept):
                raise ValueError(f"{name} must be non-empty strings, got {_shown(list(kept))}")
            object.__setattr__(self, name, kept)
        if not all(_SENDABLE.fullmatch(accepted) for accepted in self.tokens or ()):
            raise ValueError("tokens must be printable ASCII without spaces, as a client sends one")
        for host in self.allowed_hosts:
            if host.strip() == "*":
                raise ValueError(
                    "allowed_hosts cannot be '*': it would let a page of any site reach the fake under any name; "
                    "name each host"
                )
            if not _HOST_NAME.fullmatch(host.strip()):
                raise ValueError(
                    f"allowed_hosts must be host names (letters, digits, '.', '-', '_': no port, path or spaces), "
                    f"got {_shown(host)}"
                )
        admin = self.admin_token
        if admin is not None and (not isinstance(admin, str) or not admin.strip() or admin != admin.strip()):
            raise ValueError(
                "admin_token must be a non-empty string without surrounding spaces (an empty token would open the "
                "admin API to any 'Authorization: Bearer'); leave it unset (None) for an open admin API on loopback"
            )
        if admin is not None and not _SENDABLE.fullmatch(admin):
            raise ValueError("admin_token must be printable ASCII without spaces, as a client sends one")
        for f in dataclasses.fields(self):  # a text option given as "" (a shell's empty variable) names nothing
            value = getattr(self, f.name)
            if f.metadata.get("cli") == "str" and isinstance(value, str) and not value.strip():
                raise ValueError(f"{f.name} must not be empty, got {value!r}")


#: what a client can send as a bearer token or a Host name: printable ASCII, no spaces
_SENDABLE = re.compile(r"[!-~]{1,4096}")
_HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,252}")  # as a Host header names one, its port aside


def _shown(value: Any) -> str:
    """A refused value as a message repeats it: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "\u2026"


def _faults_used() -> Any:
    return _option(True, "leaving with a queued fault that never answered is an error", live=True)


@_options_class
class MockOptions(FakeOptions):
    """``edenfake.mock()`` and the ``edenfake`` fixture: a fake's options and the interception's."""

    base_urls: tuple[str, ...] = _option((), "more hosts or gateway URLs to route to the fake")
    assert_all_mocked: bool = _option(False, "a request to any other host fails loudly instead of going out")
    assert_all_faults_used: bool = _faults_used()


@_options_class
class MarkerOptions(MockOptions):
    """``@pytest.mark.edenfake(...)``: the mock's options and the test's cassette."""

    cassette: bool | str | None = _option(
        None,
        "replay cassettes/<module>/<test>/ beside the test file (True), or cassettes/<module>/<name>/ (a name); "
        "--edenfake-record=once|rewrite records it",
    )


@_options_class
class ServeOptions(FakeOptions):
    """``edenfake.serve()`` and ``edenfake serve``: a fake's options, where it listens and its connections'
    bounds."""

    host: str = _option("127.0.0.1", "address to bind", cli="str")
    port: int = _option(0, "port to bind (0: a free one)", cli="int", minimum=0, maximum=65535)
    request_timeout: float = _option(
        REQUEST_TIMEOUT,
        "seconds a connection has, from opening or from its previous answer, to send a whole request (head and "
        "body), and to read its answer; past them it is closed (answered 408 if part of a request came)",
        cli="float",
        metavar="SECONDS",
        longest=3600.0,
    )
    max_connections: int = _option(
        MAX_CONNECTIONS,
        "connections served at once; a request on one more is answered 503",
        cli="int",
        minimum=1,
        maximum=100_000,
    )
    assert_all_faults_used: bool = _faults_used()


T = TypeVar("T", bound=FakeOptions)


#: per options class: its fields' names, its default instance, and whether its defaults agree with another's
_NAMES: dict[type[FakeOptions], frozenset[str]] = {}
_DEFAULTS: dict[type[FakeOptions], FakeOptions] = {}
_AGREE: dict[tuple[type[FakeOptions], type[FakeOptions]], bool] = {}


def names(kind: type[FakeOptions]) -> frozenset[str]:
    found = _NAMES.get(kind)
    if found is None:
        found = _NAMES[kind] = frozenset(f.name for f in dataclasses.fields(kind))
    return found


def _default(kind: type[FakeOptions]) -> FakeOptions:
    """``kind()``, built and checked once: options are frozen, and most fakes (a fixture's for every test)
    take the defaults."""
    found = _DEFAULTS.get(kind)
    if found is None:
        found = _DEFAULTS[kind] = kind()
    return found


def _same_defaults(one: type[FakeOptions], other: type[FakeOptions]) -> bool:
    """Whether the options ``one`` and ``other`` share have the same defaults in both."""
    found = _AGREE.get((one, other))
    if found is None:
        shared = names(one) & names(other)
        found = _AGREE[one, other] = all(getattr(_default(one), n) == getattr(_default(other), n) for n in shared)
    return found


def unknown_option(name: str, known: Iterable[str]) -> str:
    """``unknown option 'credit'; did you mean 'credits'?`` (or the list of known options)."""
    import difflib  # only when a name is wrong: the plugin imports this module at start-up

    listed = sorted(known)
    close = difflib.get_close_matches(name, listed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known options: {', '.join(listed)}"
    return f"unknown option {name!r}; {hint}"


def check_names(given: Iterable[str], kind: type[FakeOptions], where: str) -> None:
    """TypeError naming the first option in ``given`` that ``kind`` lacks."""
    known = names(kind)
    for name in given:
        if name not in known:
            raise TypeError(f"{where}: {unknown_option(name, known)}")


def build(kind: type[T], given: Mapping[str, Any], where: str, *, base: FakeOptions | None = None) -> T:
    """``kind`` from ``given`` keywords (over ``base``'s values where it is one), misspellings named."""
    check_names(given, kind, where)
    if not given and (base is None or (base is _default(type(base)) and _same_defaults(type(base), kind))):
        return cast(T, _default(kind))  # every option at its default
    if base is None:
        return kind(**given)
    if not given and type(base) is kind:
        return base
    inherited = {name: getattr(base, name) for name in names(type(base)) & names(kind)}
    return kind(**{**inherited, **given})


def cli_fields(kind: type[FakeOptions]) -> list[dataclasses.Field[Any]]:
    """The fields of ``kind`` that are CLI flags, in order."""
    return [f for f in dataclasses.fields(kind) if f.metadata.get("cli") is not None]


def live_fields(kind: type[FakeOptions] = MarkerOptions) -> list[dataclasses.Field[Any]]:
    """The fields of ``kind`` a running fake can take per test."""
    return [f for f in dataclasses.fields(kind) if f.metadata.get("live")]


def flag(f: dataclasses.Field[Any]) -> str:
    """The CLI's spelling of option ``f``: ``--max-body-bytes``."""
    spelled: str | None = f.metadata.get("flag")
    return spelled or "--" + f.name.replace("_", "-")
