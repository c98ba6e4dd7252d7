"""The model catalog: which models exist, what each accepts (the provider's own rules) and what it costs.

The built-in catalog is ``edenfake/data/catalog.json``; a user's file is merged over it or replaces it,
and the result is checked against ``contracts/catalog.schema.json``.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from edenfake import _redact, contracts
from edenfake._files import read_json
from edenfake._regions import Regions
from edenfake.errors import CatalogError, ProviderError

__all__ = ["Catalog", "ModelSpec", "Plan", "content_policy_error"]

_DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "catalog.json"
#: the largest catalog file read (the built-in one is some 26 kB)
MAX_CATALOG_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Plan:
    """What a model will do for one request, once the provider's rules have accepted it."""

    model: str
    provider: str
    width: int
    height: int
    n: int
    quality: str | None
    output_format: Literal["png", "jpeg", "webp"]
    response_format: Literal["url", "b64_json"]
    background: str | None
    revised_prompt: bool
    unit_price: float

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def cost(self) -> float:
        return round(self.unit_price * self.n, 6)


class ModelSpec:
    """One catalog entry, with the provider's checks and the price and usage arithmetic."""

    def __init__(self, model_id: str, entry: Mapping[str, Any], *, refusal_status: int = 400) -> None:
        self.id = model_id
        self.refusal_status = refusal_status
        self.entry = entry
        self.provider: str = entry["provider"]
        self.n_max: int = entry["n_max"]
        self.qualities: list[str] = entry["qualities"]
        self.prompt_max: int | None = entry.get("prompt_max")
        self.output_formats: list[str] = entry["output_formats"]
        self.aspect_ratios: dict[str, str] = entry.get("aspect_ratios", {})
        self.sizes: list[str] = entry["sizes"]
        self.custom: dict[str, Any] | None = entry.get("custom_sizes")
        self.edits: bool = self.rule("edits")
        self.regions: list[str] = self.rule("regions")  # codes of the catalog's regions

    def __repr__(self) -> str:
        return f"ModelSpec({self.id!r})"

    def rule(self, name: str) -> Any:
        """The entry's ``name``, or the default the catalog contract states for it."""
        if name in self.entry:
            return self.entry[name]
        return copy.deepcopy(_model_defaults().get(name))

    def _refuse(self, param: str, value: Any, allowed: list[Any] | None, why: str) -> ProviderError:
        if isinstance(value, str) and len(value) > _redact.ECHO_CHARS:  # a client's text is echoed cut short
            value, why = _redact.clip(value), why.replace(value, _redact.clip(value))
        return ProviderError(
            f"{self.provider} refused the request: {why}",
            status=self.refusal_status,
            provider=self.provider,
            param=param,
            value=value,
            allowed=allowed,
        )

    def content_policy_error(self) -> ProviderError:
        """The provider's refusal of content its policy forbids, as Eden passes it on: a 400 whatever the
        catalog's ``refusal_status`` (the request is well formed; retrying it cannot help), carrying the
        provider's own ``code`` and ``message`` (the openai SDK reads ``code`` into ``APIStatusError.code``)."""
        return content_policy_error(self.provider, self.rule("content_policy"))

    def resolve_size(self, size: str | None) -> tuple[int, int]:
        """The pixel size ``size`` means for this model; ProviderError when the model refuses it."""
        if size is None or (size == "auto" and "auto" in self.sizes):
            return _parse_size(self.entry["default_size"])
        if size in self.aspect_ratios:
            return _parse_size(self.aspect_ratios[size])
        if size in self.sizes and size != "auto":
            return _parse_size(size)
        allowed = [s for s in self.sizes] + [r for r in self.aspect_ratios]
        parsed = _try_parse_size(size)
        if parsed is not None and self.custom is not None:
            problem = _custom_size_problem(parsed, self.custom)
            if problem is None:
                return parsed
            raise self._refuse("size", size, allowed, f"size '{size}' is not supported by {self.id}: {problem}")
        rule = ""
        if self.custom is not None:
            c = self.custom
            rule = (
                f", or any WxH with sides multiples of {c['multiple_of']} between {c['min_side']} and "
                f"{c['max_side']}, at most {c['max_pixels']} pixels and a ratio within 1:{c['max_ratio']:g}"
            )
        raise self._refuse(
            "size", size, allowed, f"size '{size}' is not supported by {self.id}; use one of {', '.join(allowed)}{rule}"
        )

    def plan(self, body: Mapping[str, Any], *, edit: bool = False) -> Plan:
        """Apply the provider's rules to a contract-valid request body (``edit``: an edit's, priced by the
        model's ``edit_prices`` where it has one)."""
        prompt: str = body["prompt"]
        if self.prompt_max is not None and len(prompt) > self.prompt_max:
            raise self._refuse(
                "prompt",
                len(prompt),
                None,
                f"prompt is {len(prompt)} characters; {self.id} takes at most {self.prompt_max}",
            )
        n = int(body.get("n") or 1)  # JSON Schema counts 2.0 as an integer: Python needs an int
        if n > self.n_max:
            raise self._refuse(
                "n",
                n,
                list(range(1, self.n_max + 1)),
                f"n={n} is more than {self.id} returns per request (at most {self.n_max})",
            )
        width, height = self.resolve_size(body.get("size"))
        quality = self._one_of(body, "quality", self.qualities)
        effective_quality = quality or self.entry.get("default_quality")
        if effective_quality is not None:
            effective_quality = self.entry.get("quality_aliases", {}).get(effective_quality, effective_quality)
        output_format = self._one_of(body, "output_format", self.output_formats)
        response_format = body.get("response_format")
        if self.entry["honours_response_format"]:
            allowed_rf: list[str] = self.entry["response_formats"]
            if response_format is not None and response_format not in allowed_rf:
                raise self._refuse(
                    "response_format",
                    response_format,
                    allowed_rf,
                    f"response_format '{response_format}' is not one of {', '.join(allowed_rf)}",
                )
            rf = response_format or self.entry.get("default_response_format", allowed_rf[0])
        else:
            rf = "b64_json"  # gpt-image and most providers always answer with base64
        background = self._one_of(body, "background", self.entry.get("backgrounds", []))
        if background == "transparent" and output_format == "jpeg":
            raise self._refuse(
                "background", background, ["opaque", "auto"], "a transparent background needs png or webp"
            )
        self._one_of(body, "moderation", self.entry.get("moderations", []))
        self._check_compression(body.get("output_compression"))
        return Plan(
            model=self.id,
            provider=self.provider,
            width=width,
            height=height,
            n=n,
            quality=effective_quality,
            output_format=output_format or self.entry["default_output_format"],
            response_format=rf,
            background=background,
            revised_prompt=self.entry["revised_prompt"],
            unit_price=self.unit_price(width, height, effective_quality, edit=edit),
        )

    def _one_of(self, body: Mapping[str, Any], param: str, allowed: list[str]) -> Any:
        """``body[param]`` when the model takes it (None when absent); else the provider's refusal."""
        value = body.get(param)
        if value is not None and value not in allowed:
            why = (
                f"{param} '{value}' is not supported by {self.id}; use one of {', '.join(allowed)}"
                if allowed
                else f"{param} '{value}' is not supported: {self.id} takes no {param} parameter"
            )
            raise self._refuse(param, value, allowed, why)
        return value

    def _check_compression(self, compression: int | None) -> None:
        """``output_compression`` (an integer or null: the contract checked it) where the model takes one."""
        if compression is not None and not self.entry.get("output_compression", False):
            why = f"output_compression {compression} is not supported: {self.id} takes no output_compression parameter"
            raise self._refuse("output_compression", compression, [], why)
        if compression is not None and not 0 <= compression <= 100:
            why = f"output_compression={compression} is not within 0..100"
            raise self._refuse("output_compression", compression, None, why)

    def unit_price(self, width: int, height: int, quality: str | None, *, edit: bool = False) -> float:
        """USD for one image of this size and quality, from the catalog's price table (``edit``: the model's
        ``edit_prices`` table for the quality, or its ``default`` one, when it prices the size; else
        ``prices``, as for a generation)."""
        if edit and "edit_prices" in self.entry:
            edits: dict[str, dict[str, float]] = self.entry["edit_prices"]
            found = _priced(edits.get(quality or "default") or edits.get("default") or {}, width, height)
            if found is not None:
                return found
        prices: dict[str, dict[str, float]] = self.entry["prices"]
        table = prices.get(quality or "default") or prices.get("default") or next(iter(prices.values()))
        found = _priced(table, width, height)
        if found is not None:
            return found
        size = f"{width}x{height}"
        raise CatalogError(
            f"{self.id}: no price for {size} at quality {quality!r}; add it or a '*' or per_megapixel entry"
        )

    def usage(self, plan: Plan, prompt: str, *, image_tokens: int = 0) -> dict[str, Any]:
        """Token usage as the model reports it (empty for models billed per image)."""
        spec: dict[str, Any] = self.entry["usage"]
        if spec["kind"] != "tokens":
            return {}
        if "output_tokens_per_image" in spec:
            per_image = int(spec["output_tokens_per_image"])
        else:
            table: dict[str, int] = spec["output_tokens_per_1024x1024"]
            base = table.get(plan.quality or "", max(table.values()))
            per_image = round(base * plan.width * plan.height / (1024 * 1024))
        # One token per four characters of prompt: deterministic and close to what tokenizers give for English.
        text_tokens = max(1, math.ceil(len(prompt) / 4))
        input_tokens = text_tokens + image_tokens
        output_tokens = per_image * plan.n
        return {
            "total_tokens": input_tokens + output_tokens,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
        }

    def capabilities(self) -> dict[str, Any]:
        e = self.entry
        caps: dict[str, Any] = {
            "sizes": self.sizes,
            "aspect_ratios": list(self.aspect_ratios),
            "default_size": e["default_size"],
            "n_max": self.n_max,
            "qualities": self.qualities,
            "output_formats": self.output_formats,
            "response_formats": e["response_formats"],
            "revised_prompt": e["revised_prompt"],
            "edits": self.edits,
        }
        if self.prompt_max is not None:
            caps["prompt_max"] = self.prompt_max
        if self.custom is not None:
            caps["custom_sizes"] = self.custom
        return caps


