"""What the tests share: the token and frozen clock they use, image and data-URL builders, strict JSON."""

from __future__ import annotations

import base64
import io
import json
import math
from typing import Any

from PIL import Image

#: the clock every fake in the tests is frozen at (byte-identical answers)
FROZEN = 1_779_792_103
TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def png(width: int = 64, height: int = 64, *, mode: str = "RGB", colour: Any = (10, 120, 200)) -> bytes:
    """A flat PNG of this size, mode and colour."""
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, "PNG")
    return out.getvalue()


def encoded(fmt: str, width: int = 64, height: int = 64) -> bytes:
    """A flat image in Pillow's format ``fmt`` ("JPEG", "WEBP", "GIF", ...)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(out, fmt)
    return out.getvalue()


#: a fully transparent 64x64 mask (edit everywhere)
MASK = png(mode="RGBA", colour=(0, 0, 0, 0))


def data_url(data: bytes, kind: str = "png") -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


def decode_image(data: bytes) -> Image.Image:
    """The image in ``data``, fully decoded (Pillow raises on anything broken)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def decode_item(item: dict[str, Any]) -> Image.Image:
    """The image of one answer item's ``b64_json``."""
    return decode_image(base64.b64decode(item["b64_json"]))


def _refuse(token: str) -> Any:
    raise ValueError(f"not standard JSON: {token}")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text}")
    return value


def strict_json(text: str | bytes) -> Any:
    """``text`` as standard JSON, or ValueError: NaN, Infinity, -Infinity and 1e400 are refused."""
    return json.loads(text, parse_constant=_refuse, parse_float=_finite)


#: Debian's Chromium, headless, for the console's browser tests and its benchmark. Without the
#: background-networking switches Chromium calls home, which a closed network answers slowly.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
