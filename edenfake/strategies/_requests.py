"""Request bodies: valid ones the fake accepts, for each catalog model, and invalid ones labelled with the rule
they break."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import strategies as st

from edenfake import _tags, contracts
from edenfake._redact import clip
from edenfake._regions import served_in
from edenfake.catalog import Catalog, ModelSpec
from edenfake.strategies._files import data_url, image_files

JSON = dict[str, Any]


@dataclass(frozen=True)
class InvalidRequest:
    """A request body that breaks one rule, and how the fake answers it.

    ``status`` is 422 (the contract; ``error`` is the detail ``type`` and ``field`` its ``loc`` after "body"),
    400 (``error`` is the ``error_code``; for the model's own rules it is ``PROVIDER_ERROR`` and ``field`` is the
    ``param``; the catalog's ``refusal_status`` may make those 502)."""

    body: JSON
    rule: str
    field: tuple[str, ...]
    status: int
    error: str


# -- what the contract says ---------------------------------------------------------------------------------


@cache
def _def(name: str) -> JSON:
    return contracts.load(f"generation-request#/$defs/{name}")


def _prompt_bounds() -> tuple[int, int]:
    prompt = _def("prompt")
    return int(prompt["minLength"]), int(prompt["maxLength"])


def _n_bounds() -> tuple[int, int]:
    n = _def("n")
    return int(n["minimum"]), int(n["maximum"])


def _credential_pattern() -> str:
    return str(_def("credentialHeaderName")["pattern"])


def _catalog(catalog: Catalog | None) -> Catalog:
    if catalog is not None and not isinstance(catalog, Catalog):
        hint = f": pass edenfake.Catalog.load({catalog!r})" if isinstance(catalog, str) and len(catalog) < 200 else ""
        raise TypeError(f"catalog= takes an edenfake.Catalog, not {type(catalog).__name__}{hint}")
    return catalog if catalog is not None else Catalog.default()


def model_ids(
    *, catalog: Catalog | None = None, edits: bool = False, region: str | None = None
) -> st.SearchStrategy[str]:
    """The catalog's model ids (only those that edit, with ``edits=True``; only those served in ``region``, e.g.
    ``"eu"`` for requests to the EU host, which refuses the others with 451)."""
    ids = sorted(m.id for m in served_in(_catalog(catalog), region, edits=edits))
    if not ids:
        raise ValueError(f"the catalog serves no {'editing ' if edits else ''}model in region {region!r}")
    return st.sampled_from(ids)


SAFE_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
_HEADER_NAMES = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=20).filter(
    lambda name: re.fullmatch(_credential_pattern(), name) is None
)


#: tag keys and values within the contract's rules (``$defs/tags``): keys in lower case, so none is a duplicate
_TAG_CHARS = string.ascii_lowercase + string.digits + "-_.:/"
_TAG_KEYS = st.text(alphabet=_TAG_CHARS, min_size=1, max_size=min(12, _tags.rules().key_max)).filter(
    lambda key: not key.startswith(_tags.rules().reserved)
)
_TAG_VALUES = st.text(alphabet=_TAG_CHARS + string.ascii_uppercase, min_size=1, max_size=20)


def _prompts(limit: int) -> st.SearchStrategy[str]:
    low, high = _prompt_bounds()
    # Up to a few hundred characters keeps examples fast; the bounds themselves are tested as invalid cases.
    return st.text(alphabet=st.characters(codec="utf-8"), min_size=low, max_size=min(high, limit, 300))


