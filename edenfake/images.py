"""TEMPORARY simple placeholder images (replaced by the fast implementation)."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from PIL import Image, PngImagePlugin

ImageFormat = Literal["png", "jpeg", "webp"]


def prompt_digest(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class ImageSpec:
    model: str
    prompt: str
    width: int
    height: int
    format: ImageFormat = "png"
    quality: str | None = None
    index: int = 0
    seed: int = 0
    inputs: tuple[str, ...] = ()
    background: str | None = None

    def fingerprint(self) -> dict[str, object]:
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
        return hashlib.sha256(json.dumps(self.fingerprint(), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ImageInfo:
    format: ImageFormat
    width: int
    height: int
    fingerprint: dict[str, object] | None

    def matches(self, *, model: str | None = None, prompt: str | None = None, index: int | None = None) -> bool:
        fp = self.fingerprint or {}
        return (
            (model is None or fp.get("model") == model)
            and (prompt is None or fp.get("prompt_sha256") == prompt_digest(prompt))
            and (index is None or fp.get("index") == index)
        )


def render_image(spec: ImageSpec) -> bytes:
    color = tuple(bytes.fromhex(spec.key[:6]))
    img = Image.new("RGB", (spec.width, spec.height), color)  # type: ignore[arg-type]
    out = io.BytesIO()
    meta = json.dumps(spec.fingerprint(), sort_keys=True)
    if spec.format == "png":
        info = PngImagePlugin.PngInfo()
        info.add_text("edenfake", meta)
        img.save(out, "PNG", pnginfo=info, compress_level=1)
    else:
        img.save(
            out,
            spec.format.upper(),
            comment=meta.encode() if spec.format == "jpeg" else None,
            exif=b"" if spec.format == "jpeg" else Image.Exif().tobytes(),
        )
    return out.getvalue()


def inspect_image(data: bytes) -> ImageInfo:
    img = Image.open(io.BytesIO(data))
    raw = img.info.get("edenfake") or img.info.get("comment")
    fp = json.loads(raw) if raw else None
    return ImageInfo(img.format.lower(), img.width, img.height, fp)  # type: ignore[arg-type, union-attr]


class ImageCache:
    def __init__(self, *, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, spec: ImageSpec) -> bytes:
        with self._lock:
            if spec.key in self._items:
                return self._items[spec.key]
        data = render_image(spec)
        with self._lock:
            self._items[spec.key] = data
        return data

    def clear(self) -> None:
        self._items.clear()
