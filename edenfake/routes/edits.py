"""``POST /v3/images/edits``, JSON or multipart: every input image is decoded and checked before the model
sees it; each refusal is a 422 whose ``loc`` names the part (``["body", "image", 1]``,
``["body", "images", 0, "file_id"]``, ``["body", "mask"]``)."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import io
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edenfake import _media, _redact, contracts
from edenfake._answers import image_answer, json_image_refs, plan_json
from edenfake._core import Core
from edenfake._request import Exchange
from edenfake._wire import FakeResponse, compact_json
from edenfake.catalog import ModelSpec
from edenfake.errors import RequestValidationError, problem
from edenfake.journal import MAX_INPUT_IMAGES

if TYPE_CHECKING:
    from PIL import ImageFile

__all__ = ["HANDLERS", "check_image"]

#: the most pixels an input image may have, checked from its header before its pixels are decoded: about 89
#: megapixels, the number Pillow's decompression-bomb check starts from, stated here so that no setting of
#: Pillow's (global, shared with the rest of the process) changes what an edit takes
MAX_INPUT_PIXELS = 1024 * 1024 * 1024 // 4 // 3
_IMAGE_PARTS = ("image", "image[]")


@functools.cache
def _readers() -> dict[str, type[ImageFile.ImageFile]]:
    """The formats an input image may have, and Pillow's reader for each (loaded at the first edit)."""
    from PIL import JpegImagePlugin, PngImagePlugin, WebPImagePlugin

    return {
        "png": PngImagePlugin.PngImageFile,
        "jpeg": JpegImagePlugin.JpegImageFile,
        "webp": WebPImagePlugin.WebPImageFile,
    }


#: Pillow's own reprs (``<_io.BytesIO object at 0x...>``) differ on every run; a message never shows them
_REPR = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>")


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
    #: the image's bytes (None for a remote URL): hosted for the console, see _journal_inputs
    data: bytes | memoryview | None = field(default=None, repr=False, compare=False)


def check_image(
    data: bytes | memoryview, loc: tuple[str | int, ...], *, max_bytes: int, problems: list[dict[str, Any]]
) -> InputImage | None:
    """Decode ``data`` and check it is a PNG, JPEG or WebP within ``max_bytes`` and MAX_INPUT_PIXELS; a problem
    per failure, whose message names the part (or field) and the rule."""
    subject = _subject(loc)
    if not data:
        problems.append(problem(loc, "image_empty", f"{subject} is empty"))
        return None
    if len(data) > max_bytes:
        problems.append(
            problem(loc, "image_too_large", f"{subject} is {len(data)} bytes; this model takes at most {max_bytes}")
        )
        return None
    found = _format(data)
    if found is None:
        shown = f"its first bytes are {bytes(data[:8]).hex(' ')}" if data else "it is empty"
        problems.append(problem(loc, "image_invalid", f"{subject} is not a PNG, JPEG or WebP ({shown})"))
        return None
    fmt, opener = found
    try:
        # The format's own reader, not Image.open: no guessing among every format Pillow knows, and no
        # decompression-bomb check that depends on Pillow's global settings. Reading the header is cheap.
        image = opener(io.BytesIO(data))
        if image.width * image.height > MAX_INPUT_PIXELS:
            problems.append(
                problem(
                    loc,
                    "image_too_large",
                    f"{subject} is {image.width}x{image.height} pixels; edits take at most {MAX_INPUT_PIXELS} pixels",
                )
            )
            return None
        image.load()
        if fmt == "png":
            # Decoding tolerates a PNG cut after its pixel data; verify() walks every chunk to IEND, with CRCs.
            _readers()["png"](io.BytesIO(data)).verify()
    except Exception as exc:  # Pillow raises many kinds for a broken file; all mean the same here
        reason = _redact.clip(_REPR.sub("<file>", str(exc)) or type(exc).__name__, 200)
        problems.append(problem(loc, "image_invalid", f"{subject} cannot be decoded as {fmt.upper()}: {reason}"))
        return None
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    return InputImage(loc, hashlib.sha256(data).hexdigest(), fmt, image.width, image.height, has_alpha, data)


def _format(data: bytes | memoryview) -> tuple[str, type[ImageFile.ImageFile]] | None:
    """The format ``data`` says it is by its first bytes, and Pillow's reader for it; None for any other."""
    kind = _media.sniff(data)
    reader = _readers().get(kind.name) if kind is not None else None
    return (kind.name, reader) if kind is not None and reader is not None else None


