"""Where a generated file will be stored: what can be checked before any paid request.

:func:`check_output_path` runs in the operator before the create request, so a destination that
cannot work fails the task before anything is bought. :mod:`pictory_provider.storage` (which writes the
file after the job) re-exports it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from pictory_provider.exceptions import PictoryValidationError

__all__ = ["LOCAL_SCHEMES", "SCHEME_PACKAGES", "check_output_path"]

#: Schemes that mean the local file system (``ObjectStoragePath``'s built-in ones, and no scheme).
LOCAL_SCHEMES = ("", "file", "local")
#: What to install for a storage scheme Airflow has no filesystem for (its provider registers one).
SCHEME_PACKAGES = {
    "s3": "apache-airflow-providers-amazon[s3fs]",
    "s3a": "apache-airflow-providers-amazon[s3fs]",
    "gs": "apache-airflow-providers-google and gcsfs",
    "gcs": "apache-airflow-providers-google and gcsfs",
    "abfs": "apache-airflow-providers-microsoft-azure",
    "abfss": "apache-airflow-providers-microsoft-azure",
    "adl": "apache-airflow-providers-microsoft-azure",
    "az": "apache-airflow-providers-microsoft-azure",
}


def check_output_path(output_path: str | None, extension: str = "png") -> None:
    """Check, before any paid request, that a file could be stored at ``output_path``.

    The scheme is one Airflow has a filesystem for and its package is installed (``s3://`` needs
    ``s3fs``); a local destination's folder (or its nearest existing parent, since missing folders are
    created) is a folder in which a real file can be created and removed (a probe: permissions alone
    pass ``/proc`` for root), and an existing destination file is writable. Raises
    :class:`PictoryValidationError` naming the problem; ``None`` (no storing) passes.
    """
    if output_path is None:
        return
    if not isinstance(output_path, str) or not output_path.strip():
        _refuse(output_path, "must be a non-empty path or URL")
    parts = urlsplit(output_path)
    scheme = parts.scheme.lower() if len(parts.scheme) > 1 else ""  # "C:" is a drive, not a scheme
    if scheme in LOCAL_SCHEMES:
        problem = _local_form_problem(output_path, scheme, parts.netloc) or _local_problem(
            parts.path if scheme else output_path, output_path.endswith("/"), extension
        )
    else:
        problem = _filesystem_problem(output_path, scheme)
    if problem:
        _refuse(output_path, problem)


def _refuse(output_path: object, problem: str) -> None:
    message = f"output_path {output_path!r} {problem}; nothing was sent to Pictory"
    raise PictoryValidationError(message, fields=[{"name": "output_path", "errors": [problem]}])


def _local_form_problem(output_path: str, scheme: str, netloc: str) -> str | None:
    """Local forms that would store the file somewhere else than the user meant (a "lost" file)."""
    if scheme and netloc:  # fsspec reads file://data/x as the relative path data/x
        return (
            f"has a host part ({netloc!r}) that Airflow's file system would read as a folder under the worker's "
            f"working directory: write {scheme}:///{netloc}{urlsplit(output_path).path} (three slashes) "
            "or a plain absolute path"
        )
    if not scheme and output_path.startswith("~"):
        return (
            "starts with '~', which is not expanded (the file would land in a folder named '~' under the "
            f"worker's working directory): write the absolute path, e.g. {os.path.expanduser(output_path)!r}"
        )
    return None


def _local_problem(path: str, is_folder: bool, extension: str) -> str | None:
    target = Path(path)
    if is_folder:
        folder = target
    elif target.is_dir():
        return f"is an existing folder: end it with '/' to store <job_id>.{extension} in it"
    else:
        if target.exists() and not os.access(target, os.W_OK):
            return "names an existing file this worker cannot write"
        folder = target.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"cannot be created: {existing} is a file, not a folder"
    where = "folder" if existing == folder else f"folder {existing} (where {folder} would be created)"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"is not writable: this worker cannot create files in the {where}"
    return _write_probe_problem(existing, where)


def _write_probe_problem(existing: Path, where: str) -> str | None:
    """Create and remove a real file in ``existing``: permission bits pass ``/proc``, ``/sys`` or a
    read-only mount (for root, always), where storing the paid file would fail after the job."""
    try:
        handle, name = tempfile.mkstemp(prefix=".pictory-write-check-", dir=existing)
    except OSError as exc:
        return f"is not writable: creating a file in the {where} failed ({exc.strerror or exc})"
    os.close(handle)
    os.unlink(name)
    return None


def _has_filesystem(scheme: str) -> bool | None:
    """Does Airflow have a filesystem for ``scheme`` (built in or a provider's)? None if it cannot say."""
    import importlib

    for module in ("airflow.sdk.io", "airflow.io"):  # Airflow 3, Airflow 2
        try:
            has_fs = importlib.import_module(module).has_fs
        except (ImportError, AttributeError):
            continue
        return bool(has_fs(scheme))
    return None


def _filesystem_problem(output_path: str, scheme: str) -> str | None:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    registered = _has_filesystem(scheme)
    package = SCHEME_PACKAGES.get(scheme)
    missing = f"needs a filesystem for {scheme}:// that Airflow does not have here: install {package} on workers"
    if registered is False:
        if package:
            return missing
        return (
            f"has an unknown storage scheme {scheme!r}: Airflow has no filesystem for it here (a local path or "
            "file:// always works; a storage provider adds its scheme, e.g. s3:// with "
            "apache-airflow-providers-amazon[s3fs])"
        )
    try:
        ObjectStoragePath(output_path).fs  # noqa: B018 - loads the scheme's filesystem (its package)
    except ImportError as exc:
        return f"needs a package that is not installed for {scheme}://: {exc}"
    except ValueError as exc:
        if registered is None and package:  # an Airflow that cannot say which schemes it has
            return missing
        return f"cannot be opened: ValueError: {exc}"
    except Exception as exc:
        return f"cannot be opened: {type(exc).__name__}: {exc}"
    return None
