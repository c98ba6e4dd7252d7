"""Text for the placeholders' labels: the bundled font, each glyph rendered once, where a line's glyphs go.

FreeType renders each glyph of a string again on every call; rendering each character once and pasting it
makes a label several times cheaper."""

from __future__ import annotations

import functools
import math
from typing import Any

from PIL import Image, ImageDraw, ImageFont

__all__ = ["CRISP", "Placed", "font", "layout", "mask", "mask_core", "printable", "stamp_core"]


@functools.lru_cache(maxsize=16)
def font(size: int) -> ImageFont.FreeTypeFont:
    face = ImageFont.load_default(size=size)
    if not isinstance(face, ImageFont.FreeTypeFont):
        # Pillow without FreeType has only a fixed-size bitmap font; images are then drawn without a label.
        raise LookupError("Pillow was built without FreeType")
    return face


#: the smallest font drawn without antialiasing (smaller text needs it to be legible)
CRISP = 16


@functools.lru_cache(maxsize=4096)
def _glyph(size: int, char: str) -> tuple[Image.Image | None, int, int, float]:
    """One character's mask, its offset from the pen position, and its advance.

    FreeType renders each glyph of a string again on every call; rendering each character once and pasting
    it makes the label several times cheaper. From ``CRISP`` pixels up glyphs are one-bit (not antialiased):
    as legible at that size, and their rows compress in half the time."""
    face = font(size)
    left, top, right, bottom = (int(v) for v in face.getbbox(char))
    advance = float(face.getlength(char))
    if right <= left or bottom <= top:
        return None, 0, 0, advance
    mask = Image.new("L", (right - left, bottom - top), 0)
    draw = ImageDraw.Draw(mask)
    draw.fontmode = "1" if size >= CRISP else "L"
    draw.text((-left, -top), char, fill=255, font=face)
    return mask, left, top, advance


@functools.lru_cache(maxsize=4096)
def _metrics(size: int, char: str) -> tuple[int, int, int, int, float]:
    """A glyph's mask width and height (0 and 0: no ink), its offset from the pen position and its advance."""
    mask, dx, dy, advance = _glyph(size, char)
    w, h = mask.size if mask is not None else (0, 0)
    return w, h, dx, dy, advance


@functools.lru_cache(maxsize=16)
def _missing_glyph(size: int) -> tuple[float, tuple[int, int], bytes]:
    return _glyph_signature(size, "\ue000")  # a private-use character: no font draws it


def _glyph_signature(size: int, char: str) -> tuple[float, tuple[int, int], bytes]:
    mask, _, _, advance = _glyph(size, char)
    return advance, (mask.size if mask else (0, 0)), (mask.tobytes() if mask else b"")


@functools.lru_cache(maxsize=4096)
def _drawable(size: int, char: str) -> str:
    """``char`` if the bundled font has it; otherwise "?" (the font is ASCII and a little more)."""
    if char in "\t\n\r\v\f":
        return " "
    if not char.isprintable():  # control characters, NUL, lone surrogates
        return "?"
    if " " <= char <= "~":
        return char
    return "?" if _glyph_signature(size, char) == _missing_glyph(size) else char


#: a glyph placed on a line: (left, top) within the line's box, the character, and the part of its mask
#: inside the box (left, top, right, bottom, in the mask)
Placed = tuple[int, int, str, tuple[int, int, int, int]]


@functools.lru_cache(maxsize=16)
def _table(size: int) -> tuple[int, int, dict[str, tuple[int, int, int, int, float]]]:
    """The font's ascent and descent at ``size``, and a table of :func:`_metrics` by character that
    :func:`layout` fills as it meets them: a dict look-up a character, where the cached call costs several."""
    ascent, descent = font(size).getmetrics()
    return ascent, descent, {}


#: characters a size's table holds at most (the bundled font has fewer)
_TABLE_MAX = 4096


