"""The acceptor (edenfake._acceptor) decides every contract exactly as jsonschema does: it is what lets a
conforming request skip jsonschema, so a document it accepts that jsonschema refuses would be a request the
fake wrongly answers with 200, and a valid one it refuses only costs time. Both directions are checked, on
every contract and every definition in them, with documents near the valid ones (the strategies' requests and
answers, the catalog, mutated a step at a time) and arbitrary JSON."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edenfake import catalog, contracts
from edenfake import strategies as es
from edenfake._acceptor import acceptor
from edenfake._schemas import CONTRACTS, load_file
from tests.helpers import examples


def _targets() -> list[tuple[str, str]]:
    found = []
    for name, filename in CONTRACTS.items():
        found.append((name, ""))
        for definition in load_file(filename).get("$defs", {}):
            found.append((name, f"/$defs/{definition}"))
    return found


TARGETS = _targets()


def _leaves() -> list[Any]:
    """Values the contracts name (const, enum, bounds and one past them), so mutations hit the rules' edges."""
    found: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("const",):
                    found.append(value)
                elif key == "enum" and isinstance(value, list):
                    found.extend(value)
                elif key in ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"):
                    if isinstance(value, (int, float)):
                        found.extend([value, value - 1, value + 1, float(value)])
                elif key == "properties" and isinstance(value, dict):
                    found.extend(value)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for filename in CONTRACTS.values():
        walk(load_file(filename))
    unique: dict[str, Any] = {}
    for value in [*found, True, False, None, 0, 1, 1.0, -1, 0.5, "", "x", [], {}]:
        unique.setdefault(json.dumps(value, sort_keys=True) + type(value).__name__, value)
    return list(unique.values())


LEAVES = _leaves()
KEYS = sorted({v for v in LEAVES if isinstance(v, str)} | {"model", "prompt", "kind", "status", "x"})

json_values = st.recursive(
    st.sampled_from(LEAVES)
    | st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=16,
)


@st.composite
def _mutated(draw: st.DrawFn, seed: Any) -> Any:
    """``seed`` changed at a few places: a value replaced, a key dropped or added, a list item appended."""
    doc = copy.deepcopy(seed)
    for _ in range(draw(st.integers(0, 3))):
        path: list[Any] = []
        node = doc
        while isinstance(node, (dict, list)) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
            path.append(key)
            node = node[key]
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if not path:
            if isinstance(doc, dict) and action == "add":
                doc[draw(st.sampled_from(KEYS))] = draw(json_values)
            elif action == "replace":
                doc = draw(json_values)
            continue
        last = path[-1]
        if action == "replace":
            parent[last] = draw(json_values)
        elif action == "drop" and isinstance(parent, dict):
            del parent[last]
        elif isinstance(node, dict):
            node[draw(st.sampled_from(KEYS))] = draw(json_values)
        elif isinstance(node, list):
            node.append(draw(json_values))
    return doc


def _seeds() -> st.SearchStrategy[tuple[str, Any]]:
    """(contract, a document valid for it)."""
    return st.one_of(
        st.tuples(st.just("generation-request"), es.generation_requests()),
        st.tuples(st.just("edit-request"), es.edit_requests()),
        st.tuples(st.just("image-response"), es.image_responses()),
        st.tuples(st.just("errors"), es.error_bodies().map(lambda pair: pair[1])),
        st.tuples(st.just("catalog"), st.sampled_from(_small_catalogs())),
    )


def _small_catalogs() -> list[Any]:
    """The built-in catalog cut to each of its models alone (the whole one is slow to check 300 times)."""
    data = catalog._default_data()
    return [{**data, "models": {model: entry}} for model, entry in data["models"].items()]


SEEDS = _seeds()


def _jsonschema_finds_nothing(name: str, pointer: str, doc: Any) -> bool:
    return not list(contracts.validator(name + (f"#{pointer}" if pointer else "")).iter_errors(doc))


def _agree(name: str, pointer: str, doc: Any) -> None:
    accepts = acceptor(CONTRACTS[name], pointer)
    assert accepts is not None, f"{name}#{pointer} has no acceptor: every request would need jsonschema"
    expected = _jsonschema_finds_nothing(name, pointer, doc)
    assert accepts(doc) == expected, f"{name}#{pointer}: acceptor {accepts(doc)}, jsonschema {expected}: {doc!r:.400}"


