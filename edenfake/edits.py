"""Image edits and uploads: ``POST /v3/images/edits`` (JSON or multipart) and ``POST /v3/upload``.

Every input image is decoded and checked before the model sees it; each refusal is a 422 whose ``loc``
names the part (``["body", "image", 1]``, ``["body", "images", 0, "file_id"]``, ``["body", "mask"]``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import math
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from typing import TYPE_CHECKING, Any

from PIL import Image
from python_multipart.multipart import MultipartParser, parse_options_header

from edenfake import contracts
from edenfake._wire import JSON_MEDIA, FakeResponse, json_response
from edenfake.errors import BadRequest, PayloadTooLarge, RequestValidationError, UnsupportedMediaType

if TYPE_CHECKING:
    from edenfake.catalog import ModelSpec
    from edenfake.fake import Clock, EdenFake, Exchange

__all__ = ["Part", "Upload", "UploadStore", "parse_multipart"]

#: what the real service keeps an upload for
UPLOAD_TTL = 30 * 24 * 3600.0
_DEFAULT_MAX_IMAGE_BYTES = 50 * 1024 * 1024
#: the most pixels an input image may have: Pillow's decompression-bomb threshold (about 89 megapixels)
_MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
_IMAGE_PARTS = ("image", "image[]")
#: route -> the contract of its multipart text fields, and the part names that carry files
_FORMS = {
    "/v3/images/edits": ("edit-request#/$defs/EditForm", (*_IMAGE_PARTS, "mask")),
    "/v3/upload": ("edit-request#/$defs/UploadForm", ("file",)),
}


# -- multipart ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One part of a multipart body: a text field (``filename`` None) or a file.

    ``data`` is a view into the request body where the parser allows it, so a file part costs no copy.
    """

    name: str
    filename: str | None
    content_type: str | None
    data: bytes | memoryview

    @property
    def text(self) -> str:
        return bytes(self.data).decode("utf-8", "replace")


