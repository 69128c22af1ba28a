"""Saved projects and video templates, as Pictory documents them: paths, typed records, pure readers and
the checked render requests (a saved project's render; a template's render with its variables).

Pages (under ``https://docs.pictory.ai/api-reference/``) are named beside each record; the documented
examples themselves live in ``tests/contract/projects-*.json`` and ``templates-*.json``. Where the docs
are silent the code says *inferred*. Pure Python (no Airflow): :mod:`pictory_provider.kinds` imports it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

from pictory_provider.exceptions import PictoryAPIError, PictoryValidationError
from pictory_provider.lookups import PROJECTS_PATH, TEMPLATES_PATH
from pictory_provider.storyboard import build_render_request

__all__ = [
    "PROJECTS_PATH",
    "PROJECT_PATH",
    "PROJECT_RENDER_PATH",
    "TEMPLATE_PATH",
    "Project",
    "ProjectDetails",
    "TemplateDetails",
    "build_project_render_request",
    "build_template_render_request",
    "parse_project",
    "parse_projects_page",
    "parse_template",
    "template_variable_errors",
    "validate_project_id",
    "validate_template_id",
]

#: projects/get-project-by-id (the id is a string for v3 projects, a number for v2 ones).
PROJECT_PATH = PROJECTS_PATH + "/{projectId}"
#: videos/render-project ("Render Saved Project"): no body; answers ``{"success", "data": {"jobId"}}``.
PROJECT_RENDER_PATH = PROJECTS_PATH + "/{projectId}/render"
#: templates/get-template-by-id.
TEMPLATE_PATH = TEMPLATES_PATH + "/{templateId}"
#: Ids that go into a path: letters, digits, ``-`` and ``_`` (the documented ids are such; inferred).
_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


class Project(TypedDict):
    """A saved project of ``GET /v2/projects`` (projects/get-projects); its ``id`` is what
    :data:`PROJECT_RENDER_PATH` renders (a string for v3 projects, a number for older ones)."""

    id: str | int
    name: str
    source: NotRequired[str]  # "script", "transcribe", "url"
    projectPreview: NotRequired[str | None]
    savedDate: NotRequired[str]
    schemaVersion: NotRequired[str]
    aspectRatio: NotRequired[str]  # "sixteen-nine" (older projects)
    type: NotRequired[str]


class ProjectDetails(TypedDict):
    """One project (projects/get-project-by-id): its settings, last render's files and ``scenes``."""

    projectName: str
    project_id: NotRequired[str]
    projectType: NotRequired[str]
    source: NotRequired[str]
    step: NotRequired[str]  # STORYBOARD, EDIT, RENDER
    schemaVersion: NotRequired[str]
    layout: NotRequired[str]  # "16:9"
    scriptLanguage: NotRequired[str]
    thumbnail: NotRequired[str]
    videoURL: NotRequired[str]
    audioURL: NotRequired[str]
    shareVideoURL: NotRequired[str]
    srtFile: NotRequired[str]
    vttFile: NotRequired[str]
    txtFile: NotRequired[str]
    videoDuration: NotRequired[float]
    audioSpeed: NotRequired[int]
    videoVolume: NotRequired[int]
    voiceOverId: NotRequired[str]
    smartTemplateId: NotRequired[str]
    brandId: NotRequired[str]
    saveDate: NotRequired[str]
    generatedDate: NotRequired[str]
    scenes: NotRequired[list[dict[str, Any]]]


class TemplateDetails(TypedDict):
    """One template (templates/get-template-by-id). ``variables`` maps each variable name to its default
    or placeholder (``{"Name": "NAME"}``); the docs spell the deprecation flag ``depricated`` here."""

    templateId: str
    name: str
    variables: dict[str, Any]
    language: NotRequired[str]
    published: NotRequired[bool]
    depricated: NotRequired[bool]
    backgroundMusic: NotRequired[dict[str, Any]]
    voiceOver: NotRequired[dict[str, Any]]
    scenes: NotRequired[list[dict[str, Any]]]
    schemaVersion: NotRequired[str]
    project: NotRequired[str]
    structure: NotRequired[str]


def _unwrap(body: object) -> object:
    """The record itself; a ``{"success", "data": {...}}`` envelope is read through (inferred tolerance)."""
    if isinstance(body, dict) and isinstance(body.get("data"), dict) and "success" in body:
        return body["data"]
    return body


def parse_projects_page(body: object) -> tuple[list[Project], str | None]:
    """One page ``{"items": [{id, name, source, projectPreview, savedDate, schemaVersion, type}], "pageKey"}``:
    the projects and the key of the next page (``None`` on the last; sent back as ``?pagekey=``)."""
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise PictoryAPIError("Pictory's answer to GET /v2/projects has no items list (the documented shape)")
    projects: list[Project] = []
    for item in items:
        ident = item.get("id") if isinstance(item, dict) else None
        if isinstance(ident, bool) or not isinstance(ident, str | int) or not isinstance(item.get("name"), str):
            raise PictoryAPIError(f"GET /v2/projects listed an item without a string name and an id: {item!r:.200}")
        projects.append(item)  # type: ignore[arg-type]
    key = body.get("pageKey") if isinstance(body, dict) else None
    return projects, key if isinstance(key, str) and key else None