def _measure(
    size: int, char: str, table: dict[str, tuple[int, int, int, int, float]]
) -> tuple[int, int, int, int, float]:
    metrics = _metrics(size, char)
    if len(table) < _TABLE_MAX:
        table[char] = metrics
    return metrics


@functools.lru_cache(maxsize=64)
def layout(size: int, text: str) -> tuple[tuple[int, int], tuple[Placed, ...]]:
    """A line of text: its box (width, height: one font line high, as wide as the text and one font size
    more), and where each inked glyph goes in it. Cached: the n images of an answer share two lines. Every
    format draws a line the same way: each glyph's mask (:func:`mask`) pasted over the ink, in turn."""
    ascent, descent, table = _table(size)
    glyphs = [table.get(c) or _measure(size, c, table) for c in text]
    width, height = max(1, math.ceil(sum([g[4] for g in glyphs])) + size), ascent + descent
    placed: list[Placed] = []
    x = 0.0
    for char, (w, h, dx, dy, advance) in zip(text, glyphs, strict=True):
        if w:  # plain comparisons rather than min() and max(): a label places some 150 glyphs
            left = round(x) + dx
            if left >= 0 and dy >= 0 and left + w <= width and dy + h <= height:
                placed.append((left, dy, char, (0, 0, w, h)))  # the whole glyph: the common case
            else:
                right, bottom = width - left, height - dy
                box = (
                    -left if left < 0 else 0,
                    -dy if dy < 0 else 0,
                    w if w < right else right,
                    h if h < bottom else bottom,
                )
                if box[0] < box[2] and box[1] < box[3]:
                    placed.append((left + box[0], dy + box[1], char, box))
        x += advance
    return (width, height), tuple(placed)


@functools.lru_cache(maxsize=4096)
def mask(size: int, char: str, box: tuple[int, int, int, int], times: int = 1) -> Image.Image:
    """The part ``box`` of a glyph's mask, ``times`` as wide (each pixel repeated): the mask of its bytes in a
    row of pixels whose ``times`` channels are the same byte (the label's grey band and white ink).

    Cut by pasting rather than cropping: Image.crop applies Pillow's global decompression-bomb bound, which
    another library in the process may have lowered (MAX_IMAGE_PIXELS), and a glyph is no bomb."""
    glyph = _glyph(size, char)[0]
    assert glyph is not None  # layout places inked glyphs only
    part = glyph
    if box != (0, 0, glyph.width, glyph.height):
        part = Image.new("L", (box[2] - box[0], box[3] - box[1]), 0)
        part.paste(glyph, (-box[0], -box[1]))
    return part if times == 1 else part.resize((times * part.width, part.height), Image.Resampling.NEAREST)


@functools.lru_cache(maxsize=4096)
def mask_core(size: int, char: str, box: tuple[int, int, int, int], times: int) -> Any:
    """:func:`mask`'s Pillow C image (its ``im``), for a caller pasting many glyphs through ``ImagingCore.paste``:
    a label pastes some 150, and Image.paste's checks (and even reading ``Image.im``) cost more than the paste."""
    return mask(size, char, box, times).im


@functools.lru_cache(maxsize=4096)
def stamp_core(size: int, char: str, box: tuple[int, int, int, int], times: int, band: int, ink: int) -> Any:
    """What pasting :func:`mask` in ``ink`` over a grey ``band`` gives, as a Pillow C image: copied in place, it
    draws a glyph whose box no glyph drawn before it reaches, in the same bytes as the paste through its mask
    (which costs a blend a byte)."""
    part = mask(size, char, box, times)
    drawn = Image.new("L", part.size, band)
    drawn.im.paste(ink, (0, 0, *part.size), part.im)
    return drawn.im


def printable(text: str, size: int, limit: int) -> str:
    head = text[: limit + 1]
    # The font has every printable ASCII character: most prompts need no look-up.
    plain = head.isascii() and head.isprintable()
    shown = head[:limit] if plain else "".join(_drawable(size, c) for c in head[:limit])
    return shown.rstrip() + "…" if len(head) > limit else shown