def _optional(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.none() | st.sampled_from(values) if values else st.none()


def _request_for(model: ModelSpec, *, edit: bool = False) -> st.SearchStrategy[JSON]:
    """Valid fields for ``model``: its sizes, qualities, formats and limits from the catalog."""
    low, _ = _n_bounds()
    e = model.entry
    optional: dict[str, st.SearchStrategy[Any]] = {
        "n": st.none() | st.integers(low, model.n_max),
        "size": _optional([*model.sizes, *model.aspect_ratios]),
        "user": st.none() | SAFE_TEXT,
        "metadata": st.none() | st.dictionaries(SAFE_TEXT, st.integers() | SAFE_TEXT, max_size=3),
        "extra_headers": st.none() | st.dictionaries(_HEADER_NAMES, SAFE_TEXT, max_size=3),
        "tags": st.none() | st.dictionaries(_TAG_KEYS, _TAG_VALUES, max_size=3),
        "output_format": _optional(model.output_formats),
    }
    if model.qualities:
        optional["quality"] = _optional(model.qualities)
    if e["honours_response_format"]:
        optional["response_format"] = _optional(e["response_formats"])
    if e.get("backgrounds"):
        optional["background"] = _optional(e["backgrounds"])
    required: dict[str, st.SearchStrategy[Any]] = {
        "model": st.just(model.id),
        "prompt": _prompts(model.prompt_max or _prompt_bounds()[1]),
    }
    if edit:
        sides = st.integers(1, 64)
        sizes = sides.map(lambda n: (n, n)) if e.get("square_inputs_only") else st.tuples(sides, sides)
        required["images"] = st.lists(
            image_files(formats=st.just("png"), sizes=sizes).map(lambda data: {"image_url": data_url(data)}),
            min_size=1,
            max_size=min(2, e.get("max_input_images", 16)),
        )
    # A transparent background needs a format with alpha: the catalog's rule, applied by ModelSpec.plan.
    return st.fixed_dictionaries(required, optional=optional).filter(
        lambda r: not (r.get("background") == "transparent" and r.get("output_format") == "jpeg")
    )


def generation_requests(
    *, models: st.SearchStrategy[str] | None = None, catalog: Catalog | None = None
) -> st.SearchStrategy[JSON]:
    """Generation request bodies the fake answers with 200, for ``models`` (default: every catalog model)."""
    cat = _catalog(catalog)
    picked = _models(models)
    chosen = picked if picked is not None else model_ids(catalog=cat)
    return chosen.flatmap(lambda mid: _request_for(_spec(cat, mid)))


def edit_requests(
    *, models: st.SearchStrategy[str] | None = None, catalog: Catalog | None = None
) -> st.SearchStrategy[JSON]:
    """JSON edit request bodies (images as data: URLs) the fake answers with 200."""
    cat = _catalog(catalog)
    picked = _models(models)
    chosen = picked if picked is not None else model_ids(catalog=cat, edits=True)
    return chosen.flatmap(lambda mid: _request_for(_spec(cat, mid, edits=True), edit=True))


def _models(models: Any) -> st.SearchStrategy[str] | None:
    # Options take strategies, never plain values (hypothesis' own style): say so instead of failing later.
    if models is None or isinstance(models, st.SearchStrategy):
        return models
    shown: object
    if isinstance(models, str):
        shown, hint = clip(models, 60), f"st.just({clip(models, 60)!r})"
    elif isinstance(models, (list, tuple, set)) and models:
        shown = list(models)[:3]
        hint = f"st.sampled_from({shown!r})"
    else:
        shown, hint = clip(repr(models), 60), "st.sampled_from([...]) with at least one model id"
    raise TypeError(
        f"models= takes a hypothesis strategy, not {type(models).__name__} {shown!r}: "
        f"pass {hint} (with `from hypothesis import strategies as st`)"
    )


def _spec(catalog: Catalog, model_id: str, *, edits: bool = False) -> ModelSpec:
    spec = catalog.get(model_id)
    if spec is None:
        raise ValueError(f"{model_id!r} is not in the catalog; use model_ids() or a catalog that has it")
    if edits and not spec.edits:
        raise ValueError(f"{model_id!r} does not edit images; use model_ids(edits=True) or a model that does")
    return spec


# -- invalid requests ---------------------------------------------------------------------------------------


def _breaking(
    base: st.SearchStrategy[JSON],
    rule: str,
    field: tuple[str, ...],
    status: int,
    error: str,
    change: Callable[[JSON, Any], JSON],
    values: st.SearchStrategy[Any],
) -> st.SearchStrategy[InvalidRequest]:
    return st.builds(
        lambda body, value: InvalidRequest(change(dict(body), value), rule, field, status, error), base, values
    )


def _set(name: str) -> Callable[[JSON, Any], JSON]:
    def change(body: JSON, value: Any) -> JSON:
        body[name] = value
        return body

    return change


def _drop(name: str) -> Callable[[JSON, Any], JSON]:
    def change(body: JSON, value: Any) -> JSON:
        body.pop(name, None)
        return body

    return change


_WRONG_TYPES: dict[str, st.SearchStrategy[Any]] = {
    "string": st.integers() | st.booleans() | st.lists(st.integers(), max_size=2),
    "integer": st.text(max_size=3) | st.booleans(),
    "object": st.integers() | st.text(max_size=3) | st.lists(st.integers(), max_size=2),
}
_TYPE_ERRORS = {"string": "string_type", "integer": "int_type", "object": "dict_type"}


def invalid_generation_requests(
    *, models: st.SearchStrategy[str] | None = None, catalog: Catalog | None = None
) -> st.SearchStrategy[InvalidRequest]:
    """Generation requests that each break one rule, labelled with the rule, the field and the answer."""
    cat = _catalog(catalog)
    picked = _models(models)
    chosen = picked if picked is not None else model_ids(catalog=cat)
    base = generation_requests(models=chosen, catalog=cat)
    low, high = _prompt_bounds()
    n_low, n_high = _n_bounds()
    cases = [
        _breaking(
            base, "prompt too short", ("prompt",), 422, "string_too_short", _set("prompt"), st.just("x" * (low - 1))
        ),
        _breaking(
            base, "prompt too long", ("prompt",), 422, "string_too_long", _set("prompt"), st.just("x" * (high + 1))
        ),
        _breaking(
            base, "n below minimum", ("n",), 422, "greater_than_equal", _set("n"), st.integers(max_value=n_low - 1)
        ),
        _breaking(
            base, "n above maximum", ("n",), 422, "less_than_equal", _set("n"), st.integers(min_value=n_high + 1)
        ),
        _breaking(base, "model missing", ("model",), 422, "missing", _drop("model"), st.none()),
        _breaking(base, "prompt missing", ("prompt",), 422, "missing", _drop("prompt"), st.none()),
        _breaking(
            base,
            "model not provider/model",
            ("model",),
            422,
            "string_pattern_mismatch",
            _set("model"),
            st.text(alphabet=string.ascii_lowercase + "-", min_size=1, max_size=12),
        ),
        st.builds(
            lambda body, name: InvalidRequest(
                {**body, "extra_headers": {name: "secret"}},
                "credential header",
                ("extra_headers", name),
                422,
                "credential_header",
            ),
            base,
            st.from_regex(_credential_pattern(), fullmatch=True),
        ),
        _breaking(
            base,
            "unknown model",
            ("model",),
            400,
            "INVALID_MODEL",
            _set("model"),
            st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8).map(lambda s: f"nobody/{s}-unknown"),
        ),
    ]
    # A tag that breaks a rule is refused before the body's other rules (400 INVALID_TAGS), as Eden refuses it.
    reserved = _TAG_KEYS.map(lambda key: {_tags.rules().reserved + key: "x"})
    not_text = st.builds(lambda key, value: {key: value}, _TAG_KEYS, st.integers() | st.booleans() | st.none())
    cases.append(_breaking(base, "tag key reserved", ("tags",), 400, "INVALID_TAGS", _set("tags"), reserved))
    cases.append(_breaking(base, "tag value not a string", ("tags",), 400, "INVALID_TAGS", _set("tags"), not_text))
    for name in ("model", "prompt", "size", "user", "quality", "response_format", "n", "metadata", "extra_headers"):
        definition = _def(name)
        kinds = definition["type"]
        kind = next(k for k in ([kinds] if isinstance(kinds, str) else kinds) if k != "null")
        wrong = _WRONG_TYPES[kind]
        if kind == "integer":  # a fraction within the field's bounds breaks the type and nothing else
            fraction = st.floats(definition.get("minimum"), definition.get("maximum"), allow_nan=False)
            wrong = st.text(max_size=3) | st.booleans() | fraction.filter(lambda f: not f.is_integer())
        cases.append(_breaking(base, f"{name} of the wrong type", (name,), 422, _TYPE_ERRORS[kind], _set(name), wrong))
    cases.append(chosen.flatmap(lambda mid: _model_rule_breaks(_spec(cat, mid))))
    return st.one_of(cases)


