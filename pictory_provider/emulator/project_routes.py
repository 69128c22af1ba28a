"""The emulator's saved projects and video templates, in the shapes of Pictory's docs.

Pages under ``https://docs.pictory.ai/api-reference/``: ``projects/get-projects`` (``{"items", "pageKey"}``,
the key sent back as ``?pagekey=``), ``projects/get-project-by-id``, ``videos/render-project`` (no body;
``{"success": true, "data": {"jobId"}}``), ``templates/get-template-by-id`` (``variables``: name ->
placeholder). *Inferred*: the page size (2), the 400 for an unknown ``pagekey``, the 404 shape of an
unknown project or template, the values of the projects and templates the docs do not show, and what a
template render checks: an unknown ``templateId`` and a variable the template does not have, or one of
its variables left out, are answered with the documented 400 shape (``INVALID_REQUEST_BODY``, ``fields``).
A template render's scenes are the template's subtitles with the variables filled in.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pictory_provider.emulator.account import OutOfCredits
from pictory_provider.emulator.http import STATE_KEY, _not_found, _origin
from pictory_provider.projects import PROJECT_PATH, PROJECT_RENDER_PATH, PROJECTS_PATH, TEMPLATE_PATH
from pictory_provider.projects import template_variable_errors as _variable_errors

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CDN = "https://d3uryq9bhgb5qr.cloudfront.net/TeamsAnnual/aa46778d-7965-46e0-967d-b48ee5d6ead9"
#: projects/get-projects: the docs' three projects (ids text for v3, numbers for v2).
PROJECTS: list[dict[str, Any]] = [
    {
        "id": "20251222191648030d7df02f5b4054d4ca8831f1369459e25",
        "name": "Hello World Template",
        "source": "script",
        "projectPreview": f"{_CDN}/f1c3b5a7-65f9-4386-a3ef-5ac378c12fa2/image/f1c3b5a7-65f9-4386-a3ef-5ac378c12fa2.jpg",
        "savedDate": "2025-12-23T01:54:26.755Z",
        "schemaVersion": "v3",
        "type": "project",
    },
    {
        "id": 1762768083800,
        "name": "my_saved_project",
        "source": "script",
        "projectPreview": "https://media.gettyimages.com/id/2161111014/video/create-social-media-content.mp4",
        "savedDate": "2025-11-10T09:48:03.800Z",
        "aspectRatio": "sixteen-nine",
        "schemaVersion": "v2",
        "type": "project",
    },
    {
        "id": 1751663566232,
        "name": "What_is_Calculus",
        "source": "transcribe",
        "projectPreview": None,
        "savedDate": "2025-07-04T21:13:26.094Z",
        "aspectRatio": "sixteen-nine",
        "type": "project",
    },
]
PAGE_SIZE = 2  # inferred
#: The scenes' text of each project (projects/get-project-by-id ``scenes[].text``; the values are inferred).
_PROJECT_SCENES = {
    "Hello World Template": ["Hello World"],
    "my_saved_project": ["AI is poised to significantly impact educators.", "It will save time."],
    "What_is_Calculus": ["Calculus is the mathematics of change."],
}

#: templates/get-template-by-id: the docs' example, and the two templates of the docs' list (their
#: variables are inferred; "Name" and "Company" are the page's own example of ``variables``).
TEMPLATE_DETAILS: dict[str, dict[str, Any]] = {
    "202512230204424435786014d42904bbc95813430789fe736": {
        "templateId": "202512230204424435786014d42904bbc95813430789fe736",
        "name": "Hello World Template",
        "language": "en",
        "published": True,
        "depricated": False,
        "voiceOver": {"enabled": True, "aiVoices": [{"speaker": "3108", "speed": 100, "amplificationLevel": 0}]},
        "scenes": [
            {
                "sceneId": "20251222191719950af11290d66804b7f97cad70cde355bcc",
                "subtitles": [{"text": "Hi {{Name}}, how are you doing today?"}],
                "layers": [[{"layerId": "2025122211203035206c45618d2c74013a7022de479df95f2", "type": "text"}]],
            }
        ],
        "variables": {"Name": "NAME"},
        "schemaVersion": "v3",
    },
    "202507141030549677ylq8k8gu44vy1y": {
        "templateId": "202507141030549677ylq8k8gu44vy1y",
        "name": "Corporate Presentation Template",
        "language": "en",
        "published": True,
        "depricated": False,
        "scenes": [
            {"sceneId": "scene-1", "subtitles": [{"text": "Welcome to {{Company}}, {{Name}}."}]},
            {"sceneId": "scene-2", "subtitles": [{"text": "We are glad you are here."}]},
        ],
        "variables": {"Name": "NAME", "Company": "COMPANY_NAME"},
        "schemaVersion": "v3",
    },
    "202508151145238899abc123def456gh": {
        "templateId": "202508151145238899abc123def456gh",
        "name": "Social Media Promo",
        "language": "en",
        "published": True,
        "depricated": False,
        "scenes": [{"sceneId": "scene-1", "subtitles": [{"text": "Meet {{ProductName}}."}]}],
        "variables": {"ProductName": "PRODUCT_NAME"},
        "schemaVersion": "v3",
    },
}
_VARIABLE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


def _page_key(index: int) -> str:
    return base64.urlsafe_b64encode(f'{{"projects":{index}}}'.encode()).decode()


def _project(project_id: str) -> dict[str, Any] | None:
    return next((item for item in PROJECTS if str(item["id"]) == project_id), None)


def project_details(item: dict[str, Any]) -> dict[str, Any]:
    """The by-id shape of a listed project (projects/get-project-by-id's field names)."""
    details: dict[str, Any] = {
        "project_id": str(item["id"]),
        "projectName": item["name"],
        "source": item.get("source", "script"),
        "step": "STORYBOARD",
        "schemaVersion": item.get("schemaVersion", "v2"),
        "layout": "16:9",
        "scriptLanguage": "en",
        "saveDate": item["savedDate"],
        "scenes": [
            {"sceneId": f"{item['id']}-{index}", "projectId": str(item["id"]), "text": text, "sortOrder": index + 1}
            for index, text in enumerate(_PROJECT_SCENES[item["name"]])
        ],
    }
    if item.get("projectPreview"):
        details["thumbnail"] = item["projectPreview"]
    return details


async def list_projects(request: web.Request) -> web.StreamResponse:
    key = request.query.get("pagekey")
    keys = {_page_key(index): index for index in range(0, len(PROJECTS), PAGE_SIZE)}
    if key is not None and key not in keys:
        return web.json_response({"message": "Invalid pagekey"}, status=400)  # inferred
    start = keys.get(key or "", 0)
    end = start + PAGE_SIZE
    return web.json_response({"items": PROJECTS[start:end], "pageKey": _page_key(end) if end < len(PROJECTS) else None})


async def get_project(request: web.Request) -> web.StreamResponse:
    item = _project(request.match_info["project_id"])
    return _not_found() if item is None else web.json_response(project_details(item))


async def render_project(request: web.Request) -> web.StreamResponse:
    """``POST /v2/projects/{id}/render``: a render job of the project's scenes as they are now."""
    from pictory_provider.emulator.routes import _schedule_webhook  # the routes module imports this one

    item = _project(request.match_info["project_id"])
    if item is None:
        return _not_found()
    scenes = [{"story": scene["text"]} for scene in project_details(item)["scenes"]]
    try:
        board = {"videoName": item["name"], "scenes": scenes}
        job = request.app[STATE_KEY].create_job(board, _origin(request), "render")
    except OutOfCredits as exc:
        return exc.response()
    _schedule_webhook(request.app, job)
    return web.json_response({"success": True, "data": {"jobId": job.id}})


async def get_template(request: web.Request) -> web.StreamResponse:
    template = TEMPLATE_DETAILS.get(request.match_info["template_id"])
    return _not_found() if template is None else web.json_response(template)


def template_errors(body: dict[str, Any]) -> list[dict[str, str]]:
    """A storyboard with ``templateId``: an unknown template, or variables that do not match its own (inferred)."""
    template_id = body.get("templateId")
    if template_id is None:
        return []
    template = TEMPLATE_DETAILS.get(str(template_id))
    if template is None:
        return [{"name": "templateId", "errors": f"template {template_id} not found"}]
    return _variable_errors(template, body.get("variables", {}))


def expand_template(body: dict[str, Any]) -> dict[str, Any]:
    """A template storyboard without scenes gets the template's, its variables filled in (what the render says)."""
    template = TEMPLATE_DETAILS.get(str(body.get("templateId")))
    variables = body.get("variables")
    if template is None or body.get("scenes") or not isinstance(variables, dict):
        return body
    expanded = copy.deepcopy(body)
    expanded["scenes"] = [
        {
            "story": _VARIABLE.sub(
                lambda match: str(variables.get(match.group(1), match.group(0))),
                " ".join(subtitle.get("text", "") for subtitle in scene.get("subtitles", [])),
            )
        }
        for scene in template["scenes"]
    ]
    return expanded


def add_project_routes(router: web.UrlDispatcher) -> None:
    """Projects (list, by id, render) and a template by id."""
    router.add_get(PROJECTS_PATH, list_projects, allow_head=False)
    router.add_get(PROJECT_PATH.replace("{projectId}", "{project_id}"), get_project, allow_head=False)
    router.add_post(PROJECT_RENDER_PATH.replace("{projectId}", "{project_id}"), render_project)
    router.add_get(TEMPLATE_PATH.replace("{templateId}", "{template_id}"), get_template, allow_head=False)


#: The API route (request counter, fault target) of each handler.
PROJECT_ROUTES: dict[Handler, str] = {
    list_projects: "lookup",
    get_project: "lookup",
    get_template: "lookup",
    render_project: "create",
}
