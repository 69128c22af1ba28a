"""Download a generated PNG and store it through Airflow's ``ObjectStoragePath``.

Pictory cleans job outputs after a retention period, so most users persist the image. The download
is streamed, bounded in size, has timeouts, accepts only http(s) URLs and checks the PNG signature;
it lands in a local temporary file first, so the destination never receives a partial or non-PNG
file, and a failed write to the destination removes what was written.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from typing import IO
from urllib.parse import urlsplit

from pictory_provider.exceptions import PictoryDownloadError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "destination_for",
    "store_image",
]

log = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Largest image accepted (a 4K RGBA PNG is well below this).
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
_CHUNK = 256 * 1024


def destination_for(output_path: str, job_id: str) -> str:
    """A path ending in ``/`` is a folder: the image is stored there as ``<job_id>.png``."""
    if not isinstance(output_path, str) or not output_path.strip():
        raise PictoryDownloadError(f"output_path must be a non-empty path or URL (got {output_path!r})")
    return f"{output_path}{job_id}.png" if output_path.endswith("/") else output_path


def store_image(
    url: str,
    output_path: str,
    *,
    job_id: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: tuple[float, float] = (10.0, 60.0),
) -> str:
    """Download the PNG at ``url`` and write it to ``output_path`` (any ObjectStoragePath URL).

    Returns the stored path as a string. Raises :class:`PictoryDownloadError` on a non-http(s) URL,
    an HTTP error, a body larger than ``max_bytes``, a body that is not a PNG, or a write failure.
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise PictoryDownloadError(f"Refusing to download the image from a non-http(s) URL: {url!r}")
    destination = destination_for(output_path, job_id)
    with tempfile.TemporaryFile() as buffer:
        size = _download(url, buffer, max_bytes=max_bytes, timeout=timeout)
        buffer.seek(0)
        if buffer.read(len(PNG_SIGNATURE)) != PNG_SIGNATURE:
            raise PictoryDownloadError(f"The image at {url} is not a PNG (bad signature); nothing was stored")
        buffer.seek(0)
        stored = _write(buffer, destination)
    log.info("Stored the Pictory image of job %s (%d bytes) at %s", job_id, size, stored)
    return stored


def _download(url: str, buffer: IO[bytes], *, max_bytes: int, timeout: tuple[float, float]) -> int:
    import requests

    from pictory_provider.hooks.transport import USER_AGENT, describe_exception

    try:
        with requests.get(url, stream=True, timeout=timeout, headers={"User-Agent": USER_AGENT}) as response:
            if response.status_code != 200:
                raise PictoryDownloadError(f"Downloading the image from {url} failed: HTTP {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise PictoryDownloadError(
                    f"The image at {url} is {int(declared)} bytes, more than the {max_bytes}-byte limit"
                )
            size = 0
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise PictoryDownloadError(f"The image at {url} is larger than the {max_bytes}-byte limit")
                buffer.write(chunk)
    except requests.RequestException as exc:
        raise PictoryDownloadError(f"Downloading the image from {url} failed: {describe_exception(exc)}") from None
    return size


def _write(buffer: IO[bytes], destination: str) -> str:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    path = ObjectStoragePath(destination)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as target:
            shutil.copyfileobj(buffer, target)
    except Exception as exc:
        with contextlib.suppress(Exception):
            path.unlink(missing_ok=True)
        raise PictoryDownloadError(f"Could not write the image to {destination}: {exc}") from exc
    return str(path)