def parse_project(body: object) -> ProjectDetails:
    """``GET /v2/projects/{id}``: the project (``projectName``, ``videoURL``, ``scenes``, ...)."""
    record = _unwrap(body)
    if not isinstance(record, dict) or not isinstance(record.get("projectName"), str):
        raise PictoryAPIError("Pictory's answer to GET /v2/projects/{id} has no projectName (the documented shape)")
    return record  # type: ignore[return-value]


def parse_template(body: object) -> TemplateDetails:
    """``GET /v1/templates/{id}``: the template with its ``variables`` (``{}`` when it has none)."""
    record = _unwrap(body)
    if not isinstance(record, dict) or not isinstance(record.get("templateId"), str):
        raise PictoryAPIError("Pictory's answer to GET /v1/templates/{id} has no templateId (the documented shape)")
    variables = record.get("variables")
    if variables is None:
        record["variables"] = {}
    elif not isinstance(variables, dict):
        raise PictoryAPIError("Pictory's answer to GET /v1/templates/{id} has variables that are not an object")
    record.setdefault("name", record["templateId"])
    return record  # type: ignore[return-value]


def _refuse(what: str, field: str, message: str) -> PictoryValidationError:
    errors = [{"name": field, "errors": message}]
    return PictoryValidationError(f"Invalid {what}: {message}; nothing was sent to Pictory", errors)


def validate_project_id(project_id: object) -> str:
    """A project id as text (v2 projects have numeric ids), or :class:`PictoryValidationError`."""
    text = str(project_id).strip() if isinstance(project_id, str | int) and not isinstance(project_id, bool) else ""
    if not _ID.match(text):
        raise _refuse("project render", "projectId", f"project_id must be a Pictory project id (got {project_id!r})")
    return text


def validate_template_id(template_id: object) -> str:
    text = template_id.strip() if isinstance(template_id, str) else ""
    if not _ID.match(text):
        message = f"template_id must be a Pictory template id (got {template_id!r})"
        raise _refuse("template render", "templateId", message)
    return text


def build_project_render_request(project_id: str | int) -> dict[str, Any]:
    """``{"projectId": ...}``: the id goes into the path; the documented request has no body."""
    return {"projectId": validate_project_id(project_id)}


def template_variable_errors(template: Mapping[str, Any], variables: object) -> list[dict[str, str]]:
    """What is wrong with ``variables`` for ``template``: a name the template does not have ("did you mean
    ...?"), one of its variables missing (Pictory would leave the placeholder in the video; inferred),
    a value that is not text or a number, or is blank."""
    known = list((template.get("variables") or {}).keys())
    listed = ", ".join(known) or "none"
    if not isinstance(variables, Mapping):
        return [{"name": "variables", "errors": f"variables must be a dict of the template's variables ({listed})"}]
    errors = []
    for name, value in variables.items():
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
            close = close or [k for k in known if k.lower() == str(name).lower()]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            message = f"unknown variable {name!r}{hint}; the template has {listed}"
            errors.append({"name": f"variables.{name}", "errors": message})
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            errors.append({"name": f"variables.{name}", "errors": f"{name} must be text or a number (got {value!r})"})
        elif not str(value).strip():
            errors.append({"name": f"variables.{name}", "errors": f"{name} is blank"})
    for name in known:
        if name not in variables:
            message = f"variable {name!r} is missing; the template has {listed}"
            errors.append({"name": f"variables.{name}", "errors": message})
    return errors


def build_template_render_request(
    template_id: str,
    variables: Mapping[str, Any],
    *,
    template: Mapping[str, Any],
    video_name: str | None = None,
    webhook: str | None = None,
) -> dict[str, Any]:
    """The storyboard render body ``{"videoName", "templateId", "variables", "webhook"?}`` (videos/
    render-storyboard-video: ``scenes`` is not needed with ``templateId``), its ``variables`` checked
    against ``template`` (the answer of ``GET /v1/templates/{id}``) before anything is sent.
    ``videoName`` defaults to the template's name."""
    template_id = validate_template_id(template_id)
    if template.get("templateId") != template_id:
        message = f"the template read is {template.get('templateId')!r}, not {template_id!r}"
        raise _refuse("template render", "templateId", message)
    errors = template_variable_errors(template, variables)
    if errors:
        shown = "; ".join(error["errors"] for error in errors[:10])
        raise PictoryValidationError(
            f"Invalid variables for template {template.get('name')!r} ({template_id}): {shown}; "
            "nothing was sent to Pictory",
            errors,
        )
    name = video_name if video_name is not None else str(template.get("name") or template_id)
    body = {"videoName": name, "templateId": template_id, "variables": dict(variables)}
    return build_render_request(body, webhook=webhook)
