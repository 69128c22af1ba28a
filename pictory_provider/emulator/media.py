"""Real, playable video media for the emulator, written in code with the standard library only.

Nothing is downloaded or shelled out: :func:`encode_mp4` writes an H.264 (Constrained Baseline)
stream in an MP4 file that players and ``ffprobe`` read, and :func:`encode_jpeg` a baseline JPEG.

How the H.264 stream stays tiny and simple: each picture is a vertical gradient of 16-pixel bands.
Every macroblock row starts with one ``I_PCM`` macroblock carrying the band's colour as raw samples;
the other macroblocks of the row use Intra 16x16 *horizontal* prediction with no residual, so they
copy that colour (8 bits each). One such IDR picture per second; the frames in between are
``P_Skip`` pictures (a few bytes) that repeat it. The colours move a little every second, so the
video visibly plays. ``tests/test_video_media.py`` decodes the result with ffprobe when installed.
"""

from __future__ import annotations

import functools
import struct
import uuid
from collections.abc import Iterable, Sequence

from pictory_provider.emulator.png import RGB, gradient_png

FPS = 24
#: Largest side of a thumbnail (JPG); the preview image is full size.
THUMBNAIL_SIDE = 320


class _Bits:
    """An MSB-first bit writer with H.264's Exp-Golomb codes."""

    def __init__(self) -> None:
        self.bits: list[str] = []

    def u(self, count: int, value: int) -> None:
        if count:
            self.bits.append(format(value, f"0{count}b"))

    def ue(self, value: int) -> None:
        code = format(value + 1, "b")
        self.bits.append("0" * (len(code) - 1) + code)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def raw(self, bits: str) -> None:
        self.bits.append(bits)

    def align_zero(self) -> None:
        pad = -len(self.text()) % 8
        self.bits.append("0" * pad)

    def text(self) -> str:
        joined = "".join(self.bits)
        self.bits = [joined]
        return joined

    def rbsp(self) -> bytes:
        """Append the RBSP stop bit and alignment, return the bytes."""
        self.raw("1")
        self.align_zero()
        text = self.text()
        return int(text, 2).to_bytes(len(text) // 8, "big") if text else b""


def _nal(nal_ref_idc: int, nal_type: int, rbsp: bytes) -> bytes:
    """A NAL unit (header + RBSP with emulation prevention bytes)."""
    out = bytearray([(nal_ref_idc << 5) | nal_type])
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


LOG2_MAX_FRAME_NUM = 8
PROFILE_IDC, CONSTRAINT_FLAGS, LEVEL_IDC = 66, 0xC0, 31  # Constrained Baseline, level 3.1


def _sps(mb_width: int, mb_height: int, crop_right: int, crop_bottom: int) -> bytes:
    bits = _Bits()
    bits.u(8, PROFILE_IDC)
    bits.u(8, CONSTRAINT_FLAGS)
    bits.u(8, LEVEL_IDC)
    bits.ue(0)  # seq_parameter_set_id
    bits.ue(LOG2_MAX_FRAME_NUM - 4)
    bits.ue(2)  # pic_order_cnt_type 2: output order = decoding order
    bits.ue(1)  # max_num_ref_frames
    bits.u(1, 0)  # gaps_in_frame_num_value_allowed_flag
    bits.ue(mb_width - 1)
    bits.ue(mb_height - 1)
    bits.u(1, 1)  # frame_mbs_only_flag
    bits.u(1, 1)  # direct_8x8_inference_flag
    cropping = bool(crop_right or crop_bottom)
    bits.u(1, int(cropping))
    if cropping:  # in 4:2:0 chroma units of 2 pixels
        for offset in (0, crop_right // 2, 0, crop_bottom // 2):
            bits.ue(offset)
    bits.u(1, 0)  # vui_parameters_present_flag
    return _nal(3, 7, bits.rbsp())


def _pps() -> bytes:
    bits = _Bits()
    bits.ue(0)  # pic_parameter_set_id
    bits.ue(0)  # seq_parameter_set_id
    bits.u(1, 0)  # entropy_coding_mode_flag: CAVLC
    bits.u(1, 0)  # bottom_field_pic_order_in_frame_present_flag
    bits.ue(0)  # num_slice_groups_minus1
    bits.ue(0)  # num_ref_idx_l0_default_active_minus1
    bits.ue(0)  # num_ref_idx_l1_default_active_minus1
    bits.u(1, 0)  # weighted_pred_flag
    bits.u(2, 0)  # weighted_bipred_idc
    bits.se(0)  # pic_init_qp_minus26
    bits.se(0)  # pic_init_qs_minus26
    bits.se(0)  # chroma_qp_index_offset
    bits.u(1, 0)  # deblocking_filter_control_present_flag
    bits.u(1, 0)  # constrained_intra_pred_flag
    bits.u(1, 0)  # redundant_pic_cnt_present_flag
    return _nal(3, 8, bits.rbsp())


def _ycbcr(rgb: RGB) -> tuple[int, int, int]:
    """BT.601 limited-range YCbCr (never 0, as I_PCM samples must not be in old decoders)."""
    r, g, b = (channel / 255 for channel in rgb)
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    cb = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    cr = 128 + 112.0 * r - 93.786 * g - 18.214 * b
    return tuple(min(max(round(v), 16), 240) for v in (y, cb, cr))  # type: ignore[return-value]


def _idr(idr_pic_id: int, mb_width: int, bands: Sequence[RGB]) -> bytes:
    """An IDR picture: per macroblock row, one I_PCM macroblock, then horizontal prediction."""
    bits = _Bits()
    bits.ue(0)  # first_mb_in_slice
    bits.ue(7)  # slice_type: I (all slices)
    bits.ue(0)  # pic_parameter_set_id
    bits.u(LOG2_MAX_FRAME_NUM, 0)  # frame_num
    bits.ue(idr_pic_id)
    bits.u(1, 0)  # no_output_of_prior_pics_flag
    bits.u(1, 0)  # long_term_reference_flag
    bits.se(0)  # slice_qp_delta
    # mb_type 2 = I_16x16_1_0_0 (horizontal, no coded blocks); intra_chroma_pred_mode 1 (horizontal);
    # mb_qp_delta 0; then the Intra16x16 DC block's coeff_token for "no coefficients", whose code
    # depends on nC: 8 or 16 next to an I_PCM macroblock (6-bit fixed code), else 0 ("1").
    next_to_pcm = "011" + "010" + "1" + "000011"
    plain = "011" + "010" + "1" + "1"
    rest = plain * (mb_width - 2)
    for colour in bands:
        y, cb, cr = _ycbcr(colour)
        bits.ue(25)  # I_PCM
        bits.align_zero()
        bits.raw(format(y, "08b") * 256 + format(cb, "08b") * 64 + format(cr, "08b") * 64)
        if mb_width > 1:
            bits.raw(next_to_pcm + rest)
    return _nal(3, 5, bits.rbsp())


def _p_skip(frame_num: int, mb_count: int) -> bytes:
    """A P picture whose macroblocks are all skipped: it repeats the previous picture."""
    bits = _Bits()
    bits.ue(0)  # first_mb_in_slice
    bits.ue(5)  # slice_type: P (all slices)
    bits.ue(0)  # pic_parameter_set_id
    bits.u(LOG2_MAX_FRAME_NUM, frame_num)
    bits.u(1, 0)  # num_ref_idx_active_override_flag
    bits.u(1, 0)  # ref_pic_list_modification_flag_l0
    bits.u(1, 0)  # adaptive_ref_pic_marking_mode_flag
    bits.se(0)  # slice_qp_delta
    bits.ue(mb_count)  # mb_skip_run
    return _nal(2, 1, bits.rbsp())


def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *parts)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def _moov(width: int, height: int, sps: bytes, pps: bytes, sizes: list[int], sync: list[int], offset: int) -> bytes:
    count = len(sizes)
    duration_ms = count * 1000 // FPS
    mvhd = _full_box(
        b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, 1000, duration_ms), struct.pack(">IH", 0x10000, 0x100),
        bytes(10), _MATRIX, bytes(24), struct.pack(">I", 2),
    )  # fmt: skip
    tkhd = _full_box(
        b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, 1, 0, duration_ms), bytes(8), struct.pack(">hhhH", 0, 0, 0, 0),
        _MATRIX, struct.pack(">II", width << 16, height << 16),
    )  # fmt: skip
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, FPS * 1000, count * 1000, 0x55C4, 0))
    hdlr = _full_box(b"hdlr", 0, 0, struct.pack(">I4s12x", 0, b"vide"), b"VideoHandler\x00")
    avcc = _box(
        b"avcC", bytes([1, PROFILE_IDC, CONSTRAINT_FLAGS, LEVEL_IDC, 0xFF, 0xE1]), struct.pack(">H", len(sps)), sps,
        b"\x01", struct.pack(">H", len(pps)), pps,
    )  # fmt: skip
    avc1 = _box(
        b"avc1", bytes(6), struct.pack(">H", 1), bytes(16), struct.pack(">HH", width, height),
        struct.pack(">III", 0x480000, 0x480000, 0), struct.pack(">H", 1), b"\x0dPictory H.264".ljust(32, b"\0"),
        struct.pack(">Hh", 0x18, -1), avcc,
    )  # fmt: skip
    stbl = _box(
        b"stbl",
        _full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1),
        _full_box(b"stts", 0, 0, struct.pack(">III", 1, count, 1000)),
        _full_box(b"stss", 0, 0, struct.pack(f">I{len(sync)}I", len(sync), *sync)),
        _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, count, 1)),
        _full_box(b"stsz", 0, 0, struct.pack(f">II{count}I", 0, count, *sizes)),
        _full_box(b"stco", 0, 0, struct.pack(">II", 1, offset)),
    )
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    minf = _box(b"minf", _full_box(b"vmhd", 0, 1, bytes(8)), dinf, stbl)
    trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))
    return _box(b"moov", mvhd, trak)


