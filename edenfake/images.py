"""Deterministic placeholder images: real PNG, JPEG or WebP files that carry the fingerprint of the request
that made them, and ``inspect_image`` to read that fingerprint back."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import threading
import zlib
from dataclasses import dataclass
from typing import get_args

from PIL import Image

from edenfake import _glyphs
from edenfake._inspect import EXIF_DESCRIPTION, METADATA_KEY, ImageFormat, ImageInfo, inspect_image, prompt_digest
from edenfake._png import Scanlines, deflate_segment, png
from edenfake._store import ByteStore

__all__ = [
    "METADATA_KEY",
    "ImageCache",
    "ImageFormat",
    "ImageInfo",
    "ImageSpec",
    "inspect_image",
    "prompt_digest",
    "render_image",
]

_FORMATS: tuple[str, ...] = get_args(ImageFormat)


def _canonical(value: object) -> str:
    # ASCII only, so the same text is valid in a PNG tEXt chunk, EXIF ASCII and a JPEG comment.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


@dataclass(frozen=True, init=False)
class ImageSpec:
    """Everything an image depends on: the same spec gives the same bytes, in every run and process."""

    model: str
    prompt: str
    width: int
    height: int
    format: ImageFormat = "png"
    quality: str | None = None
    #: position of the image in its response (0..n-1)
    index: int = 0
    #: the server's seed: another seed changes every image
    seed: int = 0
    #: sha256 hex digests of the input images of an edit (and its mask)
    inputs: tuple[str, ...] = ()
    #: "transparent" gives an RGBA PNG or WebP whose background is fully transparent; anything else is opaque
    background: str | None = None
    #: an edit's first input, as the label names it: its size ("512x512"), or "url" for a remote image the fake
    #: does not fetch; None for a generation. Only an edit's fingerprint has the key, so a generation's bytes
    #: are what they were before edits were labelled.
    edit_of: str | None = None

    def __init__(
        self,
        model: str,
        prompt: str,
        width: int,
        height: int,
        format: ImageFormat = "png",
        quality: str | None = None,
        index: int = 0,
        seed: int = 0,
        inputs: tuple[str, ...] = (),
        background: str | None = None,
        edit_of: str | None = None,
    ) -> None:
        # A frozen dataclass's generated __init__ sets each field through object.__setattr__ (5 us for these
        # eleven, paid for every image of every answer): the instance dict is written at once instead, with the
        # cache's key (``identity``), which every spec answered needs.
        fields = {"model": model, "prompt": prompt, "width": width, "height": height, "format": format}
        fields.update(quality=quality, index=index, seed=seed, inputs=inputs, background=background, edit_of=edit_of)
        kept = (width, height, format, quality, index, seed, inputs)
        fields["_identity"] = (model, prompt_digest(prompt), *kept, background, edit_of)
        self.__dict__.update(fields)

    def fingerprint(self) -> dict[str, object]:
        """What the image carries in its metadata (JSON-serialisable, stable)."""
        edit = {} if self.edit_of is None else {"edit_of": self.edit_of}
        return {
            **edit,
            "edenfake": 1,
            "model": self.model,
            "prompt_sha256": prompt_digest(self.prompt),
            "size": f"{self.width}x{self.height}",
            "format": self.format,
            "quality": self.quality,
            "index": self.index,
            "seed": self.seed,
            "inputs": list(self.inputs),
            "background": self.background,
        }

    @property
    def identity(self) -> tuple[object, ...]:
        """What the spec is, the prompt as its digest: the cache's key. Cheaper than :attr:`key` (no canonical
        JSON), and as unique: the fingerprint holds these fields and nothing else."""
        found: tuple[object, ...] = self.__dict__["_identity"]
        return found

    @functools.cached_property
    def key(self) -> str:
        """sha256 hex of the canonical fingerprint: the source of the image's colours and hosted names."""
        # cached_property writes to the instance dict directly, which a frozen dataclass allows.
        return hashlib.sha256(self.metadata.encode("ascii")).hexdigest()

    @functools.cached_property
    def metadata(self) -> str:
        """The canonical fingerprint (ASCII JSON): what the image carries, and what its key hashes."""
        return _canonical(self.fingerprint())

    @property
    def transparent(self) -> bool:
        """Whether the image has an alpha channel (a transparent background in a format that has one)."""
        return self.background == "transparent" and self.format in ("png", "webp")


# -- drawing -------------------------------------------------------------------------------------------------

_Colour = tuple[int, ...]

#: grey and white: every channel of a pixel of either is the same byte, so a line of text is written as its
#: mask stretched a channel per byte wide (see _text_rows)
_BAND = (26, 26, 26)
_INK = (255, 255, 255)


def _colours(spec: ImageSpec) -> tuple[_Colour, _Colour, _Colour]:
    """Background, band and ink in the image's mode.

    The background comes from the key, so the n images of an answer differ; the band and ink are the same for
    every image, so that the compressed rows of a line of text can be shared between images."""
    k = bytes.fromhex(spec.key[:6])
    background = (96 + k[0] % 128, 96 + k[1] % 128, 96 + k[2] % 128)
    if spec.transparent:
        return (*background, 0), (*_BAND, 255), (*_INK, 255)
    return background, _BAND, _INK


