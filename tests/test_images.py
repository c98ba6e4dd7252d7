"""Placeholder images: real, exact, deterministic, fingerprinted, and cached within a byte cap."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
import threading
import zlib

import pytest
from PIL import Image

from edenfake.images import ImageCache, ImageSpec, inspect_image, prompt_digest, render_image

SPEC = ImageSpec(model="openai/gpt-image-1", prompt="a red fox", width=320, height=240)


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
@pytest.mark.parametrize(
    "size", [(16, 16), (47, 20), (256, 256), (1024, 1024), (1792, 1024), (320, 4096), (3840, 2160)]
)
def test_every_image_decodes_at_exactly_the_size_and_format_asked(fmt: str, size: tuple[int, int]) -> None:
    spec = dataclasses.replace(SPEC, width=size[0], height=size[1], format=fmt)  # type: ignore[arg-type]
    image = decode(render_image(spec))
    assert image.size == size
    assert image.format == {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]


def test_png_chunks_and_checksums_are_valid() -> None:
    data = render_image(dataclasses.replace(SPEC, width=1536, height=1024))
    Image.open(io.BytesIO(data)).verify()  # CRCs
    # The zlib stream (with its adler32) inflates to exactly one filter byte plus the pixels per row.
    idat_start = data.index(b"IDAT") + 4
    length = int.from_bytes(data[idat_start - 8 : idat_start - 4], "big")
    raw = zlib.decompress(data[idat_start : idat_start + length])
    assert len(raw) == 1024 * (1 + 1536 * 3)


def test_the_picture_is_a_flat_colour_with_a_label_band() -> None:
    image = decode(render_image(dataclasses.replace(SPEC, width=400, height=400))).convert("RGB")
    corner = image.getpixel((0, 0))
    assert image.getpixel((399, 399)) == corner and image.getpixel((200, 5)) == corner
    middle_row = {image.getpixel((x, 200)) for x in range(400)}
    assert corner not in middle_row and len(middle_row) > 1  # the band, with text drawn on it


def test_transparent_background_gives_alpha_in_png_and_webp() -> None:
    for fmt in ("png", "webp"):
        image = decode(render_image(dataclasses.replace(SPEC, format=fmt, background="transparent")))  # type: ignore[arg-type]
        assert image.mode == "RGBA"
        assert image.getpixel((0, 0))[3] == 0  # type: ignore[index]


def test_same_spec_same_bytes_even_in_another_process() -> None:
    data = render_image(SPEC)
    assert data == render_image(SPEC)
    code = (
        "import sys; from edenfake.images import ImageSpec, render_image; "
        "spec = ImageSpec(model='openai/gpt-image-1', prompt='a red fox', width=320, height=240); "
        "sys.stdout.buffer.write(render_image(spec))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout == data


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "a blue fox"},
        {"model": "openai/gpt-image-2"},
        {"width": 321},
        {"quality": "high"},
        {"index": 1},
        {"seed": 1},
        {"inputs": ("ab" * 32,)},
        {"background": "opaque"},
    ],
)
def test_every_field_changes_the_bytes(change: dict[str, object]) -> None:
    assert render_image(dataclasses.replace(SPEC, **change)) != render_image(SPEC)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_the_fingerprint_round_trips(fmt: str) -> None:
    spec = dataclasses.replace(SPEC, format=fmt, index=3, seed=9, inputs=("f" * 64,), quality="low")  # type: ignore[arg-type]
    info = inspect_image(render_image(spec))
    assert info.fingerprint == spec.fingerprint()
    assert info.matches(model="openai/gpt-image-1", prompt="a red fox", index=3)
    assert not info.matches(prompt="a red fox!")
    assert info.prompt_sha256 == prompt_digest("a red fox") and info.seed == 9 and info.inputs == ["f" * 64]
    assert (info.format, info.width, info.height) == (fmt, 320, 240)


def test_a_foreign_image_has_no_fingerprint_and_garbage_is_refused() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG")
    info = inspect_image(out.getvalue())
    assert info.fingerprint is None and not info.matches() and info.model is None
    with pytest.raises(ValueError, match="not a PNG, JPEG or WebP"):
        inspect_image(b"GIF89a not really")
    with pytest.raises(ValueError):
        inspect_image(render_image(SPEC)[:200])  # truncated


@pytest.mark.parametrize("prompt", ["x", "p" * 32000, "🦊 emoji", "nul \x00 byte", "lone \ud800 surrogate", "\n\t"])
def test_odd_prompts_render(prompt: str) -> None:
    info = inspect_image(render_image(dataclasses.replace(SPEC, prompt=prompt)))
    assert info.prompt_sha256 == prompt_digest(prompt)


def test_the_cache_counts_hits_and_keeps_within_its_byte_cap() -> None:
    one = render_image(SPEC)
    cache = ImageCache(max_bytes=len(one) * 7 // 3 * 2 + 10)  # room for two
    specs = [dataclasses.replace(SPEC, index=i) for i in range(3)]
    assert cache.get(specs[0]) == one
    assert cache.get(specs[0]) == one
    assert (cache.hits, cache.misses) == (1, 1)
    cache.get(specs[1])
    cache.get(specs[2])  # evicts specs[0], the least recently used
    assert len(cache) == 2 and cache.size_bytes <= cache.max_bytes
    cache.get(specs[0])
    assert cache.misses == 4
    big = ImageCache(max_bytes=10)
    assert big.get(SPEC) == one and len(big) == 0  # too large to keep, still answered


def test_base64_is_encoded_once_and_matches_the_bytes() -> None:
    import base64

    cache = ImageCache()
    first = cache.get_b64(SPEC)
    assert first is cache.get_b64(SPEC)
    assert base64.b64decode(first) == render_image(SPEC)


def test_the_cache_is_thread_safe() -> None:
    cache = ImageCache()
    specs = [dataclasses.replace(SPEC, index=i % 5) for i in range(40)]
    results: list[bytes] = []

    def work() -> None:
        results.extend(cache.get(s) for s in specs)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 160 and len(set(results)) == 5 and len(cache) == 5
