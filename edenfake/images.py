"""Deterministic placeholder images: real PNG, JPEG or WebP files that carry the fingerprint of the request
that made them, and ``inspect_image`` to read that fingerprint back."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import struct
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image, ImageDraw, ImageFont

__all__ = ["ImageCache", "ImageFormat", "ImageInfo", "ImageSpec", "inspect_image", "prompt_digest", "render_image"]

ImageFormat = Literal["png", "jpeg", "webp"]

#: the PNG text chunk keyword, and the EXIF tag (ImageDescription) that hold the fingerprint
METADATA_KEY = "edenfake"
_EXIF_DESCRIPTION = 0x010E


def prompt_digest(prompt: str) -> str:
    """sha256 hex of the prompt's UTF-8 (lone surrogates kept, so that no prompt can fail here)."""
    return hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ImageSpec:
    """Everything an image depends on: the same spec gives the same bytes, in every run and process."""

    model: str
    prompt: str
    width: int
    height: int
    format: ImageFormat = "png"
    quality: str | None = None
    index: int = 0
    seed: int = 0
    #: sha256 hex digests of the input images of an edit (and its mask)
    inputs: tuple[str, ...] = ()
    background: str | None = None
    _key: list[str] = field(default_factory=list, init=False, repr=False, compare=False, hash=False)

    def fingerprint(self) -> dict[str, object]:
        """What the image carries in its metadata (JSON-serialisable, stable)."""
        return {
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
    def key(self) -> str:
        """sha256 hex of the fingerprint: the cache key, and the source of the image's colours."""
        if not self._key:
            canonical = json.dumps(self.fingerprint(), sort_keys=True, separators=(",", ":"))
            self._key.append(hashlib.sha256(canonical.encode()).hexdigest())
        return self._key[0]

    @property
    def transparent(self) -> bool:
        return self.background == "transparent" and self.format in ("png", "webp")


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`inspect_image` reads from an image."""

    format: ImageFormat
    width: int
    height: int
    #: the fingerprint edenfake wrote, or None for an image edenfake did not make
    fingerprint: dict[str, Any] | None

    def _get(self, name: str) -> Any:
        return None if self.fingerprint is None else self.fingerprint.get(name)

    @property
    def model(self) -> str | None:
        return self._get("model")  # type: ignore[no-any-return]

    @property
    def prompt_sha256(self) -> str | None:
        return self._get("prompt_sha256")  # type: ignore[no-any-return]

    @property
    def index(self) -> int | None:
        return self._get("index")  # type: ignore[no-any-return]

    @property
    def seed(self) -> int | None:
        return self._get("seed")  # type: ignore[no-any-return]

    @property
    def inputs(self) -> list[str] | None:
        return self._get("inputs")  # type: ignore[no-any-return]

    def matches(self, *, model: str | None = None, prompt: str | None = None, index: int | None = None) -> bool:
        """Whether the image was made for this model, prompt (compared by digest) and index."""
        if self.fingerprint is None:
            return False
        return (
            (model is None or self.model == model)
            and (prompt is None or self.prompt_sha256 == prompt_digest(prompt))
            and (index is None or self.index == index)
        )


# -- drawing -------------------------------------------------------------------------------------------------


def _colours(spec: ImageSpec) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    # A mid-light background and a darker band, both from the key: the n images of an answer differ.
    k = bytes.fromhex(spec.key[:12])
    background = (96 + k[0] % 128, 96 + k[1] % 128, 96 + k[2] % 128)
    band = (k[3] % 64, k[4] % 64, k[5] % 64)
    return background, band


@functools.lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _printable(text: str) -> str:
    # The bundled font draws Latin text; anything else (emoji, NUL, lone surrogates) becomes "?".
    return "".join(c if " " <= c <= "~" or "\u00a0" <= c <= "\u00ff" else "?" for c in text)


def _band(spec: ImageSpec, mode: str, fill: tuple[int, ...]) -> Image.Image | None:
    """The label: what the image is a placeholder for. None when the image is too small to hold text."""
    w, h = spec.width, spec.height
    size = max(8, min(w // 40, h // 12, 64))
    if w < 48 or h < 3 * size:
        return None
    prompt = _printable(spec.prompt.replace("\n", " "))
    lines = [
        "edenfake placeholder",
        _printable(f"{spec.model}  {w}x{h}  #{spec.index}" + (f"  {spec.quality}" if spec.quality else "")),
        (prompt[:60] + "...") if len(prompt) > 60 else prompt,
    ]
    line_height = int(size * 1.3)
    band_height = min(h, line_height * len(lines) + size)
    band = Image.new(mode, (w, band_height), fill)
    draw = ImageDraw.Draw(band)
    font = _font(size)
    ink = (255, 255, 255, 255)[: len(fill)]
    for i, line in enumerate(lines):
        draw.text((size // 2, size // 2 + i * line_height), line, fill=ink, font=font)
    return band


def _layout(spec: ImageSpec) -> tuple[str, tuple[int, ...], Image.Image | None, int]:
    background, band_colour = _colours(spec)
    mode = "RGBA" if spec.transparent else "RGB"
    bg: tuple[int, ...] = (*background, 0) if spec.transparent else background
    band_fill: tuple[int, ...] = (*band_colour, 255) if spec.transparent else band_colour
    band = _band(spec, mode, band_fill)
    top = (spec.height - band.height) // 2 if band is not None else spec.height
    return mode, bg, band, top


def render_image(spec: ImageSpec) -> bytes:
    """The image for ``spec`` (uncached): exactly ``width`` x ``height`` pixels in ``format``."""
    if spec.width < 1 or spec.height < 1:
        raise ValueError(f"image size must be positive, got {spec.width}x{spec.height}")
    mode, bg, band, top = _layout(spec)
    metadata = json.dumps(spec.fingerprint(), sort_keys=True, separators=(",", ":"))
    if spec.format == "png":
        return _png(spec.width, spec.height, mode, bg, band, top, metadata)
    image = Image.new(mode, (spec.width, spec.height), bg)
    if band is not None:
        image.paste(band, (0, top))
    exif = Image.Exif()
    exif[_EXIF_DESCRIPTION] = metadata
    out = io.BytesIO()
    if spec.format == "jpeg":
        image.save(out, "JPEG", quality=80, comment=metadata.encode(), exif=exif.tobytes())
    else:
        # The fastest method: WebP is the slowest format to encode (the cache makes it a one-off per image).
        image.save(out, "WEBP", quality=80, method=0, exif=exif.tobytes())
    return out.getvalue()


# -- a PNG written by hand: most rows are identical, so most of the stream is one compressed block repeated --

_BLOCK_BYTES = 256 * 1024
_ADLER_BASE = 65521


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _deflate_segment(raw: bytes, level: int = 1) -> bytes:
    # A full flush leaves the stream byte-aligned with no reference to what came before, so segments made
    # by separate compressors can be concatenated, and one segment repeated, into a valid stream.
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(raw) + c.flush(zlib.Z_FULL_FLUSH)


@functools.lru_cache(maxsize=64)
def _up_block(stride: int) -> tuple[bytes, int, int, int]:
    """A block of rows that repeat the row above (PNG filter 2, all zeros): the same for every colour, so it is
    compressed once per width, hard. Returns (compressed, adler32, raw length, rows)."""
    rows = max(1, _BLOCK_BYTES // (stride + 1))
    raw = (b"\x02" + bytes(stride)) * rows
    return _deflate_segment(raw, 9), zlib.adler32(raw), len(raw), rows


def _adler_combine(a1: int, a2: int, len2: int) -> int:
    """adler32 of A+B from adler32(A), adler32(B) and len(B) (zlib's adler32_combine)."""
    rem = len2 % _ADLER_BASE
    sum1 = a1 & 0xFFFF
    sum2 = (rem * sum1) % _ADLER_BASE
    sum1 += (a2 & 0xFFFF) + _ADLER_BASE - 1
    sum2 += ((a1 >> 16) & 0xFFFF) + ((a2 >> 16) & 0xFFFF) + _ADLER_BASE - rem
    sum1 %= _ADLER_BASE
    sum2 %= _ADLER_BASE
    return sum1 | (sum2 << 16)


def _adler_repeat(adler: int, length: int, times: int) -> int:
    """adler32 of a block repeated ``times`` times, by doubling."""
    result, result_len = 1, 0
    power, power_len = adler, length
    while times:
        if times & 1:
            result, result_len = _adler_combine(result, power, power_len), result_len + power_len
        power, power_len = _adler_combine(power, power, power_len), power_len * 2
        times >>= 1
    return result


class _Stream:
    """The zlib stream of a PNG's scanlines, built from repeated and one-off segments."""

    def __init__(self) -> None:
        self.parts: list[bytes] = [b"\x78\x9c"]
        self.adler = 1

    def add(self, raw: bytes) -> None:
        if raw:
            self.add_compressed(_deflate_segment(raw), zlib.adler32(raw), len(raw))

    def add_compressed(self, compressed: bytes, adler: int, length: int, times: int = 1) -> None:
        if times > 0:
            self.parts.append(compressed * times)
            self.adler = _adler_combine(self.adler, _adler_repeat(adler, length, times), length * times)

    def finish(self) -> bytes:
        self.parts.append(zlib.compressobj(6, zlib.DEFLATED, -15).flush())
        self.parts.append(struct.pack(">I", self.adler))
        return b"".join(self.parts)


def _flat_rows(stream: _Stream, row: bytes, count: int) -> None:
    """``count`` rows of one colour: the first written out, the rest as 'same as above'."""
    if count <= 0:
        return
    stream.add(row)
    stride = len(row) - 1
    block, adler, length, per_block = _up_block(stride)
    blocks, rest = divmod(count - 1, per_block)
    stream.add_compressed(block, adler, length, blocks)
    stream.add((b"\x02" + bytes(stride)) * rest)


def _png(
    width: int, height: int, mode: str, bg: tuple[int, ...], band: Image.Image | None, top: int, metadata: str
) -> bytes:
    channels = 4 if mode == "RGBA" else 3
    row = b"\x00" + bytes(bg) * width  # filter type 0, then the pixels
    stream = _Stream()
    _flat_rows(stream, row, top)
    below = height - top
    if band is not None:
        stride = width * channels
        pixels = band.tobytes()
        stream.add(b"".join(b"\x00" + pixels[y * stride : (y + 1) * stride] for y in range(band.height)))
        below -= band.height
    _flat_rows(stream, row, below)
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if channels == 4 else 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"tEXt", METADATA_KEY.encode() + b"\x00" + metadata.encode("latin-1")),
            _chunk(b"IDAT", stream.finish()),
            _chunk(b"IEND", b""),
        )
    )


