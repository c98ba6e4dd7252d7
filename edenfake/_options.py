"""Every option of edenfake, defined once: :class:`EdenFake`, ``mock()``, ``serve()``, the pytest marker and the
CLI all read this table, so a default is written in one place and a misspelt option fails the same way
everywhere ("unknown option 'credit'; did you mean 'credits'?")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FAKE", "MOCK", "OPTIONS", "PYTEST", "SERVE", "Option", "check_names", "defaults", "unknown_option"]

MiB = 1024 * 1024

#: the doors an option applies to
FAKE = "fake"  # EdenFake() and everything built on one
MOCK = "mock"  # edenfake.mock() and the edenfake fixture
SERVE = "serve"  # edenfake.serve() and the CLI
PYTEST = "pytest"  # the @pytest.mark.edenfake marker alone


@dataclass(frozen=True)
class Option:
    """One option: its name, default, what it means, and how the CLI spells it."""

    name: str
    default: Any
    help: str
    door: str = FAKE
    #: the CLI's value type ("int", "float", "str", "latency", "tokens", "flag"); None: not on the CLI
    cli: str | None = None
    metavar: str | None = None
    #: a running server can take it per test (the session-wide edenfake_server fixture)
    live: bool = False
    #: the values it may take, where they are a fixed few (the CLI offers them as choices)
    choices: tuple[str, ...] | None = None


OPTIONS: tuple[Option, ...] = (
    Option("catalog", None, "catalog JSON file merged over the built-in one (or a Catalog)", cli="str", metavar="FILE"),
    Option("seed", 0, "seed of the placeholder images: same seed, same bytes", cli="int"),
    Option(
        "clock",
        None,
        "Unix time to freeze the clock at (answers become byte-identical); None runs in real time",
        cli="float",
        metavar="UNIX_TIME",
        live=True,
    ),
    Option("url_ttl", 3600.0, "seconds a `url` result stays served", cli="float", metavar="SECONDS"),
    Option("tokens", None, "bearer tokens accepted (None: any well-formed token)", cli="tokens", metavar="TOKEN"),
    Option(
        "credits",
        None,
        "USD the account holds; answers costing more get 402 (None: unlimited)",
        cli="float",
        metavar="USD",
        live=True,
    ),
    Option(
        "rate_limit",
        None,
        "requests per second per token before 429 (None: no limit; the real one is 10)",
        cli="int",
        metavar="PER_SECOND",
        live=True,
    ),
    Option(
        "latency",
        0.0,
        "seconds added to every API answer, or a (low, high) range drawn with fault_seed",
        cli="latency",
        metavar="SECONDS|LOW,HIGH",
        live=True,
    ),
    Option("fault_seed", 0, "seed of the latency and chaos draws", cli="int"),
    Option(
        "max_body_bytes", 1 * MiB, "larger JSON bodies get 413, on routes without images", cli="int", metavar="BYTES"
    ),
    Option(
        "max_upload_bytes", 64 * MiB, "larger bodies get 413 on the edit and upload routes", cli="int", metavar="BYTES"
    ),
    Option(
        "image_cache_bytes",
        32 * MiB,
        "bytes of rendered images (and their base64) kept for reuse",
        cli="int",
        metavar="BYTES",
    ),
    Option(
        "answer_cache_bytes",
        16 * MiB,
        "bytes of encoded image answers kept for repeated requests",
        cli="int",
        metavar="BYTES",
    ),
    Option(
        "url_store_bytes",
        64 * MiB,
        "bytes of images kept behind `url` results (oldest go first)",
        cli="int",
        metavar="BYTES",
    ),
    Option(
        "upload_store_bytes",
        128 * MiB,
        "bytes of files kept by POST /v3/upload (oldest go first)",
        cli="int",
        metavar="BYTES",
    ),
    Option("journal_size", 10_000, "calls kept in the journal (oldest dropped first)", cli="int", metavar="CALLS"),
    Option(
        "journal_bytes",
        64 * MiB,
        "bytes the journal may hold (images are kept as digests, never base64)",
        cli="int",
        metavar="BYTES",
    ),
    Option(
        "admin_token",
        None,
        "a token the admin API (/_edenfake/) then requires as 'Authorization: Bearer TOKEN' (None: open)",
        cli="str",
        metavar="TOKEN",
    ),
    Option(
        "replay",
        None,
        "a cassette directory (from `edenfake record`): /v3 requests that match a recorded one get its answer",
        cli="str",
        metavar="DIR",
    ),
    Option(
        "unmatched",
        "fake",
        "with replay: a request no recording matches gets the fake's own answer ('fake') or a 404 NOT_RECORDED "
        "naming the closest recorded request ('error')",
        cli="str",
        metavar="fake|error",
        choices=("fake", "error"),
    ),
    Option("base_urls", (), "more hosts or gateway URLs to route to the fake", door=MOCK),
    Option("assert_all_mocked", False, "a request to any other host fails loudly instead of going out", door=MOCK),
    Option(
        "assert_all_faults_used",
        True,
        "leaving with a queued fault that never answered is an error",
        door=MOCK,
        live=True,
    ),
    Option(
        "cassette",
        None,
        "replay cassettes/<module>/<test>/ beside the test file (True), or cassettes/<module>/<name>/ (a name); "
        "--edenfake-record=once|rewrite records it",
        door=PYTEST,
    ),
    Option("host", "127.0.0.1", "address to bind (loopback by default)", door=SERVE, cli="str"),
    Option("port", 0, "port to bind (0: a free one; the CLI's default is 8000)", door=SERVE, cli="int"),
)

_BY_NAME = {o.name: o for o in OPTIONS}


def defaults(door: str = FAKE) -> dict[str, Any]:
    """The default of every option of ``door``."""
    return {o.name: o.default for o in OPTIONS if o.door == door}


def unknown_option(name: str, known: Iterable[str]) -> str:
    """``unknown option 'credit'; did you mean 'credits'?`` (or the list of known options)."""
    import difflib  # only when a name is wrong: the plugin imports this module at start-up

    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known options: {', '.join(names)}"
    return f"unknown option {name!r}; {hint}"


def check_names(given: Mapping[str, Any], doors: Iterable[str], where: str) -> None:
    """TypeError naming the first option in ``given`` that none of ``doors`` takes."""
    allowed = {o.name for o in OPTIONS if o.door in set(doors)}
    for name in given:
        if name not in allowed:
            raise TypeError(f"{where}: {unknown_option(name, allowed)}")


def option(name: str) -> Option:
    return _BY_NAME[name]
