"""Image files for edits: good ones of each format, broken ones labelled with the refusal they get, masks."""

from __future__ import annotations

import base64
import io
import string
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

JSON = dict[str, Any]


@dataclass(frozen=True)
class BrokenImage:
    """Bytes that are not a usable image, and why (``problem`` is the 422 ``type`` the fake answers)."""

    data: bytes
    filename: str
    problem: str


def _encode(fmt: str, size: tuple[int, int], colour: tuple[int, int, int], mode: str = "RGB") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    fill: tuple[int, ...] = (*colour, 128) if mode == "RGBA" else colour
    Image.new(mode, size, fill).save(out, fmt.upper())
    return out.getvalue()


def data_url(data: bytes, kind: str = "png") -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


def image_files(
    *,
    formats: st.SearchStrategy[str] | None = None,
    sizes: st.SearchStrategy[tuple[int, int]] | None = None,
) -> st.SearchStrategy[bytes]:
    """Valid image files: PNG, JPEG or WebP bytes (``formats``, default all three) of a drawn size (``sizes``,
    default 1..64 pixels a side) and colour."""
    formats = formats if formats is not None else st.sampled_from(["png", "jpeg", "webp"])
    sizes = sizes if sizes is not None else st.tuples(st.integers(1, 64), st.integers(1, 64))
    colours = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
    return st.builds(_encode, formats, sizes, colours)


def broken_image_files() -> st.SearchStrategy[BrokenImage]:
    """Files an edit must refuse, labelled with the 422 ``type`` the fake answers."""
    good = image_files(formats=st.just("png"), sizes=st.tuples(st.integers(8, 32), st.integers(8, 32)))
    return st.one_of(
        st.just(BrokenImage(b"", "empty.png", "image_empty")),
        good.flatmap(
            lambda d: st.integers(8, len(d) - 13).map(lambda cut: BrokenImage(d[:cut], "cut.png", "image_invalid"))
        ),
        good.map(lambda d: BrokenImage(b"\x00BAD" + d[4:], "magic.png", "image_invalid")),
        st.text(alphabet=string.printable, min_size=1, max_size=60).map(
            lambda t: BrokenImage(t.encode(), "notes.png", "image_invalid")
        ),
    )


def masks(*, width: int, height: int, valid: bool = True) -> st.SearchStrategy[tuple[bytes, str | None]]:
    """``(mask bytes, problem)`` for a first image of ``width`` x ``height``: good masks (problem None), or,
    with ``valid=False``, masks refused as ``mask_size_mismatch``, ``mask_no_alpha`` or ``mask_not_png``."""
    for name, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
            raise ValueError(f"{name} must be an int from 1 to 4096 (the first image's size), got {value!r}")
    colours = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
    if valid:
        return colours.map(lambda c: (_encode("png", (width, height), c, "RGBA"), None))
    other = st.tuples(st.integers(1, 64), st.integers(1, 64)).filter(lambda s: s != (width, height))
    return st.one_of(
        st.builds(lambda s, c: (_encode("png", s, c, "RGBA"), "mask_size_mismatch"), other, colours),
        colours.map(lambda c: (_encode("png", (width, height), c), "mask_no_alpha")),
        colours.map(lambda c: (_encode("jpeg", (width, height), c), "mask_not_png")),
    )
