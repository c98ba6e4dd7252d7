"""Drift: how far the fake has moved from the real service, judged by a cassette of the real service's answers.

Every recorded request is sent to a fresh fake, in recorded order, and the two answers are compared on what a
client depends on: the status and error code, each top-level field's presence and JSON type, the number of
images and which of url / b64_json / revised_prompt each carries, each image's format and pixel size, the cost
and the usage keys. Every recorded request and answer is also checked against the contract: a recorded answer
the contract refuses means the contract is wrong. docs/drift.md says what each kind of difference means.

Some differences are the catalog's to explain (prices, sizes, n limits, revised_prompt, response formats, the
refusal status): for those, :class:`Report` carries a catalog overlay that makes the fake agree.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import urllib.parse
from dataclasses import asdict, dataclass, field
from typing import Any

from edenfake import contracts
from edenfake._cassette import Cassette, Recorded, answer_files, rebuild_request, restore_body
from edenfake._replay import image_digest
from edenfake._request import parse_json, read
from edenfake._wire import FakeRequest, FakeResponse
from edenfake.catalog import Catalog
from edenfake.errors import ApiError, EdenfakeError
from edenfake.fake import EdenFake

__all__ = ["KINDS", "Difference", "Report", "drift"]

#: every kind of difference, in the order a report lists them, with what it says
KINDS: dict[str, str] = {
    "status": "the fake answered another status",
    "error_code": "the same error status with another error_code",
    "field_only_in_recording": "a top-level field the real service sends and the fake does not",
    "field_only_in_fake": "a top-level field the fake sends and the real service does not",
    "field_type": "a top-level field of another JSON type",
    "data_count": "another number of images",
    "data_keys": "an image carrying other keys among url, b64_json, revised_prompt",
    "image_format": "an image in another format",
    "image_size": "an image of another pixel size",
    "cost": "another cost",
    "usage_keys": "other keys in usage",
    "request_contract": "a request the real service accepted and the contract refuses",
    "answer_contract": "a recorded answer the contract refuses: the contract is wrong",
}
_DRIFT_TOKEN = "edenfake-drift"
_PIXELS = re.compile(r"^[1-9][0-9]*x[1-9][0-9]*$")
_RATIO = re.compile(r"^[1-9][0-9]*:[1-9][0-9]*$")


@dataclass(frozen=True)
class Difference:
    """One difference between a recorded answer and the fake's."""

    kind: str
    exchange: int
    where: str
    detail: str
    #: a catalog overlay explains it (the report's suggestion makes the fake agree)
    catalog: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


@dataclass
class Report:
    """What :func:`drift` found: the differences, notes on what could not be compared, and the catalog overlay
    that would explain what a catalog can."""

    cassette: str
    exchanges: int
    catalog: str
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    suggestion: dict[str, Any] = field(default_factory=lambda: {"models": {}})

    @property
    def drifted(self) -> bool:
        return bool(self.differences)

    def by_kind(self) -> dict[str, list[Difference]]:
        grouped: dict[str, list[Difference]] = {}
        for kind in KINDS:
            found = [d for d in self.differences if d.kind == kind]
            if found:
                grouped[kind] = found
        return grouped

    def table(self) -> str:
        """The report for a person: one line per kind of difference, with its count and an example."""
        head = f"edenfake drift: {self.exchanges} exchange(s) in {self.cassette}, sent to a fresh fake ({self.catalog})"
        lines = [head]
        lines.extend(f"note: {n}" for n in self.notes)
        grouped = self.by_kind()
        if not grouped:
            lines.append(f"no drift: the fake answered all {self.exchanges} exchange(s) as recorded")
            return "\n".join(lines)
        width = max(len("kind"), *(len(k) for k in grouped))
        lines.append("")
        lines.append(f"{'kind':<{width}}  {'count':>5}  catalog  example")
        for kind, found in grouped.items():
            explained = sum(d.catalog for d in found)
            mark = "yes" if explained == len(found) else "no" if not explained else f"{explained}/{len(found)}"
            lines.append(f"{kind:<{width}}  {len(found):>5}  {mark:<7}  {found[0]}")
        explainable = sum(d.catalog for d in self.differences)
        lines.append("")
        summary = f"{len(self.differences)} difference(s) of {len(grouped)} kind(s)"
        if explainable:
            summary += f"; a catalog explains {explainable} (--suggest-catalog FILE writes it)"
        lines.append(summary + ". What each kind means: docs/drift.md")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "cassette": self.cassette,
            "exchanges": self.exchanges,
            "catalog": self.catalog,
            "drift": self.drifted,
            "kinds": {
                kind: {
                    "count": len(found),
                    "catalog": sum(d.catalog for d in found),
                    "meaning": KINDS[kind],
                    "example": str(found[0]),
                }
                for kind, found in self.by_kind().items()
            },
            "differences": [asdict(d) for d in self.differences],
            "notes": self.notes,
        }