def shade(colour: RGB, step: int, steps: int) -> RGB:
    """``colour`` moved ``step`` of ``steps`` of the way towards its complement (the video's motion)."""
    fraction = step / max(steps, 1) * 0.6
    return tuple(round(c + (255 - c - c) * fraction) for c in colour)  # type: ignore[return-value]


def _bands(top: RGB, bottom: RGB, rows: int) -> list[RGB]:
    span = max(rows - 1, 1)
    return [tuple(round(a + (b - a) * y / span) for a, b in zip(top, bottom, strict=True)) for y in range(rows)]  # type: ignore[misc]


@functools.lru_cache(maxsize=16)
def encode_mp4(width: int, height: int, seconds: int, top: RGB, bottom: RGB) -> bytes:
    """A playable MP4 (H.264, ``FPS`` frames per second) of ``seconds`` showing a moving gradient."""
    if width < 16 or height < 16 or width % 2 or height % 2 or seconds < 1:
        raise ValueError(f"unsupported video {width}x{height}, {seconds} s")
    mb_width, mb_height = -(-width // 16), -(-height // 16)
    sps = _sps(mb_width, mb_height, mb_width * 16 - width, mb_height * 16 - height)
    pps = _pps()
    samples: list[bytes] = []
    sync: list[int] = []
    for second in range(seconds):
        bands = _bands(shade(top, second, seconds - 1), shade(bottom, second, seconds - 1), mb_height)
        sync.append(len(samples) + 1)
        samples.append(_idr(second % 2, mb_width, bands))
        samples.extend(_p_skip(frame_num, mb_width * mb_height) for frame_num in range(1, FPS))
    sizes = [4 + len(sample) for sample in samples]
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2avc1mp41")
    moov = _moov(width, height, sps, pps, sizes, sync, 0)
    offset = len(ftyp) + len(moov) + 8
    moov = _moov(width, height, sps, pps, sizes, sync, offset)
    mdat = _box(b"mdat", *(struct.pack(">I", len(sample)) + sample for sample in samples))
    return ftyp + moov + mdat


# -- baseline JPEG of 8x8 flat blocks ---------------------------------------------------------------

_DC_COUNTS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)  # ITU T.81 Annex K.3, luminance DC
_DC_CODES: list[str] = []
_code = 0
for _length, _count in enumerate(_DC_COUNTS, start=1):
    for _ in range(_count):
        _DC_CODES.append(format(_code, f"0{_length}b"))
        _code += 1
    _code <<= 1