def _subject(loc: tuple[str | int, ...]) -> str:
    """How a message names the image at ``loc``: a multipart part, a JSON field, or the mask."""
    name = loc[0]
    if name == "mask":
        return "the mask"
    if name == "images":  # JSON: images[0]
        return "the image at images" + "".join(f"[{p}]" for p in loc[1:])
    index = f" #{int(loc[1]) + 1}" if len(loc) > 1 else ""
    return f"the image in part '{_redact.clip(str(name), 60)}'{index}"


def _check_set(
    model: ModelSpec,
    images: list[InputImage | None],
    mask: InputImage | None,
    mask_loc: tuple[str | int, ...],
    problems: list[dict[str, Any]],
) -> None:
    # The rules that tie the images to the model and to each other.
    if model.rule("square_inputs_only"):
        for image in images:
            if image is not None and image.width is not None and (image.format != "png" or image.width != image.height):
                problems.append(problem(image.loc, "image_not_square_png", f"{model.id} edits one square PNG image"))
    if mask is None:
        return
    if mask.width is not None and mask.format != "png":
        problems.append(problem(mask_loc, "mask_not_png", f"the mask must be a PNG, not {(mask.format or '').upper()}"))
    elif mask.width is not None and not mask.has_alpha:
        problems.append(problem(mask_loc, "mask_no_alpha", "the mask needs an alpha channel (transparent = edit)"))
    first = images[0] if images else None
    canvas = (first.width, first.height) if first is not None and first.width is not None else None
    if canvas is not None and mask.width is not None and canvas != (mask.width, mask.height):
        problems.append(
            problem(
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

#: an input image's bytes, or a remote URL the fake does not fetch
_Source = bytes | memoryview | str


def edit_image(core: Core, exchange: Exchange) -> FakeResponse:
    if exchange.kind == "multipart":
        model, plan, prompt, images, mask = _from_multipart(core, exchange)
    else:
        model, plan, prompt = plan_json(core, exchange, "edit-request", edits=True)
        images, mask = _from_refs(core, model, *json_image_refs(exchange.json()))
    inputs = tuple(i.digest for i in images) + ((mask.digest,) if mask is not None else ())
    exchange.journal_inputs = _journal_inputs(core, images, mask)
    first = images[0] if images else None
    edit_of = "url" if first is None or first.width is None else f"{first.width}x{first.height}"
    return image_answer(
        core, exchange, model, plan, prompt, inputs=inputs, image_tokens=image_tokens(images), edit_of=edit_of
    )


#: an input image up to this many bytes is hosted under /_edenfake/images/{sha256}.{ext} (like a base64
#: answer's image, in the same byte-bounded store), so that the console shows it beside the edit's output
MAX_HOSTED_INPUT_BYTES = 4 * 1024 * 1024


def _journal_inputs(core: Core, images: list[InputImage], mask: InputImage | None) -> bytes:
    """What the journal keeps of an edit's inputs (see journal.py): the first MAX_INPUT_IMAGES images, then the
    mask; each one up to MAX_HOSTED_INPUT_BYTES hosted by its sha256."""
    listed = [("image", i) for i in images[:MAX_INPUT_IMAGES]] + ([("mask", mask)] if mask is not None else [])
    kept = []
    for role, image in listed:
        hosted = False
        if image.data is not None and image.format is not None and len(image.data) <= MAX_HOSTED_INPUT_BYTES:
            name = f"{image.digest}.{_media.EXTENSIONS[image.format]}"
            hosted = core.urls.get(name) is not None or core.urls.put(
                name, bytes(image.data), (_media.MEDIA_TYPES[image.format],)
            )
        kept.append(
            {
                "role": role,
                "sha256": image.digest,
                "format": image.format,
                "width": image.width,
                "height": image.height,
                "bytes": None if image.data is None else len(image.data),
                "hosted": hosted,
            }
        )
    return compact_json(kept).encode()


def _from_multipart(core: Core, exchange: Exchange) -> tuple[ModelSpec, Any, str, list[InputImage], InputImage | None]:
    parts = exchange.parts()
    fields = exchange.form()
    if isinstance(fields.get("model"), str):
        exchange.model = fields["model"]
    core.check_region(fields.get("model"), exchange.request, edits=True)  # Eden's gate: before the body's checks
    files = [p for p in parts if p.filename is not None or p.name in (*_IMAGE_PARTS, "mask")]
    problems = contracts.refusal_details("edit-request#/$defs/EditForm", fields)
    images = [p for p in files if p.name in _IMAGE_PARTS]
    masks = [p for p in files if p.name == "mask"]
    for p in files:
        if p.name not in (*_IMAGE_PARTS, "mask"):
            problems.append(
                problem(
                    (_redact.clip(p.name, 60),),
                    "unexpected_file",
                    f"file part '{_redact.clip(p.name, 60)}' is not read by this route; send images "
                    "as 'image' (or repeated 'image[]') and the mask as 'mask'",
                )
            )
    references = sorted(k for k in fields if k == "images" or k.startswith("images["))
    if not images and references:
        # The openai SDK's images.edit always sends multipart: file_id or image_url references given in its
        # extra_body arrive as form fields (images[][file_id]) that no multipart edit reads.
        problems.append(
            problem(
                ("images",),
                "reference_in_multipart",
                f"image references ({_redact.clip(', '.join(references), 120)}) are read from a JSON body only: "
                'send them as {"images": [{"file_id": ...}]} with Content-Type: application/json, '
                "or send the images as file parts named 'image'",
            )
        )
    elif not images:
        problems.append(problem(("image",), "missing", "Field required: send at least one file part named 'image'"))
    if len(masks) > 1:
        problems.append(problem(("mask",), "too_many_masks", "send at most one mask"))
    if problems:
        raise RequestValidationError(problems)
    model = core.model_for(fields["model"], edits=True)
    plan = model.plan(fields, edit=True)
    if core.catalog.blocks(fields["prompt"]):  # the marker: a content-policy refusal needing no control
        raise model.content_policy_error()
    checked, mask = _check_inputs(
        model,
        [(p.data, (p.name, i) if len(images) > 1 else (p.name,)) for i, p in enumerate(images)],
        (masks[0].data, ("mask",)) if masks else None,
        images_loc=("image",),
    )
    return model, plan, fields["prompt"], checked, mask


def _from_refs(
    core: Core, model: ModelSpec, refs: tuple[tuple[str, str], ...], has_mask: bool
) -> tuple[list[InputImage], InputImage | None]:
    problems: list[dict[str, Any]] = []
    count = len(refs) - 1 if has_mask else len(refs)
    sources: list[tuple[_Source, tuple[str | int, ...]]] = []
    for i, ref in enumerate(refs[:count]):
        found = _resolve(core, model, ref, ("images", i), problems)
        if found is not None:
            sources.append(found)
    mask_source = _resolve(core, model, refs[-1], ("mask",), problems) if has_mask else None
    if problems:
        raise RequestValidationError(problems)
    return _check_inputs(model, sources, mask_source, images_loc=("images",))


def _resolve(
    core: Core,
    model: ModelSpec,
    ref: tuple[str, str],
    loc: tuple[str | int, ...],
    problems: list[dict[str, Any]],
) -> tuple[_Source, tuple[str | int, ...]] | None:
    """The bytes behind an image reference (or, for a remote URL, the URL itself)."""
    kind, value = ref
    if kind == "file_id":
        upload = core.uploads.get(value)
        if upload is None:
            shown = _redact.clip(value, 64)
            problems.append(
                problem((*loc, "file_id"), "file_not_found", f"no uploaded file has id '{shown}' (or it expired)")
            )
            return None
        return upload.data, loc
    if value.startswith("https://"):
        if not model.rule("remote_image_urls"):
            problems.append(
                problem(
                    (*loc, "image_url"),
                    "remote_url_refused",
                    f"{model.id} does not take remote image URLs; "
                    "send a data: URL, or upload the file and use its file_id",
                )
            )
            return None
        return value, loc
    payload = value.partition(",")[2]
    try:
        return base64.b64decode("".join(payload.split()), validate=True), loc
    except (binascii.Error, ValueError):
        problems.append(problem((*loc, "image_url"), "data_url_invalid", "the data: URL is not valid base64"))
        return None


def _check_inputs(
    model: ModelSpec,
    sources: list[tuple[_Source, tuple[str | int, ...]]],
    mask_source: tuple[_Source, tuple[str | int, ...]] | None,
    *,
    images_loc: tuple[str, ...],
) -> tuple[list[InputImage], InputImage | None]:
    problems: list[dict[str, Any]] = []
    limit = model.rule("max_input_images")
    if len(sources) > limit:
        problems.append(
            problem(images_loc, "too_many_images", f"{model.id} edits at most {limit} image(s); got {len(sources)}")
        )
    max_bytes = model.rule("max_image_bytes")
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


HANDLERS = {"editImage": edit_image}
