"""Hypothesis strategies for the Eden AI image API, read from edenfake's contracts and catalog.

Valid requests the fake accepts, invalid ones labelled with the rule they break, every response and error
body the contract allows, and image files (good and broken) for edits. Needs ``edenfake[hypothesis]``.
"""

from __future__ import annotations

import base64
import io
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

try:
    from hypothesis import strategies as st
except ModuleNotFoundError as missing:  # pragma: no cover - exercised in a venv without hypothesis
    raise ModuleNotFoundError(
        "edenfake.strategies needs hypothesis, which a plain install leaves out: pip install 'edenfake[hypothesis]'",
        name=missing.name,
    ) from None

from edenfake import contracts
from edenfake.catalog import Catalog, ModelSpec

__all__ = [
    "BrokenImage",
    "InvalidRequest",
    "broken_image_files",
    "edit_requests",
    "error_bodies",
    "generation_requests",
    "image_files",
    "image_responses",
    "invalid_generation_requests",
    "masks",
    "model_ids",
]

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


@dataclass(frozen=True)
class BrokenImage:
    """Bytes that are not a usable image, and why (``problem`` is the 422 ``type`` the fake answers)."""

    data: bytes
    filename: str
    problem: str


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
    return catalog if catalog is not None else Catalog.default()


def model_ids(*, catalog: Catalog | None = None, edits: bool = False) -> st.SearchStrategy[str]:
    """The catalog's model ids (only those that edit, with ``edits=True``)."""
    ids = sorted(m.id for m in _catalog(catalog) if m.edits or not edits)
    return st.sampled_from(ids)


_SAFE_TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
_HEADER_NAMES = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=20).filter(
    lambda name: re.fullmatch(_credential_pattern(), name) is None
)


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
        "user": st.none() | _SAFE_TEXT,
        "metadata": st.none() | st.dictionaries(_SAFE_TEXT, st.integers() | _SAFE_TEXT, max_size=3),
        "extra_headers": st.none() | st.dictionaries(_HEADER_NAMES, _SAFE_TEXT, max_size=3),
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
            image_files(formats=st.just("png"), sizes=sizes).map(lambda data: {"image_url": _data_url(data)}),
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
    return chosen.flatmap(lambda mid: _request_for(_spec(cat, mid), edit=True))


def _models(models: Any) -> st.SearchStrategy[str] | None:
    # Options take strategies, never plain values (hypothesis' own style): say so instead of failing later.
    if models is None or isinstance(models, st.SearchStrategy):
        return models
    shown = (
        models if isinstance(models, str) else list(models)[:3] if isinstance(models, (list, tuple, set)) else models
    )
    raise TypeError(
        f"models= takes a hypothesis strategy, not {type(models).__name__} {shown!r}: "
        f"pass st.sampled_from({shown!r}) (with `from hypothesis import strategies as st`)"
    )


def _spec(catalog: Catalog, model_id: str) -> ModelSpec:
    spec = catalog.get(model_id)
    if spec is None:
        raise ValueError(f"{model_id!r} is not in the catalog; use model_ids() or a catalog that has it")
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


# -- answers: built from the response and error schemas -----------------------------------------------------


def _from_schema(schema: JSON | bool, base: str, *, extra_fields: bool = True) -> st.SearchStrategy[Any]:
    """A strategy for the JSON values ``schema`` allows (the subset of JSON Schema the contracts use)."""
    if schema is True or schema == {}:
        return st.none() | st.integers() | _SAFE_TEXT
    if isinstance(schema, bool):
        return st.nothing()
    if "$ref" in schema:
        name = _ref_name(schema["$ref"], base)
        target = contracts.load(name)
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return _from_schema({**target, **rest} if rest else target, name.partition("#")[0], extra_fields=extra_fields)
    if "allOf" in schema:
        merged: JSON = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = contracts.load(_ref_name(part["$ref"], base)) if "$ref" in part else part
            merged = _merge(part, merged)
        return _from_schema(merged, base, extra_fields=extra_fields)
    if "anyOf" in schema and schema.get("type") == "object":
        plain = {k: v for k, v in schema.items() if k != "anyOf"}
        return st.one_of([_from_schema(_merge(plain, b), base, extra_fields=extra_fields) for b in schema["anyOf"]])
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf") or []
        return st.one_of([_from_schema(o, base, extra_fields=extra_fields) for o in options])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type")
    if kinds is None:
        return st.none() | st.integers() | _SAFE_TEXT
    if isinstance(kinds, list):
        return st.one_of([_from_schema({**schema, "type": k}, base, extra_fields=extra_fields) for k in kinds])
    if kinds == "null":
        return st.none()
    if kinds == "boolean":
        return st.booleans()
    if kinds == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kinds == "number":
        return st.floats(
            min_value=schema.get("minimum"), max_value=schema.get("maximum"), allow_nan=False, allow_infinity=False
        ) | st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kinds == "string":
        if schema.get("pattern") == "^[A-Z][A-Z_]*$":
            return st.from_regex(r"\A[A-Z][A-Z_]{0,20}\Z")
        if schema.get("format") == "uri":
            return st.builds(
                lambda p: f"https://images.example/{p}.png", st.text(string.ascii_lowercase, min_size=1, max_size=12)
            )
        if schema.get("contentEncoding") == "base64":
            return st.binary(max_size=48).map(lambda b: base64.b64encode(b).decode())
        return st.text(alphabet=st.characters(codec="utf-8"), min_size=schema.get("minLength", 0), max_size=30)
    if kinds == "array":
        items = _from_schema(schema.get("items", {}), base, extra_fields=extra_fields)
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 4), 4))
    if kinds == "object":
        props = schema.get("properties", {})
        required = set(schema.get("required", ()))
        fixed = {k: _from_schema(v, base, extra_fields=extra_fields) for k, v in props.items() if k in required}
        optional = {k: _from_schema(v, base, extra_fields=extra_fields) for k, v in props.items() if k not in required}
        value = st.fixed_dictionaries(fixed, optional=optional)
        if extra_fields and schema.get("additionalProperties", True) is not False and props:
            extras = st.dictionaries(
                st.text(string.ascii_lowercase, min_size=1, max_size=8).map(lambda k: f"x_{k}"),
                st.integers() | _SAFE_TEXT,
                max_size=2,
            )
            value = st.builds(lambda d, e: {**e, **d}, value, extras)
        return value
    raise ValueError(f"no strategy for schema type {kinds!r}")