_EOB = "0"  # AC table with a single symbol, 0x00 (end of block), coded "0"
_QUANT = 8


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def _dc_bits(diff: int) -> str:
    size = abs(diff).bit_length()
    if size == 0:
        return _DC_CODES[0]
    value = diff if diff > 0 else diff + (1 << size) - 1
    return _DC_CODES[size] + format(value, f"0{size}b")


def encode_jpeg(width: int, height: int, rows: Iterable[RGB]) -> bytes:
    """A baseline JPEG (4:4:4) whose 8-pixel bands have the colours ``rows`` (one per band)."""
    bands = list(rows)
    blocks_x, blocks_y = -(-width // 8), -(-height // 8)
    if len(bands) != blocks_y:
        raise ValueError(f"need {blocks_y} band colours, got {len(bands)}")
    header = (
        b"\xff\xd8"
        + _segment(0xFFE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + _segment(0xFFDB, b"\x00" + bytes([_QUANT]) * 64)
        + _segment(0xFFC0, struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00")
        + _segment(0xFFC4, b"\x00" + bytes(_DC_COUNTS) + bytes(range(12)))
        + _segment(0xFFC4, b"\x10" + bytes([1]) + bytes(15) + b"\x00")
        + _segment(0xFFDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00")
    )
    bits: list[str] = []
    previous = [0, 0, 0]
    for colour in bands:
        levels = [round(8 * (component - 128) / _QUANT) for component in _ycbcr_full(colour)]
        first = "".join(_dc_bits(level - before) + _EOB for level, before in zip(levels, previous, strict=True))
        same = (_DC_CODES[0] + _EOB) * 3
        bits.append(first + same * (blocks_x - 1))
        previous = levels
    text = "".join(bits)
    text += "1" * (-len(text) % 8)
    data = int(text, 2).to_bytes(len(text) // 8, "big").replace(b"\xff", b"\xff\x00")
    return header + data + b"\xff\xd9"


def _ycbcr_full(rgb: RGB) -> tuple[float, float, float]:
    """JFIF full-range YCbCr."""
    r, g, b = rgb
    return (
        0.299 * r + 0.587 * g + 0.114 * b,
        128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
        128 + 0.5 * r - 0.418688 * g - 0.081312 * b,
    )


# -- a job's media --------------------------------------------------------------------------------


def job_colours(job_id: str) -> tuple[RGB, RGB]:
    """The top and bottom colours of a job's first frame, derived from its id (as for images)."""
    digest = uuid.UUID(job_id).bytes
    return (digest[0], digest[1], digest[2]), (digest[3], digest[4], digest[5])


def job_mp4(job_id: str, width: int, height: int, seconds: int) -> bytes:
    return encode_mp4(width, height, seconds, *job_colours(job_id))


def streamed(mp4: bytes) -> bytes:
    """The same MP4 as a streaming muxer writes it: its last top-level box (``mdat``) has size 0,
    "to the end of the file", so the file's length is not in its boxes."""
    offset, last = 0, 0
    while offset < len(mp4):
        last = offset
        offset += int.from_bytes(mp4[offset : offset + 4], "big")
    return mp4[:last] + bytes(4) + mp4[last + 4 :]


@functools.lru_cache(maxsize=32)
def _first_frame_jpeg(width: int, height: int, top: RGB, bottom: RGB) -> bytes:
    return encode_jpeg(width, height, _bands(top, bottom, -(-height // 8)))


def job_jpeg(job_id: str, width: int, height: int, thumbnail: bool) -> bytes:
    """The first frame as a JPG: full size (preview) or at most ``THUMBNAIL_SIDE`` wide/high (thumbnail)."""
    if thumbnail:
        scale = THUMBNAIL_SIDE / max(width, height)
        width, height = max(2, round(width * scale)), max(2, round(height * scale))
    return _first_frame_jpeg(width, height, *job_colours(job_id))


def job_last_frame_png(job_id: str, width: int, height: int, seconds: int) -> bytes:
    """The last frame as a PNG (reusable as ``firstFrameImageUrl`` of a continuation)."""
    top, bottom = job_colours(job_id)
    last = max(seconds - 1, 0)
    return gradient_png(width, height, shade(top, last, last), shade(bottom, last, last))
