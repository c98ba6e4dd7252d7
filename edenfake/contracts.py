"""The API as data: finds the contract files, builds each validator once, checks documents against them.

Everything in edenfake that needs a rule of the API asks this module; nothing else restates one.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edenfake._acceptor import acceptor
from edenfake._redact import clip, echo, redact_at
from edenfake._routing import Route, RouteTable, route_table
from edenfake._schemas import BASE_URI, CONTRACTS, contracts_dir, load, load_file
from edenfake.errors import ContractError

if TYPE_CHECKING:  # jsonschema is imported when a document does not conform, to find and word why
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from referencing import Registry

__all__ = [
    "CONTRACTS",
    "MAX_VIOLATIONS",
    "Route",
    "RouteTable",
    "route_table",
    "Violation",
    "contracts_dir",
    "error_definition",
    "error_violations",
    "refusal_details",
    "load",
    "openapi_document",
    "validate",
    "validate_error",
    "validate_exchange",
    "validate_request",
    "validate_response",
    "validator",
    "violations",
    "exchange_violations",
]


@functools.cache
def _registry() -> Registry[Any]:
    from referencing import Registry, Resource

    resources = [(BASE_URI + fn, Resource.from_contents(load_file(fn))) for fn in CONTRACTS.values()]
    return Registry().with_resources(resources)


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """The validator for contract ``name`` (built once; ``name#/$defs/X`` for one definition)."""
    file_part, _, pointer = name.partition("#")
    if file_part not in CONTRACTS:
        raise KeyError(f"unknown contract {name!r}; known: {', '.join(sorted(CONTRACTS))}")
    ref = BASE_URI + CONTRACTS[file_part] + (f"#{pointer}" if pointer else "")
    # The same rules with every $ref inlined: validating a request is on the fake's hot path, and
    # resolving references on each call costs more than the checks themselves.
    return _validator()(_inline({"$ref": ref}, _registry().resolver()), registry=_registry())


@functools.cache
def _validator() -> type[Draft202012Validator]:
    """Draft 2020-12 (imported once a document is judged by jsonschema, not at import)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator


def _inline(node: Any, resolver: Any, depth: int = 0) -> Any:
    if depth > 32:  # a recursive schema: keep the reference for jsonschema to follow
        return node
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            resolved = resolver.lookup(ref)
            target = _inline(resolved.contents, resolved.resolver, depth + 1)
            rest = {k: _inline(v, resolver, depth) for k, v in node.items() if k != "$ref"}
            if not rest:
                return target
            return {"allOf": [target], **rest}
        return {k: (v if k in ("$defs", "examples") else _inline(v, resolver, depth)) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, resolver, depth) for v in node]
    return node


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (``loc`` and ``json_path``), which rule (``type``), and a sentence (``msg``)."""

    loc: tuple[str | int, ...]
    json_path: str
    type: str
    msg: str
    input: Any = None
    ctx: dict[str, Any] | None = None

    def __str__(self) -> str:
        return f"{self.json_path}: {self.msg} [{self.type}]"

    def as_detail(self, prefix: str = "body") -> dict[str, Any]:
        """This violation as one entry of a FastAPI-style ``detail`` list."""
        entry: dict[str, Any] = {"type": self.type, "loc": [prefix, *self.loc], "msg": self.msg}
        shown = echo(redact_at(self.loc, self.input))
        if shown is not None:
            entry["input"] = shown
        if self.ctx:
            entry["ctx"] = self.ctx
        return entry


#: the most rules an answer lists (``violations(..., limit=MAX_VIOLATIONS)``): a body of 50,000 bad ids is told
#: of its length and its first ids, not answered 10 MB that took seconds to write (rules are found in the
#: schema's order, and a list's own bounds come before its items')
MAX_VIOLATIONS = 20


def violations(name: str, instance: Any, *, limit: int | None = None) -> list[Violation]:
    """Every rule of contract ``name`` that ``instance`` breaks (the first ``limit`` found), in a stable order
    (empty when it conforms)."""
    file_part, _, pointer = name.partition("#")
    if file_part not in CONTRACTS:
        validator(name)  # the KeyError that names the known contracts
    return _judged(CONTRACTS[file_part], pointer, instance, lambda: validator(name), limit)


def refusal_details(name: str, instance: Any) -> list[dict[str, Any]]:
    """What a 422 answer lists of ``instance``'s breaks of contract ``name``: the ``detail`` entries of the first
    MAX_VIOLATIONS rules found (every answer that refuses a body by its contract lists them so)."""
    return [v.as_detail() for v in violations(name, instance, limit=MAX_VIOLATIONS)]


def _judged(
    filename: str, pointer: str, instance: Any, checker: Callable[[], Draft202012Validator], limit: int | None = None
) -> list[Violation]:
    """Nothing when the acceptor compiled from the schema at ``filename#pointer`` takes ``instance``, else what
    jsonschema (``checker``'s validator, built and imported only then) finds broken: the first ``limit``."""
    accepts = acceptor(filename, pointer)
    if accepts is not None and accepts(instance):
        return []
    return _sorted_violations(checker(), instance, limit)


def validate(name: str, instance: Any) -> None:
    """Raise ContractError listing every violation when ``instance`` breaks contract ``name``."""
    found = violations(name, instance)
    if found:
        raise ContractError(name, found)


def validate_request(body: Any, *, route: str = "generations") -> None:
    """Check a JSON request body against the contract of ``route`` ("generations" or "edits")."""
    names = {"generations": "generation-request", "edits": "edit-request"}
    if route not in names:
        raise KeyError(f"unknown route {route!r}; use 'generations' or 'edits'")
    validate(names[route], body)


def validate_response(body: Any) -> None:
    """Check a successful image response (generations or edits) against the contract."""
    validate("image-response", body)


@functools.cache
def _error_defs_by_status() -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    for name, schema in load_file(CONTRACTS["errors"])["$defs"].items():
        for status in schema.get("x-statuses", ()):
            found.setdefault(status, []).append(name)
    return {status: tuple(names) for status, names in found.items()}


def error_definitions(status: int) -> tuple[str, ...]:
    """Every kind of error body (under errors.schema.json's $defs) that ``status`` may carry, the most general
    first; empty when the contract describes none."""
    return _error_defs_by_status().get(status, ())


def error_definition(status: int) -> str:
    """The name of the error body (under errors.schema.json's $defs) that ``status`` carries."""
    kinds = _error_defs_by_status().get(status)
    kind = kinds[0] if kinds else None
    if kind is None:
        raise KeyError(f"the contract describes no error body for status {status}")
    return kind


def error_violations(body: Any, *, status: int | None = None) -> list[Violation]:
    """What an error body breaks: of any error kind, or with ``status``, of every kind that status may carry
    (a 429 in the catalog's other error shape conforms too); the most general kind's violations when it is
    none of them. KeyError when the contract describes no error body for ``status``."""
    if status is None:
        return violations("errors", body)
    error_definition(status)  # the KeyError for a status without an error body
    found = [violations(f"errors#/$defs/{kind}", body) for kind in error_definitions(status)]
    return [] if any(not problems for problems in found) else found[0]


def validate_error(body: Any, *, status: int | None = None) -> None:
    """Check an error body, against the kinds its ``status`` may carry when given."""
    found = error_violations(body, status=status)
    if found:
        where = "errors" if status is None else f"errors#/$defs/{error_definition(status)}"
        raise ContractError(where, found)


@functools.cache
def _operations() -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    doc = load_file("openapi.json")
    found = []
    for template, item in doc["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        for method, operation in item.items():
            found.append((pattern, method.upper(), operation))
    return found


@functools.cache
def _ref_validator(ref: str) -> Draft202012Validator:
    return _validator()({"$ref": BASE_URI + ref}, registry=_registry())


def _ref_violations(ref: str, body: Any) -> list[Violation]:
    """What ``body`` breaks of the schema at ``ref`` (``file#/pointer``, relative to the contracts)."""
    filename, _, pointer = ref.partition("#")
    return _judged(filename, pointer, body, lambda: _ref_validator(ref))


def exchange_violations(
    method: str, path: str, status: int, body: Any, *, media_type: str = "application/json"
) -> list[Violation]:
    """What is wrong with an answer, judged by the OpenAPI document: an undocumented route or status, a
    media type the operation does not declare, or a JSON body that breaks the declared schema."""
    operation = next((op for pattern, m, op in _operations() if m == method.upper() and pattern.match(path)), None)
    where = f"{method.upper()} {path}"
    if operation is None:
        if status in (404, 405):  # the router's answers for routes the document does not have
            return _ref_violations("errors.schema.json#/$defs/PlainError", body)
        if status == 403:  # the guard's refusal comes before any route is looked for
            return _ref_violations("errors.schema.json#/$defs/Forbidden", body)
        return [Violation((), "$", "undocumented_route", f"{where} is not in the OpenAPI document")]
    response = operation["responses"].get(str(status))
    if response is None:
        documented = ", ".join(operation["responses"])
        return [Violation((), "$", "undocumented_status", f"{where} answered {status}; documented: {documented}")]
    content = response.get("content", {})
    media = media_type.partition(";")[0].strip()
    if media not in content:
        return [
            Violation(
                (),
                "$",
                "undocumented_media_type",
                f"{where} {status} answered {media}; documented: {', '.join(content)}",
            )
        ]
    ref = content[media].get("schema", {}).get("$ref")
    if ref is None or not media.endswith("json"):
        return []
    return _ref_violations(ref, body)


def _sorted_violations(v: Draft202012Validator, instance: Any, limit: int | None = None) -> list[Violation]:
    found = [_violation(e) for e in itertools.islice(v.iter_errors(instance), limit)]
    found.sort(key=lambda x: (tuple(str(p) for p in x.loc), x.type, x.msg))
    return found


def validate_exchange(method: str, path: str, status: int, body: Any, *, media_type: str = "application/json") -> None:
    """Raise ContractError when an answer breaks the OpenAPI document (see :func:`exchange_violations`)."""
    found = exchange_violations(method, path, status, body, media_type=media_type)
    if found:
        raise ContractError(f"the answer to {method.upper()} {path} ({status})", found)


@functools.cache
def _bundled_openapi() -> str:
    doc = load("openapi")
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    names = {fn: _component_name(contract) for contract, fn in CONTRACTS.items() if contract != "catalog"}

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: rewrite(v) for k, v in node.items()}
            ref = out.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                target, _, pointer = ref.partition("#")
                target = target.rsplit("/", 1)[-1]
                if target in names:
                    out["$ref"] = f"#/components/schemas/{names[target]}{pointer}"
            return out
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    for fn, comp in names.items():
        schema = load_file(fn)
        body = {k: v for k, v in schema.items() if k not in ("$schema", "$id")}
        # References inside a schema ("#/$defs/X") must now point into its component.
        components[comp] = _rebase_local_refs(rewrite(body), f"#/components/schemas/{comp}")
    doc = rewrite(doc)
    return json.dumps(doc, indent=2)


def bundled_openapi_bytes() -> bytes:
    """The bundled OpenAPI document as UTF-8 JSON (what ``GET /openapi.json`` answers)."""
    return _bundled_openapi().encode()


def openapi_document(*, bundled: bool = True) -> dict[str, Any]:
    """The OpenAPI 3.1 document; ``bundled`` inlines the schema files under ``components/schemas``."""
    if not bundled:
        return load("openapi")
    result: dict[str, Any] = json.loads(_bundled_openapi())
    return result


def _component_name(contract: str) -> str:
    return "".join(part.capitalize() for part in contract.split("-"))


def _rebase_local_refs(node: Any, base: str) -> Any:
    if isinstance(node, dict):
        out = {k: _rebase_local_refs(v, base) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            out["$ref"] = base + ref[1:]
        return out
    if isinstance(node, list):
        return [_rebase_local_refs(v, base) for v in node]
    return node


# -- turning jsonschema's errors into sentences that name the field and the rule ----------------------

_TYPE_NAMES = {
    "string": ("string_type", "Input should be a valid string"),
    "integer": ("int_type", "Input should be a valid integer"),
    "number": ("float_type", "Input should be a valid number"),
    "object": ("dict_type", "Input should be a valid dictionary"),
    "array": ("list_type", "Input should be a valid list"),
    "boolean": ("bool_type", "Input should be a valid boolean"),
    "null": ("none_required", "Input should be None"),
}


def _violation(error: ValidationError) -> Violation:
    loc: tuple[str | int, ...] = tuple(error.absolute_path)
    keyword = str(error.validator)
    value: Any = error.validator_value
    ctx: dict[str, Any] | None = None
    custom = _custom_message(error)
    instance = error.instance
    if keyword == "required":
        missing = next(
            (n for n in value if isinstance(instance, dict) and n not in instance and repr(n) in error.message), None
        )
        if missing is not None:
            loc = (*loc, missing)
        type_, msg, instance = "missing", "Field required", None
    elif keyword == "minLength":
        type_, ctx = "string_too_short", {"min_length": value}
        msg = f"String should have at least {value} character{'s' if value != 1 else ''}"
    elif keyword == "maxLength":
        type_, ctx = "string_too_long", {"max_length": value}
        msg = f"String should have at most {value} character{'s' if value != 1 else ''}"
    elif keyword == "minimum":
        type_, msg, ctx = "greater_than_equal", f"Input should be greater than or equal to {value}", {"ge": value}
    elif keyword == "maximum":
        type_, msg, ctx = "less_than_equal", f"Input should be less than or equal to {value}", {"le": value}
    elif keyword == "exclusiveMinimum":
        type_, msg, ctx = "greater_than", f"Input should be greater than {value}", {"gt": value}
    elif keyword == "exclusiveMaximum":
        type_, msg, ctx = "less_than", f"Input should be less than {value}", {"lt": value}
    elif keyword == "type":
        wanted = [t for t in ([value] if isinstance(value, str) else value) if t != "null"] or ["null"]
        type_, msg = _TYPE_NAMES.get(wanted[0], ("type_error", f"Input should be of type {wanted[0]}"))
        if "null" in (value if isinstance(value, list) else [value]) and wanted != ["null"]:
            msg += " or null"
    elif keyword == "pattern":
        type_, msg, ctx = "string_pattern_mismatch", f"String should match pattern '{value}'", {"pattern": value}
    elif keyword in ("minItems", "maxItems"):
        bound = "at least" if keyword == "minItems" else "at most"
        type_, msg = ("too_short" if keyword == "minItems" else "too_long"), f"List should have {bound} {value} items"
        ctx = {"min_length" if keyword == "minItems" else "max_length": value}
    elif keyword in ("minProperties", "maxProperties"):
        bound = "at least" if keyword == "minProperties" else "at most"
        kind = "too_short" if keyword == "minProperties" else "too_long"
        type_, msg = kind, f"Object should have {bound} {value} field{'s' if value != 1 else ''}"
        ctx = {"min_length" if keyword == "minProperties" else "max_length": value}
    elif keyword == "uniqueItems":
        type_, msg = "unique_items", "List should have no item twice"
    elif keyword in ("const", "enum"):
        options = [value] if keyword == "const" else list(value)
        type_, msg, ctx = "literal_error", f"Input should be {_one_of(options)}", {"expected": _one_of(options)}
    elif keyword == "additionalProperties":
        extra = (
            sorted(
                k
                for k in instance
                if k not in (error.schema.get("properties", {}) if isinstance(error.schema, dict) else {})
            )
            if isinstance(instance, dict)
            else []
        )
        shown = ", ".join(repr(clip(k, 60)) for k in extra[:5])
        type_, msg = "extra_forbidden", f"Extra fields are not allowed: {shown}"
    elif keyword in ("oneOf", "anyOf"):
        type_, msg = keyword, "Input matches none of the allowed forms"
    else:
        # jsonschema's own sentence repeats the input: keep it short
        type_, msg = keyword, clip(error.message, 300)
    if error.parent is None and error.relative_schema_path and "propertyNames" in error.relative_schema_path:
        # jsonschema reports a bad property *name* at its object; point at the name itself.
        loc = (*loc, instance) if isinstance(instance, str) else loc
    if custom is not None:
        type_, msg = custom.get("type", type_), custom.get("msg", msg)
        if isinstance(instance, str):
            msg = msg.replace("{value}", clip(instance, 100))
    json_path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
    return Violation(loc=loc, json_path=json_path, type=type_, msg=msg, input=instance, ctx=ctx)


def _custom_message(error: ValidationError) -> dict[str, str] | None:
    # A schema may carry "x-error": {"keyword", "type", "msg"} (or a list of them) where the generic
    # sentence would not teach.
    custom = error.schema.get("x-error") if isinstance(error.schema, dict) else None
    for entry in custom if isinstance(custom, list) else [custom]:
        if isinstance(entry, dict) and entry.get("keyword") == error.validator:
            result: dict[str, str] = entry
            return result
    return None


def _one_of(options: list[Any]) -> str:
    shown = [repr(o) for o in options]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" or {shown[-1]}"


#: how much of a client's input an answer repeats