def _model_rule_breaks(model: ModelSpec) -> st.SearchStrategy[InvalidRequest]:
    base = _request_for(model)
    cases = [
        _breaking(
            base,
            "size the model refuses",
            ("size",),
            model.refusal_status,
            "PROVIDER_ERROR",
            _set("size"),
            st.tuples(st.integers(1, 15), st.integers(1, 15)).map(lambda wh: f"{wh[0]}x{wh[1]}"),
        ),
        _breaking(
            base,
            "quality the model lacks",
            ("quality",),
            model.refusal_status,
            "PROVIDER_ERROR",
            _set("quality"),
            st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8).filter(lambda q: q not in model.qualities),
        ),
    ]
    _, n_high = _n_bounds()
    if model.n_max < n_high:
        cases.append(
            _breaking(
                base,
                "n over the model's limit",
                ("n",),
                model.refusal_status,
                "PROVIDER_ERROR",
                _set("n"),
                st.integers(model.n_max + 1, n_high),
            )
        )
    if model.prompt_max is not None and model.prompt_max < _prompt_bounds()[1]:
        cases.append(
            _breaking(
                base,
                "prompt over the model's limit",
                ("prompt",),
                model.refusal_status,
                "PROVIDER_ERROR",
                _set("prompt"),
                st.just("p" * (model.prompt_max + 1)),
            )
        )
    return st.one_of(cases)
