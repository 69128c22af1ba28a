"""The FastAPI app behind the Pictory views, mounted by Airflow's api-server (Airflow >= 3.1).

Every route needs an authenticated Airflow user (the UI's session cookie or a bearer token, through
Airflow's own ``get_user``) and reads only what Airflow's auth manager lets that user read:

- outputs come from the DAGs the user may read (``get_authorized_dag_ids``), and of those only the
  DAGs whose XCom the user may read;
- a task's view and its stored file need read access to that DAG's XCom (else 403);
- the quota needs read access to the connection; the hook calls Pictory server-side, so the API key
  never reaches the browser;
- a stored file is served only when the task recorded it as its output, it is the file the task's own
  rendered ``output_path`` names, it is a local file with the kind's extension, and it starts like one
  (PNG signature, MP4 ``ftyp`` box).

Imported only by the api-server (through the plugin's ``fastapi_apps``): it imports FastAPI and
Airflow's API modules.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import unquote

from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep as UserDep
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import FileResponse, HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from pictory_provider.kinds import KINDS_BY_SHAPE
from pictory_provider.ui import gallery, pages, records
from pictory_provider.ui.files import MEDIA_TYPES, PARTS, extension_of
from pictory_provider.ui.plugin import TASK_ROUTE
from pictory_provider.ui.records import decode, load_outputs, read_outputs, stored_files, with_requests

__all__ = [
    "API_LIMIT",
    "API_MAX_LIMIT",
    "DEFAULT_DAYS",
    "SHOWN",
    "Gathered",
    "create_app",
    "readable_xcom_dags",
]

log = logging.getLogger(__name__)

#: The gallery's default window (days back from today, UTC) when no dates are chosen.
DEFAULT_DAYS = 30
#: Cards shown on one page of the gallery (all outputs count in the spend).
SHOWN = 60
#: Outputs in one answer of ``/api/outputs`` unless ``limit`` says otherwise, and the most it may ask.
API_LIMIT = 100
API_MAX_LIMIT = 1000


def _auth_manager() -> Any:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


def _dag_details(dag_id: str, team_name: str | None) -> Any:
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    try:
        return DagDetails(id=dag_id, team_name=team_name)
    except TypeError:  # an auth-manager model without teams
        return DagDetails(id=dag_id)


def _teams(dag_ids: Iterable[str], session: Session) -> dict[str, str | None]:
    from airflow.models.dag import DagModel

    mapping = getattr(DagModel, "get_dag_id_to_team_name_mapping", None)
    if mapping is None:
        return {}
    return dict(mapping(list(dag_ids), session=session))


def readable_xcom_dags(user: Any, dag_ids: Iterable[str], session: Session) -> set[str]:
    """The DAGs among ``dag_ids`` whose XCom ``user`` may read (Airflow's auth manager decides)."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity

    wanted = set(dag_ids)
    teams = _teams(wanted, session) if wanted else {}
    manager = _auth_manager()
    return {
        dag_id
        for dag_id in wanted
        if manager.is_authorized_dag(
            method="GET",
            access_entity=DagAccessEntity.XCOM,
            details=_dag_details(dag_id, teams.get(dag_id)),
            user=user,
        )
    }


def _parse_date(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{name} must be a date like 2026-01-31") from None


@dataclass(frozen=True)
class Gathered:
    """The outputs a gallery query finds in the DAGs the user may read, and which DAGs those are."""

    outputs: list[gallery.Output]
    readable: set[str]
    filters: pages.Filters
    #: A read stopped at :data:`MAX_ROWS`: older outputs (and their spend) are missing.
    truncated: bool = False


def _gallery_outputs(
    user: UserDep,
    session: SessionDep,
    dag_id: str = "",
    kind: str = "",
    since: str = "",
    until: str = "",
) -> Gathered:
    """The outputs of the DAGs whose XCom the user may read, filtered (default: the last DEFAULT_DAYS)."""
    first, last = _parse_date(since, "since"), _parse_date(until, "until")
    if not (first or last):
        first = datetime.now(UTC).date() - timedelta(days=DEFAULT_DAYS - 1)
    permitted: set[str] = set(_auth_manager().get_authorized_dag_ids(user=user, method="GET"))
    if dag_id:
        permitted &= {dag_id}
    outputs, truncated = read_outputs(session, permitted, since=first, until=last)
    readable = readable_xcom_dags(user, {output.task.dag_id for output in outputs}, session)
    outputs = [output for output in outputs if output.task.dag_id in readable]
    filters = pages.Filters(dag_id, kind, since, until)
    return Gathered(gallery.filter_outputs(outputs, kind=kind or None), readable, filters, truncated)


GalleryDep = Annotated[Gathered, Depends(_gallery_outputs)]


def _raw_run_id(request: Request, parsed: str) -> str:
    """The run id as the query string spells it, with a ``+`` read as itself: Airflow 3.1's UI puts the run
    id into the tab's URL unencoded (``manual__...+00:00``), and run ids have no spaces to encode as ``+``."""
    for part in request.url.query.split("&"):
        name, _, value = part.partition("=")
        if unquote(name) == "run_id":
            return unquote(value)
    return parsed


def _task_output(
    user: UserDep,
    session: SessionDep,
    request: Request,
    dag_id: Annotated[str, Query(min_length=1)],
    run_id: Annotated[str, Query(min_length=1)],
    task_id: Annotated[str, Query(min_length=1)],
    map_index: str = "-1",
) -> tuple[gallery.TaskKey, gallery.Output | None]:
    """The task instance the query names and its output; 403 unless the user may read the DAG's XCom."""
    run_id = _raw_run_id(request, run_id)
    # The UI leaves {MAP_INDEX} unreplaced on an unmapped task's page.
    task = gallery.TaskKey(dag_id, run_id, task_id, int(map_index) if re.fullmatch(r"-?\d{1,9}", map_index) else -1)
    if not readable_xcom_dags(user, {dag_id}, session):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")
    found = with_requests(session, load_outputs(session, {dag_id}, task=task)[:1])
    return task, found[0] if found else None


def _preview_url(session: Session, task: gallery.TaskKey) -> Any:
    """A storyboard preview task's XCom ``preview_url`` (its player page), or ``None``."""
    from airflow.models.xcom import XComModel as X

    found = session.execute(
        select(X.value).where(
            X.dag_id == task.dag_id,
            X.run_id == task.run_id,
            X.task_id == task.task_id,
            X.map_index == task.map_index,
            X.key == "preview_url",
        )
    ).first()
    return None if found is None else decode(found[0])


TaskOutputDep = Annotated[tuple[gallery.TaskKey, gallery.Output | None], Depends(_task_output)]


def _quota_view(user: Any, session: Session, conn_id: str) -> pages.QuotaView:
    from airflow.api_fastapi.auth.managers.models.resource_details import ConnectionDetails
    from airflow.models.connection import Connection

    manager = _auth_manager()

    def may_read(candidate: str) -> bool:
        return bool(
            manager.is_authorized_connection(method="GET", details=ConnectionDetails(conn_id=candidate), user=user)
        )

    stored = session.scalars(select(Connection.conn_id).where(Connection.conn_type == "pictory")).all()
    conn_ids = sorted(candidate for candidate in stored if may_read(candidate))
    if not conn_id:
        return pages.QuotaView(conn_ids)
    if not may_read(conn_id):
        return pages.QuotaView(conn_ids, conn_id, error=f"You may not read the connection {conn_id!r}.")
    from pictory_provider.hooks.pictory import PictoryHook

    try:
        conn_type = PictoryHook.get_connection(conn_id).conn_type
    except Exception as exc:  # not defined: Airflow's message names the conn_id only
        return pages.QuotaView(conn_ids, conn_id, error=f"Could not read the quota: {exc}")
    if conn_type != PictoryHook.conn_type:  # never send another service's password anywhere as a Pictory key
        return pages.QuotaView(
            conn_ids, conn_id, error=f"The connection {conn_id!r} is of type {conn_type!r}, not a Pictory connection."
        )
    try:
        quota = PictoryHook(pictory_conn_id=conn_id, max_attempts=2, read_timeout=15.0).get_quota()
    except Exception as exc:  # the page still shows the gallery; the hook never puts the key in errors
        log.warning("Could not read the Pictory quota of %s: %s", conn_id, exc)
        return pages.QuotaView(conn_ids, conn_id, error=f"Could not read the quota: {exc}")
    return pages.QuotaView(conn_ids, conn_id, quota=quota.to_dict())


def create_app(ui_base: str = "") -> FastAPI:
    """The app the plugin mounts under ``/pictory``; ``ui_base`` is the UI's base path (``""`` at ``/``)."""
    app = FastAPI(title="Pictory", docs_url=None, redoc_url=None, openapi_url=None)
    plugin_base = f"{ui_base}/pictory"

    def file_href(task: gallery.TaskKey) -> str:
        return f"{plugin_base}/file?" + pages.query(
            dag_id=task.dag_id, run_id=task.run_id, task_id=task.task_id, map_index=str(task.map_index)
        )

    @app.get("/", response_class=HTMLResponse)
    def gallery_view(
        user: UserDep,
        session: SessionDep,
        found: GalleryDep,
        conn_id: str = "",
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> HTMLResponse:
        """The Pictory page: gallery (``SHOWN`` outputs from ``offset``), spend by day and DAG, quota of a
        chosen connection."""
        outputs, filters = found.outputs, found.filters
        offset = min(offset, (len(outputs) - 1) // SHOWN * SHOWN if outputs else 0)  # past the end: the last page
        page = outputs[offset : offset + SHOWN]
        files = stored_files(session, page)
        html = pages.gallery_page(
            with_requests(session, page),
            gallery.spend(outputs),
            filters=replace(filters, conn_id=conn_id),
            dag_ids=sorted(found.readable | ({filters.dag_id} if filters.dag_id else set())),
            kinds=list(KINDS_BY_SHAPE),
            quota=_quota_view(user, session, conn_id),
            media_src={o.job_id: file_href(o.task) if o.job_id in files else o.url for o in page},
            ui_base=ui_base,
            plugin_route=TASK_ROUTE,
            shown=SHOWN,
            offset=offset,
            total=len(outputs),
            truncated_at=records.MAX_ROWS if found.truncated else None,
        )
        return HTMLResponse(html, headers=pages.HEADERS)

    @app.get("/api/outputs")
    def outputs_json(
        session: SessionDep,
        found: GalleryDep,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=API_MAX_LIMIT)] = API_LIMIT,
    ) -> dict[str, Any]:
        """The same outputs and spend as JSON (what the page shows, for scripts and tests): ``limit``
        outputs from ``offset`` (newest first), each with its title; the spend covers them all."""
        outputs = found.outputs
        summary = gallery.spend(outputs)
        following = offset + limit if offset + limit < len(outputs) else None
        return {
            "outputs": [
                {
                    "dag_id": o.task.dag_id,
                    "run_id": o.task.run_id,
                    "task_id": o.task.task_id,
                    "map_index": o.task.map_index,
                    "kind": o.kind,
                    "job_id": o.job_id,
                    "title": o.title,
                    "ai_credits_used": o.credits,
                    "ai_credits_ignored": o.credits_ignored,
                    "url": o.url,
                    "stored_path": o.stored_path,
                    "timestamp": o.timestamp.isoformat(),
                    "source": o.source,
                }
                for o in with_requests(session, outputs[offset : offset + limit])
            ],
            "total": len(outputs),
            "offset": offset,
            "limit": limit,
            "next_offset": following,
            "truncated": found.truncated,
            "spend": {
                "total": summary.total,
                "jobs": summary.jobs,
                "ignored": summary.ignored,
                "by_day": [{"day": d.isoformat(), "ai_credits": c, "jobs": n} for d, c, n in summary.by_day],
                "by_dag": [{"dag_id": d, "ai_credits": c, "jobs": n} for d, c, n in summary.by_dag],
            },
        }

    @app.get("/task", response_class=HTMLResponse)
    def task_view(session: SessionDep, found: TaskOutputDep) -> HTMLResponse:
        """A task instance's output: the image or the video player, and its facts."""
        task, output = found
        stored = output is not None and output.job_id in stored_files(session, [output])
        src = None if output is None else (file_href(task) if stored else output.url)
        track = output is not None and output.job_id in stored_files(session, [output], "vtt")
        page = pages.task_page(
            task,
            output,
            src,
            stored_href=file_href(task) if stored else None,
            track_src=file_href(task) + "&part=vtt" if track else None,
            preview_url=_preview_url(session, task) if output is None else None,
        )
        return HTMLResponse(page, headers=pages.HEADERS)

    @app.get("/file")
    def stored_file(session: SessionDep, found: TaskOutputDep, part: str = "") -> FileResponse:
        """The file a task stored (``output_path``), or the ``part`` beside it (``vtt``), when the api-server
        can read it."""
        _, output = found
        if part and part not in PARTS:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"part must be one of {', '.join(PARTS)}")
        path = None if output is None else stored_files(session, [output], part).get(output.job_id)
        if output is None or path is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "No stored file of this task is readable here")
        media_type = MEDIA_TYPES.get(part or extension_of(output), "application/octet-stream")
        headers = {"Cache-Control": "private", "X-Content-Type-Options": "nosniff"}
        return FileResponse(path, media_type=media_type, headers=headers)

    return app
