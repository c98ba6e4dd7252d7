"""Door 3: the command line. ``edenfake serve`` runs the fake for local development.

Every refusal of an argument is one line naming the flag and the rule, exit status 2 (:mod:`edenfake._arguments`
words them)."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import ipaddress
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from edenfake import __version__, _options
from edenfake._arguments import (
    LINE_CHARS,
    Parser,
    Refused,
    add_option,
    as_int,
    as_seconds,
    as_text,
    echo,
    subcommand,
    unknown,
    worded,
)
from edenfake._redact import one_line
from edenfake.errors import CatalogError

if TYPE_CHECKING:
    from edenfake.fake import EdenFake

__all__ = ["main"]

#: the variable the documentation's examples keep the token in; the banner names it when --token is set
TOKEN_VARIABLE = "EDEN_AI_TOKEN"


def _parser() -> Parser:
    parser = Parser(prog="edenfake", description="A fake Eden AI image API for offline work.")
    parser.typed = {}
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command")  # each subcommand's parser is a Parser too
    serve = sub.add_parser("serve", help="run the fake server (loopback by default)")
    for option in _options.cli_fields(_options.ServeOptions):
        add_option(serve, option, parser.typed)
    serve.add_argument("--replace-catalog", action="store_true", help="use --catalog alone, not merged")
    serve.add_argument(
        "--loop", choices=["auto", "asyncio", "uvloop"], default="auto", help="uvicorn's event loop (default auto)"
    )
    serve.add_argument(
        "--http", choices=["auto", "h11", "httptools"], default="auto", help="uvicorn's HTTP parser (default auto)"
    )
    serve.add_argument("--quiet", action="store_true", help="do not log requests")
    check = sub.add_parser(
        "validate",
        help="check captured JSON against the contract",
        description="Check JSON documents (or JSON Lines of captured exchanges {method, path, status, body}) "
        "against edenfake's contract, or a cassette directory (edenfake record) line by line and file by file. "
        "Exit 0 when all conform, 1 when any violates, 2 when a file cannot be read.",
    )
    check.add_argument(
        "files",
        nargs="+",
        type=as_text,
        metavar="FILE",
        help="a JSON file, JSON Lines or a cassette directory; '-': standard input",
    )
    check.add_argument(
        "--as",
        dest="kind",
        choices=["auto", "request", "edit-request", "response", "error", "exchange"],
        default="auto",
        help="what the documents are (default: guessed from their fields)",
    )
    check.add_argument("--status", type=as_int, metavar="STATUS", help="for errors: the status they came with")
    _add_record_and_drift(sub, parser.typed)
    importing = sub.add_parser(
        "import",
        help="make HAR logs and vcrpy cassettes into an edenfake cassette",
        description="Read HAR 1.2 logs and vcrpy cassettes (the format found from each file's content) and write "
        "their Eden exchanges into a new cassette, scrubbed as `edenfake record` scrubs; the others are counted "
        "and skipped. Exit 0 when the cassette is written, 1 when nothing could be imported, 2 when a file "
        "cannot be read.",
    )
    importing.add_argument("sources", nargs="+", type=as_text, metavar="SOURCE", help="a .har log or a vcrpy cassette")
    importing.add_argument("--out", required=True, type=as_text, metavar="DIR", help="the new cassette directory")
    from edenfake import _docs

    _docs.add_parser(sub)
    return parser


#: the options of ServeOptions that ``edenfake record`` takes: where it listens and its connections' bounds
_RECORD_SERVES = ("host", "port", "request_timeout", "max_connections")


def _add_record_and_drift(sub: Any, typed: dict[str, str]) -> None:
    record = sub.add_parser(
        "record",
        help="record exchanges with the real service into a cassette (a recording proxy)",
        description="Serve the fake's routes, forwarding every /v3 request to the upstream (the caller's "
        "Authorization passed through, never stored) and appending each exchange to the cassette directory as it "
        "completes; the upstream's answer goes back unchanged. Replay the cassette with `edenfake serve --replay "
        "DIR`; compare the fake with it with `edenfake drift DIR`.",
    )
    record.add_argument(
        "--cassette", required=True, type=as_text, metavar="DIR", help="the cassette directory (created, or added to)"
    )
    record.add_argument(
        "--upstream",
        default=_options.EDEN_URL,
        metavar="URL",
        help="the service to record (default %(default)s)",
    )
    for option in dataclasses.fields(_options.ServeOptions):
        if option.name in _RECORD_SERVES:
            add_option(record, option, typed)
    record.add_argument(
        "--timeout", type=as_seconds, default=300.0, metavar="SECONDS", help="for each upstream answer (default 300)"
    )
    record.add_argument("--quiet", action="store_true", help="print only the recorded exchanges, not every request")
    drift = sub.add_parser(
        "drift",
        help="compare the fake with a cassette of the real service's answers",
        description="Send every request of a cassette to a fresh fake and report how its answers differ from the "
        "recorded ones, grouped by kind (`edenfake docs drift` says what each means). Exit 0 when they agree, 1 "
        "on drift, 2 when the cassette or the catalog cannot be read.",
    )
    drift.add_argument(
        "cassette", metavar="DIR", nargs="?", type=as_text, help="a cassette directory (edenfake record)"
    )
    drift.add_argument(
        "--explain", metavar="KIND", help="print what a kind of difference means and what to do about it, and exit"
    )
    drift.add_argument(
        "--allow-extra-field",
        action="append",
        default=[],
        metavar="NAME",
        help="a top-level answer field only the recording has that no client of yours reads: not reported "
        "(repeatable; the catalog's answer_extra_fields keeps them)",
    )
    drift.add_argument("--json", action="store_true", help="print the report as JSON")
    drift.add_argument("--catalog", type=as_text, metavar="FILE", help="a catalog file merged over the built-in one")
    drift.add_argument(
        "--suggest-catalog",
        type=as_text,
        metavar="FILE",
        help="write the catalog overlay that explains what a catalog can (prices, edit prices, sizes, n limits, "
        "revised_prompt, response formats, the refusal status), checked by running the cassette again with it; "
        "run again with --catalog FILE",
    )


def main(argv: Sequence[str] | None = None) -> int:
    for name in ("stdout", "stderr"):  # a closed descriptor (`>&-`) is None to Python: write nowhere instead
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w"))  # noqa: SIM115 - the process's own stream, kept open
    parser = _parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            raise unknown(subcommand(parser, args.command), extra)
        if args.command is None:
            parser.print_help(sys.stderr)
            return 2
        if args.command == "serve":
            return _serve(args, parser.typed)
        if args.command == "validate":
            return _validate(args)
        if args.command == "record":
            return _record(args, parser.typed)
        if args.command == "drift":
            return _drift(args)
        if args.command == "import":
            return _import(args)
        if args.command == "docs":
            from edenfake import _docs

            return _docs.run(args, parser)
    except Refused as refused:
        return refused.report()
    except BrokenPipeError:
        # the reader went away (`edenfake docs | head`): stop quietly, as Unix tools do, and keep Python's exit
        # flush from writing to the closed pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # the output cannot be written (a full disk): one line, and no second try at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(_flat(f"edenfake: cannot write the output: {exc.strerror or exc}"), file=sys.stderr)
        return 2  # an error, not a verdict (validate's and drift's 1)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _validate(args: argparse.Namespace) -> int:
    from edenfake import _validate

    return _validate.run(args)


def _serve(args: argparse.Namespace, typed: dict[str, str]) -> int:
    from edenfake.catalog import Catalog
    from edenfake.fake import EdenFake

    chosen = {f.name: getattr(args, f.name) for f in _options.cli_fields(_options.ServeOptions)}
    chosen["allowed_hosts"] = chosen["allowed_hosts"] or ()
    try:
        options = _options.ServeOptions(**chosen)
    except (TypeError, ValueError) as exc:
        raise Refused("edenfake serve", worded(exc, typed)) from None
    _check_installed(args)
    if args.replace_catalog and args.catalog is None:
        raise Refused("edenfake serve", "--replace-catalog needs --catalog FILE: it uses that file alone")
    try:
        catalog = Catalog.load(args.catalog, replace=args.replace_catalog) if args.catalog is not None else None
    except (CatalogError, OSError, ValueError) as exc:  # a NUL in the path is a ValueError of open()
        print(_flat(f"edenfake: {exc}"), file=sys.stderr)
        return 2
    try:
        fake = EdenFake(dataclasses.replace(options, catalog=catalog))
    except OSError as exc:  # a cassette directory that cannot be read (a name too long, no permission)
        print(_flat(f"edenfake: cannot read the cassette: {exc.strerror or exc}"), file=sys.stderr)
        return 2
    except (TypeError, ValueError) as exc:  # a setting checked against the contracts, or a cassette's problem
        said = worded(exc, typed)
        if said == str(exc):  # not an option's value: a file's (the cassette's) problem, said as it is
            print(_flat(f"edenfake: {exc}"), file=sys.stderr)
            return 2
        raise Refused("edenfake serve", said) from None
    return _run(
        args,
        fake,
        _serve_banner(args, fake),
        _ADMIN_WARNING if args.admin_token is None else None,
        "edenfake stopped",
        loop=args.loop,
        http=args.http,
        request_timeout=options.request_timeout,
        max_connections=options.max_connections,
    )


#: a file's problem is said whole up to this many characters (a catalog's lists each entry at fault)
PROBLEM_CHARS = 2000


def _flat(text: str) -> str:
    """A file's problem on one line (a catalog's may list several), control characters escaped."""
    joined = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    return one_line(joined.replace(":; ", ": "), PROBLEM_CHARS)  # "...catalog:" then its list


#: what ``--loop`` and ``--http`` need installed (``pip install 'edenfake[standard]'`` has both)
_NEEDS = {("loop", "uvloop"): "uvloop", ("http", "httptools"): "httptools"}


def _check_installed(args: argparse.Namespace) -> None:
    import importlib.util

    for (dest, value), module in _NEEDS.items():
        if getattr(args, dest) == value and importlib.util.find_spec(module) is None:
            raise Refused(f"edenfake {args.command}", f"--{dest} {value} needs {module}: pip install {module}")


_ADMIN_WARNING = (
    "anyone who reaches port {port} can drive the admin API (/_edenfake/: faults, credits, clock, the journal). "
    "Pass --admin-token TOKEN to require a token for it."
)


def _serve_banner(args: argparse.Namespace, fake: EdenFake) -> Callable[[str], str]:
    """What ``edenfake serve`` says once it listens: the URL, a request to try, what it replays, which token it
    takes (by the README's variable: never the token itself) and where the console is."""
    from edenfake.cassettes.replay import Replay

    token = f"${TOKEN_VARIABLE}" if args.tokens else "test-token"
    notes = []
    if isinstance(fake.replay, Replay):
        cassette = fake.replay.cassette
        unmatched = "get the fake's own answer" if fake.replay.unmatched == "fake" else "get 404 NOT_RECORDED"
        notes.append(
            f"replaying {one_line(str(cassette.path), 200)}: {len(cassette)} exchange(s); requests it lacks "
            f"{unmatched} (--unmatched {fake.replay.unmatched})"
        )
    if args.tokens:
        notes.append(
            f"only the {len(args.tokens)} --token value(s) given are accepted: export {TOKEN_VARIABLE}=<one of "
            "them> for the example"
        )

    def banner(url: str) -> str:
        return "\n".join(
            [
                f"edenfake serving the Eden AI image API at {url} (OpenAI base_url: {url}/v3); Ctrl-C stops it",
                f'try: curl -s {url}/v3/images/generations -H "Authorization: Bearer {token}" '
                '-H \'Content-Type: application/json\' -d \'{"model": "openai/gpt-image-1", "prompt": "a red fox"}\'',
                *notes,
                f"console (journal, money, controls, catalog): {url}/_edenfake/"
                f"{'#token=<admin token>' if args.admin_token else ''}",
            ]
        )

    return banner


def _run(
    args: argparse.Namespace,
    fake: EdenFake,
    banner: Callable[[str], str],
    warning: str | None,
    closing_line: str | Callable[[], str],
    *,
    app: Any = None,
    after: Callable[[], object] | None = None,
    **config: Any,
) -> int:
    """Bind, warn when beyond loopback, log one line per request unless --quiet, serve until a signal, and
    print ``closing_line`` (a string or a callable giving one) once, however it stops. A signal stops it at
    once, cutting short the requests a fault holds (one line says how many)."""
    from edenfake.server import bind, cut_line, make_server

    try:
        sock = bind(args.host, args.port)
    except (OSError, ValueError, TypeError, OverflowError) as exc:  # a name that does not resolve, a NUL in it
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(one_line(f"edenfake: cannot listen on {args.host}:{args.port}: {reason}", LINE_CHARS), file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]
    if warning is not None and not ipaddress.ip_address(host).is_loopback:
        shown_warning = warning.format(port=port)
        print(f"edenfake: warning: listening on {host}, beyond this machine: {shown_warning}", file=sys.stderr)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    logger = logging.getLogger("edenfake")
    handler = logging.StreamHandler(sys.stderr)
    if not args.quiet:
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    stopped: list[bool] = []

    def closing() -> None:
        if not stopped:
            stopped.append(True)
            print(closing_line() if callable(closing_line) else closing_line, flush=True)

    def cut(count: int) -> None:
        print(cut_line(count), file=sys.stderr, flush=True)

    # Everything built so far lives as long as the server: keep it out of the collector's full passes.
    gc.collect()
    gc.freeze()
    server = make_server(
        fake, app=app, on_started=lambda: print(banner(url), flush=True), on_stopped=closing, on_cut=cut, **config
    )
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT that stopped it, once it has shut down
        pass
    finally:
        sock.close()
        logger.removeHandler(handler)
        if after is not None:
            after()
        closing()
    return 0


def _record(args: argparse.Namespace, typed: dict[str, str]) -> int:
    from edenfake.cassettes.recording import Recording, Upstream, describe_line, recording_app
    from edenfake.cassettes.writing import Writer
    from edenfake.fake import EdenFake

    try:
        served = _options.ServeOptions(**{name: getattr(args, name) for name in _RECORD_SERVES})
    except (TypeError, ValueError) as exc:
        raise Refused("edenfake record", worded(exc, typed)) from None
    try:
        upstream = Upstream(args.upstream, timeout=args.timeout)
    except ValueError as exc:
        said = str(exc) if "got" in str(exc) else f"{exc} (got {echo(args.upstream)})"
        raise Refused("edenfake record", f"--upstream: {said}") from None
    try:
        writer = Writer(args.cassette)
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        shown = f"--cassette: cannot use {echo(args.cassette)} as the cassette directory: {why}"
        print(one_line(f"edenfake record: {shown}", LINE_CHARS), file=sys.stderr)
        return 2

    def recorded(*what: Any) -> None:
        print(describe_line(*what), flush=True)

    def failed(problem: str) -> None:
        print(f"edenfake record: {problem}", file=sys.stderr, flush=True)

    fake = EdenFake(replay=Recording(upstream, writer, on_record=recorded, on_error=failed))
    return _run(
        args,
        fake,
        lambda url: (
            f"edenfake recording {upstream.base_url} into {writer.directory} at {url} (OpenAI base_url: {url}/v3); "
            "Ctrl-C stops it"
        ),
        "anyone who reaches port {port} can send requests through it to the upstream and read the journal "
        "(/_edenfake/calls)",
        lambda: f"edenfake stopped: {writer.count} exchange(s) recorded in {writer.directory}",
        app=recording_app(fake),
        after=upstream.close,
        request_timeout=served.request_timeout,
        max_connections=served.max_connections,
    )


def _import(args: argparse.Namespace) -> int:
    from edenfake.cassettes.importing import import_sources

    try:
        summary = import_sources(args.sources, args.out)
    except (OSError, ValueError) as exc:  # a SourceError (a CassetteError), or the disk refusing the cassette
        print(_flat(f"edenfake import: {exc}"), file=sys.stderr)
        return 2
    print(summary.line(), file=sys.stdout if summary.imported else sys.stderr)
    return 0 if summary.imported else 1


def _drift(args: argparse.Namespace) -> int:
    from edenfake.drift import command

    try:
        return command.run(args)
    except OSError as exc:  # a cassette path the system refuses outright (a name too long)
        if exc.filename is None:  # not a path's: the report's output (a closed pipe, a full disk)
            raise
        print(_flat(f"edenfake drift: cannot read the cassette: {exc.strerror or exc}"), file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
