"""Placeholder images: real, exact, deterministic, fingerprinted, and cached within a byte cap."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import subprocess
import sys
import threading
import zlib

import pytest
from PIL import Image

from edenfake import images
from edenfake._store import ENTRY_OVERHEAD
from edenfake.images import ImageCache, ImageFormat, ImageSpec, inspect_image, prompt_digest, render_image
from tests.helpers import decode_image

SPEC = ImageSpec(model="openai/gpt-image-1", prompt="a red fox", width=320, height=240)
FORMATS: list[ImageFormat] = ["png", "jpeg", "webp"]
PIL_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
SIZES = [(16, 16), (47, 20), (64, 64), (256, 256), (1024, 1024), (1792, 1024), (320, 4096), (3840, 2160)]
ODD_PROMPTS = ["", " ", "x", "p" * 32000, "🦊 emoji ✨", "nul \x00 byte", "lone \ud800 surrogate", "\n\t\r"]


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        assert int.from_bytes(data[at + 8 + length : at + 12 + length], "big") == zlib.crc32(kind + body)
        chunks.append((kind, body))
        at += 12 + length
    return chunks


def expected_pixels(spec: ImageSpec) -> Image.Image:
    """The same picture composed by Pillow: what the hand-written PNG must decode to."""
    return images._picture(spec, "RGBA" if spec.transparent else "RGB", *images._colours(spec))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("size", [*SIZES, (4096, 4096)])
def test_every_image_decodes_at_exactly_the_size_and_format(fmt: ImageFormat, size: tuple[int, int]) -> None:
    data = render_image(dataclasses.replace(SPEC, width=size[0], height=size[1], format=fmt))
    image = decode_image(data)
    assert image.size == size
    assert image.format == PIL_NAMES[fmt]
    assert image.mode == "RGB"
    Image.open(io.BytesIO(data)).verify()


@pytest.mark.parametrize(
    "spec",
    [
        SPEC,
        dataclasses.replace(SPEC, width=1536, height=1024, prompt="long " * 30, quality="high", seed=7),
        dataclasses.replace(SPEC, width=1, height=1),
        dataclasses.replace(SPEC, width=777, height=33),  # a label too tall for the image: no label
        dataclasses.replace(SPEC, width=48, height=4096),
        dataclasses.replace(SPEC, width=1000, height=700, background="transparent"),
        dataclasses.replace(SPEC, width=3840, height=2160),  # runs of rows longer than the longest shared one
    ],
    ids=["small", "wide", "1x1", "flat", "narrow", "rgba", "4k"],
)
def test_the_handmade_png_decodes_to_exactly_the_intended_pixels(spec: ImageSpec) -> None:
    data = render_image(spec)
    chunks = png_chunks(data)
    assert [kind for kind, _ in chunks] == [b"IHDR", b"tEXt", b"IDAT", b"IEND"]
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))  # checks the adler32
    stride = 1 + spec.width * (4 if spec.transparent else 3)
    assert len(raw) == spec.height * stride
    # Filter type 0 (None) or 2 (Up: a row repeating the one above it), and the first row has nothing above it.
    assert {raw[y * stride] for y in range(spec.height)} <= {0, 2}
    assert raw[0] == 0
    assert decode_image(data).tobytes() == expected_pixels(spec).tobytes()


def test_the_picture_is_a_flat_colour_with_a_label_band() -> None:
    image = decode_image(render_image(dataclasses.replace(SPEC, width=400, height=400))).convert("RGB")
    corner = image.getpixel((0, 0))
    assert image.getpixel((399, 399)) == corner and image.getpixel((200, 5)) == corner
    middle_row = {image.getpixel((x, 200)) for x in range(400)}
    assert corner not in middle_row and len(middle_row) > 1  # the band, with text drawn on it


def test_tiny_images_are_flat_and_large_ones_carry_text() -> None:
    tiny = decode_image(render_image(dataclasses.replace(SPEC, width=16, height=16)))
    assert len(tiny.getcolors() or []) == 1
    big = decode_image(render_image(dataclasses.replace(SPEC, width=1024, height=1024)))
    colours = dict((colour, count) for count, colour in big.crop((0, 400, 1024, 624)).getcolors(1 << 16) or [])
    # Crisp (not antialiased) text at this size: ink on the band, and nothing in between.
    assert set(colours) == {images._BAND, images._INK, big.getpixel((0, 0))}
    assert colours[images._INK] > 3000


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_transparent_background_gives_alpha(fmt: ImageFormat) -> None:
    image = decode_image(render_image(dataclasses.replace(SPEC, format=fmt, background="transparent")))
    assert image.mode == "RGBA"
    alpha = image.getchannel("A")
    assert alpha.getpixel((0, 0)) == 0  # the background
    assert alpha.getpixel((SPEC.width // 2, SPEC.height // 2)) == 255  # the label band


def test_transparent_jpeg_and_other_backgrounds_are_opaque() -> None:
    jpeg = dataclasses.replace(SPEC, format="jpeg", background="transparent")
    assert decode_image(render_image(jpeg)).mode == "RGB"
    assert decode_image(render_image(dataclasses.replace(SPEC, background="opaque"))).mode == "RGB"


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_spec_same_bytes_even_in_another_process(fmt: ImageFormat) -> None:
    spec = dataclasses.replace(SPEC, format=fmt, prompt="a fox 🦊 \ud800", inputs=("ab" * 32,))
    data = render_image(spec)
    assert data == render_image(dataclasses.replace(spec))
    code = (
        "import sys; from edenfake.images import ImageSpec, render_image; "
        f"sys.stdout.buffer.write(render_image({spec!r}))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert other.stdout == data


def test_small_text_stays_antialiased() -> None:
    small = decode_image(render_image(dataclasses.replace(SPEC, width=256, height=256)))
    band = small.crop((0, 100, 256, 156)).getcolors(1 << 16) or []
    assert len(band) > 10  # grey levels between the band and the ink: legible at 8 pixels


def test_the_bytes_do_not_depend_on_what_was_rendered_before_or_in_which_thread() -> None:
    # Compressed rows are shared between images and a compressor is reused per thread: none of it may leak
    # from one image into the next.
    spec = dataclasses.replace(SPEC, width=1024, height=1024, prompt="alone in its process")
    code = (
        "import sys; from edenfake.images import ImageSpec, render_image; "
        f"sys.stdout.buffer.write(render_image({spec!r}))"
    )
    alone = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    others = [
        dataclasses.replace(SPEC, width=w, height=h, prompt=f"other {i}", index=i % 3, background=bg)
        for i, (w, h, bg) in enumerate([(1024, 1024, None), (777, 333, None), (1024, 1536, "transparent")] * 4)
    ]
    results: list[bytes] = []

    def work() -> None:
        for other in others:
            render_image(other)
        results.append(render_image(spec))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [alone] * 4
    assert render_image(spec) == alone


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_prompt_of_its_own_gives_an_image_of_its_own_that_decodes(fmt: ImageFormat) -> None:
    specs = [dataclasses.replace(SPEC, width=1024, height=1024, format=fmt, prompt=f"fox {i}") for i in range(12)]
    rendered = [render_image(spec) for spec in specs]
    assert len(set(rendered)) == len(specs)
    for spec, data in zip(specs, rendered, strict=True):
        image = decode_image(data)
        assert (image.format, image.size, image.mode) == (PIL_NAMES[fmt], (1024, 1024), "RGB")
        assert inspect_image(data).matches(prompt=spec.prompt)
        if fmt == "png":  # lossless: exactly the picture, the prompt's own line of text included
            assert image.tobytes() == expected_pixels(spec).tobytes()


def _every_pair(chars: str) -> str:
    """A text in which every ordered pair of ``chars`` appears side by side (a de Bruijn sequence)."""
    k, word = len(chars), [0] * 3
    found: list[int] = []

    def walk(t: int, p: int) -> None:
        if t > 2:
            if 2 % p == 0:
                found.extend(word[1 : p + 1])
            return
        word[t] = word[t - p]
        walk(t + 1, p)
        for j in range(word[t - p] + 1, k):
            word[t] = j
            walk(t + 1, t)

    walk(1, 1)
    return "".join(chars[i] for i in found) + chars[0]


@pytest.mark.parametrize(
    ("width", "height", "mode"),
    [(640, 400, "RGB"), (300, 200, "RGB"), (640, 400, "RGBA")],
    ids=["crisp", "antialiased", "rgba"],
)
def test_glyphs_side_by_side_are_drawn_exactly_whichever_pair_they_are(width: int, height: int, mode: str) -> None:
    """A glyph is copied in place where no glyph drawn before it reaches and blended where one does (kerned
    and overhanging pairs): every pair of printable ASCII characters, and some others, comes out exactly as
    Pillow draws the label."""
    text = _every_pair(
        " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"
    )
    text += "éüß€→…ﬁ✨ fjord ƒ Ŋ TyVAWay ij"
    background = "transparent" if mode == "RGBA" else None
    lines = [text[at : at + 59] for at in range(0, len(text), 58)]  # each pair whole in some line
    if mode == "RGBA":  # the same drawing a byte a channel wider: some of the pairs show it
        lines = lines[::8]
    for line in lines:
        spec = dataclasses.replace(SPEC, width=width, height=height, prompt=line, background=background)
        assert decode_image(render_image(spec)).tobytes() == expected_pixels(spec).tobytes(), line


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "a blue fox"},
        {"prompt": "a red fox "},
        {"model": "openai/gpt-image-2"},
        {"width": 321},
        {"height": 241},
        {"quality": "high"},
        {"index": 1},
        {"seed": 1},
        {"inputs": ("ab" * 32,)},
        {"background": "opaque"},
    ],
)
def test_every_field_changes_the_bytes(fmt: ImageFormat, change: dict[str, object]) -> None:
    base = dataclasses.replace(SPEC, format=fmt)
    changed = dataclasses.replace(base, **change)  # type: ignore[arg-type]
    assert changed.key != base.key
    assert render_image(changed) != render_image(base)
    # The cache keys an image by the spec's fields (the prompt by its digest): a changed field is a miss, never
    # the other spec's image, and the digest and key kept beside an image are its own.
    cache = ImageCache()
    cache.get(base)
    data, sha256, key = cache.entry(changed)
    assert (cache.misses, data, key) == (2, render_image(changed), changed.key)
    assert sha256 == hashlib.sha256(data).hexdigest()
    assert cache.entry_b64(base)[:3] == (render_image(base), hashlib.sha256(render_image(base)).hexdigest(), base.key)
    assert (cache.hits, cache.misses) == (1, 2)


def test_format_changes_the_bytes_and_n_images_differ_in_colour() -> None:
    assert len({render_image(dataclasses.replace(SPEC, format=f)) for f in FORMATS}) == 3
    corners = {decode_image(render_image(dataclasses.replace(SPEC, index=i))).getpixel((0, 0)) for i in range(10)}
    assert len(corners) == 10


def test_the_key_is_the_sha256_of_the_canonical_fingerprint() -> None:
    fingerprint = SPEC.fingerprint()
    assert json.loads(json.dumps(fingerprint)) == fingerprint
    assert fingerprint["prompt_sha256"] == prompt_digest("a red fox")
    assert fingerprint["size"] == "320x240" and fingerprint["edenfake"] == 1
    canonical = json.dumps(fingerprint, sort_keys=True, separators=(",", ":"))
    assert SPEC.key == hashlib.sha256(canonical.encode()).hexdigest()
    assert dataclasses.replace(SPEC).key == SPEC.key and hash(dataclasses.replace(SPEC)) == hash(SPEC)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_fingerprint_round_trips(fmt: ImageFormat) -> None:
    spec = dataclasses.replace(SPEC, format=fmt, index=3, seed=9, inputs=("f" * 64, "e" * 64), quality="low")
    info = inspect_image(render_image(spec))
    assert info.fingerprint == spec.fingerprint()
    assert info.matches(model="openai/gpt-image-1", prompt="a red fox", index=3)
    assert info.matches()
    assert not info.matches(prompt="a red fox!")
    assert not info.matches(model="openai/dall-e-3")
    assert not info.matches(index=0)
    assert info.prompt_sha256 == prompt_digest("a red fox")
    assert (info.model, info.index, info.seed) == ("openai/gpt-image-1", 3, 9)
    assert info.inputs == ["f" * 64, "e" * 64]
    assert (info.format, info.width, info.height) == (fmt, 320, 240)


def test_the_png_fingerprint_is_a_text_chunk_named_edenfake() -> None:
    text = dict(png_chunks(render_image(SPEC)))[b"tEXt"]
    keyword, _, value = text.partition(b"\x00")
    assert keyword == b"edenfake"
    assert json.loads(value) == SPEC.fingerprint()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_foreign_image_has_no_fingerprint(fmt: ImageFormat) -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (1, 2, 3)).save(out, PIL_NAMES[fmt])
    info = inspect_image(out.getvalue())
    assert (info.format, info.width, info.height, info.fingerprint) == (fmt, 8, 6, None)
    assert not info.matches() and info.model is None and info.inputs is None and info.index is None


def test_foreign_metadata_that_is_not_a_fingerprint_is_ignored() -> None:
    from PIL import PngImagePlugin

    meta = PngImagePlugin.PngInfo()
    meta.add_text("edenfake", '{"something": "else"}')
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG", pnginfo=meta)
    assert inspect_image(out.getvalue()).fingerprint is None
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "JPEG", comment=b"not json")
    assert inspect_image(out.getvalue()).fingerprint is None


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"GIF89a not really", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, render_image(SPEC)[:200]],
)
def test_garbage_is_refused_with_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a PNG, JPEG or WebP"):
        inspect_image(data)


def test_other_formats_are_refused() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "GIF")
    with pytest.raises(ValueError, match="not a PNG, JPEG or WebP image: GIF"):
        inspect_image(out.getvalue())


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("prompt", [*ODD_PROMPTS, "中文 é ß", "\u202e", "\x85\u2028"])
def test_odd_prompts_render(fmt: ImageFormat, prompt: str) -> None:
    spec = dataclasses.replace(SPEC, prompt=prompt, format=fmt, model="odd/\x00model\ud800🦊")
    info = inspect_image(render_image(spec))
    assert info.prompt_sha256 == prompt_digest(prompt)
    assert info.model == "odd/\x00model\ud800🦊"


def test_prompt_digest_takes_any_string() -> None:
    assert prompt_digest("a") == "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
    assert prompt_digest("\ud800") != prompt_digest("\udc00")


def test_impossible_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        render_image(dataclasses.replace(SPEC, width=0))
    with pytest.raises(ValueError, match="format"):
        render_image(dataclasses.replace(SPEC, format="gif"))  # type: ignore[arg-type]


#: what the cache keeps beside each image: its sha256 and its spec's key (hex, 64 characters each)
BESIDE = 2 * 64


def test_the_cache_counts_hits_and_misses() -> None:
    cache = ImageCache()
    assert cache.get(SPEC) == render_image(SPEC)
    assert cache.get(dataclasses.replace(SPEC)) == render_image(SPEC)  # an equal spec is a hit
    assert (cache.hits, cache.misses, len(cache)) == (1, 1, 1)
    assert cache.size_bytes == len(render_image(SPEC)) + ENTRY_OVERHEAD + BESIDE
    cache.clear()
    assert (len(cache), cache.size_bytes) == (0, 0)
    cache.get(SPEC)
    assert (cache.hits, cache.misses) == (1, 2)


def test_the_cache_evicts_the_least_recently_used_within_its_byte_cap() -> None:
    specs = [dataclasses.replace(SPEC, index=i) for i in range(3)]
    sizes = [len(render_image(s)) for s in specs]
    # room for two, not three
    cache = ImageCache(max_bytes=sizes[0] + sizes[1] + 2 * (ENTRY_OVERHEAD + BESIDE) + min(sizes) // 2)
    cache.get(specs[0])
    cache.get(specs[1])
    cache.get(specs[0])  # now specs[1] is the least recently used
    cache.get(specs[2])
    assert len(cache) == 2 and cache.size_bytes <= cache.max_bytes
    assert cache.size_bytes == sizes[0] + sizes[2] + 2 * (ENTRY_OVERHEAD + BESIDE)
    misses = cache.misses
    cache.get(specs[0])
    assert cache.misses == misses  # kept
    cache.get(specs[1])
    assert cache.misses == misses + 1  # evicted, rendered again


def test_an_image_larger_than_the_cache_is_returned_but_not_kept() -> None:
    cache = ImageCache(max_bytes=10)
    assert cache.get(SPEC) == render_image(SPEC)
    assert cache.get(SPEC) == render_image(SPEC)
    assert (len(cache), cache.size_bytes, cache.hits, cache.misses) == (0, 0, 0, 2)


def test_base64_is_encoded_once_counted_and_matches_the_bytes() -> None:
    cache = ImageCache()
    first = cache.get_b64(SPEC)
    assert first is cache.get_b64(SPEC)
    assert base64.b64decode(first) == render_image(SPEC)
    # one entry: the image, its sha256 and key, and its base64 beside them
    assert cache.size_bytes == len(render_image(SPEC)) + BESIDE + len(first) + ENTRY_OVERHEAD
    assert len(cache) == 1
    # Room for the image but not its base64 as well: the image is kept, the text is not.
    data = render_image(SPEC)
    small = ImageCache(max_bytes=len(data) + BESIDE + ENTRY_OVERHEAD + 10)
    assert base64.b64decode(small.get_b64(SPEC)) == data
    assert (len(small), small.size_bytes) == (1, len(data) + BESIDE + ENTRY_OVERHEAD)


def test_the_cache_is_thread_safe() -> None:
    specs = [dataclasses.replace(SPEC, index=i % 7) for i in range(70)]
    expected = {s.key: render_image(s) for s in specs}
    one = len(next(iter(expected.values())))
    # fewer than the specs: eviction runs under contention too
    cache = ImageCache(max_bytes=(one + BESIDE + ENTRY_OVERHEAD) * 5)
    errors: list[str] = []
    barrier = threading.Barrier(8)

    def work(offset: int) -> None:
        barrier.wait()
        for s in specs[offset:] + specs[:offset]:
            data = base64.b64decode(cache.get_b64(s)) if offset % 2 else cache.get(s)
            if data != expected[s.key]:
                errors.append(s.key)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert cache.hits + cache.misses == 8 * 70
    assert cache.size_bytes <= cache.max_bytes
    assert cache.size_bytes == sum(e[3] for e in cache._store._items.values())


def test_images_of_one_answer_share_label_rows_and_still_decode_exactly() -> None:
    specs = [dataclasses.replace(SPEC, width=900, height=600, index=i) for i in range(4)]
    for spec in specs + specs:  # the second round takes every line of text from the shared rows
        assert decode_image(render_image(spec)).tobytes() == expected_pixels(spec).tobytes()


# -- an edit's placeholder ----------------------------------------------------------------------------------

EDIT = dataclasses.replace(SPEC, width=1024, height=1024, inputs=("ab" * 32,), edit_of="512x512")


def _line_mask(size: int, text: str) -> Image.Image:
    """A line of text as an "L" mask of its box (ink 255): the glyphs the label places, pasted in turn."""
    (width, height), placed = images._glyphs.layout(size, text)
    line = Image.new("L", (width, height), 0)
    for left, top, char, box in placed:
        line.paste(255, (left, top), images._glyphs.mask(size, char, box))
    return line


def _first_line(spec: ImageSpec) -> tuple[Image.Image, Image.Image]:
    """The label's first line as drawn on the image (ink 255, all else 0) and the text it should show."""
    label = images._label(spec)
    assert label is not None
    top, text = label.lines[0]
    mask = _line_mask(label.size, text)
    y = label.top + top
    drawn = decode_image(render_image(spec)).convert("RGB").getchannel("R")
    box = (label.margin, y, min(spec.width, label.margin + mask.width), y + mask.height)
    shown = drawn.crop(box).point(lambda v: 255 if v == images._INK[0] else 0)
    return shown, mask.crop((0, 0, box[2] - box[0], mask.height))