def parse_multipart(content_type: str, body: bytes, *, max_parts: int = 64) -> list[Part]:
    """The parts of a multipart/form-data body; BadRequest when it cannot be read."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadRequest("multipart/form-data needs a boundary parameter in Content-Type", error_code="INVALID_BODY")
    parts: list[Part] = []
    current: dict[str, Any] = {}
    header_field: list[bytes] = []
    header_value: list[bytes] = []
    whole = memoryview(body)

    def on_part_begin() -> None:
        current.clear()
        current.update(headers={}, data=[])

    def on_part_data(data: bytes, start: int, end: int) -> None:
        # The parser hands out ranges of the body itself (or, rarely, of its boundary buffer): keep the
        # ranges, not copies.
        current["data"].append((data, start, end))

    def on_part_end() -> None:
        disposition = current["headers"].get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        name = options.get(b"name")
        if name is None:
            raise BadRequest("a multipart part has no name in its Content-Disposition", error_code="INVALID_BODY")
        filename = options.get(b"filename")
        ctype = current["headers"].get(b"content-type")
        parts.append(
            Part(
                name=name.decode("utf-8", "replace"),
                filename=filename.decode("utf-8", "replace") if filename is not None else None,
                content_type=ctype.decode("latin-1") if ctype is not None else None,
                data=_joined(current["data"], body, whole),
            )
        )
        if len(parts) > max_parts:
            raise BadRequest(f"more than {max_parts} multipart parts", error_code="INVALID_BODY")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.append(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.append(data[start:end])

    def on_header_end() -> None:
        current["headers"][b"".join(header_field).lower()] = b"".join(header_value)
        header_field.clear()
        header_value.clear()

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except BadRequest:
        raise
    except Exception as exc:  # python-multipart raises its own errors for malformed bodies
        raise BadRequest(f"Invalid multipart body: {exc}", error_code="INVALID_BODY") from None
    if not parts:
        raise BadRequest("Invalid multipart body: no parts (is the boundary right?)", error_code="INVALID_BODY")
    return parts


def _joined(ranges: list[tuple[bytes, int, int]], body: bytes, whole: memoryview) -> bytes | memoryview:
    # One contiguous run of the body: a view of it. Anything else (data split by a boundary look-behind): a copy.
    if not ranges:
        return b""
    if all(buf is body for buf, _, _ in ranges) and all(
        ranges[i][2] == ranges[i + 1][1] for i in range(len(ranges) - 1)
    ):
        return whole[ranges[0][1] : ranges[-1][2]]
    return b"".join(buf[start:end] for buf, start, end in ranges)


def form_fields(parts: list[Part], path: str = "/v3/images/edits") -> dict[str, Any]:
    """The text fields of a multipart body for route ``path``, each read as the type its contract expects (a
    form sends only strings: ``n=2`` becomes the number 2)."""
    if path not in _FORMS:
        return {p.name: p.text for p in parts if p.filename is None}
    contract, file_parts = _FORMS[path]
    return {p.name: _coerce(contract, p.name, p.text) for p in parts if p.filename is None and p.name not in file_parts}


# -- uploads ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """A file stored by ``POST /v3/upload``."""

    file_id: str
    filename: str
    content_type: str
    data: bytes
    purpose: str
    created_at: float
    expires_at: float

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def describe(self) -> dict[str, Any]:
        """The answer of ``POST /v3/upload``: the API reference's fields, and the upload guide's names for two."""
        return {
            "file_id": self.file_id,
            "file_name": self.filename,
            "file_size": len(self.data),
            "file_mimetype": self.content_type,
            "purpose": self.purpose,
            "metadata": {},
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "filename": self.filename,
            "bytes": len(self.data),
        }


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)


def sniff_mimetype(data: bytes | memoryview, declared: str | None) -> str:
    """The MIME type of ``data`` from its first bytes (the real route detects it), else the declared one."""
    head = bytes(data[:16])
    for signature, media in _SIGNATURES:
        if head.startswith(signature):
            return media
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return (declared or "application/octet-stream").partition(";")[0].strip().lower() or "application/octet-stream"


class UploadStore:
    """Uploaded files, each kept until it expires on the fake's clock, at most ``max_files`` and ``max_bytes``
    in all (the oldest go first)."""

    def __init__(
        self, clock: Clock, *, ttl: float = UPLOAD_TTL, max_bytes: int = 256 * 1024 * 1024, max_files: int = 1000
    ) -> None:
        self.clock = clock
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.max_files = max_files
        self._files: OrderedDict[str, Upload] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def put(
        self,
        filename: str,
        content_type: str,
        data: bytes | memoryview,
        purpose: str = "general",
        *,
        ttl: float | None = None,
    ) -> Upload:
        """Store a file (``ttl`` seconds, default the store's); the same content and name get the same id."""
        digest = hashlib.sha256(filename.encode("utf-8", "surrogatepass") + b"\0" + data).digest()
        file_id = str(uuid.UUID(bytes=digest[:16], version=4))
        now = self.clock.now()
        upload = Upload(
            file_id, filename, content_type, bytes(data), purpose, now, now + (self.ttl if ttl is None else ttl)
        )
        with self._lock:
            old = self._files.pop(file_id, None)
            if old is not None:
                self._bytes -= len(old.data)
            self._files[file_id] = upload
            self._bytes += len(upload.data)
            while self._files and (self._bytes > self.max_bytes or len(self._files) > self.max_files):
                _, evicted = self._files.popitem(last=False)
                self._bytes -= len(evicted.data)
        return upload

    def get(self, file_id: str) -> Upload | None:
        """The upload, or None when unknown, evicted, deleted or expired."""
        with self._lock:
            upload = self._files.get(file_id)
            if upload is not None and self.clock.now() >= upload.expires_at:
                del self._files[file_id]
                self._bytes -= len(upload.data)
                return None
            return upload

    def delete(self, file_ids: Iterable[str]) -> int:
        """Remove these files; the number that were there (unknown ids are ignored, as the real route does)."""
        deleted = 0
        with self._lock:
            for file_id in {_canonical_uuid(i) for i in file_ids}:
                upload = self._files.pop(file_id, None)
                if upload is not None:
                    self._bytes -= len(upload.data)
                    deleted += upload.expires_at > self.clock.now()
        return deleted

    def clear(self) -> None:
        with self._lock:
            self._files.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._files)

    @property
    def size_bytes(self) -> int:
        return self._bytes


def _canonical_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value


