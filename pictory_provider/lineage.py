"""Asset events and lineage for a finished Pictory job, in one place.

:func:`record_outputs` is called once from the one completion path (``events.complete``):

- every asset in the task's ``outlets`` gets the job's facts in its asset event ``extra``
  (``job_id``, ``url``, ``ai_credits_used``, ``width``, ``height``, ``duration`` when known, and
  ``image_path`` / ``video_path`` when the file was stored);
- stored files (a render's subtitles too) are reported to Airflow's hook-level lineage
  (common-compat's collector; a no-op unless a lineage reader such as the OpenLineage provider is installed).

:func:`openlineage_facets` backs the operators' ``get_openlineage_facets_on_complete``: the stored file
is the output dataset. Everything imports lazily and does nothing when OpenLineage is absent.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from pictory_provider.kinds import KINDS_BY_SHAPE

__all__ = ["ASSET_EXTRA_KEYS", "STORED_FILE_KEYS", "asset_extra", "openlineage_facets", "record_outputs", "stored_uris"]

log = logging.getLogger(__name__)

#: Result keys copied into every outlet's asset event ``extra`` (when present and not ``None``).
ASSET_EXTRA_KEYS = ("job_id", "url", "ai_credits_used", "width", "height", "duration", "image_path", "video_path")
#: Result keys that name a stored file: each kind's file and the files beside it (a render's subtitles, a
#: transcript's texts).
STORED_FILE_KEYS = tuple(
    dict.fromkeys(
        key for kind in KINDS_BY_SHAPE.values() for key in (kind.path_key, *(key for _, key in kind.stored_files))
    )
)
#: Where :func:`record_outputs` leaves the stored files' URIs on the task, for the OpenLineage facets.
_TASK_ATTRIBUTE = "_pictory_stored_uris"


def asset_extra(result: dict[str, Any]) -> dict[str, Any]:
    """The asset event ``extra`` for a job result (JSON primitives only)."""
    return {key: result[key] for key in ASSET_EXTRA_KEYS if result.get(key) is not None}


def _file_uri(path: str) -> str:
    return path if urlsplit(path).scheme else f"file://{path}"


def stored_uris(result: dict[str, Any]) -> list[str]:
    """URIs of the files the job's result says were stored (``file://`` for local paths)."""
    return [_file_uri(str(result[key])) for key in STORED_FILE_KEYS if result.get(key)]


def _is_alias(outlet: object) -> bool:
    return type(outlet).__name__ in ("AssetAlias", "DatasetAlias")


def record_outputs(context: Any, result: dict[str, Any]) -> None:
    """Publish a finished job to the task's outlet asset events and to hook-level lineage."""
    task = context.get("task")
    outlets = [outlet for outlet in (getattr(task, "outlets", None) or []) if not _is_alias(outlet)]
    outlet_events = context.get("outlet_events") if outlets else None
    if outlets and outlet_events is not None:
        extra = asset_extra(result)
        for outlet in outlets:
            outlet_events[outlet].extra.update(extra)
    uris = stored_uris(result)
    if task is not None:
        setattr(task, _TASK_ATTRIBUTE, uris)
    if uris:
        _report_hook_lineage(uris)


def _report_hook_lineage(uris: list[str]) -> None:
    try:
        from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector
        from airflow.providers.common.compat.sdk import ObjectStoragePath
    except ImportError:  # pragma: no cover - common-compat without the lineage helpers
        return
    collector = get_hook_lineage_collector()
    for uri in uris:
        try:
            collector.add_output_asset(context=ObjectStoragePath(uri), uri=uri)
        except Exception:  # lineage must never fail a task that already has its image
            log.warning("Could not report %s to hook lineage", uri, exc_info=True)


def _dataset_name(uri: str) -> tuple[str, str]:
    """OpenLineage naming: ``file:///a/b.png`` → (``file``, ``/a/b.png``); ``s3://b/k`` → (``s3://b``, ``k``)."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return "file", parts.path
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")


def openlineage_facets(task: Any) -> Any:
    """``OperatorLineage`` with the stored file(s) as outputs, or ``None`` without the OpenLineage provider."""
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset
    except ImportError:
        return None
    uris: list[str] = getattr(task, _TASK_ATTRIBUTE, None) or []
    return OperatorLineage(outputs=[Dataset(namespace=ns, name=name) for ns, name in map(_dataset_name, uris)])
