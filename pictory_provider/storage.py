"""Download a generated file (PNG image or MP4 video) and store it through Airflow's ``ObjectStoragePath``.

Pictory cleans job outputs after a retention period, so most users persist the image. The download
is streamed, bounded in size and in total time (``download_timeout``), fetches only http(s) URLs
(redirects too, at most :data:`MAX_REDIRECTS` of them, never with credentials: no ``Authorization``
header, no ``~/.netrc``), and verifies the body: its length against ``Content-Length`` and its
structure by file kind (:data:`FILE_CHECKS`; a PNG must be whole, up to its ``IEND`` chunk). It lands
in a local temporary file first, so the destination never receives a partial or wrong file, and is
moved into place under a temporary name (an atomic rename on local disks), so a failed write never
destroys a file that was already there.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import struct
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

from pictory_provider.api import without_query
from pictory_provider.destination import LOCAL_SCHEMES, _local_form_problem, check_output_path
from pictory_provider.exceptions import PictoryDownloadError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "check_mp4",
    "check_output_path",
    "check_output_paths",
    "check_png",
    "check_srt",
    "check_vtt",
    "destination_for",
    "download_timeout_setting",
    "store_file",
    "store_image",
    "with_extension",
]

log = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Largest image accepted (a 4K RGBA PNG is well below this).
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
#: Seconds one download may take in total, however slowly the body arrives. Change it per call, or
#: for a deployment with the Airflow option ``[pictory] download_timeout``
#: (``AIRFLOW__PICTORY__DOWNLOAD_TIMEOUT``).
DEFAULT_DOWNLOAD_TIMEOUT = 300.0
#: Redirects followed per download (a CDN may redirect to signed storage URLs); more is an error.
MAX_REDIRECTS = 5
_CHUNK = 256 * 1024


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
        return body.read(size).decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def check_srt(body: IO[bytes], size: int) -> str | None:
    """What is wrong with the SubRip subtitles in ``body``, or None (UTF-8, a first cue with a timing line)."""
    text = _subtitle_text(body, size)
    if text is None:
        return "the subtitles are not UTF-8 text"
    if text.strip() and "-->" not in text.replace("\r\n", "\n").split("\n\n", 1)[0]:
        return "it is not SubRip (.srt) subtitles (no timing line in the first cue)"
    return None


def check_vtt(body: IO[bytes], size: int) -> str | None:
    """What is wrong with the WebVTT subtitles in ``body``, or None (UTF-8, starting ``WEBVTT``)."""
    text = _subtitle_text(body, size)
    if text is None:
        return "the subtitles are not UTF-8 text"
    if not text.startswith("WEBVTT"):
        return "it is not WebVTT (.vtt) subtitles (no WEBVTT header)"
    return None


#: The body check for each file kind: ``check(body, size)`` returns what is wrong, or None.
FILE_CHECKS: dict[str, Callable[[IO[bytes], int], str | None]] = {
    "png": check_png,
    "mp4": check_mp4,
    "srt": check_srt,
    "vtt": check_vtt,
}
#: How messages name a file of each kind (default: "file").
FILE_NOUNS = {"png": "image", "mp4": "video", "srt": "subtitles", "vtt": "subtitles"}
#: Largest file accepted per kind (a 4K RGBA PNG, a 10 s 1080p video are well below these).
MAX_BYTES_BY_KIND = {
    "png": DEFAULT_MAX_BYTES,
    "mp4": 1024 * 1024 * 1024,
    "srt": 10 * 1024 * 1024,
    "vtt": 10 * 1024 * 1024,
}


def with_extension(output_path: str, extension: str) -> str:
    """Where a companion file goes: the same folder (a trailing ``/``) or the same name, new extension."""
    if output_path.endswith("/"):
        return output_path
    head, slash, name = output_path.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{head}{slash}{stem}.{extension}"


def check_output_paths(output_path: str | None, extension: str, companions: tuple[str, ...] = ()) -> None:
    """:func:`check_output_path` for the file and each companion file (a render's ``.srt``/``.vtt``),
    before any paid request; also refuses an ``output_path`` that is a companion's own name (the MP4
    would then be overwritten by its subtitles)."""
    from pictory_provider.exceptions import PictoryValidationError

    check_output_path(output_path, extension)
    if output_path is None or output_path.endswith("/"):
        return  # a folder: every file is <job_id>.<extension> in it
    for companion in companions:
        target = with_extension(output_path, companion)
        if target.lower() == output_path.lower():  # launch.SRT too: one file on case-insensitive disks
            problem = f"is where the .{companion} subtitles go: name the .{extension} file (e.g. video.{extension})"
            raise PictoryValidationError(
                f"output_path {output_path!r} {problem}; nothing was sent to Pictory",
                [{"name": "output_path", "errors": [problem]}],
            )
        try:
            check_output_path(target, companion)
        except PictoryValidationError as exc:
            raise PictoryValidationError(
                f"{exc} (the .{companion} subtitles are stored beside output_path {output_path!r})", exc.fields
            ) from None


def destination_for(output_path: str, job_id: str, extension: str = "png") -> str:
    """A path ending in ``/`` is a folder: the file is stored there as ``<job_id>.<extension>``.

    ``job_id`` must be a job UUID, so a file name can never leave the folder.
    """
    from pictory_provider.api import validate_job_id
    from pictory_provider.exceptions import PictoryValidationError

    if not isinstance(output_path, str) or not output_path.strip():
        raise PictoryDownloadError(f"output_path must be a non-empty path or URL (got {output_path!r})")
    try:
        job_id = validate_job_id(job_id)
    except PictoryValidationError as exc:
        raise PictoryDownloadError(f"Refusing to name a stored file after an invalid job id: {exc}") from None
    parts = urlsplit(output_path)
    scheme = parts.scheme.lower() if len(parts.scheme) > 1 else ""
    problem = _local_form_problem(output_path, scheme, parts.netloc) if scheme in LOCAL_SCHEMES else None
    if problem:  # a sensor's output_path is first checked here: never store where the user did not mean
        raise PictoryDownloadError(f"output_path {output_path!r} {problem}")
    return f"{output_path}{job_id}.{extension}" if output_path.endswith("/") else output_path


def download_timeout_setting() -> float:
    """``[pictory] download_timeout`` from the Airflow configuration, else :data:`DEFAULT_DOWNLOAD_TIMEOUT`."""
    from airflow.providers.common.compat.sdk import conf

    value = float(conf.getfloat("pictory", "download_timeout", fallback=DEFAULT_DOWNLOAD_TIMEOUT))
    if not value > 0:
        raise PictoryDownloadError(f"[pictory] download_timeout must be greater than 0 seconds (got {value!r})")
    return value


def store_image(
    url: str,
    output_path: str,
    *,
    job_id: str,
    max_bytes: int | None = None,
    timeout: tuple[float, float] = (10.0, 60.0),
    download_timeout: float | None = None,
    kind: str = "png",
) -> str:
    """Download the PNG at ``url`` and write it to ``output_path`` (any ObjectStoragePath URL).

    ``timeout`` is (connect, read) per network operation; ``download_timeout`` bounds the whole
    download in seconds (default ``[pictory] download_timeout``, else 300). Returns the stored path
    as a string. Raises :class:`PictoryDownloadError` on a non-http(s) URL or redirect, too many
    redirects, an HTTP error, a body larger than ``max_bytes``, a download past ``download_timeout``,
    a body shorter than its ``Content-Length``, a body that is not a whole PNG, or a write failure
    (an existing file at the destination is then left as it was). ``kind="mp4"`` stores a video
    instead (a whole MP4, default name ``<job_id>.mp4``).
    """
    return store_file(
        url,
        output_path,
        job_id=job_id,
        kind=kind,
        max_bytes=max_bytes,
        timeout=timeout,
        download_timeout=download_timeout,
    )


def store_file(
    url: str,
    output_path: str,
    *,
    job_id: str,
    kind: str,
    max_bytes: int | None = None,
    timeout: tuple[float, float] = (10.0, 60.0),
    download_timeout: float | None = None,
) -> str:
    """:func:`store_image` for any file kind of :data:`FILE_CHECKS` (the kind is the file extension)."""
    check, noun = FILE_CHECKS[kind], FILE_NOUNS.get(kind, "file")
    max_bytes = MAX_BYTES_BY_KIND.get(kind, DEFAULT_MAX_BYTES) if max_bytes is None else max_bytes
    if download_timeout is None:
        download_timeout = download_timeout_setting()
    elif not download_timeout > 0:
        raise PictoryDownloadError(f"download_timeout must be greater than 0 seconds (got {download_timeout!r})")
    destination = destination_for(output_path, job_id, kind)
    with tempfile.TemporaryFile() as buffer:
        size = _download(url, buffer, max_bytes=max_bytes, timeout=timeout, download_timeout=download_timeout)
        problem = check(buffer, size)
        if problem:
            raise _download_error(f"The {noun} downloaded from {url} is unusable: {problem}; nothing was stored")
        buffer.seek(0)
        stored = _write(buffer, destination, noun)
    log.info("Stored the Pictory %s of job %s (%d bytes) at %s", noun, job_id, size, stored)
    return stored


def _download_error(message: str) -> PictoryDownloadError:
    """A download error whose text shows URLs without their query (a signed URL's token)."""
    return PictoryDownloadError(without_query(message))


def _no_credentials() -> Any:
    import requests

    class NoCredentials(requests.auth.AuthBase):
        """Sends no ``Authorization`` header; an explicit ``auth`` also keeps ``~/.netrc`` out."""

        def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
            request.headers.pop("Authorization", None)
            return request

    return NoCredentials()


def _download(
    url: str, buffer: IO[bytes], *, max_bytes: int, timeout: tuple[float, float], download_timeout: float
) -> int:
    import time

    import requests

    from pictory_provider.hooks.bodies import ResponseDeadlineExceeded, ResponseTooLarge, read_body
    from pictory_provider.hooks.transport import USER_AGENT, describe_exception

    deadline = time.monotonic() + download_timeout
    first = url
    with requests.Session() as session:
        for _hop in range(MAX_REDIRECTS + 1):
            if urlsplit(url).scheme not in ("http", "https"):
                via = "" if url == first else f" (redirected from {first})"
                raise _download_error(f"Refusing to download from a non-http(s) URL: {url!r}{via}")
            try:
                with session.get(
                    url,
                    stream=True,
                    timeout=timeout,
                    headers={"User-Agent": USER_AGENT},
                    auth=_no_credentials(),
                    allow_redirects=False,
                ) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers["Location"])
                        continue
                    if response.status_code != 200:
                        raise _download_error(f"Downloading {url} failed: HTTP {response.status_code}")
                    return read_body(response, deadline, max_bytes, buffer)
            except ResponseTooLarge:
                raise _download_error(f"The file at {url} is larger than the {max_bytes}-byte limit") from None
            except ResponseDeadlineExceeded:
                raise _download_error(
                    f"Downloading {url} did not finish within {download_timeout:g} s (download_timeout); "
                    "nothing was stored"
                ) from None
            except requests.RequestException as exc:
                raise _download_error(f"Downloading {url} failed: {describe_exception(exc)}") from None
    raise _download_error(f"Downloading {first} failed: more than {MAX_REDIRECTS} redirects")