def post_upload(fake: EdenFake, exchange: Exchange) -> FakeResponse:
    parts = _multipart(fake, exchange)
    fields = form_fields(parts, "/v3/upload")
    files = [p for p in parts if p.filename is not None]
    exchange.form = fields
    exchange.files = [_file_summary(p) for p in files]
    problems = [v.as_detail() for v in contracts.violations("edit-request#/$defs/UploadForm", fields)]
    named = [p for p in files if p.name == "file"]
    if not named and any(p.name == "file" and p.filename is None for p in parts):
        problems.append(
            _problem(
                ("file",), "file_expected", "'file' came as a text field; send it as a file part (with a filename)"
            )
        )
    elif not named:
        problems.append(
            _problem(("file",), "missing", "Field required: send the file as a multipart part named 'file'")
        )
    problems += [
        _problem((p.name,), "unexpected_file", f"file part '{p.name}' is not read by this route; name it 'file'")
        for p in files
        if p.name != "file"
    ]
    if len(named) > 1:
        problems.append(_problem(("file",), "too_many_files", "send one file per upload"))
    elif len(named) == 1 and not named[0].data:
        problems.append(_problem(("file",), "file_empty", "the file is empty"))
    if problems:
        raise RequestValidationError(problems)
    part = named[0]
    days = fields.get("expires_in_days")
    upload = fake.uploads.put(
        part.filename or "upload",
        sniff_mimetype(part.data, part.content_type),
        part.data,
        fields.get("purpose") or "general",
        ttl=None if days is None else days * 86400.0,
    )
    return json_response(200, upload.describe())


def post_upload_delete(fake: EdenFake, exchange: Exchange) -> FakeResponse:
    body = fake.read_json(exchange)
    fake.check_contract("edit-request#/$defs/DeleteFiles", body)
    return json_response(200, {"deleted_count": fake.uploads.delete(body["file_ids"])})


# -- checking input images ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputImage:
    """An input image that passed its checks (``width`` is None for a remote URL the fake does not fetch)."""

    loc: tuple[str | int, ...]
    digest: str
    format: str | None
    width: int | None
    height: int | None
    has_alpha: bool


def _problem(loc: tuple[str | int, ...], type_: str, msg: str) -> dict[str, Any]:
    return {"type": type_, "loc": ["body", *loc], "msg": msg}


def check_image(
    data: bytes | memoryview, loc: tuple[str | int, ...], *, max_bytes: int, problems: list[dict[str, Any]]
) -> InputImage | None:
    """Decode ``data`` and check it is a PNG, JPEG or WebP within ``max_bytes``; a problem per failure."""
    if not data:
        problems.append(_problem(loc, "image_empty", "the image is empty"))
        return None
    if len(data) > max_bytes:
        problems.append(
            _problem(loc, "image_too_large", f"the image is {len(data)} bytes; this model takes at most {max_bytes}")
        )
        return None
    try:
        buffer = io.BytesIO(data)
        image = Image.open(buffer)
        fmt = _FORMATS.get(image.format or "")
        if fmt is None:
            problems.append(_problem(loc, "image_format", f"the image is {image.format}; send PNG, JPEG or WebP"))
            return None
        if image.width * image.height > _MAX_PIXELS:
            raise Image.DecompressionBombError(f"{image.width}x{image.height} pixels")
        image.load()
        if fmt == "png":
            # Decoding tolerates a PNG cut after its pixel data; verify() walks every chunk to IEND, with CRCs.
            buffer.seek(0)
            Image.open(buffer).verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Decoding it would take gigabytes: refused before the pixels are read.
        problems.append(
            _problem(
                loc, "image_too_large", f"the image has more than {_MAX_PIXELS} pixels ({exc}); send a smaller one"
            )
        )
        return None
    except Exception as exc:
        problems.append(_problem(loc, "image_invalid", f"the image cannot be decoded as PNG, JPEG or WebP: {exc}"))
        return None
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    return InputImage(loc, hashlib.sha256(data).hexdigest(), fmt, image.width, image.height, has_alpha)


def _check_set(
    model: ModelSpec,
    images: list[InputImage | None],
    mask: InputImage | None,
    mask_loc: tuple[str | int, ...],
    problems: list[dict[str, Any]],
) -> None:
    # The rules that tie the images to the model and to each other.
    if model.entry.get("square_inputs_only"):
        for image in images:
            if image is not None and image.width is not None and (image.format != "png" or image.width != image.height):
                problems.append(_problem(image.loc, "image_not_square_png", f"{model.id} edits one square PNG image"))
    if mask is None:
        return
    if mask.width is not None and mask.format != "png":
        problems.append(
            _problem(mask_loc, "mask_not_png", f"the mask must be a PNG, not {(mask.format or '').upper()}")
        )
    elif mask.width is not None and not mask.has_alpha:
        problems.append(_problem(mask_loc, "mask_no_alpha", "the mask needs an alpha channel (transparent = edit)"))
    first = images[0] if images else None
    canvas = (first.width, first.height) if first is not None and first.width is not None else None
    if canvas is not None and mask.width is not None and canvas != (mask.width, mask.height):
        problems.append(
            _problem(
                mask_loc,
                "mask_size_mismatch",
                f"the mask is {mask.width}x{mask.height}; it must match the first image, {canvas[0]}x{canvas[1]}",
            )
        )


