"""``edenfake docs``: the documentation an installed edenfake points to, and the reference tables rendered from
the code and the contracts (the site's build and the command share them)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from edenfake import _docs, _options, _schemas, cli
from tests.helpers import run_python

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def edenfake(*args: str) -> tuple[int, str, str]:
    done = run_python("-m", "edenfake", *args)
    return done.returncode, done.stdout, done.stderr


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def page(topic: str) -> str:
    return next(p for p in _docs.pages() if p.topic == topic).markdown(cli._parser())


def test_the_list_names_every_page_once_with_its_title() -> None:
    status, out, err = edenfake("docs")
    assert status == 0 and err == ""
    lines = out.splitlines()
    files = sorted(DOCS.rglob("*.md"))
    assert len(lines) == len(files)
    topics = [line.split()[0] for line in lines]
    assert len(set(topics)) == len(topics), "each page's topic names it alone"
    assert topics[0] == "index"
    titles = {f.stem: f.read_text(encoding="utf-8").splitlines()[0].removeprefix("# ") for f in files}
    for line in lines:
        topic, title = line.split(maxsplit=1)
        assert title == titles[topic]


def test_every_page_is_in_the_sites_navigation() -> None:
    nav = re.findall(r"^\s+- (?:[^:\n]+: )?(\S+\.md)$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.M)
    assert sorted(nav) == sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))


def test_a_topic_prints_its_page_with_the_tables_filled_in(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = edenfake("docs", "drift")
    assert status == 0
    assert out.startswith("# Check drift\n")
    assert "<!-- edenfake:" not in out
    from edenfake.drift.kinds import KINDS

    for kind in KINDS.values():
        assert f"| `{kind.name}` | {kind.summary}" in out
    assert in_process(capsys, "docs", "how-to/drift")[1] == out, "a page's path names it too"
    assert "<!-- not run" not in out, "the notes for the test that runs the examples are left out"


def test_an_unknown_topic_is_one_line_naming_the_topics(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = in_process(capsys, "docs", "nope\x1b[31m" + "x" * 500)
    assert status == 2 and out == ""
    assert len(err.splitlines()) == 1
    assert "\x1b" not in err and "x" * 100 not in err, "the echo is escaped and cut"
    for p in _docs.pages():
        assert p.topic in err


def test_the_options_reference_has_every_option_with_its_flag_and_default() -> None:
    text = page("options")
    for kind in (_options.FakeOptions, _options.MockOptions, _options.ServeOptions, _options.MarkerOptions):
        for f in dataclasses.fields(kind):
            assert f"| `{f.name}` |" in text, f.name
    for f in _options.cli_fields(_options.ServeOptions):
        assert f"`{_options.flag(f)}" in text
    assert "| `max_body_bytes` | `1048576` (1 MiB) | `--max-body-bytes BYTES` |" in text


def test_the_cli_reference_has_every_subcommand_and_flag() -> None:
    text = page("cli")
    parser = cli._parser()
    for name, sub in _docs._subcommands(parser).items():
        assert f"### `edenfake {name}`" in text
        for action in sub._actions:
            for spelled in action.option_strings:
                if spelled not in ("-h", "--help"):
                    assert f"`{spelled}" in text, (name, spelled)


def test_the_route_references_have_every_operation_of_the_contract() -> None:
    admin, routes = page("admin-api"), page("routes")
    for path, item in _schemas.resolve("openapi")["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict):
                where = admin if "admin" in operation["tags"] else routes
                assert f"### `{method.upper()} {path}`" in where
    # the bounds come from contracts/admin.schema.json
    assert "| `per_second` (required) | integer or null, >= 1, <= 1000000 |" in admin


def test_the_fixtures_reference_has_both_fixtures_and_the_plugins_options() -> None:
    text = page("fixtures")
    for name in ("`edenfake`", "`edenfake_server`", "`--edenfake-record`", "`--edenfake-upstream`", "`fail(what"):
        assert name in text


def test_an_unknown_generated_table_fails_the_build() -> None:
    with pytest.raises(ValueError, match="unknown generated table 'nope'; known: cli, drift-kinds"):
        _docs.expand("<!-- edenfake: nope -->", cli._parser())


def test_the_wheel_ships_the_pages_where_edenfake_docs_reads_them() -> None:
    # An installed edenfake has no docs/ beside it: the wheel maps docs/ into the package (building a wheel
    # takes too long for the suite; the report of the change records a run from a built wheel).
    project = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    shipped = project.split("[tool.hatch.build.targets.wheel.force-include]", 1)[1].split("\n[", 1)[0]
    assert '\n"docs" = "edenfake/_documentation"\n' in shipped
    assert "_documentation" in Path(_docs.__file__).read_text(encoding="utf-8")


def test_nothing_in_the_package_points_a_user_at_a_file_of_the_checkout() -> None:
    pointers = []
    for path in (ROOT / "edenfake").rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"(?<![\w/])docs/[\w/-]+\.md", line):
                pointers.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert pointers == [], "point users at `edenfake docs TOPIC` instead"


def test_the_catalog_reference_lists_every_built_in_model_and_region() -> None:
    from edenfake.catalog import Catalog

    text = page("catalog")
    catalog = Catalog.default()
    for model in catalog:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{model.id}` |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == ("yes" if model.edits else "no") and cells[2] == ", ".join(model.regions), row
        assert cells[3] == str(model.n_max), row
    for code, region in catalog.regions.by_code.items():
        assert f"| `{code}` | {region['name']} |" in text
    assert "`api.eu.edenai.run`" in text


def test_the_routes_reference_has_each_answer_header_the_contract_defines() -> None:
    text = page("routes")
    headers = _schemas.resolve("openapi")["components"]["headers"]
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(headers)
    for name, header in headers.items():
        assert f"| `{name}` | string | {header['description'][:60]}" in text


def test_the_fixtures_reference_lists_every_fixture_of_the_plugin_and_its_ini_options() -> None:
    from edenfake import plugin

    text = page("fixtures")
    public = [n for n in vars(plugin) if not n.startswith("_") and _docs._is_fixture(getattr(plugin, n))]
    assert {"edenfake", "edenfake_server"} <= set(public)
    for name in public:
        assert f"| `{name}` | " in text, name
    declared = _docs._Options()
    plugin.pytest_addoption(declared)  # type: ignore[arg-type]
    for name, _ in declared.declared:
        assert f"| `{name}` |" in text, name