def test_an_edit_says_so_on_the_image_with_its_first_inputs_size() -> None:
    label = images._label(EDIT)
    assert label is not None and label.lines[0][1] == "edenfake edit of 512x512 input"
    shown, expected = _first_line(EDIT)
    assert shown.tobytes() == expected.tobytes()  # those very words, drawn on the image
    generation = dataclasses.replace(EDIT, inputs=(), edit_of=None)
    shown, expected = _first_line(generation)
    assert shown.tobytes() == expected.tobytes()
    assert images._label(generation).lines[0][1] == "edenfake placeholder"  # type: ignore[union-attr]
    # Same size, same prompt: the edit's pixels are not a generation's.
    assert decode_image(render_image(EDIT)).tobytes() != decode_image(render_image(generation)).tobytes()
    # A remote first input (not fetched, so of no known size) is named as such.
    remote = images._label(dataclasses.replace(EDIT, edit_of="url"))
    assert remote is not None and remote.lines[0][1] == "edenfake edit of a remote image"


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_edits_fingerprint_names_its_first_input_and_a_generations_is_unchanged(fmt: ImageFormat) -> None:
    edit = dataclasses.replace(EDIT, format=fmt)
    info = inspect_image(render_image(edit))
    assert info.edit_of == "512x512" and info.fingerprint == edit.fingerprint()
    assert render_image(edit) == render_image(dataclasses.replace(edit))  # deterministic
    assert dataclasses.replace(edit, edit_of="256x256").key != edit.key
    generation = dataclasses.replace(SPEC, format=fmt)
    # A generation's fingerprint has no edit_of key at all: its bytes are those of before edits were labelled.
    assert "edit_of" not in generation.fingerprint() and inspect_image(render_image(generation)).edit_of is None
    assert set(generation.fingerprint()) == set(edit.fingerprint()) - {"edit_of"}


def test_a_lowered_pillow_bomb_bound_does_not_stop_the_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another library in the process may lower Pillow's global MAX_IMAGE_PIXELS: the placeholders' labels are
    drawn all the same (the label rows are built fresh, not taken from the renderer's memo)."""
    specs = [
        ImageSpec("openai/gpt-image-1", "a fox on a bound", 1024, 1024),
        ImageSpec("openai/gpt-image-1", "an edit on a bound", 512, 512, edit_of="64x64", inputs=("abc",)),
    ]
    expected = [render_image(s) for s in specs]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    images._text_rows.cache_clear()
    assert [render_image(s) for s in specs] == expected