def image_tokens(images: list[InputImage]) -> int:
    """Input tokens for the images: 85 per image plus 170 per 512-pixel tile (85 for a URL not fetched)."""
    total = 0
    for image in images:
        total += 85
        if image.width is not None and image.height is not None:
            total += 170 * math.ceil(image.width / 512) * math.ceil(image.height / 512)
    return total


# -- the edit route -----------------------------------------------------------------------------------------


def post_edits(fake: EdenFake, exchange: Exchange) -> FakeResponse:
    from edenfake.fake import image_json_response

    media = (exchange.request.header("content-type") or JSON_MEDIA).partition(";")[0].strip().lower()
    if media == "multipart/form-data":
        model, plan, prompt, images, mask = _edit_from_multipart(fake, exchange)
    elif media == JSON_MEDIA or (media.startswith("application/") and media.endswith("+json")):
        model, plan, prompt, images, mask = _edit_from_json(fake, exchange)
    else:
        raise UnsupportedMediaType(
            f"Content-Type must be application/json or multipart/form-data for {exchange.request.path}, got '{media}'"
        )
    inputs = tuple(i.digest for i in images) + ((mask.digest,) if mask is not None else ())
    body = fake.image_response(exchange, model, plan, prompt, inputs=inputs, image_tokens=image_tokens(images))
    return image_json_response(body, exchange)


#: an input image's bytes, or a remote URL the fake does not fetch
_Source = bytes | memoryview | str
_EditParts = tuple["ModelSpec", Any, str, list[InputImage], InputImage | None]


def _multipart(fake: EdenFake, exchange: Exchange) -> list[Part]:
    from edenfake.fake import check_content_encoding

    request = exchange.request
    content_type = request.header("content-type") or ""
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType(f"Content-Type must be multipart/form-data for {request.path}, got '{content_type}'")
    if request.oversize or len(request.body) > fake.max_upload_bytes:
        raise PayloadTooLarge(fake.max_upload_bytes)
    check_content_encoding(request)
    return parse_multipart(content_type, request.body)


@cache
def _form_types(contract: str) -> dict[str, list[str]]:
    # The JSON types each text field may take, read from the contract: a form sends only strings.
    found: dict[str, list[str]] = {}
    for name, schema in contracts.load(contract)["properties"].items():
        ref = schema.get("$ref", "")
        target = contracts.load("generation-request#" + ref.partition("#")[2]) if ref else schema
        kinds = target.get("type", [])
        found[name] = [kinds] if isinstance(kinds, str) else list(kinds)
    return found


def _coerce(contract: str, name: str, value: str) -> Any:
    # A value that does not read as the type stays a string, and the contract names the field.
    kinds = _form_types(contract).get(name, ["string"])
    if "integer" in kinds and value.strip().lstrip("+-").isascii() and value.strip().lstrip("+-").isdigit():
        try:
            return int(value)
        except ValueError:  # past Python's digit limit: the contract refuses the string
            return value
    if "object" in kinds and value.strip().startswith("{"):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _edit_from_multipart(fake: EdenFake, exchange: Exchange) -> _EditParts:
    parts = _multipart(fake, exchange)
    fields = form_fields(parts)
    files = [p for p in parts if p.filename is not None or p.name in _FORMS["/v3/images/edits"][1]]
    exchange.form = fields
    exchange.files = [_file_summary(p) for p in files]
    problems = [v.as_detail() for v in contracts.violations("edit-request#/$defs/EditForm", fields)]
    images = [p for p in files if p.name in _IMAGE_PARTS]
    masks = [p for p in files if p.name == "mask"]
    for p in files:
        if p.name not in (*_IMAGE_PARTS, "mask"):
            problems.append(
                _problem(
                    (p.name,),
                    "unexpected_file",
                    f"file part '{p.name}' is not read by this route; send images "
                    "as 'image' (or repeated 'image[]') and the mask as 'mask'",
                )
            )
    if not images:
        problems.append(_problem(("image",), "missing", "Field required: send at least one file part named 'image'"))
    if len(masks) > 1:
        problems.append(_problem(("mask",), "too_many_masks", "send at most one mask"))
    if problems:
        raise RequestValidationError(problems)
    model = fake.model_for(fields["model"], edits=True)
    plan = model.plan(fields)
    checked, mask = _check_inputs(
        model,
        [(p.data, (p.name, i) if len(images) > 1 else (p.name,)) for i, p in enumerate(images)],
        (masks[0].data, ("mask",)) if masks else None,
        images_loc=("image",),
    )
    return model, plan, fields["prompt"], checked, mask