def test_every_contract_and_definition_has_an_acceptor() -> None:
    missing = [f"{name}#{pointer}" for name, pointer in TARGETS if acceptor(CONTRACTS[name], pointer) is None]
    assert not missing


@settings(max_examples=examples(60, 2000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_it_agrees_with_jsonschema_near_valid_documents(data: st.DataObject) -> None:
    name, seed = data.draw(SEEDS)
    assert acceptor(CONTRACTS[name])(seed), f"a valid {name} document needs jsonschema: {seed!r:.300}"
    _agree(name, "", data.draw(_mutated(seed)))


@settings(max_examples=examples(60, 2000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TARGETS), json_values)
def test_it_agrees_with_jsonschema_on_any_json(target: tuple[str, str], doc: Any) -> None:
    _agree(*target, doc)


@pytest.mark.parametrize(
    ("name", "pointer", "doc"),
    [
        ("admin", "/$defs/FaultKind", 429),
        ("admin", "/$defs/FaultKind", 429.0),  # JSON Schema counts 429.0 as the integer 429
        ("admin", "/$defs/FaultKind", 429.5),
        ("cassette", "/$defs/Response/properties/status", 200.0),  # a cassette's too
        ("admin", "/$defs/FaultKind", True),  # true is not 1, nor a status
        ("generation-request", "", {"model": "openai/dall-e-2", "prompt": "p", "n": 2.0}),  # 2.0 is an integer
        ("generation-request", "", {"model": "openai/dall-e-2", "prompt": "p", "n": True}),
        ("generation-request", "", {"model": "openai/dall-e-2", "prompt": ""}),
        (
            "generation-request",
            "",
            {"model": "openai/dall-e-2", "prompt": "p", "extra_headers": {"aUtHoRiZaTiOn": "x"}},
        ),
        ("generation-request", "", {"model": "openai/dall-e-2", "prompt": "p", "extra_headers": {"X-Trace": "x"}}),
        ("generation-request", "", {"model": "dall-e-2", "prompt": "p"}),
        ("catalog", "/properties/answer_extra_fields", ["a", "b", "a"]),  # uniqueItems
        ("catalog", "/properties/answer_extra_fields", [f"field{i}" for i in range(100)]),
        ("catalog", "/properties/answer_extra_fields", [1, 1.0]),
        ("catalog", "/properties/answer_extra_fields", [True, 1]),
    ],
)
def test_it_agrees_at_the_edges_json_schema_draws(name: str, pointer: str, doc: Any) -> None:
    _agree(name, pointer, doc)


@pytest.mark.parametrize("doc", [float("nan"), (1, 2), {1: "x"}, {"model": math.inf}])
def test_what_is_not_json_goes_to_jsonschema(doc: Any) -> None:
    # not JSON's own types: the acceptor never claims them valid; jsonschema decides
    assert acceptor(CONTRACTS["generation-request"])(doc) is False


def test_a_valid_request_is_judged_without_importing_jsonschema() -> None:
    import subprocess
    import sys

    script = (
        "import sys, json\n"
        "from edenfake import EdenFake\n"
        "import edenfake\n"
        "with edenfake.mock() as eden:\n"
        "    import httpx\n"
        "    r = httpx.post('https://api.edenai.run/v3/images/generations', headers={'Authorization': 'Bearer t'},\n"
        "                   json={'model': 'openai/dall-e-2', 'prompt': 'a fox', 'size': '256x256'})\n"
        "    assert r.status_code == 200, r.text\n"
        "    print(json.dumps('jsonschema' in sys.modules))\n"
        "    r = httpx.post('https://api.edenai.run/v3/images/generations', headers={'Authorization': 'Bearer t'},\n"
        "                   json={'model': 'openai/dall-e-2', 'prompt': ''})\n"
        "    assert r.status_code == 422 and r.json()['detail'][0]['loc'] == ['body', 'prompt'], r.text\n"
        "    print(json.dumps('jsonschema' in sys.modules))\n"
    )
    found = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert found.stdout.split() == ["false", "true"]  # needed only to explain the refusal