def drift(cassette: Cassette, *, catalog: Catalog | None = None, overlay: dict[str, Any] | None = None) -> Report:
    """Send every request of ``cassette`` to a fresh fake (with ``catalog``, built from ``overlay`` when that is
    the user's catalog file) and report how its answers differ from the recorded ones."""
    used = catalog if catalog is not None else Catalog.default()
    report = Report(str(cassette.path), len(cassette), "built-in catalog" if catalog is None else used.source)
    fake = EdenFake(catalog=used)
    suggest = _Suggestions(used, overlay)
    file_ids: dict[str, str] = {}
    for recorded in cassette.exchanges:
        _Comparison(cassette, recorded, fake, suggest, file_ids, report).run()
    report.suggestion = suggest.overlay()
    return report


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"  # JSON has one number type: 0 and 0.5 are the same kind
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _code(body: Any) -> str:
    code = body.get("error_code") if isinstance(body, dict) else None
    return f" {code}" if isinstance(code, str) else ""


def _carried(item: Any) -> list[str]:
    if not isinstance(item, dict):
        return []
    return [k for k in ("url", "b64_json", "revised_prompt") if item.get(k) not in (None, "")]


def _body_json(response: FakeResponse) -> Any:
    if not response.media_type.startswith("application/json"):
        return None
    try:
        return parse_json(response.body)
    except ApiError:
        return None


