"""What the Pictory views read from Airflow's own tables: XCom rows, asset events and rendered template
fields, turned into :class:`pictory_provider.ui.gallery.Output` records (imported only by the api-server).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from pictory_provider.ui import gallery
from pictory_provider.ui.files import output_file

__all__ = ["MAX_ROWS", "decode", "load_outputs", "read_outputs", "stored_files", "with_requests"]

#: At most this many XCom rows / asset events are read per request (newest first).
MAX_ROWS = 20_000


def decode(value: Any) -> Any:
    """An XCom value, or ``None`` when the api-server cannot decode it (a class outside
    ``allowed_deserialization_classes``, say): one such row must not break the page."""
    from airflow.models.xcom import XComModel

    try:
        return XComModel.deserialize_value(SimpleNamespace(value=value))
    except Exception:  # ImportError, and whatever a custom class's deserialize raises
        return None


def _chunks(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    return (items[start : start + size] for start in range(0, len(items), size))


def load_outputs(
    session: Session,
    dag_ids: set[str],
    *,
    since: date | None = None,
    until: date | None = None,
    task: gallery.TaskKey | None = None,
) -> list[gallery.Output]:
    """The outputs Airflow recorded (XCom, then asset events) in ``dag_ids`` between two UTC dates, or of
    one task instance (``task``; the other tasks of its run are read for the submitter of a sensor's job)."""
    return read_outputs(session, dag_ids, since=since, until=until, task=task)[0]


def read_outputs(
    session: Session,
    dag_ids: set[str],
    *,
    since: date | None = None,
    until: date | None = None,
    task: gallery.TaskKey | None = None,
) -> tuple[list[gallery.Output], bool]:
    """:func:`load_outputs`, and whether a read stopped at :data:`MAX_ROWS` (older records left out)."""
    from airflow.models.asset import AssetEvent
    from airflow.models.xcom import XComModel as X

    if not dag_ids:
        return [], False
    xcom = select(X.dag_id, X.run_id, X.task_id, X.map_index, X.key, X.value, X.timestamp).where(
        X.key.in_(gallery.xcom_keys()), X.dag_id.in_(dag_ids)
    )
    events = select(
        AssetEvent.source_dag_id,
        AssetEvent.source_run_id,
        AssetEvent.source_task_id,
        AssetEvent.source_map_index,
        AssetEvent.extra,
        AssetEvent.timestamp,
    ).where(AssetEvent.source_dag_id.in_(dag_ids))
    if task is not None:
        xcom = xcom.where(X.run_id == task.run_id)
        events = events.where(
            AssetEvent.source_run_id == task.run_id,
            AssetEvent.source_task_id == task.task_id,
            AssetEvent.source_map_index == task.map_index,
        )
    if task is None and since is not None:
        start = datetime.combine(since, time(), tzinfo=UTC)
        xcom, events = xcom.where(X.timestamp >= start), events.where(AssetEvent.timestamp >= start)
    if task is None and until is not None and until < date.max:  # 9999-12-31: no end (and no next day)
        end = datetime.combine(until + timedelta(days=1), time(), tzinfo=UTC)
        xcom, events = xcom.where(X.timestamp < end), events.where(AssetEvent.timestamp < end)
    xcom_rows = [
        gallery.XComRow(d, r, t, m, k, decode(v), ts)
        for d, r, t, m, k, v, ts in session.execute(xcom.order_by(X.timestamp.desc()).limit(MAX_ROWS))
    ]
    truncated = len(xcom_rows) >= MAX_ROWS
    # Sensors publish no job_id key: the job id is in their return value (read for them only).
    for chunk in _chunks(sorted(gallery.tasks_without_job_id(xcom_rows))):
        returned = select(X.dag_id, X.run_id, X.task_id, X.map_index, X.key, X.value, X.timestamp).where(
            X.key == "return_value", tuple_(X.dag_id, X.run_id, X.task_id, X.map_index).in_(chunk)
        )
        xcom_rows += [
            gallery.XComRow(d, r, t, m, k, decode(v), ts) for d, r, t, m, k, v, ts in session.execute(returned)
        ]
    events_read = session.execute(events.order_by(AssetEvent.timestamp.desc()).limit(MAX_ROWS)).all()
    truncated = truncated or len(events_read) >= MAX_ROWS
    event_rows = [
        gallery.AssetEventRow(d, r, t, -1 if m is None else m, e, ts)
        for d, r, t, m, e, ts in events_read
        if d and r and t
    ]
    outputs = gallery.merge_outputs(
        gallery.outputs_from_xcoms(xcom_rows), gallery.outputs_from_asset_events(event_rows)
    )
    if task is None:
        return outputs, truncated
    mine = [output for output in outputs if output.task == task]
    if not mine:  # the task published a job again (the run's outputs name the first publisher): its own
        requests = {output.job_id: output.request_task for output in outputs}
        own = gallery.outputs_from_xcoms([row for row in xcom_rows if gallery.TaskKey(*row[:4]) == task])
        mine = [replace(output, request_task=requests.get(output.job_id, output.task)) for output in own]
    return mine, truncated


def _rendered(session: Session, keys: set[gallery.TaskKey]) -> dict[gallery.TaskKey, dict[str, Any]]:
    """The rendered template fields of the task instances ``keys``."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF

    found: dict[gallery.TaskKey, dict[str, Any]] = {}
    for chunk in _chunks(sorted(keys)):
        rows = session.execute(
            select(RTIF.dag_id, RTIF.run_id, RTIF.task_id, RTIF.map_index, RTIF.rendered_fields).where(
                tuple_(RTIF.dag_id, RTIF.run_id, RTIF.task_id, RTIF.map_index).in_([tuple(key) for key in chunk])
            )
        )
        for dag_id, run_id, task_id, map_index, rendered in rows:
            if isinstance(rendered, dict):
                found[gallery.TaskKey(dag_id, run_id, task_id, map_index)] = rendered
    return found


def _preview_names(session: Session, outputs: Sequence[gallery.Output]) -> dict[tuple[str, str, str], str]:
    """For renders of a reviewed preview without a name of their own: the name the task of their run that
    made the preview published (XCom ``video_name``; for older records, its rendered storyboard's
    ``videoName``), by ``(dag_id, run_id, preview job id)``."""
    from airflow.models.xcom import XComModel as X

    wanted = {
        (output.task.dag_id, output.task.run_id, preview)
        for output in outputs
        if isinstance(preview := output.request.get("preview_job_id"), str)
        and output.name is None
        and gallery.request_summary(output.request)[0] is None
    }
    if not wanted:
        return {}
    values: dict[gallery.TaskKey, dict[str, Any]] = {}
    for chunk in _chunks(sorted({(dag_id, run_id) for dag_id, run_id, _ in wanted})):
        rows = session.execute(
            select(X.dag_id, X.run_id, X.task_id, X.map_index, X.key, X.value).where(
                X.key.in_(("job_id", "video_name")), tuple_(X.dag_id, X.run_id).in_(chunk)
            )
        )
        for dag_id, run_id, task_id, map_index, key, value in rows:
            values.setdefault(gallery.TaskKey(dag_id, run_id, task_id, map_index), {})[key] = decode(value)
    previews = {
        task: (task.dag_id, task.run_id, published["job_id"])
        for task, published in values.items()
        if (task.dag_id, task.run_id, published.get("job_id")) in wanted
    }
    unnamed = {task for task in previews if gallery.video_name(values[task]) is None}
    rendered = _rendered(session, unnamed) if unnamed else {}
    names = {
        key: name
        for task, key in previews.items()
        if (name := gallery.video_name(values[task]) or gallery.request_summary(rendered.get(task, {}))[0])
    }
    return names


def with_requests(session: Session, outputs: Sequence[gallery.Output]) -> list[gallery.Output]:
    """The outputs with their request's rendered template fields (prompt, model, ...) attached, and for
    the render of a reviewed preview without a name, the name of the preview (see :func:`_preview_names`)."""
    requests = _rendered(session, {output.request_task for output in outputs if output.request_task is not None})
    attached = [
        replace(output, request=requests[output.request_task])
        if output.request_task is not None and output.request_task in requests
        else output
        for output in outputs
    ]
    names = _preview_names(session, attached)
    return [
        replace(output, name=names[key])
        if (key := (output.task.dag_id, output.task.run_id, output.request.get("preview_job_id"))) in names
        else output
        for output in attached
    ]


def stored_files(session: Session, outputs: Sequence[gallery.Output], part: str = "") -> dict[str, Path]:
    """The files the plugin may serve for ``outputs`` (or the ``part`` beside each), by job id
    (:func:`output_file`; one query for the rendered ``output_path`` of the tasks that stored them)."""

    tasks = {output.task for output in outputs if (output.extra_paths.get(part) if part else output.stored_path)}
    if not tasks:
        return {}
    output_paths = {task: rendered.get("output_path") for task, rendered in _rendered(session, tasks).items()}
    files = {output.job_id: output_file(output, output_paths.get(output.task), part) for output in outputs}
    return {job_id: path for job_id, path in files.items() if path is not None}