def _write(buffer: IO[bytes], destination: str, noun: str) -> str:
    from airflow.providers.common.compat.sdk import ObjectStoragePath
    from fsspec.implementations.local import LocalFileSystem

    try:
        path = ObjectStoragePath(destination)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(path.fs, LocalFileSystem):
            _replace_local(buffer, Path(path.path))
        else:
            _replace_remote(buffer, path.fs, path.path)
    except PictoryDownloadError:
        raise
    except Exception as exc:
        raise PictoryDownloadError(
            f"Could not write the {noun} to {destination}: {exc}; anything already there was left as it was"
        ) from exc
    return str(path)


def _replace_local(buffer: IO[bytes], target: Path) -> None:
    """Write next to ``target`` under a temporary name, then rename it into place (atomic)."""
    if target.is_symlink():
        target = target.resolve()
    if target.exists():
        if not target.is_file():
            raise PictoryDownloadError(f"Could not write to {target}: it exists and is not a regular file")
        if not os.access(target, os.W_OK):
            raise PictoryDownloadError(
                f"Could not write to {target}: the existing file is read-only; it was left as it was"
            )
        mode = target.stat().st_mode & 0o7777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            shutil.copyfileobj(buffer, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _replace_remote(buffer: IO[bytes], fs: Any, target: str) -> None:
    """Upload so that the object at ``target`` only changes once the whole file is there.

    fsspec's uncommitted writes (S3, GCS, ...) publish on ``commit()`` and are dropped by
    ``discard()``; a store without them gets a temporary name next to the target, then a move.
    """
    try:
        handle = fs.open(target, "wb", autocommit=False)
    except (TypeError, NotImplementedError, ValueError):
        handle = None
    if handle is not None:
        try:
            shutil.copyfileobj(buffer, handle)
            handle.close()
            handle.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                handle.discard()
            raise
        return
    parent, _, name = target.rpartition("/")
    temporary = f"{parent}/.{name}.{uuid.uuid4().hex}.part"
    try:
        with fs.open(temporary, "wb") as out:
            shutil.copyfileobj(buffer, out)
        fs.mv(temporary, target)
    except BaseException:
        with contextlib.suppress(Exception):
            fs.rm(temporary)
        raise