class _Comparison:
    """One recorded exchange against the fake's answer to the same request."""

    def __init__(
        self,
        cassette: Cassette,
        recorded: Recorded,
        fake: EdenFake,
        suggest: _Suggestions,
        file_ids: dict[str, str],
        report: Report,
    ) -> None:
        self.cassette = cassette
        self.recorded = recorded
        self.fake = fake
        self.suggest = suggest
        self.file_ids = file_ids
        self.report = report
        self.where = recorded.describe()
        self.fields: dict[str, Any] = {}
        self._recorded_images: list[tuple[str, int, int] | None] | None = None

    def differ(self, kind: str, detail: str, *, catalog: bool = False) -> None:
        self.report.differences.append(Difference(kind, self.recorded.number, self.where, detail, catalog))

    def run(self) -> None:
        recorded = self.recorded
        request = rebuild_request(recorded.request, self.cassette.read, token=_DRIFT_TOKEN)
        if request is None:
            self.report.notes.append(f"{self.where}: not sent (its body was not readable, so it was not kept)")
            return
        self._substitute_file_ids(request)
        self.fields = self._fields(request)
        response = recorded.response
        status: int = response["status"]
        if 200 <= status < 300:
            self._check_request(request)
        self._check_answer(request)
        answer = self.fake.answer(request)
        rec_json: Any = response.get("json") if "json" in response else None
        fake_json = _body_json(answer)
        if status != answer.status:
            explained = self.suggest.status(self.fields, status, rec_json, answer.status, fake_json, self._images())
            self.differ(
                "status",
                f"recorded {status}{_code(rec_json)}, fake {answer.status}{_code(fake_json)}",
                catalog=explained,
            )
            return
        if status >= 400 and _code(rec_json) != _code(fake_json):
            self.differ("error_code", f"recorded{_code(rec_json) or ' none'}, fake{_code(fake_json) or ' none'}")
        if isinstance(rec_json, dict) and isinstance(fake_json, dict):
            self._fields_compared(rec_json, fake_json)
            if 200 <= status < 300:
                self._images_compared(rec_json, fake_json)
                self._cost_compared(rec_json, fake_json)
                self._usage_compared(rec_json, fake_json)
                self._remember_upload(rec_json, fake_json)

    # -- the request ---------------------------------------------------------------------------------------------

    def _substitute_file_ids(self, request: FakeRequest) -> None:
        # An upload's id is the service's own: an edit naming it is sent with the id the fake gave the same file.
        if not self.file_ids or "json" not in self.recorded.request:
            return
        body = json.loads(request.body)
        changed = False
        for ref in [*(body.get("images") or []), body.get("mask")]:
            if isinstance(ref, dict) and ref.get("file_id") in self.file_ids:
                ref["file_id"] = self.file_ids[ref["file_id"]]
                changed = True
        if changed:
            request.body = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()

    def _fields(self, request: FakeRequest) -> dict[str, Any]:
        methods = contracts.route_table().methods(request.path)
        route = methods.get(request.method) if methods else None
        exchange = read(request, route, 1 << 40)
        try:
            return exchange.fields()
        except EdenfakeError:
            return {}

    def _check_request(self, request: FakeRequest) -> None:
        methods = contracts.route_table().methods(request.path)
        route = methods.get(request.method) if methods else None
        if route is None:
            return  # the answer's check names the undocumented route
        multipart = "form" in self.recorded.request or "files" in self.recorded.request
        contract = route.form_contract if multipart else route.json_contract
        if contract is None:
            return
        found = contracts.violations(contract, self.fields)
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            self.differ("request_contract", f"answered {self.recorded.response['status']}, yet {found[0]}{more}")

    def _check_answer(self, request: FakeRequest) -> None:
        response = self.recorded.response
        media = response.get("headers", {}).get("content-type") or "application/json"
        body: Any = None
        if "json" in response:
            body = json.loads(restore_body(response, lambda name: b"", lambda name: f"https://recorded.invalid/{name}"))
        found = contracts.exchange_violations(request.method, request.path, response["status"], body, media_type=media)
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            self.differ("answer_contract", f"{found[0]}{more}")

    # -- the answer ----------------------------------------------------------------------------------------------

    def _fields_compared(self, recorded: dict[str, Any], fake: dict[str, Any]) -> None:
        for name in sorted({*recorded, *fake}):
            if name not in fake:
                explained = self.suggest.report_field(self.fields, name, True)
                kind = _json_type(recorded[name])
                self.differ("field_only_in_recording", f"{name!r} ({kind}) only in the recording", catalog=explained)
            elif name not in recorded:
                explained = self.suggest.report_field(self.fields, name, False)
                kind = _json_type(fake[name])
                self.differ("field_only_in_fake", f"{name!r} ({kind}) only in the fake's answer", catalog=explained)
            elif _json_type(recorded[name]) != _json_type(fake[name]):
                self.differ(
                    "field_type",
                    f"{name!r} is {_json_type(recorded[name])} in the recording, {_json_type(fake[name])} in the fake",
                )

    def _images(self) -> list[tuple[str, int, int] | None]:
        """(format, width, height) of each recorded image, by item."""
        if self._recorded_images is not None:
            return self._recorded_images
        value = self.recorded.response.get("json")
        items = value.get("data") if isinstance(value, dict) else None
        found: list[tuple[str, int, int] | None] = [None] * (len(items) if isinstance(items, list) else 0)
        for index, _, name in answer_files(self.recorded.response):
            digest = image_digest(self.cassette.read(name))
            if "width" in digest and found[index] is None:
                found[index] = (digest["format"], digest["width"], digest["height"])
        self._recorded_images = found
        return found

    def _fake_image(self, item: dict[str, Any]) -> tuple[str, int, int] | None:
        data: bytes | None = None
        b64 = item.get("b64_json")
        if isinstance(b64, str) and b64:
            try:
                data = base64.b64decode(b64, validate=True)
            except (binascii.Error, ValueError):
                return None
        elif isinstance(item.get("url"), str):
            path = urllib.parse.urlsplit(item["url"]).path
            got = self.fake.answer(FakeRequest("GET", path))
            data = got.body if got.status == 200 else None
        if data is None:
            return None
        digest = image_digest(data)
        return (digest["format"], digest["width"], digest["height"]) if "width" in digest else None

    def _images_compared(self, recorded: dict[str, Any], fake: dict[str, Any]) -> None:
        rec_items, fake_items = recorded.get("data"), fake.get("data")
        if not isinstance(rec_items, list) or not isinstance(fake_items, list):
            return
        if len(rec_items) != len(fake_items):
            self.differ("data_count", f"recorded {len(rec_items)} image(s), fake {len(fake_items)}")
        rec_images = self._images()
        for index, (rec_item, fake_item) in enumerate(
            zip(rec_items, fake_items, strict=False)
        ):  # counts compared above
            rec_keys, fake_keys = _carried(rec_item), _carried(fake_item)
            if rec_keys != fake_keys:
                explained = self.suggest.data_keys(self.fields, rec_keys, fake_keys)
                shown = f"recorded {', '.join(rec_keys) or 'nothing'}, fake {', '.join(fake_keys) or 'nothing'}"
                self.differ("data_keys", f"image {index}: {shown}", catalog=explained)
            rec_image = rec_images[index] if index < len(rec_images) else None
            fake_image = self._fake_image(fake_item) if isinstance(fake_item, dict) else None
            if rec_image is None or fake_image is None:
                continue
            if rec_image[0] != fake_image[0]:
                self.differ("image_format", f"image {index}: recorded {rec_image[0]}, fake {fake_image[0]}")
            if rec_image[1:] != fake_image[1:]:
                explained = self.suggest.image_size(self.fields, rec_image[1:], fake_image[1:])
                self.differ(
                    "image_size",
                    f"image {index}: recorded {rec_image[1]}x{rec_image[2]}, fake {fake_image[1]}x{fake_image[2]}",
                    catalog=explained,
                )

    def _cost_compared(self, recorded: dict[str, Any], fake: dict[str, Any]) -> None:
        rec_cost, fake_cost = recorded.get("cost"), fake.get("cost")
        numbers = all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in (rec_cost, fake_cost))
        if not numbers:
            return
        assert isinstance(rec_cost, (int, float)) and isinstance(fake_cost, (int, float))
        if abs(rec_cost - fake_cost) <= 1e-9 + 1e-6 * max(abs(rec_cost), abs(fake_cost)):
            return
        relative = f" ({(rec_cost - fake_cost) / fake_cost:+.1%})" if fake_cost else ""
        images = self._images()
        size = next(((w, h) for _, w, h in filter(None, images)), None)
        explained = self.suggest.cost(self.fields, float(rec_cost), size)
        self.differ("cost", f"recorded {rec_cost:g}, fake {fake_cost:g}{relative}", catalog=explained)

    def _usage_compared(self, recorded: dict[str, Any], fake: dict[str, Any]) -> None:
        rec_usage, fake_usage = recorded.get("usage"), fake.get("usage")
        if not isinstance(rec_usage, dict) or not isinstance(fake_usage, dict):
            return
        only_rec, only_fake = sorted(set(rec_usage) - set(fake_usage)), sorted(set(fake_usage) - set(rec_usage))
        if only_rec or only_fake:
            parts = [f"only in the recording: {', '.join(only_rec)}" if only_rec else "", ""]
            parts[1] = f"only in the fake: {', '.join(only_fake)}" if only_fake else ""
            self.differ("usage_keys", "; ".join(p for p in parts if p))

    def _remember_upload(self, recorded: dict[str, Any], fake: dict[str, Any]) -> None:
        rec_id, fake_id = recorded.get("file_id"), fake.get("file_id")
        if isinstance(rec_id, str) and isinstance(fake_id, str):
            self.file_ids[rec_id] = fake_id


