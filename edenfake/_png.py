"""A PNG written by hand for flat placeholder images. A run of identical rows is written as its first row and
then rows of PNG filter type 2 ("Up") with nothing to add: those depend only on the image's width, so they are
compressed once per width and every image of that width shares them. Only the rows that differ from the row
above (the first of each colour, the lines of text) are compressed per image."""

from __future__ import annotations

import functools
import struct
import threading
import zlib

__all__ = ["Scanlines", "chunk", "deflate_segment", "png"]

_BLOCK_BYTES = 64 * 1024
_ADLER_BASE = 65521


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


_local = threading.local()
#: an empty final block: the end of a deflate stream
_END = zlib.compressobj(1, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)


#: zlib's memory level for the level-1 compressors: a smaller hash than the default 8 (a full flush clears it,
#: 64 KiB at 8, 16 KiB at 6) compresses these rows as well, and a row or a line of text about 5-20% sooner
_MEM_LEVEL = 6


def deflate_segment(raw: bytes, level: int = 1, *, runs: bool = False) -> bytes:
    """``raw`` deflated as a segment that ends on a full flush. ``runs``: the bytes are runs of single values
    (grey one-bit text), which zlib's Z_RLE strategy (matches of the byte before only) compresses about 10%
    sooner than the full search, and a third smaller; a coloured row repeats every three bytes, which only the
    full search finds."""
    # A full flush ends byte-aligned and later data never refers back across it, so segments from separate
    # compressors concatenate into one valid deflate stream, and one segment can be repeated. It also resets
    # the compressor (its window and hash are forgotten), so one compressor per thread and strategy serves
    # every level-1 segment with the same bytes as a new one, without setting up zlib's tables each time.
    if level != 1:
        c = zlib.compressobj(level, zlib.DEFLATED, -15)
        return c.compress(raw) + c.flush(zlib.Z_FULL_FLUSH)
    name = "runs" if runs else "search"
    shared: zlib._Compress | None = getattr(_local, name, None)
    if shared is None:
        strategy = zlib.Z_RLE if runs else zlib.Z_DEFAULT_STRATEGY
        shared = zlib.compressobj(1, zlib.DEFLATED, -15, _MEM_LEVEL, strategy)
        setattr(_local, name, shared)
    try:
        return shared.compress(raw) + shared.flush(zlib.Z_FULL_FLUSH)
    except BaseException:  # (out of memory) a compressor stopped midway is never used again
        setattr(_local, name, None)
        raise


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
    """adler32 of a block repeated ``times`` times, by doubling (no need to build the repeated bytes)."""
    result, power, power_len = 1, adler, length
    while times:
        if times & 1:
            result = _adler_combine(result, power, power_len)
        power, power_len = _adler_combine(power, power, power_len), power_len * 2
        times >>= 1
    return result


#: the largest run of "same as above" rows compressed in one piece (longer runs repeat it)
_RUN_BYTES = 1024 * 1024


@functools.lru_cache(maxsize=64)
def _same_rows(stride: int) -> tuple[tuple[bytes, int, int], ...]:
    """Compressed runs of 1, 2, 4, ... scanlines of ``stride`` bytes that repeat the row above them (filter
    type 2, "Up", with nothing to add), each as (compressed, adler32, raw length), the longest under
    ``_RUN_BYTES``. They depend only on the width: compressed once per width, with Z_RLE (runs of zeros and a
    filter byte: 4% larger than level 9's search across rows, and five times sooner, which is the first
    image's of each width)."""
    row = b"\x02" + bytes(stride - 1)
    runs: list[tuple[bytes, int, int]] = []
    rows = 1
    while not runs or rows * stride <= _RUN_BYTES:
        raw = row * rows
        runs.append((deflate_segment(raw, runs=True), zlib.adler32(raw), len(raw)))
        rows *= 2
    return tuple(runs)


@functools.lru_cache(maxsize=1024)
def _same_run(stride: int, count: int) -> tuple[bytes, int, int]:
    """``count`` rows that repeat the row above them, from the runs of :func:`_same_rows`. An image size has a
    few such counts (above the label, within its band, below it), so every image of the size shares them."""
    runs = _same_rows(stride)
    longest = 1 << (len(runs) - 1)
    parts, adler, length = [], 1, 0
    pieces = [(runs[-1], count // longest)]
    pieces += [(runs[power], 1) for power in range(len(runs) - 1) if (count % longest) >> power & 1]
    for (compressed, run_adler, run_length), times in pieces:
        if times:
            parts.append(compressed * times)
            adler = _adler_combine(adler, _adler_repeat(run_adler, run_length, times), run_length * times)
            length += run_length * times
    return b"".join(parts), adler, length


@functools.lru_cache(maxsize=256)
def _shared_row(row: bytes) -> tuple[bytes, int]:
    """A scanline that recurs across images (a band of the label), compressed once."""
    return deflate_segment(row), zlib.adler32(row)


class Scanlines:
    """The zlib stream of a PNG's scanlines, built from compressed segments, most shared between images."""

    def __init__(self) -> None:
        self.parts: list[bytes] = [b"\x78\x01"]  # deflate, 32 KiB window, fastest; (0x7801 % 31 == 0)
        self.adler = 1
        self._rows: dict[bytes, tuple[bytes, int]] = {}  # rows of this image compressed, for their next use

    def raw(self, data: bytes) -> None:
        if data:
            self.parts.append(deflate_segment(data))
            self.adler = zlib.adler32(data, self.adler)

    def compressed(self, compressed: bytes, adler: int, length: int) -> None:
        """A segment compressed earlier (by ``deflate_segment``) from raw data of this adler32 and length."""
        if length:
            self.parts.append(compressed)
            self.adler = _adler_combine(self.adler, adler, length)

    def repeat(self, row: bytes, count: int, *, shared: bool = False) -> None:
        """``count`` copies of ``row`` (filter type 0, its first byte): the row, then rows saying "same as
        above" (filter type 2 with nothing to add), which compress to almost nothing and are shared by every
        image of the width. ``shared``: the row itself recurs across images, so its compressed form is kept."""
        if count <= 0:
            return
        found = _shared_row(row) if shared else self._rows.get(row)
        if found is None:
            found = self._rows[row] = (deflate_segment(row), zlib.adler32(row))
        self.compressed(*found, len(row))
        self.compressed(*_same_run(len(row), count - 1))

    def finish(self) -> bytes:
        # An empty final block ends the deflate stream.
        self.parts.append(_END)
        self.parts.append(struct.pack(">I", self.adler))
        return b"".join(self.parts)


def png(width: int, height: int, alpha: bool, text: tuple[bytes, bytes], stream: Scanlines) -> bytes:
    """A PNG file: 8-bit RGB(A), one tEXt chunk (keyword, ASCII text), and the scanlines of ``stream``."""
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"tEXt", text[0] + b"\x00" + text[1]),
            chunk(b"IDAT", stream.finish()),
            chunk(b"IEND", b""),
        )
    )
