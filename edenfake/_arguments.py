"""The command line's arguments: how each option's text becomes its value, and how a refusal is said.

Every refusal is one line on stderr naming the flag as typed and the rule, exit status 2 (an unknown flag adds
its subcommand's usage). The rules are the options' own (:mod:`edenfake._options`, the contracts), checked where
the Python API checks them; this module only words them for a command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import re
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from edenfake import _options
from edenfake._redact import clip, one_line

__all__ = [
    "LINE_CHARS",
    "Parser",
    "Refused",
    "add_option",
    "as_int",
    "as_seconds",
    "as_text",
    "subcommand",
    "unknown",
    "worded",
]

#: a refusal's line is cut to this many characters (a value typed may be anything, of any length)
LINE_CHARS = 300
#: a value typed is repeated in a refusal up to this many characters
VALUE_CHARS = 60
#: options whose values are never repeated (a refusal, the banner)
_SECRET = frozenset({"tokens", "admin_token"})


class Refused(Exception):
    """An argument the command cannot take: ``message`` said on one line under ``prog``; ``usage`` too for an
    unknown flag."""

    def __init__(self, prog: str, message: str, *, usage: str | None = None) -> None:
        super().__init__(message)
        self.prog = prog
        self.message = message
        self.usage = usage

    def report(self) -> int:
        if self.usage:
            print(self.usage.rstrip("\n"), file=sys.stderr)
        print(one_line(f"{self.prog}: {self.message}", LINE_CHARS), file=sys.stderr)
        return 2


#: argparse's wording of an error from a type converter: ``argument --port: must be ...``
_CONVERTED = re.compile(r"^argument (?P<flag>-[^ :/]+)(?:/[^:]*)?: (?P<rule>must .*)$", re.S)


class Parser(argparse.ArgumentParser):
    """argparse, its errors raised (one line each, see :class:`Refused`) instead of printed under the usage."""

    #: what was typed for each option, by destination (secrets never kept): what a refusal repeats
    typed: dict[str, str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No abbreviations: `--credit 1` is a misspelling to name (did you mean --credits?), not --credits.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        converted = _CONVERTED.match(message)
        if converted:  # the flag and the rule, as the options' own refusals read
            raise Refused(self.prog, f"{converted['flag']} {converted['rule']}")
        raise Refused(self.prog, f"error: {message}")


#: an integer as a command line gives one: ASCII digits only (int() also takes other digits, "1_000", " 1 ")
_INT = re.compile(r"[+-]?[0-9]{1,30}")
#: a decimal number: what float() takes less its NaN, infinities, underscores and non-ASCII digits
_FLOAT = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})(?:[eE][+-]?[0-9]{1,4})?")


def echo(text: str) -> str:
    return repr(clip(text, VALUE_CHARS))  # repr escapes what is not printable


def as_int(text: str) -> int:
    if not _INT.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be an integer (got {echo(text)})")
    return int(text)


def as_float(text: str) -> float:
    if not _FLOAT.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be a finite number (got {echo(text)})")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number (got {echo(text)})")
    return value


def as_latency(text: str) -> float | tuple[float, float]:
    low, sep, high = text.partition(",")
    try:
        return (as_float(low), as_float(high)) if sep else as_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be a finite number of seconds, or LOW,HIGH (got {echo(text)})"
        ) from None


def as_text(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must not be empty (got {echo(text)})")
    return text


def as_seconds(text: str) -> float:
    value = as_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0 (got {echo(text)})")
    return value


#: the options' CLI value types (``cli`` in their metadata) and how a command line's text becomes one
_KINDS: dict[str, Callable[[str], Any]] = {"int": as_int, "float": as_float, "str": str, "latency": as_latency}


#: the CLI's own defaults where they differ from the library's
_CLI_DEFAULTS = {"port": 8000}


def default_shown(value: Any) -> str | None:
    """A default as a user would type it (``3600``, not ``3600.0``; bytes with their MiB), or None: no default."""
    if value is None or value == () or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and value >= _options.MiB and value % _options.MiB == 0:
        return f"{value} = {value // _options.MiB} MiB"
    return str(value)


def _recorded(convert: Callable[[str], Any], name: str, typed: dict[str, str]) -> Callable[[str], Any]:
    """``convert``, keeping the text typed for option ``name`` (a secret's never) for a refusal to repeat."""

    def converted(text: str) -> Any:
        if name not in _SECRET:
            typed[name] = text
        return convert(text)

    return converted


def add_option(parser: argparse.ArgumentParser, option: dataclasses.Field[Any], typed: dict[str, str]) -> None:
    """One flag, spelt, typed and explained by the option's field (edenfake._options)."""
    meta = option.metadata
    default = _CLI_DEFAULTS.get(option.name, option.default)
    shown = default_shown(default)
    explained = meta["help"].replace("%", "%%") + (f" (default {shown})" if shown else "")
    metavar = meta["metavar"] or option.name.rsplit("_", 1)[-1].upper()
    if meta["cli"] == "repeat":
        parser.add_argument(
            _options.flag(option),
            dest=option.name,
            action="append",
            type=_recorded(str, option.name, typed),
            metavar=metavar,
            help=explained + "; repeatable",
        )
    else:
        parser.add_argument(
            _options.flag(option),
            dest=option.name,
            type=_recorded(_KINDS[meta["cli"]], option.name, typed),
            default=default,
            choices=meta["choices"],
            metavar=metavar,
            help=explained,
        )


#: options whose setter checks another option too: (option named, field refused) -> the option given that value
_FIELD_OPTIONS = {("latency", "seed"): "fault_seed"}
#: how a command line says what the contracts' messages say
_PHRASES = (
    ("Input should be greater than or equal to", "must be at least"),
    ("Input should be less than or equal to", "must be at most"),
    ("Input should be", "must be"),
    ("must be non-empty strings", "must not be empty or spaces"),
    ("replay=DIR", "--replay DIR"),
    (" (None)", ""),
)
#: the value a refusal repeats, in Python's terms: the text typed is repeated instead
_GOT = re.compile(r",? \(?got .*$", re.S)


def worded(exc: Exception, typed: dict[str, str]) -> str:
    """The refusal of an option's value in command-line terms: the flag as typed, the rule, the text typed
    (``--rate-limit must be at least 1 (got '0')``). Which option it is comes from the refusal itself
    (``InvalidSetting.option``) or from the option's name that starts it."""
    message = str(exc)
    fields = {f.name: f for f in _options.cli_fields(_options.ServeOptions)}
    named = getattr(exc, "option", None) or next((n for n in fields if re.match(rf"{n}[ =]", message)), None)
    if named not in fields:
        return message
    field = getattr(exc, "field", None) or named
    said = rf"(?:{re.escape(field)}|{re.escape(named)})(?:\[[^\]]*\])*: "  # the field, or the option in its place
    rule = re.sub(rf"^(?:{re.escape(named)} |{re.escape(named)}=|{said})", "", message)
    rule = _GOT.sub("", rule)
    for said, meant in _PHRASES:
        rule = rule.replace(said, meant)
    got = typed.get(named)
    rule += f" (got {echo(got)})" if got is not None else ""
    named = _FIELD_OPTIONS.get((named, field), named)
    flag = _options.flag(fields[named])
    return f"{flag} {rule}" if rule.startswith("must") else f"{flag}: {rule}"


def subcommand(parser: argparse.ArgumentParser, name: str | None) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            found: argparse.ArgumentParser = action.choices[name]
            return found
    return parser


def unknown(parser: argparse.ArgumentParser, extra: list[str]) -> Refused:
    """The refusal of arguments no flag takes, with the parser's usage and the closest flag."""
    known = [s for action in parser._actions for s in action.option_strings]
    first = next((word.split("=", 1)[0] for word in extra if word.startswith("-")), None)
    close = difflib.get_close_matches(first, known, n=1, cutoff=0.7) if first else []
    hint = f"; did you mean {close[0]}?" if close else ""
    return Refused(parser.prog, f"error: unrecognized arguments: {' '.join(extra)}{hint}", usage=parser.format_usage())
