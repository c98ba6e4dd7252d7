"""Door 3: the command line. ``edenfake serve`` runs the fake for local development."""

from __future__ import annotations

import argparse
import gc
import ipaddress
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edenfake import __version__, _options
from edenfake.errors import CatalogError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edenfake", description="A fake Eden AI image API for offline work.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the fake server (loopback by default)")
    for option in _options.OPTIONS:
        if option.cli is not None:
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
    return parser


#: the CLI's own defaults where they differ from the library's
_CLI_DEFAULTS = {"port": 8000}


def _latency(text: str) -> float | tuple[float, float]:
    low, sep, high = text.partition(",")
    return (float(low), float(high)) if sep else float(text)


def _add_option(parser: argparse.ArgumentParser, option: _options.Option) -> None:
    flag = "--" + ("token" if option.name == "tokens" else option.name.replace("_", "-"))
    default = _CLI_DEFAULTS.get(option.name, option.default)
    shown = f" (default {default})" if default not in (None, ()) else ""
    kinds: dict[str, Any] = {"int": int, "float": float, "str": str, "latency": _latency}
    if option.cli == "tokens":
        parser.add_argument(
            flag, dest=option.name, action="append", metavar=option.metavar, help=option.help + "; repeatable"
        )
    else:
        parser.add_argument(
            flag,
            dest=option.name,
            type=kinds[option.cli or "str"],
            default=default,
            metavar=option.metavar,
            help=option.help + shown,
        )


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
    return 2  # pragma: no cover - argparse rejects unknown commands


def _documents(text: str) -> list[tuple[int | None, object]]:
    """One JSON document, or JSON Lines (blank lines skipped); ValueError when neither."""
    try:
        return [(None, json.loads(text))]
    except ValueError:
        pass
    found: list[tuple[int | None, object]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                found.append((number, json.loads(line)))
            except ValueError as exc:
                raise ValueError(f"line {number} is not JSON: {exc}") from None
    if not found:
        raise ValueError("no JSON document")
    return found


def _guess(document: object) -> str:
    if isinstance(document, dict):
        if {"method", "path", "status"} <= document.keys():
            return "exchange"
        if "data" in document:
            return "response"
        if "detail" in document:
            return "error"
        if "images" in document:
            return "edit-request"
    return "request"


def _validate(args: argparse.Namespace) -> int:
    from edenfake import contracts

    worst = 0
    for name in args.files:
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
            documents = _documents(text)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            print(f"{name}: cannot read: {exc}", file=sys.stderr)
            worst = 2
            continue
        for line, document in documents:
            where = f"{name}:{line}" if line is not None else name
            kind = args.kind if args.kind != "auto" else _guess(document)
            try:
                problems = _check(contracts, kind, document, args.status)
            except KeyError as exc:
                print(f"{where}: {exc.args[0]}", file=sys.stderr)
                worst = 2
                continue
            if problems:
                worst = max(worst, 1)
                for problem in problems:
                    print(f"{where}: {problem}")
            else:
                print(f"{where}: ok ({kind})")
    return worst


def _check(contracts: Any, kind: str, document: Any, status: int | None) -> list[Any]:
    if kind == "exchange":
        if not isinstance(document, dict) or not {"method", "path", "status"} <= document.keys():
            raise KeyError("an exchange needs method, path and status (and body)")
        media = document.get("media_type", "application/json")
        return list(
            contracts.exchange_violations(
                document["method"], document["path"], int(document["status"]), document.get("body"), media_type=media
            )
        )
    if kind == "error":
        if status is not None:
            definition = contracts.error_definition(status)
            return list(contracts.violations(f"errors#/$defs/{definition}", document))
        return list(contracts.violations("errors", document))
    names = {"request": "generation-request", "edit-request": "edit-request", "response": "image-response"}
    return list(contracts.violations(names[kind], document))


def _serve(args: argparse.Namespace) -> int:
    from edenfake.catalog import Catalog
    from edenfake.fake import EdenFake
    from edenfake.server import bind, make_server

    try:
        catalog = Catalog.load(args.catalog, replace=args.replace_catalog) if args.catalog else None
    except CatalogError as exc:
        print(f"edenfake: {exc}", file=sys.stderr)
        return 2
    chosen = {o.name: getattr(args, o.name) for o in _options.OPTIONS if o.cli is not None and o.door == _options.FAKE}
    try:
        fake = EdenFake(**{**chosen, "catalog": catalog})
    except ValueError as exc:
        print(f"edenfake: {exc}", file=sys.stderr)
        return 2
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"edenfake: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]
    if not ipaddress.ip_address(host).is_loopback and args.admin_token is None:
        print(
            f"edenfake: warning: listening on {host}, beyond this machine: anyone who reaches port {port} can drive "
            "the admin API (/_edenfake/: faults, credits, clock, the journal). Pass --admin-token TOKEN to require "
            "a token for it.",
            file=sys.stderr,
            flush=True,
        )
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    if not args.quiet:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger = logging.getLogger("edenfake")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    # Never echo a configured token: the example names a placeholder instead.
    token = "$EDEN_TOKEN" if args.tokens else "test-token"
    banner = (
        f"edenfake serving the Eden AI image API at {url} (OpenAI base_url: {url}/v3); Ctrl-C stops it\n"
        f'try: curl -s {url}/v3/images/generations -H "Authorization: Bearer {token}" '
        '-H \'Content-Type: application/json\' -d \'{"model": "openai/gpt-image-1", "prompt": "a red fox"}\'\n'
        f"console (journal, money, controls, catalog): {url}/_edenfake/"
        f"{'#token=<admin token>' if args.admin_token else ''}"
    )
    stopped: list[bool] = []

    def closing() -> None:
        if not stopped:
            stopped.append(True)
            print("edenfake stopped", flush=True)

    server = make_server(
        fake, on_started=lambda: print(banner, flush=True), on_stopped=closing, loop=args.loop, http=args.http
    )
    # Everything built so far lives as long as the server: keep it out of the collector's full passes.
    gc.collect()
    gc.freeze()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT that stopped it, once it has shut down
        pass
    finally:
        sock.close()
        closing()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
