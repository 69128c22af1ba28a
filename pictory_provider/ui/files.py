"""Which stored files the Pictory views may serve (pure Python over the filesystem; no FastAPI).

A file is served only when the task recorded it as its output, it is the very file the task's own
rendered ``output_path`` names for the job (compared as real paths), it is a local file with the kind's
extension and not a symbolic link (a stored output replaced by a link to another DAG's file is refused),
and it starts like one (PNG signature, MP4 ``ftyp`` box, ``WEBVTT``).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pictory_provider.kinds import KINDS_BY_SHAPE
from pictory_provider.ui import gallery

__all__ = ["MEDIA_TYPES", "PARTS", "SIGNATURES", "extension_of", "local_file", "output_file"]

#: How a stored file of each extension starts: (offset, bytes).
SIGNATURES = {"png": (0, b"\x89PNG\r\n\x1a\n"), "mp4": (4, b"ftyp"), "vtt": (0, b"WEBVTT")}
MEDIA_TYPES = {"png": "image/png", "mp4": "video/mp4", "vtt": "text/vtt; charset=utf-8"}
#: Files stored beside an output that the plugin serves (``/file?part=vtt``): a browser loads a video's
#: subtitles track only from the page's own origin, never from Pictory's CDN.
PARTS = ("vtt",)


def _local_path(path: str) -> Path | None:
    """``path`` (a plain path or a ``file://`` URL) as an absolute local path, else ``None``."""
    try:
        parts = urlsplit(path)
    except ValueError:  # "file://[" (an unclosed IPv6 host)
        return None
    if parts.scheme not in ("", "file") or (parts.scheme == "file" and parts.netloc not in ("", "localhost")):
        return None
    candidate = Path(unquote(parts.path) if parts.scheme else path)
    return candidate if candidate.is_absolute() else None


def local_file(path: str | None, extension: str) -> Path | None:
    """The stored output as a local file, if it is one the plugin may serve (see the module docstring)."""
    if not path:
        return None
    candidate = _local_path(path)
    signature = SIGNATURES.get(extension)
    if signature is None or candidate is None or candidate.suffix.lower() != f".{extension}":
        return None
    offset, magic = signature
    try:
        if candidate.is_symlink() or not candidate.is_file():
            return None
        with candidate.open("rb") as handle:
            head = handle.read(offset + len(magic))
    except OSError:
        return None
    return candidate if head[offset:] == magic else None


def output_file(output: gallery.Output, output_path: object, part: str = "") -> Path | None:
    """The output's stored file (or the ``part`` stored beside it: ``vtt``), if the plugin may serve it:
    :func:`local_file`, and the very file the task's own rendered ``output_path`` names for this job (an
    XCom ``image_path`` alone, which a user allowed to write XCom can set, never makes the api-server
    serve a file of another task or DAG)."""
    extension = part or extension_of(output)
    path = local_file(output.extra_paths.get(part) if part else output.stored_path, extension)
    if path is None or not isinstance(output_path, str) or not output_path:
        return None
    from pictory_provider.exceptions import PictoryDownloadError
    from pictory_provider.storage import destination_for, with_extension

    try:
        target = with_extension(output_path, part) if part else output_path
        expected = _local_path(destination_for(target, output.job_id, extension))
    except (PictoryDownloadError, ValueError):  # not a job UUID (no file stored under that name), or no URL
        return None
    same = expected is not None and os.path.realpath(expected) == os.path.realpath(path)
    return path if same and not path.is_symlink() else None


def extension_of(output: gallery.Output) -> str:
    """The file extension of the output's kind (``png``, ``mp4``), or ``""``."""
    kind = KINDS_BY_SHAPE.get(output.kind)
    return kind.extension if kind else ""
