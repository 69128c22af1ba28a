"""The emulator's transcription and highlights routes (``POST /v2/transcription``, ``POST
/v2/transcription/highlights``, ``POST /v2/transcription/{jobId}/highlights``).

Each validates its body with the same function the hook uses (400 ``INVALID_REQUEST_BODY`` with
``fields``), strips fields Pictory does not document, as Pictory does, and answers
``{"success": true, "data": {"jobId"}}`` as the pages show; the job then completes like any other
(faults, ``fail_job``, webhooks, the jobs list). The route name of all three is ``create``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pictory_provider import transcription
from pictory_provider.emulator.account import OutOfCredits
from pictory_provider.emulator.http import STATE_KEY, _invalid_body, _job_id, _not_found, _origin, request_object

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Documented body fields (the page's "Option 2", your own ``transcript``, and the ``highlight`` request
#: are not emulated: dropped like any undocumented field).
TRANSCRIPTION_FIELDS = ("fileUrl", "mediaType", "language", "webhook")
HIGHLIGHTS_FIELDS = ("transcript", "highlight_duration", "duration", "language", "webhook")
HIGHLIGHTS_FROM_JOB_FIELDS = ("highlight_duration", "language", "webhook")


async def _create(request: web.Request, kind: str, body: dict[str, Any], errors: list[Any]) -> web.StreamResponse:
    from pictory_provider.emulator.routes import _schedule_webhook  # the routes module imports this one

    if errors:
        return _invalid_body("Request body validation failed", errors)
    try:
        job = request.app[STATE_KEY].create_job(body, _origin(request), kind)
    except OutOfCredits as exc:
        return exc.response()
    _schedule_webhook(request.app, job)
    return web.json_response({"success": True, "data": {"jobId": job.id}})


def _kept(payload: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: payload[name] for name in names if payload.get(name) is not None}


async def create_transcription(request: web.Request) -> web.StreamResponse:
    """``POST /v2/transcription`` (``api-reference/transcription/video-transcription``)."""
    payload = await request_object(request)
    if payload is None:
        return _invalid_body("Request body must be a JSON object", [])
    body = _kept(payload, TRANSCRIPTION_FIELDS)
    return await _create(request, "transcription", body, transcription.transcription_request_errors(body))


async def create_highlights(request: web.Request) -> web.StreamResponse:
    """``POST /v2/transcription/highlights`` (``generate-highlights-from-transcript``,
    ``video-summary-transcription``)."""
    payload = await request_object(request)
    if payload is None:
        return _invalid_body("Request body must be a JSON object", [])
    body = _kept(payload, HIGHLIGHTS_FIELDS)
    return await _create(request, "highlights", body, transcription.highlights_request_errors(body))


async def create_highlights_from_job(request: web.Request) -> web.StreamResponse:
    """``POST /v2/transcription/{jobId}/highlights`` (``generate-highlights-from-job``): "the transcription
    job must be fully complete" (a job in progress: 400, inferred; an unknown one: 404)."""
    payload = await request_object(request)
    if payload is None:
        return _invalid_body("Request body must be a JSON object", [])
    job_id = _job_id(request)
    state = request.app[STATE_KEY]
    try:
        if job_id is None:
            raise KeyError(request.match_info["job_id"])
        transcript = state.transcript_of(job_id)
    except KeyError:
        return _not_found()
    except ValueError as exc:
        return web.json_response({"code": "INVALID_REQUEST", "message": str(exc)}, status=400)
    body = _kept(payload, HIGHLIGHTS_FROM_JOB_FIELDS)
    errors = transcription.highlights_request_errors({**body, "transcript": transcript})
    return await _create(request, "highlights", {**body, "transcript": transcript, "jobId": job_id}, errors)


def add_transcription_routes(router: web.UrlDispatcher) -> None:
    router.add_post(transcription.TRANSCRIPTION_PATH, create_transcription)
    router.add_post(transcription.HIGHLIGHTS_PATH, create_highlights)
    router.add_post(transcription.HIGHLIGHTS_FROM_JOB_PATH.replace("{jobId}", "{job_id}"), create_highlights_from_job)


#: The API route (request counter, fault target) of each handler: a paid create, like the others.
TRANSCRIPTION_ROUTES: dict[Handler, str] = {
    create_transcription: "create",
    create_highlights: "create",
    create_highlights_from_job: "create",
}
