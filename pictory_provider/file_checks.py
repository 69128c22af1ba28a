"""Is a downloaded body a whole file of its kind? (PNG, MP4, SRT, VTT; pure Python, no Airflow.)

Each check reads a seekable body of ``size`` bytes and returns ``None`` when the file is whole, else
what is wrong with it, for :mod:`pictory_provider.storage` to refuse the file before it is stored.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator
from typing import IO, Any

__all__ = ["FILE_CHECKS", "PNG_SIGNATURE", "check_mp4", "check_png", "check_srt", "check_vtt"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png(body: IO[bytes], size: int) -> str | None:
    """What is wrong with the PNG in ``body`` (``size`` bytes), or None if it is whole.

    Walks the chunk structure from the signature to the ``IEND`` chunk, so a body cut short anywhere
    (a dropped connection, a ``Content-Length`` shorter than the file) is caught.
    """
    body.seek(0)
    if body.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
        return "it is not a PNG (bad signature)"
    offset = len(PNG_SIGNATURE)
    while offset + 12 <= size:
        body.seek(offset)
        length, chunk_type = struct.unpack(">I4s", body.read(8))
        offset += 12 + length
        if offset > size:
            break
        if chunk_type == b"IEND":
            return None
    return f"the PNG is incomplete (no IEND chunk in its {size} bytes): the download was cut short"


def _boxes(body: IO[bytes], start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """The boxes between ``start`` and ``end``: (type, payload offset, box end); stops at a bad header."""
    offset = start
    while offset + 8 <= end:
        body.seek(offset)
        header = body.read(16)
        box_size, box_type, payload = int.from_bytes(header[:4], "big"), header[4:8], offset + 8
        if box_size == 1 and len(header) == 16:
            box_size, payload = int.from_bytes(header[8:16], "big"), offset + 16
        elif box_size == 0:
            box_size = end - offset
        if box_size < payload - offset or offset + box_size > end:
            return
        yield box_type, payload, offset + box_size
        offset += box_size


def _media_end(body: IO[bytes], moov: tuple[int, int]) -> int | None:
    """The byte just past the last sample of any track (from ``stco``/``co64``, ``stsc``, ``stsz``), or
    None when the sample tables cannot be read."""
    last = 0
    stbls: list[tuple[int, int]] = []
    for kind, payload, end in _boxes(body, *moov):
        if kind == b"trak":
            for k2, p2, e2 in _boxes(body, payload, end):
                if k2 == b"mdia":
                    for k3, p3, e3 in _boxes(body, p2, e2):
                        if k3 == b"minf":
                            stbls += [(p4, e4) for k4, p4, e4 in _boxes(body, p3, e3) if k4 == b"stbl"]
    if not stbls:
        return None
    for start, end in stbls:
        tables = {kind: (payload, box_end) for kind, payload, box_end in _boxes(body, start, end)}
        offsets = _numbers(body, tables.get(b"stco"), 4) or _numbers(body, tables.get(b"co64"), 8)
        sizes_box, chunks_box = tables.get(b"stsz"), tables.get(b"stsc")
        if offsets is None or sizes_box is None or chunks_box is None:
            return None
        body.seek(sizes_box[0] + 4)
        uniform = int.from_bytes(body.read(4), "big")
        sizes = None if uniform else _numbers(body, (sizes_box[0] + 4, sizes_box[1]), 4)
        runs = _numbers(body, chunks_box, 12)
        if runs is None or (sizes is None and not uniform):
            return None
        sample = 0
        for index, chunk_offset in enumerate(offsets, start=1):
            per_chunk = next((count for first, count in reversed(runs) if first <= index), 0)
            chunk = uniform * per_chunk if uniform else sum((sizes or [])[sample : sample + per_chunk])
            sample += per_chunk
            last = max(last, chunk_offset + chunk)
    return last


def _numbers(body: IO[bytes], box: tuple[int, int] | None, width: int) -> list[Any] | None:
    """A full box's table after its entry count: ``width`` 4 or 8 (numbers) or 12 (``stsc`` runs:
    (first chunk, samples per chunk)). None when absent or cut short."""
    if box is None:
        return None
    payload, end = box
    body.seek(payload + 4)
    count = int.from_bytes(body.read(4), "big")
    if count * width > end - payload - 8:
        return None
    raw = body.read(count * width)
    if width == 12:
        return [
            (int.from_bytes(raw[i : i + 4], "big"), int.from_bytes(raw[i + 4 : i + 8], "big"))
            for i in range(0, len(raw), 12)
        ]
    return [int.from_bytes(raw[i : i + width], "big") for i in range(0, len(raw), width)]


def check_mp4(body: IO[bytes], size: int) -> str | None:
    """What is wrong with the MP4 in ``body`` (``size`` bytes), or None if it is whole.

    An ISO base media file starts with its ``ftyp`` box; its top-level boxes must add up to exactly
    ``size`` bytes and hold ``moov`` and ``mdat``, so a body cut short anywhere is caught. A last box
    of size 0 ("to the end of the file", written by streaming muxers) says nothing about the length,
    so then the sample tables (``stco``/``co64``, ``stsc``, ``stsz``) must end within the file.
    """
    body.seek(0)
    head = body.read(8)
    if len(head) < 8 or head[4:8] != b"ftyp" or int.from_bytes(head[:4], "big") < 16:
        return "it is not an MP4 (no ftyp box)"
    offset, seen = 0, set()
    moov: tuple[int, int] | None = None
    to_end = False
    while offset < size:
        body.seek(offset)
        header = body.read(16)
        if len(header) < 8:
            break
        box_size, box_type = int.from_bytes(header[:4], "big"), header[4:8]
        payload = offset + 8
        if box_size == 1 and len(header) == 16:
            box_size, payload = int.from_bytes(header[8:16], "big"), offset + 16
        elif box_size == 0:
            box_size, to_end = size - offset, True
        if box_size < 8:
            return f"the MP4 has a malformed {box_type!r} box at byte {offset}"
        if box_type == b"moov" and not to_end:
            moov = (payload, offset + box_size)
        seen.add(box_type)
        offset += box_size
    if offset != size:
        return f"the MP4 is incomplete (its boxes need {offset} bytes, {size} arrived): the download was cut short"
    missing = [name for name in ("moov", "mdat") if name.encode() not in seen]
    if missing:
        return f"the MP4 has no {' or '.join(missing)} box"
    if to_end:
        end = _media_end(body, moov) if moov else None
        if end is None:
            return "its last box runs 'to the end of the file' and its sample tables cannot vouch for the length"
        if end > size:
            return (
                f"the MP4 is incomplete (its samples need {end} bytes, {size} arrived; the last box runs 'to the "
                "end of the file', so only the sample tables tell): the download was cut short"
            )
    return None


def _subtitle_text(body: IO[bytes], size: int) -> str | None:
    body.seek(0)
    try:
        return body.read(size).decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError:
        return None


# Timings: SubRip ``HH:MM:SS,mmm`` (a ``.`` is tolerated); WebVTT ``[HH:]MM:SS.mmm``, then cue settings.
_SRT_TIME = r"(\d{2,}):([0-5]\d):([0-5]\d)[,.](\d{3})"
_VTT_TIME = r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})"
_SRT_TIMING = re.compile(rf"{_SRT_TIME} --> {_SRT_TIME}(?:[ \t].*)?")
_VTT_TIMING = re.compile(rf"{_VTT_TIME}[ \t]+-->[ \t]+{_VTT_TIME}(?:[ \t].*)?")
_VTT_SKIPPED = re.compile(r"(NOTE|STYLE|REGION)(?:[ \t].*)?")


def _milliseconds(groups: tuple[str | None, ...]) -> int:
    hours, minutes, seconds, millis = (int(group or 0) for group in groups)
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis


def _cue_problem(blocks: list[list[str]], timing: re.Pattern[str], vtt: bool) -> str | None:
    """The first malformed cue among ``blocks`` (lines between blank lines), or a start time that goes
    back, else None. A SubRip cue is a number, a timing line and text; a WebVTT one an optional
    identifier, a timing line and text (``NOTE``, ``STYLE`` and ``REGION`` blocks are skipped)."""
    previous, number = -1, 0
    for lines in blocks:
        if vtt and _VTT_SKIPPED.fullmatch(lines[0]):
            continue
        number += 1
        at = 1 if not vtt or "-->" not in lines[0] else 0
        if not vtt and not lines[0].strip().isdigit():
            return f"cue {number} does not start with its number (it starts {lines[0][:40]!r})"
        match = timing.fullmatch(lines[at]) if len(lines) > at else None
        if match is None:
            shown = lines[at][:60] if len(lines) > at else "nothing"
            return f"cue {number} has no well-formed timing line (found {shown!r})"
        if len(lines) == at + 1:
            return f"cue {number} has no text"
        start, end = _milliseconds(match.groups()[:4]), _milliseconds(match.groups()[4:])
        if end < start or start < previous:
            return f"cue {number}'s times go back ({lines[at]!r})"
        previous = start
    return None


def _subtitle_problem(text: str, timing: re.Pattern[str], vtt: bool) -> str | None:
    """What is wrong with the cues in ``text`` (the whole file; a WebVTT header already removed)."""
    blocks = [block.split("\n") for block in re.split(r"\n{2,}", text.strip("\n")) if block.strip()]
    problem = _cue_problem(blocks, timing, vtt)
    if problem is None and blocks and not text.endswith("\n"):
        problem = "its last cue ends without a line break"
    return problem


def check_srt(body: IO[bytes], size: int) -> str | None:
    """What is wrong with the SubRip subtitles in ``body``, or None when the whole file is well formed.

    Every cue must be a number, a timing line and text; times may not go back; the file must end with a
    line break, so a body cut short in a number, a timing line or a text line is caught.
    """
    text = _subtitle_text(body, size)
    if text is None:
        return "the subtitles are not UTF-8 text"
    if text.strip() and "-->" not in text.split("\n\n", 1)[0]:
        return "it is not SubRip (.srt) subtitles (no timing line in the first cue)"
    problem = _subtitle_problem(text, _SRT_TIMING, vtt=False)
    return None if problem is None else f"the SubRip subtitles are cut short or malformed ({problem})"


def check_vtt(body: IO[bytes], size: int) -> str | None:
    """What is wrong with the WebVTT subtitles in ``body``, or None when the whole file is well formed.

    After the ``WEBVTT`` header block, every cue must be an optional identifier, a timing line and text;
    start times may not go back; the file must end with a line break (as :func:`check_srt`).
    """
    text = _subtitle_text(body, size)
    if text is None:
        return "the subtitles are not UTF-8 text"
    if not re.match(r"WEBVTT(?:[ \t\n]|$)", text):
        return "it is not WebVTT (.vtt) subtitles (no WEBVTT header)"
    cues = text.partition("\n\n")[2]
    problem = _subtitle_problem(cues, _VTT_TIMING, vtt=True)
    return None if problem is None else f"the WebVTT subtitles are cut short or malformed ({problem})"


#: The body check for each file kind: ``check(body, size)`` returns what is wrong, or None.
FILE_CHECKS: dict[str, Callable[[IO[bytes], int], str | None]] = {
    "png": check_png,
    "mp4": check_mp4,
    "srt": check_srt,
    "vtt": check_vtt,
}
