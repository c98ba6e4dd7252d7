"""Text for the placeholders' labels: the bundled font, each glyph rendered once, a line of text as a mask.

FreeType renders each glyph of a string again on every call; rendering each character once and pasting it
makes a label several times cheaper."""

from __future__ import annotations

import functools
import math

from PIL import Image, ImageDraw, ImageFont

__all__ = ["font", "line_mask", "printable"]


@functools.lru_cache(maxsize=16)
def font(size: int) -> ImageFont.FreeTypeFont:
    face = ImageFont.load_default(size=size)
    if not isinstance(face, ImageFont.FreeTypeFont):
        # Pillow without FreeType has only a fixed-size bitmap font; images are then drawn without a label.
        raise LookupError("Pillow was built without FreeType")
    return face


#: the smallest font drawn without antialiasing (smaller text needs it to be legible)
_CRISP = 16


@functools.lru_cache(maxsize=4096)
def _glyph(size: int, char: str) -> tuple[Image.Image | None, int, int, float]:
    """One character's mask, its offset from the pen position, and its advance.

    FreeType renders each glyph of a string again on every call; rendering each character once and pasting
    it makes the label several times cheaper. From ``_CRISP`` pixels up glyphs are one-bit (not antialiased):
    as legible at that size, and their rows compress in half the time."""
    face = font(size)
    left, top, right, bottom = (int(v) for v in face.getbbox(char))
    advance = float(face.getlength(char))
    if right <= left or bottom <= top:
        return None, 0, 0, advance
    mask = Image.new("L", (right - left, bottom - top), 0)
    draw = ImageDraw.Draw(mask)
    draw.fontmode = "1" if size >= _CRISP else "L"
    draw.text((-left, -top), char, fill=255, font=face)
    return mask, left, top, advance


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


@functools.lru_cache(maxsize=64)  # a mask of a long line at 48 px is about 100 KB
def line_mask(size: int, text: str) -> Image.Image:
    """A line of text as an "L" mask one font line high. Cached: the n images of an answer share two lines."""
    ascent, descent = font(size).getmetrics()
    glyphs = [_glyph(size, c) for c in text]
    width = max(1, math.ceil(sum(g[3] for g in glyphs)) + size)
    line = Image.new("L", (width, ascent + descent), 0)
    core = line.im  # Pillow's C image: its paste skips Image.paste's checks, most of the cost of a glyph
    x = 0.0
    for mask, dx, dy, advance in glyphs:
        if mask is not None:
            left = round(x) + dx
            core.paste(255, (left, dy, left + mask.width, dy + mask.height), mask.im)
        x += advance
    return line


def printable(text: str, size: int, limit: int) -> str:
    head = text[: limit + 1]
    # The font has every printable ASCII character: most prompts need no look-up.
    plain = head.isascii() and head.isprintable()
    shown = head[:limit] if plain else "".join(_drawable(size, c) for c in head[:limit])
    return shown.rstrip() + "…" if len(head) > limit else shown
