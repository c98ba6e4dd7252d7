"""The public surface: a small, sorted ``__all__`` whose every name resolves, and a cheap ``import edenfake``."""

from __future__ import annotations

import edenfake
from tests.helpers import run_python


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert edenfake.__all__ == sorted(edenfake.__all__)
    for name in edenfake.__all__:
        assert getattr(edenfake, name) is not None, name


def test_unknown_names_raise_attribute_error() -> None:
    try:
        edenfake.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_import_edenfake_loads_nothing_heavy() -> None:
    heavy = "{'starlette', 'jsonschema', 'PIL', 'respx', 'httpx', 'uvicorn'}"
    code = (
        "import sys, edenfake; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy} or m.startswith('edenfake.')))"
    )
    done = run_python("-c", code)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_the_package_ships_py_typed_and_its_contracts() -> None:
    from importlib.resources import files

    assert files("edenfake").joinpath("py.typed").is_file()
    assert edenfake.contracts.contracts_dir().joinpath("openapi.json").is_file()
