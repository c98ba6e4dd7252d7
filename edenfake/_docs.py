"""The documentation as an installed edenfake has it: the pages of ``docs/`` (shipped in the wheel as
``edenfake/_documentation``), the reference tables rendered from the code and the contracts, and the
``edenfake docs [TOPIC]`` command that lists and prints them.

A page asks for a generated table with a comment on a line of its own, ``<!-- edenfake: WHAT ARG -->``; the
documentation site's build (``docs/hooks.py``) and ``edenfake docs`` expand it with :func:`expand`, so the
site, the terminal and the code never disagree.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edenfake import _options, _redact, _schemas

if TYPE_CHECKING:  # the CLI builds its parser with this module: what only a page needs is imported there
    from importlib.abc import Traversable

__all__ = ["Page", "expand", "pages", "run"]

#: ``<!-- edenfake: options FakeOptions -->``, alone on its line
DIRECTIVE = re.compile(r"^<!-- edenfake: (?P<what>[a-z-]+)(?: (?P<arg>[^>]*?))? -->$", re.M)
#: what a page says of an example for the test that runs it, which a reader does not need
NOTES = re.compile(r"^<!-- (?:not run|exits)\b[^>]*-->\n", re.M)
#: the order of the sections, as the site's navigation has them
SECTIONS = ("", "tutorials", "how-to", "reference", "explanation")
#: a topic named on the command line is repeated at most this long
TOPIC_ECHO = 60


@dataclass(frozen=True)
class Page:
    """One page: its topic (the file's name without ``.md``), its title (the first heading) and where it is."""

    topic: str
    title: str
    path: str
    source: Traversable

    def markdown(self, parser: argparse.ArgumentParser) -> str:
        """The page's markdown, its generated tables filled in (``parser``: the CLI's), without the notes its
        examples carry for the test that runs them (``<!-- not run: ... -->``, ``<!-- exits 1 -->``)."""
        return NOTES.sub("", expand(self.source.read_text(encoding="utf-8"), parser))


def root() -> Traversable:
    """Where the pages are: inside the installed package, else ``docs/`` of the source checkout."""
    from importlib import resources

    shipped = resources.files("edenfake") / "_documentation"
    if shipped.is_dir():
        return shipped
    return Path(__file__).resolve().parent.parent / "docs"


def _walk(folder: Traversable, prefix: str = "") -> Iterator[tuple[str, Traversable]]:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            yield from _walk(entry, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".md"):
            yield prefix + entry.name, entry


def pages() -> list[Page]:
    """Every page, in the navigation's order of sections (home, tutorials, how-to, reference, explanation, the
    rest), by file name within a section."""
    found = []
    for path, source in _walk(root()):
        text = source.read_text(encoding="utf-8")
        heading = re.search(r"^# (.+)$", text, re.M)
        topic = path.rsplit("/", 1)[-1].removesuffix(".md")
        found.append(Page(topic, heading[1].strip() if heading else topic, path, source))
    section = {name: i for i, name in enumerate(SECTIONS)}

    def place(page: Page) -> int:
        folder = page.path.rpartition("/")[0]
        return 0 if page.path == "index.md" else section.get(folder, len(SECTIONS)) if folder else len(SECTIONS)

    return sorted(found, key=place)


# --- tables, rendered from the code and the contracts ---------------------------------------------------------


def _cell(value: object) -> str:
    """One table cell: on one line, its pipes escaped, docstrings' ``code`` as markdown's."""
    text = " ".join(str(value).split()).replace("``", "`")
    return text.replace("|", "\\|") or " "


def _table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _code(text: object) -> str:
    return f"`{text}`"


def _default(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= _options.MiB and value % _options.MiB == 0:
        return f"`{value}` ({value // _options.MiB} MiB)"
    return _code(repr(value))


def options_table(arg: str) -> str:
    """The fields of an options class (``FakeOptions``; ``MockOptions new``: only those it adds)."""
    name, _, only = arg.partition(" ")
    kinds = {k.__name__: k for k in (_options.FakeOptions, _options.MockOptions, _options.MarkerOptions)}
    kinds["ServeOptions"] = _options.ServeOptions
    kind = kinds[name]
    inherited = {f.name for f in dataclasses.fields(kind.__mro__[1])} if only == "new" else set()
    rows: list[tuple[object, ...]] = []
    for f in dataclasses.fields(kind):
        if f.name in inherited:
            continue
        meta = f.metadata
        cli = _code(_options.flag(f) + (" " + meta["metavar"] if meta["metavar"] else "")) if meta["cli"] else ""
        if meta["cli"] == "repeat":
            cli += " (repeatable)"
        rows.append((_code(f.name), _default(f.default), cli, "yes" if meta["live"] else "", meta["help"]))
    return _table(("option", "default", "`edenfake serve` flag", "live", "what it does"), rows)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _subcommand_help(parser: argparse.ArgumentParser) -> dict[str, str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._choices_actions}
    return {}


def _help(action: argparse.Action, prog: str) -> str:
    text = action.help or ""
    return text % {**vars(action), "prog": prog} if "%(" in text else text


def cli_reference(arg: str | None, parser: argparse.ArgumentParser) -> str:
    """Each subcommand of ``edenfake`` (or the one named): its usage and a table of its arguments."""
    out = []
    helps = _subcommand_help(parser)
    for name, sub in _subcommands(parser).items():
        if arg and name != arg:
            continue
        rows: list[tuple[object, ...]] = []
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            spelled = ", ".join(action.option_strings) or (action.metavar or action.dest)
            takes = "" if action.nargs == 0 else str(action.metavar or "")
            if action.choices:
                takes = " | ".join(map(str, action.choices))
            rows.append((_code(spelled), takes, _help(action, sub.prog)))
        usage = " ".join(sub.format_usage().split()).removeprefix("usage: ")
        out.append(
            f"### `edenfake {name}`\n\n{sub.description or helps.get(name) or ''}\n\n```text\n{usage}\n```\n\n"
            + _table(("argument", "takes", "what it does"), rows)
        )
    return "\n\n".join(out)


def _schema(ref: str, base: str = "openapi") -> tuple[dict[str, Any], str]:
    """The schema a ``$ref`` names (``admin.schema.json#/$defs/FaultRequest``, or ``#/$defs/X`` within
    contract ``base``), and the contract it is in."""
    by_file = {file: name for name, file in _schemas.CONTRACTS.items()}
    file, _, pointer = ref.partition("#")
    name = by_file[file] if file else base
    return _schemas.resolve(f"{name}#{pointer}"), name


def _rule(schema: dict[str, Any], base: str) -> str:
    """A property's type and bounds, in a few words."""
    if "$ref" in schema:
        found, base = _schema(schema["$ref"], base)
        schema = {**found, **{k: v for k, v in schema.items() if k != "$ref"}}
    kind = schema.get("type", "")
    words = [" or ".join(kind) if isinstance(kind, list) else str(kind)]
    if "oneOf" in schema:
        words = [" or ".join(_rule(s, base) for s in schema["oneOf"])]
    if "enum" in schema:
        words.append("one of " + ", ".join(map(repr, schema["enum"])))
    for key, word in (("minimum", ">="), ("maximum", "<="), ("minLength", "length >="), ("maxLength", "length <=")):
        if key in schema:
            words.append(f"{word} {schema[key]}")
    if "default" in schema:
        words.append(f"default {schema['default']!r}")
    return ", ".join(w for w in words if w)


def _body(operation: dict[str, Any]) -> str:
    content = operation.get("requestBody", {}).get("content", {})
    parts = []
    for media, spec in content.items():
        schema, base = spec.get("schema", {}), "openapi"
        if "$ref" in schema:
            schema, base = _schema(schema["$ref"])
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        rows: list[tuple[object, ...]] = [
            (_code(name) + (" (required)" if name in required else ""), _rule(p, base), p.get("description", ""))
            for name, p in properties.items()
        ]
        table = _table(("field", "type and bounds", "meaning"), rows) if rows else "any JSON object"
        parts.append(f"Body (`{media}`):\n\n{table}")
    return "\n\n".join(parts)


def schema_reference(arg: str | None) -> str:
    """The properties of a contract's schema (``catalog``, ``catalog#/$defs/Model``): type, bounds, meaning."""
    name = arg or "catalog"
    schema = _schemas.resolve(name)
    base = name.partition("#")[0]
    rows: list[tuple[object, ...]] = [
        (_code(key), _rule(p, base), p.get("description", "")) for key, p in schema.get("properties", {}).items()
    ]
    return _table(("key", "type and bounds", "meaning"), rows)


def routes_reference(tag: str | None) -> str:
    """The OpenAPI document's operations (those of ``tag``): summary, parameters, body and statuses."""
    doc = _schemas.resolve("openapi")
    out = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or (tag and tag not in operation.get("tags", ())):
                continue
            parts = [f"### `{method.upper()} {path}`", operation.get("summary", "")]
            if operation.get("description"):
                parts.append(operation["description"])
            params = _schemas.parameters(operation)
            if params:
                rows: list[tuple[object, ...]] = [
                    (_code(p["name"]), p["in"], _rule(p.get("schema", {}), "openapi"), p.get("description", ""))
                    for p in params
                ]
                parts.append(_table(("parameter", "in", "type and bounds", "meaning"), rows))
            body = _body(operation)
            if body:
                parts.append(body)
            statuses = ", ".join(
                f"{status} ({answer.get('description', '')})" if status < "300" else status
                for status, answer in sorted(operation.get("responses", {}).items())
            )
            parts.append(f"Answers: {statuses}.")
            out.append("\n\n".join(p for p in parts if p))
    return "\n\n".join(out)


def headers_reference(arg: str | None) -> str:
    """The answer headers the OpenAPI document defines once (``components/headers``): each one's meaning."""
    headers = _schemas.resolve("openapi").get("components", {}).get("headers", {})
    rows: list[tuple[object, ...]] = [
        (_code(name), _rule(h.get("schema", {}), "openapi"), h.get("description", "")) for name, h in headers.items()
    ]
    return _table(("header", "type", "meaning"), rows)


def drift_kinds(arg: str | None) -> str:
    """The kinds of difference ``edenfake drift`` reports: a table, or (``full``) a section each."""
    try:
        from edenfake.drift.kinds import KINDS
    except ImportError:  # pragma: no cover - the module ships with edenfake; a checkout mid-change may lack it
        return "_The list of kinds is printed by `edenfake drift --explain KIND`._"
    if arg == "full":
        return "\n\n".join(
            f"### `{k.name}`\n\n{k.summary[:1].upper()}{k.summary[1:]}.\n\n{k.explanation}\n\n"
            f"**What to do:** {k.remedy}."
            for k in KINDS.values()
        )
    rows: list[tuple[object, ...]] = [(_code(k.name), k.summary, k.remedy) for k in KINDS.values()]
    return _table(("kind", "what it means", "what to do"), rows)


def models_reference(arg: str | None) -> str:
    """The built-in catalog's models (``regions``: its regions and the hosts that pin each)."""
    from edenfake.catalog import Catalog

    catalog = Catalog.default()
    if arg == "regions":
        regions = catalog.regions.by_code
        rows: list[tuple[object, ...]] = [
            (_code(code), r.get("name", ""), ", ".join(_code(h) for h in r.get("hosts", ())) or "none")
            for code, r in regions.items()
        ]
        return _table(("code", "name", "hosts that pin it"), rows)
    rows = [
        (
            _code(m.id),
            "yes" if m.edits else "no",
            ", ".join(m.regions),
            m.n_max,
            ", ".join(m.qualities) or "none",
            ", ".join(m.sizes[:4]) + (", ..." if len(m.sizes) > 4 else ""),
        )
        for m in catalog
    ]
    return _table(("model", "edits", "regions", "n at most", "qualities", "sizes"), rows)


def _first_paragraph(doc: str | None) -> str:
    import inspect

    return inspect.cleandoc(doc or "").split("\n\n", 1)[0]


def handle_reference(arg: str | None) -> str:
    """The controls a test holds (``Handle``) or the journal's (``Journal``): each member and what it does."""
    import inspect

    from edenfake._core import Core
    from edenfake._handle import Handle
    from edenfake.journal import Journal

    cls: type[Any] = Journal if arg == "Journal" else Handle
    members: dict[str, Any] = dict(inspect.getmembers(cls))
    if cls is Handle:
        members["fail"] = Core.fail
    rows: list[tuple[object, ...]] = []
    for name, member in sorted(members.items()):
        if name.startswith("_") or name in ("record", "size_bytes"):
            continue
        if isinstance(member, property):
            rows.append((_code(name), _first_paragraph(member.__doc__)))
        elif callable(member):
            signature = inspect.signature(member)
            shown = [p.replace(annotation=p.empty) for p in signature.parameters.values() if p.name != "self"]
            plain = signature.replace(parameters=shown, return_annotation=signature.empty)
            rows.append((_code(name + str(plain)), _first_paragraph(member.__doc__)))
    return _table(("member", "what it does"), rows)


class _Options:
    """Stands in for pytest's parser: keeps what the plugin's ``pytest_addoption`` declares."""

    def __init__(self) -> None:
        self.declared: list[tuple[str, dict[str, Any]]] = []

    def getgroup(self, name: str) -> _Options:
        return self

    def addoption(self, name: str, **spec: Any) -> None:
        self.declared.append((name, spec))

    def addini(self, name: str, help: str, **spec: Any) -> None:
        self.declared.append((f"{name} (ini)", {**spec, "help": help, "metavar": spec.get("type") or "string"}))


def _is_fixture(value: object) -> bool:
    """Whether ``value`` is a function ``@pytest.fixture`` made (pytest 8.4 and later, or earlier)."""
    return type(value).__name__ == "FixtureFunctionDefinition" or hasattr(value, "_pytestfixturefunction")


def fixtures_reference(arg: str | None) -> str:
    """The plugin's fixtures (their docstrings) or (``options``) its command-line options."""
    try:
        from edenfake import plugin
    except ImportError:  # pytest is not installed: the plugin is not loaded either
        return "_Install pytest (`pip install pytest`) to use the fixtures; `edenfake docs fixtures` then lists them._"
    if arg == "options":
        declared = _Options()
        plugin.pytest_addoption(declared)  # type: ignore[arg-type]
        rows: list[tuple[object, ...]] = [
            (_code(name), " | ".join(spec.get("choices") or ()) or spec.get("metavar", ""), spec.get("help", ""))
            for name, spec in declared.declared
        ]
        return _table(("option", "takes", "what it does"), rows)
    import inspect

    public = [n for n in vars(plugin) if not n.startswith("_") and _is_fixture(getattr(plugin, n))]
    first = [n for n in ("edenfake", "edenfake_server") if n in public]
    names = first + sorted({*public} - {*first})
    rows = [(_code(n), inspect.cleandoc(getattr(plugin, n).__doc__ or "")) for n in names]
    return _table(("fixture", "what it gives"), rows)


RENDERERS: dict[str, Callable[[str | None], str]] = {
    "drift-kinds": drift_kinds,
    "fixtures": fixtures_reference,
    "handle": handle_reference,
    "headers": headers_reference,
    "models": models_reference,
    "options": lambda arg: options_table(arg or "FakeOptions"),
    "routes": routes_reference,
    "schema": schema_reference,
}


def expand(markdown: str, parser: argparse.ArgumentParser) -> str:
    """``markdown`` with each ``<!-- edenfake: WHAT ARG -->`` line replaced by the table it names (``cli``: the
    subcommands of ``parser``, the CLI's, which imports this module and so hands it over)."""

    def render(m: re.Match[str]) -> str:
        if m["what"] == "cli":
            return cli_reference(m["arg"], parser)
        renderer = RENDERERS.get(m["what"])
        if renderer is None:
            known = ", ".join(sorted([*RENDERERS, "cli"]))
            raise ValueError(f"unknown generated table {m['what']!r}; known: {known}")
        return renderer(m["arg"])

    return DIRECTIVE.sub(render, markdown)


# --- the command -------------------------------------------------------------------------------------------------


def add_parser(sub: Any) -> None:
    """``edenfake docs [TOPIC]`` on the CLI's subcommands."""
    docs = sub.add_parser(
        "docs",
        help="list the documentation's pages, or print one",
        description="With no topic, list the pages of edenfake's documentation (a topic and its title on each "
        "line); with one, print that page as markdown. Exit 2 for an unknown topic.",
    )
    docs.add_argument("topic", nargs="?", metavar="TOPIC", help="a page's topic, as the list shows it")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """``edenfake docs [TOPIC]``: list the pages, or print one (``parser``: the CLI's, for its reference)."""
    found = pages()
    if args.topic is None:
        width = max(len(p.topic) for p in found)
        for each in found:
            print(f"{each.topic:<{width}}  {each.title}")
        return 0
    chosen = {p.topic: p for p in found} | {p.path.removesuffix(".md"): p for p in found}
    page = chosen.get(args.topic)
    if page is None:
        topic = _redact.one_line(args.topic, TOPIC_ECHO)
        print(f"edenfake docs: no topic {topic!r}; topics: {', '.join(p.topic for p in found)}", file=sys.stderr)
        return 2
    sys.stdout.write(page.markdown(parser).rstrip("\n") + "\n")
    return 0
