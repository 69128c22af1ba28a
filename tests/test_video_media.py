"""The emulator's video media and storing it: the MP4 is read box by box here (always) and by ffprobe/ffmpeg
(when installed; .ci/run installs Debian's ffmpeg), and ``output_path`` refuses anything that is not an MP4."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from pictory_provider.emulator.media import FPS, encode_jpeg, encode_mp4, job_jpeg, job_mp4, streamed
from pictory_provider.exceptions import PictoryDownloadError
from pictory_provider.file_checks import check_mp4, check_png
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.storage import store_image

FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}
FFPROBE, FFMPEG = shutil.which("ffprobe"), shutil.which("ffmpeg")
needs_ffprobe = pytest.mark.skipif(FFPROBE is None, reason="ffprobe is not installed (.ci/run installs ffmpeg)")
JOB = "4d82d040-4394-4371-867d-72ae1dd62b6d"


def boxes(data: bytes, start: int = 0, end: int | None = None) -> dict[bytes, tuple[int, int]]:
    """Child boxes in ``data[start:end]``: type -> (payload start, payload end); sizes must add up exactly."""
    end = len(data) if end is None else end
    found: dict[bytes, tuple[int, int]] = {}
    while start < end:
        size, kind = struct.unpack(">I4s", data[start : start + 8])
        assert size >= 8 and start + size <= end, (kind, size)
        found[kind] = (start + 8, start + size)
        start += size
    assert start == end
    return found


def mp4_summary(data: bytes) -> dict[str, Any]:
    """Walk the MP4: ftyp first, moov (mvhd, tkhd, mdhd, avc1/avcC, sample tables) and mdat agree."""
    top = boxes(data)
    assert list(top) == [b"ftyp", b"moov", b"mdat"]
    assert data[8:12] == b"isom"
    moov = boxes(data, *top[b"moov"])
    timescale, duration = struct.unpack(">II", data[moov[b"mvhd"][0] + 12 : moov[b"mvhd"][0] + 20])
    trak = boxes(data, *moov[b"trak"])
    tkhd = trak[b"tkhd"][0]
    width, height = (value >> 16 for value in struct.unpack(">II", data[tkhd + 76 : tkhd + 84]))
    mdia = boxes(data, *trak[b"mdia"])
    assert data[mdia[b"hdlr"][0] + 8 : mdia[b"hdlr"][0] + 12] == b"vide"
    stbl = boxes(data, *boxes(data, *mdia[b"minf"])[b"stbl"])
    stsd = stbl[b"stsd"][0]
    entry = boxes(data, stsd + 8, stbl[b"stsd"][1])
    avc1 = entry[b"avc1"][0]
    assert struct.unpack(">HH", data[avc1 + 24 : avc1 + 28]) == (width, height)
    avcc = boxes(data, avc1 + 78, entry[b"avc1"][1])[b"avcC"][0]
    assert data[avcc] == 1 and data[avcc + 1] == 66  # version 1, Baseline profile
    count = struct.unpack(">I", data[stbl[b"stsz"][0] + 8 : stbl[b"stsz"][0] + 12])[0]
    sizes = struct.unpack(f">{count}I", data[stbl[b"stsz"][0] + 12 : stbl[b"stsz"][1]])
    (offset,) = struct.unpack(">I", data[stbl[b"stco"][0] + 8 : stbl[b"stco"][0] + 12])
    assert offset == top[b"mdat"][0] and offset + sum(sizes) == top[b"mdat"][1]  # samples fill mdat exactly
    nal_types = []
    position = offset
    for size in sizes:
        (length,) = struct.unpack(">I", data[position : position + 4])
        assert length + 4 == size
        nal_types.append(data[position + 4] & 0x1F)
        position += size
    return {
        "width": width,
        "height": height,
        "seconds": duration / timescale,
        "frames": count,
        "idr_frames": nal_types.count(5),
        "nal_types": set(nal_types),
    }


def probe(path: Path) -> dict[str, Any]:
    assert FFPROBE is not None
    result = subprocess.run(
        [FFPROBE, "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize(("width", "height", "seconds"), [(1280, 720, 8), (720, 1280, 4), (960, 960, 10), (200, 90, 1)])
def test_mp4_structure(width, height, seconds):
    summary = mp4_summary(encode_mp4(width, height, seconds, (10, 200, 30), (250, 250, 0)))
    assert (summary["width"], summary["height"], summary["seconds"]) == (width, height, seconds)
    assert summary["frames"] == seconds * FPS
    assert summary["idr_frames"] == seconds  # one picture per second, P_Skip in between
    assert summary["nal_types"] == {5, 1}


def test_media_are_small_and_cached():
    data = job_mp4(JOB, 1280, 720, 10)
    assert 10_000 < len(data) < 400_000
    assert job_mp4(JOB, 1280, 720, 10) is data
    assert job_mp4(JOB, 1280, 720, 10) != job_mp4("00000000-0000-4000-8000-000000000000", 1280, 720, 10)
    assert check_mp4(io.BytesIO(data), len(data)) is None and check_png(io.BytesIO(data), len(data))
    jpeg = job_jpeg(JOB, 1280, 720, thumbnail=True)
    assert jpeg[:3] == b"\xff\xd8\xff" and jpeg[-2:] == b"\xff\xd9"
    assert struct.unpack(">HH", jpeg[jpeg.index(b"\xff\xc0") + 5 : jpeg.index(b"\xff\xc0") + 9]) == (180, 320)


def test_check_mp4_rejects_other_content():
    for data in (
        b"\x89PNG\r\n\x1a\n" + bytes(32),
        b"<html>not a video</html>" * 2,
        b"\x00\x00\x00\x04ftypisom" + bytes(8),  # impossible box size
        b"",
    ):
        assert "not an MP4" in (check_mp4(io.BytesIO(data), len(data)) or "")
    whole = job_mp4(JOB, 320, 180, 1)
    for cut in (len(whole) // 2, len(whole) - 1):  # a download cut short is caught, wherever it stops
        assert "incomplete" in (check_mp4(io.BytesIO(whole[:cut]), cut) or "")


@needs_ffprobe
@pytest.mark.parametrize(("width", "height", "seconds"), [(1280, 720, 8), (720, 960, 5), (200, 90, 1)])
def test_ffprobe_and_ffmpeg_read_the_mp4(tmp_path, width, height, seconds):
    path = tmp_path / "clip.mp4"
    path.write_bytes(encode_mp4(width, height, seconds, (200, 30, 30), (30, 30, 200)))
    info = probe(path)
    (stream,) = info["streams"]
    assert (stream["codec_name"], stream["profile"]) == ("h264", "Constrained Baseline")
    assert (stream["width"], stream["height"], int(stream["nb_frames"])) == (width, height, seconds * FPS)
    assert float(info["format"]["duration"]) == pytest.approx(seconds)
    if FFMPEG:  # decode every frame: no decoder complaint, and the first frame shows the top colour
        decoded = subprocess.run(
            [FFMPEG, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
            capture_output=True,
            timeout=120,
        )
        assert decoded.returncode == 0 and decoded.stderr == b""
        assert len(decoded.stdout) == width * height * 3 * seconds * FPS
        assert all(abs(a - b) <= 3 for a, b in zip(decoded.stdout[:3], (200, 30, 30), strict=True))


@needs_ffprobe
def test_ffprobe_reads_the_jpeg(tmp_path):
    path = tmp_path / "thumb.jpg"
    path.write_bytes(encode_jpeg(24, 16, [(255, 0, 0), (0, 0, 255)]))
    (stream,) = probe(path)["streams"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("mjpeg", 24, 16)


# -- the emulator serves them; output_path stores them -----------------------------------------------


def completed_video(emulator, **kwargs) -> dict[str, Any]:
    emulator.set_job_seconds(0)
    hook = PictoryHook(**FAST)
    job_id = hook.generate_video("A media test video", **kwargs)
    return hook.get_job(job_id).to_dict()


def test_emulator_serves_every_media_file_of_a_video_job(pictory_conn):
    job = completed_video(pictory_conn, aspect_ratio="4:3", duration="8s")
    video = requests.get(job["url"], timeout=10)
    assert video.headers["Content-Type"] == "video/mp4"
    summary = mp4_summary(video.content)
    assert (
        (summary["width"], summary["height"], summary["seconds"]) == (960, 720, 8) == (job["width"], job["height"], 8)
    )
    for field, content_type, magic in [
        ("thumbnail_url", "image/jpeg", b"\xff\xd8\xff"),
        ("preview_image_url", "image/jpeg", b"\xff\xd8\xff"),
        ("last_frame_image_url", "image/png", b"\x89PNG\r\n\x1a\n"),
    ]:
        response = requests.get(job[field], timeout=10)
        assert response.headers["Content-Type"] == content_type
        assert response.content.startswith(magic)
    last = requests.get(job["last_frame_image_url"], timeout=10).content
    assert struct.unpack(">II", last[16:24]) == (960, 720)
    assert requests.get(job["url"].replace(".mp4", ".png"), timeout=10).status_code == 404  # not an image job


def test_emulator_does_not_serve_media_of_unfinished_or_unknown_jobs(pictory_conn):
    pictory_conn.set_job_seconds(30)
    job_id = PictoryHook(**FAST).generate_video("Still rendering")
    for name in (f"{job_id}.mp4", f"{job_id}-thumbnail.jpg", "00000000-0000-4000-8000-000000000000.mp4"):
        assert requests.get(f"{pictory_conn.base_url}/files/{name}", timeout=10).status_code == 404


@needs_ffprobe
def test_ffprobe_reads_what_the_emulator_serves(pictory_conn, tmp_path):
    job = completed_video(pictory_conn, model="veo3.1", aspect_ratio="9:16", duration="4s")
    stored = Path(store_image(job["url"], f"{tmp_path}/", job_id=job["job_id"], kind="mp4"))
    (stream,) = probe(stored)["streams"]
    assert (stream["width"], stream["height"], float(stream["duration"])) == (720, 1280, 4.0)
    for field in ("thumbnail_url", "preview_image_url", "last_frame_image_url"):
        image = tmp_path / field
        image.write_bytes(requests.get(job[field], timeout=10).content)
        assert probe(image)["streams"][0]["codec_name"] in ("mjpeg", "png")


def test_store_mp4_by_folder_and_file(pictory_conn, tmp_path):
    job = completed_video(pictory_conn)
    stored = store_image(job["url"], f"file://{tmp_path}/a/", job_id=job["job_id"], kind="mp4")
    assert stored == f"file://{tmp_path}/a/{job['job_id']}.mp4"
    assert store_image(job["url"], str(tmp_path / "b.mp4"), job_id=job["job_id"], kind="mp4") == str(tmp_path / "b.mp4")
    assert (tmp_path / "a" / f"{job['job_id']}.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


def test_store_refuses_a_non_mp4_body_and_leaves_nothing(pictory_conn, tmp_path):
    job = completed_video(pictory_conn)
    pictory_conn.add_fault("non_json", route="file", body="<html>not a video</html>")
    with pytest.raises(PictoryDownloadError, match="not an MP4"):
        store_image(job["url"], f"{tmp_path}/", job_id=job["job_id"], kind="mp4")
    with pytest.raises(PictoryDownloadError, match="not an MP4"):  # a PNG is not a video either
        store_image(job["last_frame_image_url"], f"{tmp_path}/", job_id=job["job_id"], kind="mp4")
    with pytest.raises(PictoryDownloadError, match="not a PNG"):  # and a video is not an image
        store_image(job["url"], f"{tmp_path}/", job_id=job["job_id"])
    assert list(tmp_path.iterdir()) == []


# -- issue #19 item 6: a last box "to the end of the file" ----------------------------------------


def test_a_streamed_mp4_is_checked_against_its_sample_tables():
    whole = streamed(job_mp4("0b7c9a8e-1111-4222-8333-444455556666", 320, 180, 2))
    assert int.from_bytes(whole[848:852], "big") == 0 and whole[852:856] == b"mdat"  # mdat runs to the end of the file
    assert check_mp4(io.BytesIO(whole), len(whole)) is None
    for cut in (len(whole) - 1, len(whole) // 2, 900):
        problem = check_mp4(io.BytesIO(whole[:cut]), cut) or ""
        assert f"its samples need {len(whole)} bytes, {cut} arrived" in problem


def test_a_streamed_mp4_without_sample_tables_is_refused():
    mp4 = job_mp4("0b7c9a8e-1111-4222-8333-444455556666", 320, 180, 2)
    blind = streamed(mp4.replace(b"stco", b"xxxx"))
    assert "cannot vouch for the length" in (check_mp4(io.BytesIO(blind), len(blind)) or "")


def test_a_streamed_mp4_cut_short_in_transfer_is_not_stored(pictory_conn, tmp_path):
    """Close-delimited (no Content-Length) and cut in half: only the sample tables can tell."""
    pictory_conn.configure_list(streamed_mp4=True)
    job = completed_video(pictory_conn)
    stored = store_image(job["url"], f"{tmp_path}/whole/", job_id=job["job_id"], kind="mp4")
    assert stored.endswith(".mp4")
    pictory_conn.add_fault("truncate", route="file")
    with pytest.raises(PictoryDownloadError, match="its samples need"):
        store_image(job["url"], f"{tmp_path}/cut/", job_id=job["job_id"], kind="mp4")
    assert not (tmp_path / "cut").exists() or list((tmp_path / "cut").iterdir()) == []