# -- reading an image back ----------------------------------------------------------------------------------


def inspect_image(data: bytes) -> ImageInfo:
    """The format, size and (for edenfake's own images) fingerprint of an image.

    Raises ValueError for bytes that are not a PNG, JPEG or WebP image.
    """
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as exc:
        raise ValueError(f"not a PNG, JPEG or WebP image that can be decoded: {exc}") from None
    formats: dict[str | None, ImageFormat] = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
    fmt = formats.get(image.format)
    if fmt is None:
        raise ValueError(f"not a PNG, JPEG or WebP image: {image.format}")
    raw: Any = image.info.get(METADATA_KEY) if fmt == "png" else image.getexif().get(_EXIF_DESCRIPTION)
    if raw is None and fmt == "jpeg":
        raw = image.info.get("comment")
    fingerprint = None
    if raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("edenfake") == 1:
            fingerprint = parsed
    return ImageInfo(fmt, image.width, image.height, fingerprint)


# -- the cache ----------------------------------------------------------------------------------------------


class ImageCache:
    """Thread-safe LRU of rendered images (and their base64), bounded by total bytes."""

    def __init__(self, *, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[bytes, list[str]]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _entry(self, spec: ImageSpec) -> tuple[bytes, list[str]]:
        key = spec.key
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        entry: tuple[bytes, list[str]] = (render_image(spec), [])
        cost = len(entry[0]) * 7 // 3  # the bytes and, once asked for, their base64
        if cost > self.max_bytes:
            return entry
        with self._lock:
            if key not in self._items:
                self._items[key] = entry
                self._bytes += cost
                while self._bytes > self.max_bytes:
                    _, (old, _) = self._items.popitem(last=False)
                    self._bytes -= len(old) * 7 // 3
            return self._items[key]

    def get(self, spec: ImageSpec) -> bytes:
        """The image for ``spec``: rendered on a miss, stored when it fits."""
        return self._entry(spec)[0]

    def get_b64(self, spec: ImageSpec) -> str:
        """The image for ``spec`` as base64 text, encoded once."""
        data, b64 = self._entry(spec)
        if not b64:
            b64.append(base64.b64encode(data).decode("ascii"))
        return b64[0]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)