class Catalog:
    """The models the fake knows. ``Catalog.load(path)`` merges a user's file over the built-in one."""

    def __init__(self, data: Mapping[str, Any], *, source: str = "<catalog>") -> None:
        rules = contracts.load("catalog")["properties"]  # one copy of the contract, read for its bounds and defaults
        most = rules["models"]["maxProperties"]  # more are refused at the first rule
        many = isinstance(data.get("models"), Mapping) and len(data["models"]) > most
        if problems := contracts.violations("catalog", data, limit=1 if many else contracts.MAX_VIOLATIONS):
            raise CatalogError(f"{source} is not a valid edenfake catalog:\n" + "\n".join(f"  {p}" for p in problems))
        self.data = data
        self.source = source
        default = rules["refusal_status"]["default"]
        #: the status of a model's refusal of a value it lacks
        self.refusal_status: int = data.get("refusal_status", default)
        #: the bodies of a 429 and a 402: "detail" (edenfake's default) or "error_object" (errors.shaped)
        self.error_shapes: str = data.get("error_shapes", rules["error_shapes"]["default"])
        #: prompts containing it are refused as the provider's content policy refuses them (None: none are)
        self.blocked_marker: str | None = data.get("blocked_marker", rules["blocked_marker"]["default"])
        #: top-level answer fields drift does not report as only in the recording (no client reads them)
        self.answer_extra_fields: tuple[str, ...] = tuple(
            data.get("answer_extra_fields", rules["answer_extra_fields"]["default"])
        )
        self.models: dict[str, ModelSpec] = {
            mid: ModelSpec(mid, entry, refusal_status=self.refusal_status) for mid, entry in data["models"].items()
        }
        self.regions = Regions.from_catalog(data)  # where models are served, and the hosts that pin each
        for spec in self.models.values():
            _check_entry(spec, source)
            self.regions.check(spec.id, spec.regions, source)
        kept = contracts.load("edit-request#/$defs/UploadForm/properties/expires_in_days")["default"]
        self.upload_retention_days: int = data.get("upload_retention_days", kept)  # days an upload is kept

    @classmethod
    def default(cls) -> Catalog:
        """The built-in catalog (shared; it is read-only)."""
        return _default_catalog()

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, *, replace: bool = False) -> Catalog:
        """The built-in catalog, the file at ``path`` merged over it key by key (``replace=True``: the file alone)."""
        if path is None:
            return cls.default()
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"catalog takes a catalog JSON file's path or a Catalog, got {type(path).__name__}")
        try:
            user = read_json(path, MAX_CATALOG_BYTES)
        except (OSError, ValueError) as exc:
            raise CatalogError(f"cannot read catalog {os.fspath(path)}: {exc}") from None
        return cls.from_data(user, replace=replace, source=os.fspath(path))

    @classmethod
    def from_data(cls, user: Mapping[str, Any], *, replace: bool = False, source: str = "<catalog>") -> Catalog:
        """Like :meth:`load` for a catalog already in memory."""
        if replace:
            return cls(user, source=source)
        return cls(_merged(_default_data(), user, source), source=source)

    def overlaid(self, user: Mapping[str, Any], *, source: str = "<catalog>") -> Catalog:
        """This catalog with ``user`` merged over it, as :meth:`load` merges a file over the built-in one."""
        return Catalog(_merged(self.data, user, source), source=source)

    def get(self, model_id: str) -> ModelSpec | None:
        return self.models.get(model_id)

    def __getitem__(self, model_id: str) -> ModelSpec:
        found = self.get(model_id)
        if found is None:
            raise KeyError(model_id)
        return found

    def __contains__(self, model_id: object) -> bool:
        return model_id in self.models

    def __iter__(self) -> Any:
        return iter(self.models.values())

    def __len__(self) -> int:
        return len(self.models)

    def blocks(self, prompt: str) -> bool:
        """Whether ``prompt`` carries the catalog's ``blocked_marker``, and so is refused for content."""
        return self.blocked_marker is not None and self.blocked_marker in prompt


