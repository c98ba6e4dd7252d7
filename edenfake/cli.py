"""Door 3: the command line. ``edenfake serve`` runs the fake for local development."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import ipaddress
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from edenfake import __version__, _options
from edenfake.errors import CatalogError

if TYPE_CHECKING:
    from edenfake.fake import EdenFake

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edenfake", description="A fake Eden AI image API for offline work.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the fake server (loopback by default)")
    for option in _options.cli_fields(_options.ServeOptions):
        _add_option(serve, option)
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
        "against edenfake's contract. Exit 0 when all conform, 1 when any violates, 2 when a file cannot be read.",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="a JSON file, or JSON Lines; '-' reads standard input")
    check.add_argument(
        "--as",
        dest="kind",
        choices=["auto", "request", "edit-request", "response", "error", "exchange"],
        default="auto",
        help="what the documents are (default: guessed from their fields)",
    )
    check.add_argument("--status", type=int, help="for errors: the status they came with")
    _add_record_and_drift(sub)
    from edenfake import _docs

    _docs.add_parser(sub)
    return parser


def _add_record_and_drift(sub: Any) -> None:
    record = sub.add_parser(
        "record",
        help="record exchanges with the real service into a cassette (a recording proxy)",
        description="Serve the fake's routes, forwarding every /v3 request to the upstream (the caller's "
        "Authorization passed through, never stored) and appending each exchange to the cassette directory as it "
        "completes; the upstream's answer goes back unchanged. Replay the cassette with `edenfake serve --replay "
        "DIR`; compare the fake with it with `edenfake drift DIR`.",
    )
    record.add_argument(
        "--cassette", required=True, metavar="DIR", help="the cassette directory (created, or added to)"
    )
    record.add_argument(
        "--upstream",
        default=_options.EDEN_URL,
        metavar="URL",
        help="the service to record (default %(default)s)",
    )
    record.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    record.add_argument("--port", type=int, default=8000, help="port to bind (0: a free one; default %(default)s)")
    record.add_argument(
        "--timeout", type=float, default=300.0, metavar="SECONDS", help="for each upstream answer (default %(default)s)"
    )
    record.add_argument("--quiet", action="store_true", help="print only the recorded exchanges, not every request")
    drift = sub.add_parser(
        "drift",
        help="compare the fake with a cassette of the real service's answers",
        description="Send every request of a cassette to a fresh fake and report how its answers differ from the "
        "recorded ones, grouped by kind (`edenfake docs drift` says what each means). Exit 0 when they agree, 1 "
        "on drift, 2 when the cassette or the catalog cannot be read.",
    )
    drift.add_argument("cassette", metavar="DIR", help="a cassette directory (edenfake record)")
    drift.add_argument("--json", action="store_true", help="print the report as JSON")
    drift.add_argument("--catalog", metavar="FILE", help="a catalog file merged over the built-in one")
    drift.add_argument(
        "--suggest-catalog",
        metavar="FILE",
        help="write the catalog overlay that explains what a catalog can (prices, sizes, n limits, revised_prompt, "
        "response formats, the refusal status); run again with --catalog FILE",
    )


#: the CLI's own defaults where they differ from the library's
_CLI_DEFAULTS = {"port": 8000}


def _latency(text: str) -> float | tuple[float, float]:
    low, sep, high = text.partition(",")
    return (float(low), float(high)) if sep else float(text)


def _add_option(parser: argparse.ArgumentParser, option: dataclasses.Field[Any]) -> None:
    """One flag, spelt, typed and explained by the option's field (edenfake._options)."""
    meta = option.metadata
    default = _CLI_DEFAULTS.get(option.name, option.default)
    shown = f" (default {default})" if default not in (None, ()) else ""
    kinds: dict[str, Any] = {"int": int, "float": float, "str": str, "latency": _latency}
    if meta["cli"] == "repeat":
        parser.add_argument(
            _options.flag(option),
            dest=option.name,
            action="append",
            metavar=meta["metavar"],
            help=meta["help"] + "; repeatable",
        )
    else:
        parser.add_argument(
            _options.flag(option),
            dest=option.name,
            type=kinds[meta["cli"]],
            default=default,
            choices=meta["choices"],
            metavar=meta["metavar"],
            help=meta["help"] + shown,
        )


