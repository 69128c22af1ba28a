"""Download a generated file (PNG image or MP4 video) and store it through Airflow's ``ObjectStoragePath``.

Pictory cleans job outputs after a retention period, so most users persist the image. The download
is streamed, bounded in size and in total time (``download_timeout``), fetches only http(s) URLs
(redirects too, at most :data:`MAX_REDIRECTS` of them, never with credentials: no ``Authorization``
header, no ``~/.netrc``), and verifies the body: its length against ``Content-Length`` and its
structure by file kind (:mod:`pictory_provider.file_checks`; a PNG must be whole, up to its ``IEND``
chunk). It lands in a local temporary file first, so the destination never receives a partial or wrong file, and is
moved into place under a temporary name (an atomic rename on local disks), so a failed write never
destroys a file that was already there.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

from pictory_provider.api import without_query
from pictory_provider.destination import LOCAL_SCHEMES, _local_form_problem, check_output_path
from pictory_provider.exceptions import PictoryDownloadError
from pictory_provider.file_checks import FILE_CHECKS

__all__ = [
    "DEFAULT_MAX_BYTES",
    "check_output_path",
    "check_output_paths",
    "check_text_paths",
    "destination_for",
    "download_timeout_setting",
    "store_file",
    "store_image",
    "store_texts",
    "with_extension",
]

log = logging.getLogger(__name__)

#: Largest image accepted (a 4K RGBA PNG is well below this).
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
#: Seconds one download may take in total, however slowly the body arrives. Change it per call, or
#: for a deployment with the Airflow option ``[pictory] download_timeout``
#: (``AIRFLOW__PICTORY__DOWNLOAD_TIMEOUT``).
DEFAULT_DOWNLOAD_TIMEOUT = 300.0
#: Redirects followed per download (a CDN may redirect to signed storage URLs); more is an error.
MAX_REDIRECTS = 5
_CHUNK = 256 * 1024


#: How messages name a file of each kind (default: "file").
FILE_NOUNS = {"png": "image", "mp4": "video", "srt": "subtitles", "vtt": "subtitles", "txt": "text", "json": "JSON"}
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


def check_text_paths(output_path: str | None, extensions: tuple[str, ...]) -> None:
    """:func:`check_output_path` for each file a kind stores from texts, all beside ``output_path``
    (``<job_id>.<extension>`` in a folder), before any paid request."""
    if output_path is None:
        return
    for extension in extensions:
        check_output_path(
            output_path if output_path.endswith("/") else with_extension(output_path, extension), extension
        )


def store_texts(texts: list[tuple[str, str]], output_path: str, *, job_id: str) -> list[str]:
    """Store each ``(extension, text)`` beside ``output_path`` (``<job_id>.<extension>`` in a folder).

    Every text is checked before any file is written (an ``.srt``/``.vtt`` like a downloaded one), and
    each file is written whole or not at all (a temporary name, then a rename, as :func:`store_file`).
    Returns the stored paths in order.
    """
    encoded = []
    for extension, text in texts:
        noun, data = FILE_NOUNS.get(extension, "file"), text.encode("utf-8")
        check = FILE_CHECKS.get(extension)
        if check is not None:
            with tempfile.TemporaryFile() as probe:
                probe.write(data)
                problem = check(probe, len(data))
            if problem:
                raise PictoryDownloadError(f"The {noun} of job {job_id} is unusable: {problem}; nothing was stored")
        destination = destination_for(with_extension(output_path, extension), job_id, extension)
        encoded.append((destination, noun, data))
    stored = []
    for destination, noun, data in encoded:
        with tempfile.TemporaryFile() as buffer:
            buffer.write(data)
            buffer.seek(0)
            stored.append(_write(buffer, destination, noun))
        log.info("Stored the Pictory %s of job %s (%d bytes) at %s", noun, job_id, len(data), stored[-1])
    return stored


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
