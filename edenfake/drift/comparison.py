"""Each recorded exchange sent again, to a fresh fake, and its answer compared with the recorded one on what a
client depends on; every recorded request and answer also checked against the contract. A recorded value of an
unexpected type (``data`` that is not a list, a ``cost`` string, an image that is not one) is a difference to
report, never a value to trust."""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse
import warnings
from typing import Any

from edenfake import contracts
from edenfake._redact import clip, one_line
from edenfake._request import parse_json, read
from edenfake._wire import FakeRequest, FakeResponse
from edenfake.cassettes.format import Cassette, CassetteError, Recorded, restored_images
from edenfake.cassettes.matching import rebuild_request
from edenfake.cassettes.replay import image_digest
from edenfake.catalog import Catalog
from edenfake.drift.report import DETAIL_CHARS, Difference, Report
from edenfake.drift.suggestion import REPORT_FIELDS, Suggestions, error_code, number
from edenfake.errors import ApiError, EdenfakeError
from edenfake.fake import EdenFake

__all__ = ["compare"]

_DRIFT_TOKEN = "edenfake-drift"
#: how much of a name (a field, a usage key, an error code) a difference repeats
_NAME_CHARS = 60
#: field differences listed per exchange and kind; the rest are counted in one more
_FIELDS_LISTED = 50
#: a recorded image: (format, width, height), or why it is not one
_Image = tuple[str, int, int] | str | None


def compare(
    cassette: Cassette, catalog: Catalog, overlay: dict[str, Any] | None, allowed: frozenset[str], report: Report
) -> dict[str, Any]:
    """Every exchange of ``cassette`` sent to a fresh fake with ``catalog`` and compared, into ``report`` (its
    suggestion built over ``overlay``; a field only the recording has not reported when it is ``allowed``); the
    overlay the suggestion started from."""
    fake = EdenFake(catalog=catalog)
    suggest = Suggestions(catalog, overlay)
    file_ids: dict[str, str] = {}
    for recorded in cassette.exchanges:
        _Comparison(cassette, recorded, fake, suggest, file_ids, report, allowed).run()
    report.suggestion = suggest.overlay()
    return suggest.base


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


def _name(text: str) -> str:
    return repr(clip(text, _NAME_CHARS))  # repr escapes what one_line would


def _code(body: Any) -> str:
    code = error_code(body)
    return f" {one_line(code, _NAME_CHARS)}" if code is not None else ""


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


def _image(data: bytes) -> tuple[str, int, int] | None:
    with warnings.catch_warnings():  # Pillow warns of very large images: the header is all that is read
        warnings.simplefilter("ignore")
        digest = image_digest(data)
    return (digest["format"], digest["width"], digest["height"]) if "width" in digest else None