def _flag_named(exc: Exception) -> str:
    """The refusal of an option's value, naming the flag that gave it (``--rate-limit: per_second: ...``)."""
    message = str(exc)
    by_name = {f.name: _options.flag(f) for f in _options.cli_fields(_options.FakeOptions)}
    named = getattr(exc, "option", None) or next((n for n in by_name if message.startswith(f"{n} ")), None)
    return f"{by_name[named]}: {message}" if named in by_name else message


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "serve":
        return _serve(args)
    if args.command == "validate":
        return _validate(args)
    if args.command == "record":
        return _record(args)
    if args.command == "drift":
        return _drift(args)
    if args.command == "docs":
        from edenfake import _docs

        return _docs.run(args, parser)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _validate(args: argparse.Namespace) -> int:
    from edenfake import _validate

    return _validate.run(args)


def _serve(args: argparse.Namespace) -> int:
    from edenfake.catalog import Catalog
    from edenfake.fake import EdenFake

    try:
        catalog = Catalog.load(args.catalog, replace=args.replace_catalog) if args.catalog else None
    except CatalogError as exc:
        print(f"edenfake: {exc}", file=sys.stderr)
        return 2
    chosen = {f.name: getattr(args, f.name) for f in _options.cli_fields(_options.FakeOptions)}
    chosen["allowed_hosts"] = chosen["allowed_hosts"] or ()
    try:
        fake = EdenFake(_options.FakeOptions(**{**chosen, "catalog": catalog}))
    except (TypeError, ValueError) as exc:
        print(f"edenfake: {_flag_named(exc)}", file=sys.stderr)
        return 2
    # Never echo a configured token: the example names a placeholder instead.
    token = "$EDEN_TOKEN" if args.tokens else "test-token"

    def banner(url: str) -> str:
        return (
            f"edenfake serving the Eden AI image API at {url} (OpenAI base_url: {url}/v3); Ctrl-C stops it\n"
            f'try: curl -s {url}/v3/images/generations -H "Authorization: Bearer {token}" '
            '-H \'Content-Type: application/json\' -d \'{"model": "openai/gpt-image-1", "prompt": "a red fox"}\'\n'
            f"console (journal, money, controls, catalog): {url}/_edenfake/"
            f"{'#token=<admin token>' if args.admin_token else ''}"
        )

    warning = (
        None
        if args.admin_token is not None
        else "anyone who reaches port {port} can drive the admin API (/_edenfake/: faults, credits, clock, the "
        "journal). Pass --admin-token TOKEN to require a token for it."
    )
    # Everything built so far lives as long as the server: keep it out of the collector's full passes.
    gc.collect()
    gc.freeze()
    return _run(args, fake, banner, warning, "edenfake stopped", loop=args.loop, http=args.http)


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
    print ``closing_line`` (a string or a callable giving one) once, however it stops."""
    from edenfake.server import bind, make_server

    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"edenfake: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]
    if warning is not None and not ipaddress.ip_address(host).is_loopback:
        shown_warning = warning.format(port=port)
        print(f"edenfake: warning: listening on {host}, beyond this machine: {shown_warning}", file=sys.stderr)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    if not args.quiet:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger = logging.getLogger("edenfake")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    stopped: list[bool] = []

    def closing() -> None:
        if not stopped:
            stopped.append(True)
            print(closing_line() if callable(closing_line) else closing_line, flush=True)

    server = make_server(fake, app=app, on_started=lambda: print(banner(url), flush=True), on_stopped=closing, **config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT that stopped it, once it has shut down
        pass
    finally:
        sock.close()
        if after is not None:
            after()
        closing()
    return 0


def _record(args: argparse.Namespace) -> int:
    from edenfake.cassettes.recording import Recording, Upstream, describe_line, recording_app
    from edenfake.cassettes.writing import Writer
    from edenfake.fake import EdenFake

    try:
        upstream = Upstream(args.upstream, timeout=args.timeout)
        writer = Writer(args.cassette)
    except (OSError, ValueError) as exc:
        print(f"edenfake record: {exc}", file=sys.stderr)
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
    )


def _drift(args: argparse.Namespace) -> int:
    from edenfake.drift import command

    return command.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
