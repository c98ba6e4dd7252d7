"""What a catalog can explain of the differences drift finds: the catalog overlay (the format ``--catalog``
takes) that makes the fake agree with the recordings, built one difference at a time from the catalog drift
ran with. Recorded values reach the overlay only once checked: a price only from a finite, non-negative cost,
a size only in the catalog's own ``WxH`` form, so that the overlay is always a catalog the fake can load."""

from __future__ import annotations

import copy
import math
import re
from typing import Any

from edenfake.catalog import Catalog, ModelSpec
from edenfake.errors import CatalogError, EdenfakeError

__all__ = ["REPORT_FIELDS", "Suggestions", "error_code", "number"]

#: the fields an answer reports of its model's plan, as the catalog's report_fields names them
REPORT_FIELDS = ("output_format", "size", "quality", "background")
_PIXELS = re.compile(r"^[1-9][0-9]*x[1-9][0-9]*$")
_RATIO = re.compile(r"^[1-9][0-9]*:[1-9][0-9]*$")


def number(value: Any) -> float | None:
    """A recorded JSON number as a finite float; None for anything else (a string, a boolean, an integer or an
    exponent too large for a double)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        found = float(value)
    except OverflowError:
        return None
    return found if math.isfinite(found) else None


def error_code(body: Any) -> str | None:
    """The ``error_code`` of an error body, when it has a string one."""
    code = body.get("error_code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


class Suggestions:
    """The catalog overlay that makes the fake agree with the recordings, built one difference at a time. Each
    method changes the overlay (when it can) and says whether the difference is then explained."""

    def __init__(self, catalog: Catalog, base: dict[str, Any] | None) -> None:
        self.catalog = catalog
        self.base = copy.deepcopy(base) if base is not None else {"models": {}}
        self.entries: dict[str, dict[str, Any]] = {}
        self.changed: dict[str, set[str]] = {}
        self.refusal_status: int | None = None
        #: (model, prices or edit_prices, quality table, size) -> the price seen first (agreed with, or
        #: suggested): a later, different one is not explained
        self.prices: dict[tuple[str, str, str, str], float] = {}
        #: (model, report field) -> whether the answer carries it, as seen first
        self.fields_seen: dict[tuple[str, str], bool] = {}
        #: each model's suggested entry as a checked catalog's model, made again once the entry changes
        self.specs: dict[str, ModelSpec] = {}

    def overlay(self) -> dict[str, Any]:
        out = copy.deepcopy(self.base)
        models = out.setdefault("models", {})
        for model, keys in self.changed.items():
            entry = models.setdefault(model, {})
            for key in sorted(keys):
                entry[key] = copy.deepcopy(self.entries[model][key])
        if self.refusal_status is not None:
            out["refusal_status"] = self.refusal_status
        return out

    def _entry(self, fields: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        model = fields.get("model")
        if not isinstance(model, str) or self.catalog.get(model) is None:
            return None
        if model not in self.entries:
            self.entries[model] = copy.deepcopy(dict(self.catalog[model].entry))
        return model, self.entries[model]

    def _set(self, model: str, key: str, value: Any) -> None:
        self.specs.pop(model, None)
        self.entries[model][key] = value
        self.changed.setdefault(model, set()).add(key)

    def _refusal(self, status: int) -> bool:
        if status not in (400, 502):
            return False
        if self.refusal_status is None and status != self.catalog.refusal_status:
            self.refusal_status = status
        return status == (self.refusal_status or self.catalog.refusal_status)

    # -- status ----------------------------------------------------------------------------------------------

    def status(
        self,
        fields: dict[str, Any],
        rec_status: int,
        rec_json: Any,
        fake_status: int,
        fake_json: Any,
        images: list[tuple[str, int, int] | None],
        edit: bool = False,
    ) -> bool:
        rec_refusal = error_code(rec_json) == "PROVIDER_ERROR" and rec_status in (400, 502)
        fake_refusal = error_code(fake_json) == "PROVIDER_ERROR" and fake_status in (400, 502)
        if rec_refusal and fake_refusal:
            return self._refusal(rec_status)
        found = self._entry(fields)
        if found is None:
            return False
        model, entry = found
        if 200 <= rec_status < 300 and fake_refusal and isinstance(fake_json, dict):
            return self._accept(model, entry, fake_json.get("param"), fields, rec_json, images, edit)
        if rec_refusal and 200 <= fake_status < 300 and isinstance(rec_json, dict):
            return self._refuse(model, entry, rec_json.get("param"), fields) and self._refusal(rec_status)
        return False

    def _accept(
        self,
        model: str,
        entry: dict[str, Any],
        param: Any,
        fields: dict[str, Any],
        rec_json: Any,
        images: list[tuple[str, int, int] | None],
        edit: bool,
    ) -> bool:
        """The service took a value the fake's model refuses: the catalog takes it too."""
        value = fields.get(param) if isinstance(param, str) else None
        if param == "n" and isinstance(value, int):
            self._set(model, "n_max", max(entry["n_max"], min(value, 10)))
            return True
        if param in ("quality", "output_format") and isinstance(value, str):
            key = {"quality": "qualities", "output_format": "output_formats"}[param]
            if value not in entry[key]:
                self._set(model, key, [*entry[key], value])
            if param == "quality" and value not in entry["prices"]:
                prices = copy.deepcopy(entry["prices"])
                prices[value] = copy.deepcopy(next(iter(prices.values())))
                self._set(model, "prices", prices)
            return True
        if param == "response_format" and value in ("url", "b64_json"):
            if value not in entry["response_formats"]:
                self._set(model, "response_formats", [*entry["response_formats"], value])
            self._set(model, "honours_response_format", True)
            return True
        if param == "size" and isinstance(value, str):
            recorded_size = next(((w, h) for _, w, h in filter(None, images)), None)
            if _PIXELS.match(value):
                if value not in entry["sizes"]:
                    self._set(model, "sizes", [*entry["sizes"], value])
                self._priced(model, entry, value, _unit(rec_json, fields), edit)
                return True
            if _RATIO.match(value) and recorded_size is not None:
                pixels = f"{recorded_size[0]}x{recorded_size[1]}"
                self._set(model, "aspect_ratios", {**entry.get("aspect_ratios", {}), value: pixels})
                self._priced(model, entry, pixels, _unit(rec_json, fields), edit)
                return True
        return False

    def _refuse(self, model: str, entry: dict[str, Any], param: Any, fields: dict[str, Any]) -> bool:
        """The service refused a value the fake's model takes: the catalog refuses it too."""
        value = fields.get(param) if isinstance(param, str) else None
        if param == "n" and isinstance(value, int) and value > 1:
            self._set(model, "n_max", min(entry["n_max"], value - 1))
            return True
        sizes = entry["sizes"]
        if param == "size" and isinstance(value, str) and value in sizes and value != entry["default_size"]:
            if len(sizes) == 1:
                return False  # a model takes at least one size
            self._set(model, "sizes", [s for s in entry["sizes"] if s != value])
            return True
        return False

    def _priced(self, model: str, entry: dict[str, Any], size: str, unit: float | None, edit: bool = False) -> None:
        # Every size the catalog names needs a price in every table (the catalog checks it): the recorded one
        # where known, else the price the catalog's default size has (the catalog's, not the overlay's: an
        # overlay's new default size is the one being priced). An edit's recorded price is an edit price.
        if edit and unit is not None:
            edit_prices = copy.deepcopy(entry.get("edit_prices", {}))
            for quality in entry["prices"]:
                edit_prices.setdefault(quality, {}).setdefault(size, unit)
            self._set(model, "edit_prices", edit_prices)
            unit = None
        prices = copy.deepcopy(entry["prices"])
        spec = self.catalog[model]
        w, _, h = spec.entry["default_size"].partition("x")
        added = False
        for quality, table in prices.items():
            if size in table or "*" in table or "per_megapixel" in table:
                continue
            if unit is not None:
                table[size] = unit
            else:
                try:
                    table[size] = spec.unit_price(int(w), int(h), quality)
                except CatalogError:  # a table no quality reaches may lack the default size: its first price
                    table[size] = next(iter(table.values()))
            added = True
        if added:
            self._set(model, "prices", prices)

    # -- fields, images and cost -------------------------------------------------------------------------------

    def seen_field(self, fields: dict[str, Any], name: str, present: bool) -> None:
        """A report field both answers have (or both lack): a later exchange that says otherwise is not
        explained."""
        model = fields.get("model")
        if name in REPORT_FIELDS and isinstance(model, str) and self.catalog.get(model) is not None:
            self.fields_seen.setdefault((model, name), present)

    def report_field(self, fields: dict[str, Any], name: str, add: bool) -> bool:
        if name not in REPORT_FIELDS:
            return False
        found = self._entry(fields)
        if found is None:
            return False
        model, entry = found
        if self.fields_seen.setdefault((model, name), add) != add:
            return False  # another recording of this model said otherwise first
        current = (
            list(self.catalog[model].rule("report_fields")) if "report_fields" not in entry else entry["report_fields"]
        )
        wanted = [*current, name] if add and name not in current else [f for f in current if f != name or add]
        self._set(model, "report_fields", wanted)
        return True

    def data_keys(self, fields: dict[str, Any], recorded: list[str], fake: list[str]) -> bool:
        found = self._entry(fields)
        if found is None:
            return False
        model, entry = found
        if ("revised_prompt" in recorded) != ("revised_prompt" in fake):
            self._set(model, "revised_prompt", "revised_prompt" in recorded)
        kinds = [k for k in ("url", "b64_json") if k in recorded]
        if kinds != [k for k in ("url", "b64_json") if k in fake]:
            if len(kinds) != 1:
                return False
            kind = kinds[0]
            asked = fields.get("response_format")
            if asked not in (None, kind):
                return False
            if kind not in entry["response_formats"]:
                self._set(model, "response_formats", [*entry["response_formats"], kind])
            self._set(model, "honours_response_format", True)
            if asked is None:
                self._set(model, "default_response_format", kind)
        return True

    def image_format(self, fields: dict[str, Any], recorded: str) -> bool:
        """Another format where none was asked: the model's default_output_format."""
        found = self._entry(fields)
        if found is None or fields.get("output_format") is not None or recorded not in ("png", "jpeg", "webp"):
            return False
        model, entry = found
        if recorded not in entry["output_formats"]:
            self._set(model, "output_formats", [*entry["output_formats"], recorded])
        self._set(model, "default_output_format", recorded)
        return True

    def image_size(self, fields: dict[str, Any], recorded: tuple[int, int], fake: tuple[int, int]) -> bool:
        found = self._entry(fields)
        if found is None:
            return False
        model, entry = found
        asked = fields.get("size")
        pixels = f"{recorded[0]}x{recorded[1]}"
        if isinstance(asked, str) and asked in entry.get("aspect_ratios", {}):
            self._set(model, "aspect_ratios", {**entry["aspect_ratios"], asked: pixels})
        elif asked in (None, "auto"):
            self._set(model, "default_size", pixels)
        else:
            return False
        self._priced(model, entry, pixels, None)
        return True

    def _price_key(
        self, fields: dict[str, Any], recorded: float, edit: bool
    ) -> tuple[str, dict[str, Any], str, str, str, float] | None:
        """Where the price of this exchange's images lives: (model, entry, table key, quality table, size, unit
        price), for the plan the suggested entry makes (so for the size the fake will price)."""
        found = self._entry(fields)
        if found is None or recorded < 0:
            return None  # a catalog has no negative prices
        model, entry = found
        try:
            if model not in self.specs:
                self.specs[model] = Catalog.from_data({"models": {model: entry}}, replace=False)[model]
            plan = self.specs[model].plan(fields, edit=edit)
        except (EdenfakeError, KeyError, TypeError, ValueError):
            return None
        key = "edit_prices" if edit else "prices"
        table = plan.quality or "default"
        if not edit and table not in entry["prices"]:
            table = "default" if "default" in entry["prices"] else next(iter(entry["prices"]))
        return model, entry, key, table, plan.size, round(recorded / plan.n, 9)

    def seen_cost(self, fields: dict[str, Any], recorded: float, edit: bool) -> None:
        """A cost the fake agrees with: a later exchange that says another price for it is not explained."""
        found = self._price_key(fields, recorded, edit)
        if found is not None:
            model, _, key, table, size, unit = found
            self.prices.setdefault((model, key, table, size), unit)

    def cost(self, fields: dict[str, Any], recorded: float, edit: bool) -> bool:
        """Another cost: the price of its model, quality and size (an edit's in ``edit_prices``)."""
        found = self._price_key(fields, recorded, edit)
        if found is None:
            return False
        model, entry, key, table, size, unit = found
        if self.prices.setdefault((model, key, table, size), unit) != unit:
            return False
        prices = copy.deepcopy(entry.get(key, {}))
        prices.setdefault(table, {})[size] = unit
        self._set(model, key, prices)
        return True


def _unit(rec_json: Any, fields: dict[str, Any]) -> float | None:
    cost = number(rec_json.get("cost")) if isinstance(rec_json, dict) else None
    n = fields.get("n") or 1
    if cost is not None and cost >= 0 and isinstance(n, int) and n > 0:
        return round(cost / n, 9)
    return None
