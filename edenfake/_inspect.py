"""Reading an image back: its format, size and the fingerprint edenfake wrote into it (``edenfake.images``
re-exports all of it)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from dataclasses import dataclass
from typing import Literal

from PIL import Image

__all__ = ["EXIF_DESCRIPTION", "METADATA_KEY", "ImageFormat", "ImageInfo", "inspect_image", "prompt_digest"]

ImageFormat = Literal["png", "jpeg", "webp"]

#: the PNG text chunk keyword that holds the fingerprint (JPEG and WebP keep it in EXIF ImageDescription)
METADATA_KEY = "edenfake"
EXIF_DESCRIPTION = 0x010E


def prompt_digest(prompt: str) -> str:
    """sha256 hex of the prompt's UTF-8 (lone surrogates kept, so that no prompt can fail here)."""
    return hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`inspect_image` reads from an image."""

    format: ImageFormat
    width: int
    height: int
    #: the fingerprint edenfake wrote, or None for an image edenfake did not make
    fingerprint: dict[str, object] | None

    def _str(self, name: str) -> str | None:
        value = None if self.fingerprint is None else self.fingerprint.get(name)
        return value if isinstance(value, str) else None

    def _int(self, name: str) -> int | None:
        value = None if self.fingerprint is None else self.fingerprint.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def model(self) -> str | None:
        return self._str("model")

    @property
    def prompt_sha256(self) -> str | None:
        return self._str("prompt_sha256")

    @property
    def index(self) -> int | None:
        return self._int("index")

    @property
    def seed(self) -> int | None:
        return self._int("seed")

    @property
    def edit_of(self) -> str | None:
        """An edit's first input as its label names it ("512x512", or "url"); None for a generation."""
        return self._str("edit_of")

    @property
    def inputs(self) -> list[str] | None:
        value = None if self.fingerprint is None else self.fingerprint.get("inputs")
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return [str(v) for v in value]
        return None

    def matches(
        self,
        *,
        model: str | None = None,
        prompt: str | None = None,
        index: int | None = None,
    ) -> bool:
        """Whether the image was made for this model, prompt (compared by digest) and index.

        An image without a fingerprint matches nothing."""
        if self.fingerprint is None:
            return False
        return (
            (model is None or self.model == model)
            and (prompt is None or self.prompt_sha256 == prompt_digest(prompt))
            and (index is None or self.index == index)
        )


def inspect_image(data: bytes) -> ImageInfo:
    """The format, size and (for edenfake's own images) fingerprint of an image.

    Raises ValueError for bytes that are not a PNG, JPEG or WebP image that decodes."""
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception as exc:  # Pillow raises many kinds for bad input; all mean the same here
        raise ValueError(f"not a PNG, JPEG or WebP image that can be decoded: {str(exc).partition(' <')[0]}") from None
    formats: dict[str | None, ImageFormat] = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
    fmt = formats.get(image.format)
    if fmt is None:
        raise ValueError(f"not a PNG, JPEG or WebP image: {image.format}")
    candidates: list[object] = []
    if fmt == "png":
        candidates.append(image.info.get(METADATA_KEY))
    else:
        # Broken EXIF in a foreign image is no reason to refuse the image.
        with contextlib.suppress(Exception):
            candidates.append(image.getexif().get(EXIF_DESCRIPTION))
        candidates.append(image.info.get("comment"))
    return ImageInfo(fmt, image.width, image.height, next(filter(None, map(_parse, candidates)), None))


def _parse(raw: object) -> dict[str, object] | None:
    if not isinstance(raw, (str, bytes)) or not raw:
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    if isinstance(parsed, dict) and parsed.get("edenfake") == 1:
        return parsed
    return None
