"""PictoryRenderVideoOperator: a storyboard (script, blog post, scenes) to a finished, narrated video.

The same operator as the AI Studio ones (:class:`~pictory_provider.operators.pictory.PictoryGenerateOperatorBase`),
with one of the render job kinds of :mod:`pictory_provider.kinds`: a direct render, a preview, the render of
a reviewed preview, of its (modified) ``renderParams``, of a saved project, or of a template's variables.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pictory_provider.exceptions import PictoryValidationError
from pictory_provider.kinds import PREVIEW, PREVIEW_RENDER, PROJECT_RENDER, RENDER, RENDER_PARAMS, TEMPLATE_RENDER
from pictory_provider.operators.base import PictoryGenerateOperatorBase
from pictory_provider.operators.pictory import PictoryVideoLink
from pictory_provider.request_limits import nesting_problem, too_deep
from pictory_provider.sensors.pictory import DEFAULT_CONN_ID, DEFAULT_TIMEOUT
from pictory_provider.storyboard import storyboard_errors
from pictory_provider.storyboard_names import check_names

__all__ = ["PictoryRenderVideoOperator"]


class PictoryRenderVideoOperator(PictoryGenerateOperatorBase):
    """Render a Pictory storyboard to a video and, by default, wait for it and store it.

    Six modes:

    * ``storyboard={...}``: render it (``POST /v2/video/storyboard/render``).
    * ``storyboard={...}, preview_only=True``: create a preview job (``POST /v2/video/storyboard``),
      wait for it and return its id (XCom ``job_id``) and its player page (XCom ``preview_url``, and
      ``project_id`` with ``saveProject``); nothing is rendered or paid for yet.
    * ``preview_job_id="..."``: render that reviewed preview (``PUT /v2/video/render/{id}``), e.g.
      after a human approval task.
    * ``render_params={...}``: render a completed preview's ``renderParams``, modified
      (``POST /v2/video/render``; read them with ``PictoryHook().get_job(preview_id).render_params``).
    * ``project_id="..."``: render a saved project as people edited it in Pictory's web app
      (``POST /v2/projects/{id}/render``; ids from ``PictoryHook().list_projects()``).
    * ``template_id="...", variables={...}``: render a template with its variables filled in
      (``POST /v2/video/storyboard/render`` with ``templateId`` and ``variables``). The variables are
      checked against the template's own list first (one ``GET /v1/templates/{id}``): a missing or
      unknown name ("did you mean Name?") is refused, naming the template's variables, before anything
      is bought. Map it over the rows of a table with ``.expand(variables=rows)``.

    The storyboard is checked before any request (:mod:`pictory_provider.storyboard`): unknown field
    names at the top level and in scenes are refused with the documented name ("did you mean
    videoName?"), as are a missing ``videoName``, scenes without exactly one content source, the
    documented exclusive pairs and an ``avatar`` without ``voiceOver.enabled``; a missing
    ``voiceOver`` (a silent video) and background music without ``volume`` are logged as warnings.
    At task time, before buying, the names it uses are checked against the account (``check_names``).

    The modes and promises of :class:`~pictory_provider.operators.pictory.PictoryGenerateImageOperator`:
    the job id goes to XCom ``job_id`` as soon as Pictory accepts the request, ``wait_for_completion``,
    ``deferrable`` (default), a retry resumes the same job on Airflow >= 3.3 instead of paying for a
    second render, and the spend report logs ``aiCreditsUsed``. A render's result: XCom ``video_url``,
    ``share_url``, ``srt_url``, ``vtt_url``, ``txt_url``, ``thumbnail_url``, ``duration`` (seconds, a
    number), ``ai_credits_used``, ``audio_url``; with ``output_path`` the MP4 and its subtitles are stored
    (``<job_id>.mp4``, ``.srt``, ``.vtt``; or beside a file name) and XCom adds ``video_path``,
    ``srt_path``, ``vtt_path``.

    Pictory has no list of render jobs by storyboard, so a render request whose answer was lost (a
    read timeout) cannot be looked up: the next try fails with
    :class:`~pictory_provider.exceptions.PictorySubmissionUnresolvedError` instead of rendering twice
    (``resubmit_unclear=True`` to send it again anyway). ``max_ai_credits`` is refused (Pictory does
    not say what a render costs before it runs); ``check_quota=True`` works.

    :param storyboard: The storyboard request (templated; a dict, see
        :class:`~pictory_provider.storyboard.StoryboardRequest`).
    :param preview_job_id: Render this completed preview job instead (templated).
    :param render_params: Render this ``renderParams`` dict of a completed preview instead (templated).
    :param project_id: Render this saved project instead (templated; a webhook cannot be set: the
        documented request has no body).
    :param template_id: Render this template instead (templated), with ``variables``.
    :param variables: The template's variables, name -> text (templated; every one of the template's
        variables, none other).
    :param video_name: The template render's ``videoName`` (templated; default the template's name).
    :param allow_unknown_fields: Storyboard field names to send although the check does not know them
        (a field Pictory added after this provider), at any level.
    :param check_names: Before buying a render or a preview, check the storyboard's voice speakers,
        ``brandName``/``brandId``, ``subtitleStyleName``/``subtitleStyleId``, ``smartLayoutName``/
        ``smartLayoutId``, ``templateId`` and ``avatar.avatarId`` against the account's lookups (one read
        each, only those needed) and refuse a miss with the closest names (default True); a lookup
        that cannot be read only logs a warning.
    :param preview_only: Create a preview of ``storyboard`` instead of rendering it.
    :param webhook: http(s) URL Pictory POSTs the finished job to (templated).
    :param output_path: Store the MP4 (and ``.srt``/``.vtt``) there (templated; a trailing ``/`` means
        ``<folder>/<job_id>.mp4``).
    :param timeout: Seconds to wait (default one hour; renders take minutes).
    :param poll_interval: Seconds between status polls (default 30, as Pictory's own client).

    The other parameters are those of :class:`~pictory_provider.operators.pictory.PictoryGenerateImageOperator`.
    """

    kind = RENDER
    template_fields: Sequence[str] = (
        "storyboard",
        "preview_job_id",
        "render_params",
        "project_id",
        "template_id",
        "variables",
        "video_name",
        "webhook",
        "output_path",
        "pictory_conn_id",
        "adopt_job_id",
    )
    template_fields_renderers = {"storyboard": "json", "render_params": "json", "variables": "json"}
    operator_extra_links = (PictoryVideoLink(),)  # XCom video_url, as a video's

    def __init__(
        self,
        *,
        storyboard: dict[str, Any] | str | None = None,
        preview_job_id: str | None = None,
        preview_only: bool = False,
        render_params: dict[str, Any] | str | None = None,
        project_id: str | int | None = None,
        template_id: str | None = None,
        variables: dict[str, Any] | str | None = None,
        video_name: str | None = None,
        allow_unknown_fields: Sequence[str] = (),
        webhook: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poll_interval: float | timedelta = 30,
        timeout: float | timedelta = DEFAULT_TIMEOUT,
        output_path: str | None = None,
        pictory_conn_id: str = DEFAULT_CONN_ID,
        hook_params: dict[str, Any] | None = None,
        resubmit_unclear: bool = False,
        max_ai_credits: float | None = None,
        check_quota: bool = False,
        check_names: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            wait_for_completion=wait_for_completion,
            deferrable=deferrable,
            poll_interval=poll_interval,
            timeout=timeout,
            output_path=output_path,
            pictory_conn_id=pictory_conn_id,
            hook_params=hook_params,
            resubmit_unclear=resubmit_unclear,
            max_ai_credits=max_ai_credits,
            check_quota=check_quota,
            **kwargs,
        )
        sources = (storyboard, preview_job_id, render_params, project_id, template_id)
        if sum(source is not None for source in sources) != 1:
            raise PictoryValidationError(
                "PictoryRenderVideoOperator needs one of storyboard= (render it, or preview it with "
                "preview_only=True), preview_job_id= (render a reviewed preview), render_params= (render a "
                "preview's modified renderParams), project_id= (render a saved project) or template_id= with "
                "variables= (render a template)"
            )
        _check_template_mode(template_id, variables, video_name, project_id, webhook)
        if isinstance(allow_unknown_fields, str):
            raise PictoryValidationError("allow_unknown_fields must be a list of field names, not one string")
        if preview_only and storyboard is None:
            raise PictoryValidationError("preview_only=True needs storyboard= (the storyboard to preview)")
        if preview_only and output_path is not None:
            raise PictoryValidationError(
                "preview_only=True makes a preview, which has no video to store: drop output_path here and "
                "set it on the task that renders the reviewed preview (preview_job_id=)"
            )
        if isinstance(storyboard, dict) and (problem := nesting_problem(storyboard)):  # before Airflow walks it
            raise PictoryValidationError(f"Invalid Pictory storyboard: the storyboard cannot be sent: {problem}")
        self.storyboard = storyboard
        self.preview_job_id = preview_job_id
        self.preview_only = preview_only
        self.render_params = render_params
        self.project_id = project_id
        self.template_id = template_id
        self.variables = variables
        self.video_name = video_name
        self._template: Any = None
        self.allow_unknown_fields = tuple(allow_unknown_fields)
        self.webhook = webhook
        self.check_names = check_names
        self._lookups: dict[str, list[Any] | None] = {}  # one read per lookup per task
        self.kind = (  # type: ignore[misc]
            PREVIEW_RENDER
            if preview_job_id is not None
            else RENDER_PARAMS
            if render_params is not None
            else PROJECT_RENDER
            if project_id is not None
            else TEMPLATE_RENDER
            if template_id is not None
            else PREVIEW
            if preview_only
            else RENDER
        )
        _check_when_parsed(storyboard, tuple(allow_unknown_fields))

    def check_before_buying(self, body: dict[str, Any]) -> None:
        """The storyboard's names (voices, brand, styles, layout, template, avatar) against the account's
        lookups (:mod:`pictory_provider.storyboard_names`), unless ``check_names=False``."""
        if self.check_names and self.kind in (RENDER, PREVIEW):
            check_names(body, lambda lookup: getattr(self.hook, lookup)(), self._lookups)

    def _request_params(self) -> dict[str, Any]:
        if self.kind is PROJECT_RENDER:
            return {"project_id": self.project_id}
        if self.kind is TEMPLATE_RENDER:
            return self._template_params()
        if self.kind is PREVIEW_RENDER:
            return {"preview_job_id": self.preview_job_id, "webhook": self.webhook}
        if self.kind is RENDER_PARAMS:
            params = self.render_params
            if isinstance(params, str):  # a template that rendered to text
                params = _parse_storyboard_text(params)
            return {"render_params": params, "webhook": self.webhook}
        storyboard = self.storyboard
        if isinstance(storyboard, str):  # a template that rendered to text: JSON, or a dict's repr (XCom)
            storyboard = _parse_storyboard_text(storyboard)
        return {"storyboard": storyboard, "webhook": self.webhook, "allow_unknown_fields": self.allow_unknown_fields}

    def _template_params(self) -> dict[str, Any]:
        """The template render's arguments, with the template read once (``GET /v1/templates/{id}``, free)
        after the variables' type is checked and before anything is bought."""
        variables = self.variables
        if isinstance(variables, str):  # a template that rendered to text
            variables = _parse_storyboard_text(variables)
        if not isinstance(variables, dict):
            raise PictoryValidationError(
                f"variables must be a dict of the template's variables (got {type(variables).__name__}); "
                "nothing was sent to Pictory",
                [{"name": "variables", "errors": "not a dict"}],
            )
        if self._template is None:
            self._template = self.hook.get_template(str(self.template_id))
        return {
            "template_id": self.template_id,
            "variables": variables,
            "template": self._template,
            "video_name": self.video_name,
            "webhook": self.webhook,
        }


def _check_template_mode(
    template_id: object, variables: object, video_name: object, project_id: object, webhook: object
) -> None:
    """The parameters that belong to one mode only, checked when the DAG is parsed (no network)."""
    if template_id is None and (variables is not None or video_name is not None):
        raise PictoryValidationError("variables= and video_name= go with template_id= (the template to render)")
    if template_id is not None and not isinstance(variables, (dict, str)):
        raise PictoryValidationError(
            "template_id= needs variables= (a dict of the template's variables, e.g. {'Name': 'Ada'}; "
            "read them with PictoryHook().get_template(template_id)['variables'])"
        )
    if project_id is not None and webhook is not None:
        raise PictoryValidationError(
            "project_id= renders a saved project with Pictory's documented request, which has no body: "
            "webhook= cannot be set there (docs.pictory.ai/api-reference/videos/render-project)"
        )


def _has_template(value: object) -> bool:
    if isinstance(value, str):
        return any(mark in value for mark in ("{{", "{%", "{#"))
    if isinstance(value, dict):
        return any(_has_template(item) for item in value.values())
    return isinstance(value, (list, tuple)) and any(_has_template(item) for item in value)


def _check_when_parsed(storyboard: object, allow_unknown_fields: tuple[str, ...] = ()) -> None:
    """The storyboard check when the DAG is parsed (pure, no network): all of it for a literal dict, the
    field names only when values are templates (their rendered values are checked when the task runs)."""
    if not isinstance(storyboard, dict):
        return
    errors = storyboard_errors(storyboard, allow_unknown_fields=allow_unknown_fields)
    if _has_template(storyboard):
        errors = [error for error in errors if error["errors"].startswith("unknown field")]
    if errors:
        shown = "; ".join(error["errors"] for error in errors[:10])
        raise PictoryValidationError(f"Invalid Pictory storyboard (checked when the DAG is parsed): {shown}", errors)


def _parse_storyboard_text(text: str) -> Any:
    """A storyboard from rendered template text: JSON, or the Python literal Jinja renders a dict as."""
    import ast
    import json

    try:
        return json.loads(text)
    except ValueError:
        pass
    except RecursionError:
        raise PictoryValidationError(
            f"Invalid Pictory storyboard: the storyboard cannot be sent: {too_deep()}; nothing was sent to Pictory"
        ) from None
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise PictoryValidationError(
            f"storyboard rendered to text that is neither JSON nor a dict literal: {text[:80]!r}; "
            "nothing was sent to Pictory"
        ) from None