@dataclass(frozen=True)
class _Label:
    """Where the label goes: a band across the middle of the image with three lines of text."""

    size: int  # of the font
    top: int  # of the band, in the image
    height: int  # of the band
    margin: int  # left of the text
    lines: tuple[tuple[int, str], ...]  # (top within the band, text)


def _label(spec: ImageSpec) -> _Label | None:
    """None when the image is too small to hold a label."""
    w, h = spec.width, spec.height
    # A 60-character line fits the width; small images get the smallest legible text, clipped on the right.
    size = max(8, min(48, w // 32, h // 12))
    try:
        ascent, descent = _glyphs.font(size).getmetrics()
    except LookupError:
        return None
    line_height = ascent + descent
    margin, gap = size // 2, size // 4
    band_height = 2 * margin + 3 * line_height + 2 * gap
    if w < 48 or band_height > h:
        return None
    details = f"{spec.model}  {w}x{h}  #{spec.index}"
    if spec.quality:
        details += f"  {spec.quality}"
    if spec.seed:
        details += f"  seed {spec.seed}"
    prompt = " ".join(spec.prompt[:200].split())  # newlines and runs of blanks shown as one space
    texts = [_title(spec), _glyphs.printable(details, size, 80), _glyphs.printable(prompt, size, 60)]
    lines = tuple((margin + i * (line_height + gap), text) for i, text in enumerate(texts))
    return _Label(size, (h - band_height) // 2, band_height, margin, lines)


def _title(spec: ImageSpec) -> str:
    """The label's first line: what the image stands for (a generation, or an edit of its first input)."""
    if spec.edit_of is None:
        return "edenfake placeholder"
    if spec.edit_of == "url":
        return "edenfake edit of a remote image"
    return f"edenfake edit of {_glyphs.printable(spec.edit_of, 8, 24)} input"


def _picture(spec: ImageSpec, mode: str, background: _Colour, band: _Colour, ink: _Colour) -> Image.Image:
    """The whole image as Pillow draws it: what JPEG and WebP encode, and what the PNG writer reproduces."""
    image = Image.new(mode, (spec.width, spec.height), background)
    label = _label(spec)
    if label is not None:
        image.paste(band, (0, label.top, spec.width, label.top + label.height))
        for y, text in label.lines:
            for left, top, char, box in _glyphs.layout(label.size, text)[1]:
                image.paste(ink, (label.margin + left, label.top + y + top), _glyphs.mask(label.size, char, box))
    return image


def render_image(spec: ImageSpec) -> bytes:
    """The image for ``spec`` (uncached): exactly ``width`` x ``height`` pixels in ``format``."""
    w, h = spec.width, spec.height
    if not (isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0):
        raise ValueError(f"image size must be positive integers, got {spec.width!r}x{spec.height!r}")
    if spec.format not in _FORMATS:
        raise ValueError(f"image format must be one of {', '.join(_FORMATS)}, got {spec.format!r}")
    mode = "RGBA" if spec.transparent else "RGB"
    background, band, ink = _colours(spec)
    metadata = spec.metadata
    if spec.format == "png":
        return _png(spec, mode, (background, band, ink), metadata)
    image = _picture(spec, mode, background, band, ink)
    exif = Image.Exif()
    exif[EXIF_DESCRIPTION] = metadata
    out = io.BytesIO()
    if spec.format == "jpeg":
        image.save(out, "JPEG", quality=80, comment=metadata.encode("ascii"), exif=exif.tobytes())
    else:
        # method 0 is libwebp's fastest; even so WebP is the slowest format here, paid once per cached image.
        image.save(out, "WEBP", quality=80, method=0, exif=exif.tobytes())
    return out.getvalue()


@functools.lru_cache(maxsize=128)
def _text_rows(
    mode: str, width: int, band: _Colour, ink: _Colour, size: int, margin: int, text: str
) -> tuple[int, int, bytes, int, int]:
    """The scanlines of one line of the label that have ink, compressed: (first row within the line, rows,
    compressed, adler32, raw length). The first and third lines are the same for every image of an answer."""
    bpp = len(mode)
    placed = [glyph for glyph in _glyphs.layout(size, text)[1] if margin + glyph[0] < width]
    if not placed:
        return 0, 0, b"", 1, 0
    first = min([top for _, top, _, _ in placed])
    rows = max([top + box[3] - box[1] for _, top, _, box in placed]) - first
    # Band and ink are grey (each channel one byte) and opaque: the scanlines are the band's byte with each
    # glyph's mask, a channel per byte wide, pasted over the ink's byte (Pillow clips at the right edge), after a
    # column of zeros (each row's filter type), every alpha byte (RGBA) 255: bytes, no pixel conversion.
    scanlines = Image.new("L", (1 + bpp * width, rows), band[0])
    core, shade, back = scanlines.im, ink[0], band[0]  # C-level paste: Image.paste's checks cost more
    mask, stamp = _glyphs.mask_core, _glyphs.stamp_core
    reach = 0  # how far right the glyphs drawn so far go: a glyph left of it may overlap one (kerning)
    for left, top, char, box in placed:
        x, y = 1 + bpp * (margin + left), top - first
        where = (x, y, x + bpp * (box[2] - box[0]), y + box[3] - box[1])
        if x >= reach:  # on the band alone: the glyph drawn over the band, copied
            core.paste(stamp(size, char, box, bpp, back, shade), where)
        else:  # over another glyph's box: blended through its mask, as Pillow draws it
            core.paste(shade, where, mask(size, char, box, bpp))
        if where[2] > reach:
            reach = where[2]
    if bpp == 4:
        alpha = Image.frombytes("L", (4 * width, rows), b"\x00\x00\x00\xff" * (width * rows))
        scanlines.paste(255, (1, 0), alpha)
    scanlines.paste(0, (0, 0, 1, rows))
    raw = scanlines.tobytes()
    return first, rows, deflate_segment(raw, runs=size >= _glyphs.CRISP), zlib.adler32(raw), len(raw)


def _png(spec: ImageSpec, mode: str, colours: tuple[_Colour, _Colour, _Colour], metadata: str) -> bytes:
    width, height = spec.width, spec.height
    background, band, ink = colours
    stream = Scanlines()
    background_row = b"\x00" + bytes(background) * width
    label = _label(spec)
    if label is None:
        stream.repeat(background_row, height)
    else:
        stream.repeat(background_row, label.top)
        band_row = b"\x00" + bytes(band) * width
        done = 0  # rows of the band written
        for top, text in label.lines:
            segment = _text_rows(mode, width, band, ink, label.size, label.margin, text)
            first, rows, compressed, adler, length = segment
            if rows:
                stream.repeat(band_row, top + first - done, shared=True)
                stream.compressed(compressed, adler, length)
                done = top + first + rows
        stream.repeat(band_row, label.height - done, shared=True)
        stream.repeat(background_row, height - label.top - label.height)
    return png(width, height, mode == "RGBA", (METADATA_KEY.encode("ascii"), metadata.encode("ascii")), stream)


# -- the cache ----------------------------------------------------------------------------------------------


class ImageCache:
    """Rendered images, and their base64 once asked for, in one byte-bounded store (bytes only, each image with
    its sha256 and its spec's key beside it). ``hits`` counts the calls answered from the store, ``misses`` the
    renders."""

    def __init__(self, *, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._store: ByteStore[tuple[object, ...]] = ByteStore(max_bytes=max_bytes)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _count(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def get(self, spec: ImageSpec) -> bytes:
        """The image for ``spec``: rendered on a miss, stored when it fits."""
        return self.entry(spec)[0]

    def entry(self, spec: ImageSpec) -> tuple[bytes, str, str]:
        """The image for ``spec``, its sha256 (hex) and ``spec.key``: rendered on a miss, stored when it fits.
        A hit needs neither hash again."""
        return self._entry(spec, False)[:3]

    def get_b64(self, spec: ImageSpec) -> bytes:
        """The image for ``spec`` as base64 (ASCII bytes), encoded once while it stays cached."""
        return self.entry_b64(spec)[3]

    def entry_b64(self, spec: ImageSpec) -> tuple[bytes, str, str, bytes]:
        """:meth:`entry` and the image's base64 (encoded once while it stays cached), counted as one call."""
        data, sha256, key, b64 = self._entry(spec, True)
        assert b64 is not None
        return data, sha256, key, b64

    def _entry(self, spec: ImageSpec, b64: bool) -> tuple[bytes, str, str, bytes | None]:
        """One lookup: the image, its sha256, its key, and its base64 (stored beside it once asked for)."""
        found = self._store.get(spec.identity)
        self._count(found is not None)
        if found is not None:
            data, (sha256, key, kept) = found
            encoded = kept if isinstance(kept, bytes) else None
            if encoded is None and b64:
                encoded = base64.b64encode(data)
                self._store.put(spec.identity, data, (sha256, key, encoded))
            return data, str(sha256), str(key), encoded
        # Rendered outside any lock: two threads missing the same spec at once both render it, to the same bytes.
        data = render_image(spec)
        sha256 = hashlib.sha256(data).hexdigest()
        encoded = base64.b64encode(data) if b64 else None
        if not self._store.put(spec.identity, data, (sha256, spec.key, encoded)) and encoded is not None:
            self._store.put(spec.identity, data, (sha256, spec.key, None))  # room for the image, not its text
        return data, sha256, spec.key, encoded

    def clear(self) -> None:
        """Forget every image (the hit and miss counts stay)."""
        self._store.clear()

    @property
    def max_bytes(self) -> int:
        return self._store.max_bytes

    @property
    def size_bytes(self) -> int:
        """What the store holds: the images, the base64 kept for them, and a fixed overhead per entry."""
        return self._store.size_bytes

    def __len__(self) -> int:
        """Images held (an image and its base64 count once)."""
        return len(self._store.keys_held())