def content_policy_error(provider: str, policy: Mapping[str, str] | None = None) -> ProviderError:
    """A 400 PROVIDER_ERROR carrying ``provider``'s own code and message for content it refuses (``policy``;
    None: the catalog contract's default, for a model the catalog lacks)."""
    if policy is None:
        policy = _model_defaults()["content_policy"]
    exc = ProviderError(f"{provider} refused the request: {policy['message']}", status=400, provider=provider)
    # Beside Eden's fields, the provider's own, under the names OpenAI's errors use: clients branch on `code`.
    exc.extra.update(code=policy["code"], message=policy["message"])
    return exc


@cache
def _model_defaults() -> dict[str, Any]:
    properties = contracts.load("catalog#/$defs/Model")["properties"]
    return {name: schema["default"] for name, schema in properties.items() if "default" in schema}


def _default_data() -> dict[str, Any]:
    with open(_DEFAULT_FILE, encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


@cache
def _default_catalog() -> Catalog:
    return Catalog(_default_data(), source=str(_DEFAULT_FILE))


def _check_entry(spec: ModelSpec, source: str) -> None:
    # Rules that JSON Schema cannot say: defaults must be among the allowed values, every size priced.
    e = spec.entry
    where = f"{source}: model {spec.id}"
    if e["default_output_format"] not in spec.output_formats:
        raise CatalogError(f"{where}: default_output_format {e['default_output_format']!r} not in output_formats")
    if e.get("default_quality") is not None and e["default_quality"] not in spec.qualities:
        raise CatalogError(f"{where}: default_quality {e['default_quality']!r} not in qualities")
    for size in [*(s for s in spec.sizes if s != "auto"), *spec.aspect_ratios.values(), e["default_size"]]:
        w, h = _parse_size(size)
        qualities: list[str | None] = [*spec.qualities] or [None]
        for q in qualities:
            spec.unit_price(w, h, e.get("quality_aliases", {}).get(q, q))


def _merged(base: Mapping[str, Any], user: Mapping[str, Any], source: str) -> dict[str, Any]:
    # A catalog overlay over a catalog: top-level keys replaced, models merged key by key (null removes one).
    if not isinstance(user, Mapping) or not isinstance(user.get("models", {}), Mapping):
        raise CatalogError(f"{source}: a catalog is an object with a 'models' object")
    merged = copy.deepcopy(dict(base))
    merged.update({k: copy.deepcopy(v) for k, v in user.items() if k != "models"})
    models = merged.setdefault("models", {})
    for mid, entry in user.get("models", {}).items():
        if entry is None:  # {"models": {"x/y": null}} removes a built-in model
            models.pop(mid, None)
        elif mid in models and isinstance(models[mid], Mapping) and isinstance(entry, Mapping):
            models[mid] = {**models[mid], **copy.deepcopy(dict(entry))}
        else:
            models[mid] = copy.deepcopy(entry)
    return merged


def _priced(table: Mapping[str, float], width: int, height: int) -> float | None:
    # One price table's price for a size: the size's own, the table's '*', or its per_megapixel rate.
    size = f"{width}x{height}"
    if size in table:
        return table[size]
    if "*" in table:
        return table["*"]
    if "per_megapixel" in table:
        return round(table["per_megapixel"] * width * height / 1_000_000, 6)
    return None


def _parse_size(size: str) -> tuple[int, int]:
    w, _, h = size.partition("x")
    return int(w), int(h)


def _try_parse_size(size: str) -> tuple[int, int] | None:
    w, sep, h = size.partition("x")
    if sep and w.isascii() and h.isascii() and w.isdigit() and h.isdigit() and len(w) < 7 and len(h) < 7:
        return int(w), int(h)
    return None


def _custom_size_problem(size: tuple[int, int], rule: Mapping[str, Any]) -> str | None:
    w, h = size
    m = rule["multiple_of"]
    if w % m or h % m:
        return f"both sides must be multiples of {m}"
    if min(w, h) < rule["min_side"] or max(w, h) > rule["max_side"]:
        return f"each side must be between {rule['min_side']} and {rule['max_side']} pixels"
    if w * h > rule["max_pixels"]:
        return f"at most {rule['max_pixels']} pixels in all"
    if max(w, h) / min(w, h) > rule["max_ratio"]:
        return f"the ratio of the sides must be within 1:{rule['max_ratio']:g}"
    return None
