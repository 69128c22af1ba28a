"""Saved projects and video templates: read them, render a project, render a template with its variables.

A mixin of :class:`~pictory_provider.hooks.pictory.PictoryHook` over its ``_call`` and ``create_job``
(the renders are the job kinds :data:`~pictory_provider.kinds.PROJECT_RENDER` and
:data:`~pictory_provider.kinds.TEMPLATE_RENDER`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from pictory_provider.kinds import PROJECT_RENDER, TEMPLATE_RENDER
from pictory_provider.projects import (
    PROJECT_PATH,
    PROJECTS_PATH,
    TEMPLATE_PATH,
    Project,
    ProjectDetails,
    TemplateDetails,
    parse_project,
    parse_projects_page,
    parse_template,
    validate_project_id,
    validate_template_id,
)

__all__ = ["PictoryProjectsMixin"]


class PictoryProjectsMixin:
    """:meth:`list_projects`, :meth:`get_project`, :meth:`render_project`, :meth:`get_template` and
    :meth:`render_template` (see :class:`PictoryHook`)."""

    _call: Callable[..., Any]
    _every_page: Callable[..., list[Any]]
    create_job: Callable[..., str]

    def list_projects(self) -> list[Project]:
        """Saved projects (``GET /v2/projects``, every page, following ``pageKey`` as ``?pagekey=``):
        ``id`` (text for v3 projects, a number for older ones), ``name``, ``source``, ``savedDate``, ..."""
        return self._every_page(PROJECTS_PATH, "pagekey", parse_projects_page)

    def get_project(self, project_id: str | int) -> ProjectDetails:
        """One project (``GET /v2/projects/{id}``): ``projectName``, ``videoURL``, ``shareVideoURL``,
        ``srtFile``, ``videoDuration``, ``saveDate``, ``scenes``, ... (its last render's files)."""
        path = PROJECT_PATH.format(projectId=quote(validate_project_id(project_id)))
        return parse_project(self._call("GET", path, f"GET {PROJECTS_PATH}/{{id}}"))

    def render_project(self, project_id: str | int) -> str:
        """Render a saved project as it is now (``POST /v2/projects/{id}/render``); return the render job's
        id. Sent once: never retried after it may have reached Pictory."""
        return self.create_job(PROJECT_RENDER, project_id)

    def get_template(self, template_id: str) -> TemplateDetails:
        """One template (``GET /v1/templates/{id}``): ``templateId``, ``name``, ``variables`` (name ->
        default or placeholder), ``scenes``, ``voiceOver``, ``backgroundMusic``, ..."""
        path = TEMPLATE_PATH.format(templateId=quote(validate_template_id(template_id)))
        return parse_template(self._call("GET", path, "GET /pictoryapis/v1/templates/{id}"))

    def render_template(
        self,
        template_id: str,
        variables: Mapping[str, Any],
        *,
        video_name: str | None = None,
        webhook: str | None = None,
    ) -> str:
        """Render a template with its variables filled in (``POST /v2/video/storyboard/render`` with
        ``templateId`` and ``variables``); return the render job's id. The variables are checked against
        the template's own list first (one ``GET /v1/templates/{id}``): a missing or unknown name is
        refused, naming the template's variables, before anything is bought."""
        template = self.get_template(template_id)
        return self.create_job(
            TEMPLATE_RENDER, template_id, variables, template=template, video_name=video_name, webhook=webhook
        )