class _Comparison:
    """One recorded exchange against the fake's answer to the same request."""

    def __init__(
        self,
        cassette: Cassette,
        recorded: Recorded,
        fake: EdenFake,
        suggest: Suggestions,
        file_ids: dict[str, str],
        report: Report,
        allowed: frozenset[str] = frozenset(),
    ) -> None:
        self.cassette = cassette
        self.allowed = allowed
        #: an edit: priced by the catalog's edit_prices
        self.edit = False
        self.recorded = recorded
        self.fake = fake
        self.suggest = suggest
        self.file_ids = file_ids
        self.report = report
        request = recorded.request
        model = f" {one_line(recorded.model, 80)}" if recorded.model else ""
        self.where = f"#{recorded.number} {one_line(request['method'], 20)} {one_line(request['path'], 120)}{model}"
        self.fields: dict[str, Any] = {}
        self._recorded_images: list[_Image] | None = None

    def differ(self, kind: str, detail: str, *, catalog: bool = False, subject: str = "") -> None:
        shown = one_line(detail, DETAIL_CHARS)
        found = Difference(kind, self.recorded.number, self.where, shown, catalog, subject)
        self.report.differences.append(found)

    def read(self, name: str) -> bytes:
        """A file of the cassette; CassetteError naming the exchange when it is gone, or changed, since the
        cassette was loaded."""
        try:
            return self.cassette.read(name)
        except CassetteError as exc:
            raise CassetteError(f"exchange #{self.recorded.number}: {exc}") from None

    def run(self) -> None:
        recorded = self.recorded
        request = rebuild_request(recorded.request, self.read, token=_DRIFT_TOKEN)
        if request is None:
            self.report.notes.append(f"{self.where}: not sent (its body was not readable, so it was not kept)")
            return
        self.report.compared += 1
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
            images = [i if isinstance(i, tuple) else None for i in self._images()]
            explained = self.suggest.status(self.fields, status, rec_json, answer.status, fake_json, images, self.edit)
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
        if not isinstance(body, dict):
            return
        images = body.get("images")
        changed = False
        for ref in [*(images if isinstance(images, list) else []), body.get("mask")]:
            if isinstance(ref, dict) and isinstance(ref.get("file_id"), str) and ref["file_id"] in self.file_ids:
                ref["file_id"] = self.file_ids[ref["file_id"]]
                changed = True
        if changed:
            request.body = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")

    def _fields(self, request: FakeRequest) -> dict[str, Any]:
        methods = contracts.route_table().methods(request.path)
        route = methods.get(request.method) if methods else None
        self.edit = route is not None and route.operation_id == "editImage"
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
        # The recorded JSON is the body the service sent (its images stand for themselves: the contract checks
        # their keys, not their bytes), so nothing of how the recorder wrote the bytes is trusted here.
        response = self.recorded.response
        media = response.get("headers", {}).get("content-type") or "application/json"
        body: Any = None
        if "json" in response:
            body = restored_images(response["json"], lambda name: "", lambda ref: "https://recorded.invalid/")
        found = contracts.exchange_violations(request.method, request.path, response["status"], body, media_type=media)
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            self.differ("answer_contract", f"{found[0]}{more}")

    # -- the answer ----------------------------------------------------------------------------------------------

    def _fields_compared(self, recorded: dict[str, Any], fake: dict[str, Any]) -> None:
        listed: dict[str, int] = {}

        def differ(kind: str, detail: str, *, catalog: bool = False, subject: str = "") -> None:
            listed[kind] = listed.get(kind, 0) + 1
            if listed[kind] <= _FIELDS_LISTED:
                self.differ(kind, detail, catalog=catalog, subject=subject)

        for name in REPORT_FIELDS:
            if (name in recorded) == (name in fake):
                self.suggest.seen_field(self.fields, name, name in recorded)
        for name in sorted({*recorded, *fake}):
            if name not in fake:
                if name in self.allowed:
                    continue
                explained = self.suggest.report_field(self.fields, name, True)
                kind = _json_type(recorded[name])
                shown = f"{_name(name)} ({kind}) only in the recording"
                differ("field_only_in_recording", shown, catalog=explained, subject=name)
            elif name not in recorded:
                explained = self.suggest.report_field(self.fields, name, False)
                kind = _json_type(fake[name])
                shown = f"{_name(name)} ({kind}) only in the fake's answer"
                differ("field_only_in_fake", shown, catalog=explained, subject=name)
            elif _json_type(recorded[name]) != _json_type(fake[name]):
                shown = f"is {_json_type(recorded[name])} in the recording, {_json_type(fake[name])} in the fake"
                differ("field_type", f"{_name(name)} {shown}", subject=name)
        for kind, count in listed.items():
            if count > _FIELDS_LISTED:
                self.differ(kind, f"and {count - _FIELDS_LISTED} more field(s) like these, not listed")

    def _images(self) -> list[_Image]:
        """Each recorded image, by item: (format, width, height), why it is not an image, or None (no image,
        or one the recording could not keep)."""
        if self._recorded_images is not None:
            return self._recorded_images
        value = self.recorded.response.get("json")
        items = value.get("data") if isinstance(value, dict) else None
        found: list[_Image] = []
        for item in items if isinstance(items, list) else []:
            found.append(self._recorded_image(item) if isinstance(item, dict) else None)
        self._recorded_images = found
        return found

    def _recorded_image(self, item: dict[str, Any]) -> _Image:
        data: bytes | None = None
        for key in ("b64_json", "url"):
            ref = item.get(key)
            if isinstance(ref, dict) and isinstance(ref.get("$file"), str):
                data = self.read(ref["$file"])
                break
            if key == "b64_json" and isinstance(ref, str) and ref:
                try:
                    data = base64.b64decode(ref, validate=True)
                except (binascii.Error, ValueError):
                    return "a b64_json that is not base64"
                break
        if data is None:
            return None  # no image, or a URL the recorder could not fetch: nothing to compare
        return _image(data) or f"{len(data)} byte(s) that are not an image"

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
        return _image(data) if data is not None else None

    def _images_compared(self, recorded: dict[str, Any], fake: dict[str, Any]) -> None:
        rec_items, fake_items = recorded.get("data"), fake.get("data")
        if not isinstance(rec_items, list) or not isinstance(fake_items, list):
            return
        if len(rec_items) != len(fake_items):
            self.differ("data_count", f"recorded {len(rec_items)} image(s), fake {len(fake_items)}")
        rec_images = self._images()
        for index, (rec_item, fake_item) in enumerate(zip(rec_items, fake_items, strict=False)):  # counted above
            rec_keys, fake_keys = _carried(rec_item), _carried(fake_item)
            if rec_keys != fake_keys:
                explained = self.suggest.data_keys(self.fields, rec_keys, fake_keys)
                shown = f"recorded {', '.join(rec_keys) or 'nothing'}, fake {', '.join(fake_keys) or 'nothing'}"
                self.differ("data_keys", f"image {index}: {shown}", catalog=explained, subject=str(index))
            rec_image = rec_images[index]
            fake_image = self._fake_image(fake_item) if isinstance(fake_item, dict) else None
            if rec_image is None or fake_image is None:
                continue
            if isinstance(rec_image, str):
                self.differ(
                    "image_format", f"image {index}: recorded {rec_image}, fake {fake_image[0]}", subject=str(index)
                )
                continue
            if rec_image[0] != fake_image[0]:
                shown = f"image {index}: recorded {rec_image[0]}, fake {fake_image[0]}"
                explained = self.suggest.image_format(self.fields, rec_image[0])
                self.differ("image_format", shown, catalog=explained, subject=str(index))
            if rec_image[1:] != fake_image[1:]:
                explained = self.suggest.image_size(self.fields, rec_image[1:], fake_image[1:])
                self.differ(
                    "image_size",
                    f"image {index}: recorded {rec_image[1]}x{rec_image[2]}, fake {fake_image[1]}x{fake_image[2]}",
                    catalog=explained,
                    subject=str(index),
                )

    def _cost_compared(self, recorded: dict[str, Any], fake: dict[str, Any]) -> None:
        fake_cost = number(fake.get("cost"))
        if fake_cost is None or "cost" not in recorded:
            return
        rec_cost = number(recorded["cost"])
        if rec_cost is None:
            if isinstance(recorded["cost"], (int, float)) and not isinstance(recorded["cost"], bool):
                self.differ("cost", f"recorded a number beyond a double's range, fake {fake_cost:g}")
            return  # a cost of another type is the field_type difference
        if abs(rec_cost - fake_cost) <= 1e-9 + 1e-6 * max(abs(rec_cost), abs(fake_cost)):
            self.suggest.seen_cost(self.fields, fake_cost, self.edit)
            return
        relative = f" ({(rec_cost - fake_cost) / fake_cost:+.1%})" if fake_cost else ""
        explained = self.suggest.cost(self.fields, rec_cost, self.edit)
        self.differ("cost", f"recorded {rec_cost:g}, fake {fake_cost:g}{relative}", catalog=explained)

    def _usage_compared(self, recorded: dict[str, Any], fake: dict[str, Any]) -> None:
        rec_usage, fake_usage = recorded.get("usage"), fake.get("usage")
        if not isinstance(rec_usage, dict) or not isinstance(fake_usage, dict):
            return
        only_rec, only_fake = sorted(set(rec_usage) - set(fake_usage)), sorted(set(fake_usage) - set(rec_usage))
        parts = []
        for side, keys in (("recording", only_rec), ("fake", only_fake)):
            if keys:
                shown = ", ".join(one_line(k, _NAME_CHARS) for k in keys[:10])
                more = f" and {len(keys) - 10} more" if len(keys) > 10 else ""
                parts.append(f"only in the {side}: {shown}{more}")
        if parts:
            self.differ("usage_keys", "; ".join(parts))

    def _remember_upload(self, recorded: dict[str, Any], fake: dict[str, Any]) -> None:
        rec_id, fake_id = recorded.get("file_id"), fake.get("file_id")
        if isinstance(rec_id, str) and isinstance(fake_id, str):
            self.file_ids[rec_id] = fake_id