def _ref_name(ref: str, base: str) -> str:
    """A $ref as a contract name for contracts.load: local refs stay in ``base``'s file."""
    file_part, _, pointer = ref.partition("#")
    if not file_part:
        return f"{base}#{pointer}"
    name = next(c for c, fn in contracts.CONTRACTS.items() if file_part.endswith(fn))
    return f"{name}#{pointer}"


def _merge(a: JSON, b: JSON) -> JSON:
    merged = {**a, **b}
    merged["properties"] = {**a.get("properties", {}), **b.get("properties", {})}
    merged["required"] = sorted({*a.get("required", ()), *b.get("required", ())})
    if "type" in a or "type" in b:
        merged["type"] = b.get("type", a.get("type"))
    return merged


def image_responses(*, extra_fields: bool = True) -> st.SearchStrategy[JSON]:
    """Every successful image answer the contract allows: null cost/provider/created, url-only, b64-only and
    both, empty ``data``, token or empty usage, and (``extra_fields``) fields the contract does not name."""
    return _from_schema(contracts.load("image-response"), "image-response", extra_fields=extra_fields)


def error_bodies(*, status: int | None = None) -> st.SearchStrategy[tuple[int, JSON]]:
    """``(status, body)`` for every error the fake sends (or those of one ``status``), from errors.schema.json."""
    known = sorted(s for s in range(400, 600) if contracts.error_definitions(s))
    statuses = [status] if status is not None else known
    if any(s not in known for s in statuses):
        raise ValueError(f"no error body is documented for status {status}; known: {known}")
    return st.one_of(
        [
            st.tuples(st.just(s), _from_schema(contracts.load(f"errors#/$defs/{kind}"), "errors", extra_fields=False))
            for s in statuses
            for kind in contracts.error_definitions(s)
        ]
    )


# -- image files --------------------------------------------------------------------------------------------


def _encode(fmt: str, size: tuple[int, int], colour: tuple[int, int, int], mode: str = "RGB") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    fill: tuple[int, ...] = (*colour, 128) if mode == "RGBA" else colour
    Image.new(mode, size, fill).save(out, fmt.upper())
    return out.getvalue()


def _data_url(data: bytes, kind: str = "png") -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


def image_files(
    *,
    formats: st.SearchStrategy[str] | None = None,
    sizes: st.SearchStrategy[tuple[int, int]] | None = None,
) -> st.SearchStrategy[bytes]:
    """Valid image files: PNG, JPEG or WebP bytes (``formats``, default all three) of a drawn size (``sizes``,
    default 1..64 pixels a side) and colour."""
    formats = formats if formats is not None else st.sampled_from(["png", "jpeg", "webp"])
    sizes = sizes if sizes is not None else st.tuples(st.integers(1, 64), st.integers(1, 64))
    colours = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
    return st.builds(_encode, formats, sizes, colours)


def broken_image_files() -> st.SearchStrategy[BrokenImage]:
    """Files an edit must refuse, labelled with the 422 ``type`` the fake answers."""
    good = image_files(formats=st.just("png"), sizes=st.tuples(st.integers(8, 32), st.integers(8, 32)))
    return st.one_of(
        st.just(BrokenImage(b"", "empty.png", "image_empty")),
        good.flatmap(
            lambda d: st.integers(8, len(d) - 13).map(lambda cut: BrokenImage(d[:cut], "cut.png", "image_invalid"))
        ),
        good.map(lambda d: BrokenImage(b"\x00BAD" + d[4:], "magic.png", "image_invalid")),
        st.text(alphabet=string.printable, min_size=1, max_size=60).map(
            lambda t: BrokenImage(t.encode(), "notes.png", "image_invalid")
        ),
    )


def masks(*, width: int, height: int, valid: bool = True) -> st.SearchStrategy[tuple[bytes, str | None]]:
    """``(mask bytes, problem)`` for a first image of ``width`` x ``height``: good masks (problem None), or,
    with ``valid=False``, masks refused as ``mask_size_mismatch``, ``mask_no_alpha`` or ``mask_not_png``."""
    colours = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
    if valid:
        return colours.map(lambda c: (_encode("png", (width, height), c, "RGBA"), None))
    other = st.tuples(st.integers(1, 64), st.integers(1, 64)).filter(lambda s: s != (width, height))
    return st.one_of(
        st.builds(lambda s, c: (_encode("png", s, c, "RGBA"), "mask_size_mismatch"), other, colours),
        colours.map(lambda c: (_encode("png", (width, height), c), "mask_no_alpha")),
        colours.map(lambda c: (_encode("jpeg", (width, height), c), "mask_not_png")),
    )
