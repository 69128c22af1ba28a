"""A tiny stdlib-only PNG writer (8-bit RGB, no interlacing) for the emulator's image files."""

from __future__ import annotations

import functools
import struct
import uuid
import zlib
from collections.abc import Iterable

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

RGB = tuple[int, int, int]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(width: int, height: int, rows: Iterable[bytes]) -> bytes:
    """Encode ``height`` rows of ``width * 3`` RGB bytes as a PNG file."""
    if width < 1 or height < 1:
        raise ValueError(f"PNG size must be positive (got {width}x{height})")
    raw = bytearray()
    count = 0
    for row in rows:
        if len(row) != width * 3:
            raise ValueError(f"PNG row {count} has {len(row)} bytes, expected {width * 3}")
        raw += b"\x00"  # filter type "None"
        raw += row
        count += 1
    if count != height:
        raise ValueError(f"PNG has {count} rows, expected {height}")
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit truecolour (RGB)
    return (
        PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + _chunk(b"IEND", b"")
    )


@functools.lru_cache(maxsize=32)
def gradient_png(width: int, height: int, top: RGB, bottom: RGB) -> bytes:
    """A PNG whose rows fade from ``top`` to ``bottom``, each row a single colour (cached)."""
    span = max(height - 1, 1)
    rows = (
        bytes(round(a + (b - a) * y / span) for a, b in zip(top, bottom, strict=True)) * width for y in range(height)
    )
    return encode_png(width, height, rows)


def job_png(job_id: str, width: int, height: int) -> bytes:
    """The emulator's image for a job: a vertical gradient whose colours derive from the job id."""
    digest = uuid.UUID(job_id).bytes
    top: RGB = (digest[0], digest[1], digest[2])
    bottom: RGB = (digest[3], digest[4], digest[5])
    return gradient_png(width, height, top, bottom)