# -- what a catalog can explain -----------------------------------------------------------------------------------


class _Suggestions:
    """The catalog overlay that makes the fake agree with the recordings, built one difference at a time. Each
    method changes the overlay (when it can) and says whether the difference is then explained."""

    def __init__(self, catalog: Catalog, base: dict[str, Any] | None) -> None:
        self.catalog = catalog
        self.base = copy.deepcopy(base) if base is not None else {"models": {}}
        self.entries: dict[str, dict[str, Any]] = {}
        self.changed: dict[str, set[str]] = {}
        self.refusal_status: int | None = None
        #: (model, price table, size) -> the price suggested first: a later, different one is not explained
        self.prices: dict[tuple[str, str, str], float] = {}

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
    ) -> bool:
        rec_refusal = _code(rec_json) == " PROVIDER_ERROR" and rec_status in (400, 502)
        fake_refusal = _code(fake_json) == " PROVIDER_ERROR" and fake_status in (400, 502)
        if rec_refusal and fake_refusal:
            return self._refusal(rec_status)
        found = self._entry(fields)
        if found is None:
            return False
        model, entry = found
        if 200 <= rec_status < 300 and fake_refusal and isinstance(fake_json, dict):
            return self._accept(model, entry, fake_json.get("param"), fields, rec_json, images)
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
                self._priced(model, entry, value, _unit(rec_json, fields))
                return True
            if _RATIO.match(value) and recorded_size is not None:
                pixels = f"{recorded_size[0]}x{recorded_size[1]}"
                self._set(model, "aspect_ratios", {**entry.get("aspect_ratios", {}), value: pixels})
                self._priced(model, entry, pixels, _unit(rec_json, fields))
                return True
        return False

    def _refuse(self, model: str, entry: dict[str, Any], param: Any, fields: dict[str, Any]) -> bool:
        """The service refused a value the fake's model takes: the catalog refuses it too."""
        value = fields.get(param) if isinstance(param, str) else None
        if param == "n" and isinstance(value, int) and value > 1:
            self._set(model, "n_max", min(entry["n_max"], value - 1))
            return True
        if param == "size" and isinstance(value, str) and value in entry["sizes"] and value != entry["default_size"]:
            self._set(model, "sizes", [s for s in entry["sizes"] if s != value])
            return True
        return False

    def _priced(self, model: str, entry: dict[str, Any], size: str, unit: float | None) -> None:
        # Every size the catalog names needs a price in every table (the catalog checks it): the recorded one
        # where known, else the price the model's default size has.
        prices = copy.deepcopy(entry["prices"])
        w, _, h = entry["default_size"].partition("x")
        default = self.catalog[model].unit_price
        added = False
        for quality, table in prices.items():
            if size in table or "*" in table or "per_megapixel" in table:
                continue
            table[size] = unit if unit is not None else default(int(w), int(h), quality)
            added = True
        if added:
            self._set(model, "prices", prices)

    # -- fields, images and cost -------------------------------------------------------------------------------

    def report_field(self, fields: dict[str, Any], name: str, add: bool) -> bool:
        if name not in ("output_format", "size", "quality", "background"):
            return False
        found = self._entry(fields)
        if found is None:
            return False
        model, entry = found
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

    def cost(self, fields: dict[str, Any], recorded: float, size: tuple[int, int] | None) -> bool:
        found = self._entry(fields)
        if found is None:
            return False
        model, entry = found
        try:
            plan = Catalog.from_data({"models": {model: entry}}, replace=False)[model].plan(fields)
        except (EdenfakeError, KeyError, TypeError, ValueError):
            return False
        width, height = size if size is not None else (plan.width, plan.height)
        prices = copy.deepcopy(entry["prices"])
        table = plan.quality or "default"
        if table not in prices:
            table = "default" if "default" in prices else next(iter(prices))
        unit = round(recorded / plan.n, 9)
        key = (model, table, f"{width}x{height}")
        if self.prices.setdefault(key, unit) != unit:
            return False
        prices[table][f"{width}x{height}"] = unit
        self._set(model, "prices", prices)
        return True


def _unit(rec_json: Any, fields: dict[str, Any]) -> float | None:
    cost = rec_json.get("cost") if isinstance(rec_json, dict) else None
    n = fields.get("n") or 1
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and isinstance(n, int) and n > 0:
        return round(cost / n, 9)
    return None