def _edit_from_json(fake: EdenFake, exchange: Exchange) -> _EditParts:
    body, model, plan = fake.planned(exchange, "edit-request", edits=True)
    problems: list[dict[str, Any]] = []
    sources: list[tuple[_Source, tuple[str | int, ...]]] = []
    for i, ref in enumerate(body["images"]):
        found = _resolve(fake, model, ref, ("images", i), problems)
        if found is not None:
            sources.append(found)
    mask_source = None
    if body.get("mask") is not None:
        mask_source = _resolve(fake, model, body["mask"], ("mask",), problems)
    if problems:
        raise RequestValidationError(problems)
    checked, mask = _check_inputs(model, sources, mask_source, images_loc=("images",))
    return model, plan, body["prompt"], checked, mask


def _resolve(
    fake: EdenFake, model: ModelSpec, ref: dict[str, str], loc: tuple[str | int, ...], problems: list[dict[str, Any]]
) -> tuple[_Source, tuple[str | int, ...]] | None:
    """The bytes behind an image reference (or, for a remote URL, the URL itself)."""
    if "file_id" in ref:
        upload = fake.uploads.get(ref["file_id"])
        if upload is None:
            problems.append(
                _problem(
                    (*loc, "file_id"), "file_not_found", f"no uploaded file has id '{ref['file_id']}' (or it expired)"
                )
            )
            return None
        return upload.data, loc
    url = ref["image_url"]
    if url.startswith("https://"):
        if not model.entry.get("remote_image_urls", False):
            problems.append(
                _problem(
                    (*loc, "image_url"),
                    "remote_url_refused",
                    f"{model.id} does not take remote image URLs; "
                    "send a data: URL, or upload the file and use its file_id",
                )
            )
            return None
        return url, loc
    payload = url.partition(",")[2]
    try:
        return base64.b64decode("".join(payload.split()), validate=True), loc
    except (binascii.Error, ValueError):
        problems.append(_problem((*loc, "image_url"), "data_url_invalid", "the data: URL is not valid base64"))
        return None


def _check_inputs(
    model: ModelSpec,
    sources: list[tuple[_Source, tuple[str | int, ...]]],
    mask_source: tuple[_Source, tuple[str | int, ...]] | None,
    *,
    images_loc: tuple[str, ...],
) -> tuple[list[InputImage], InputImage | None]:
    problems: list[dict[str, Any]] = []
    limit = model.entry.get("max_input_images", 16)
    if len(sources) > limit:
        problems.append(
            _problem(images_loc, "too_many_images", f"{model.id} edits at most {limit} image(s); got {len(sources)}")
        )
    max_bytes = model.entry.get("max_image_bytes", _DEFAULT_MAX_IMAGE_BYTES)
    checked = [_check_source(source, loc, max_bytes, problems) for source, loc in sources]
    mask = _check_source(mask_source[0], mask_source[1], max_bytes, problems) if mask_source is not None else None
    _check_set(model, checked, mask, mask_source[1] if mask_source is not None else ("mask",), problems)
    if problems:
        raise RequestValidationError(problems)
    return [c for c in checked if c is not None], mask


def _check_source(
    source: _Source, loc: tuple[str | int, ...], max_bytes: int, problems: list[dict[str, Any]]
) -> InputImage | None:
    if isinstance(source, str):  # a remote URL the fake does not fetch: its hash stands for its content
        return InputImage(loc, hashlib.sha256(source.encode()).hexdigest(), None, None, None, False)
    return check_image(source, loc, max_bytes=max_bytes, problems=problems)


def _file_summary(part: Part) -> dict[str, Any]:
    return {
        "part": part.name,
        "filename": part.filename,
        "content_type": part.content_type,
        "bytes": len(part.data),
        "sha256": hashlib.sha256(part.data).hexdigest(),
    }


def summarize_data_urls(value: Any) -> Any:
    """A copy of a JSON value with each long ``data:`` URL replaced by its size and hash (for the journal)."""
    if isinstance(value, dict):
        return {k: summarize_data_urls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [summarize_data_urls(v) for v in value]
    if isinstance(value, str) and value.startswith("data:") and len(value) > 100:
        head, _, payload = value.partition(",")
        try:  # the decoded bytes' hash: the one the image fingerprint records for this input
            data = base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            digest = hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()
            return f"{head},<{len(payload)} characters, not base64, sha256={digest}>"
        return f"{head},<{len(data)} bytes sha256={hashlib.sha256(data).hexdigest()}>"
    return value
