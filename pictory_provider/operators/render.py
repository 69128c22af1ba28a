"""PictoryRenderVideoOperator: a storyboard (script, blog post, scenes) to a finished, narrated video.

The same operator as the AI Studio ones (:class:`~pictory_provider.operators.pictory.PictoryGenerateOperatorBase`),
with one of four job kinds of :mod:`pictory_provider.kinds`: a direct render, a preview, the render of a
reviewed preview, or the render of its (modified) ``renderParams``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pictory_provider.exceptions import PictoryValidationError
from pictory_provider.kinds import PREVIEW, PREVIEW_RENDER, RENDER, RENDER_PARAMS
from pictory_provider.operators.pictory import PictoryGenerateOperatorBase, PictoryVideoLink
from pictory_provider.sensors.pictory import DEFAULT_CONN_ID, DEFAULT_TIMEOUT
from pictory_provider.storyboard import storyboard_errors
from pictory_provider.storyboard_names import check_names

__all__ = ["PictoryRenderVideoOperator"]


class PictoryRenderVideoOperator(PictoryGenerateOperatorBase):
    """Render a Pictory storyboard to a video and, by default, wait for it and store it.

    Four modes:

    * ``storyboard={...}``: render it (``POST /v2/video/storyboard/render``).
    * ``storyboard={...}, preview_only=True``: create a preview job (``POST /v2/video/storyboard``),
      wait for it and return its id (XCom ``job_id``) and its player page (XCom ``preview_url``, and
      ``project_id`` with ``saveProject``); nothing is rendered or paid for yet.
    * ``preview_job_id="..."``: render that reviewed preview (``PUT /v2/video/render/{id}``), e.g.
      after a human approval task.
    * ``render_params={...}``: render a completed preview's ``renderParams``, modified
      (``POST /v2/video/render``; read them with ``PictoryHook().get_job(preview_id).render_params``).

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
        "webhook",
        "output_path",
        "pictory_conn_id",
        "adopt_job_id",
    )
    template_fields_renderers = {"storyboard": "json", "render_params": "json"}
    operator_extra_links = (PictoryVideoLink(),)  # XCom video_url, as a video's

    def __init__(
        self,
        *,
        storyboard: dict[str, Any] | str | None = None,
        preview_job_id: str | None = None,
        preview_only: bool = False,
        render_params: dict[str, Any] | str | None = None,
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
        if sum(source is not None for source in (storyboard, preview_job_id, render_params)) != 1:
            raise PictoryValidationError(
                "PictoryRenderVideoOperator needs one of storyboard= (render it, or preview it with "
                "preview_only=True), preview_job_id= (render a reviewed preview) or render_params= (render a "
                "preview's modified renderParams)"
            )
        if isinstance(allow_unknown_fields, str):
            raise PictoryValidationError("allow_unknown_fields must be a list of field names, not one string")
        if preview_only and storyboard is None:
            raise PictoryValidationError("preview_only=True needs storyboard= (the storyboard to preview)")
        if preview_only and output_path is not None:
            raise PictoryValidationError(
                "preview_only=True makes a preview, which has no video to store: drop output_path here and "
                "set it on the task that renders the reviewed preview (preview_job_id=)"
            )
        self.storyboard = storyboard
        self.preview_job_id = preview_job_id
        self.preview_only = preview_only
        self.render_params = render_params
        self.allow_unknown_fields = tuple(allow_unknown_fields)
        self.webhook = webhook
        self.check_names = check_names
        self._lookups: dict[str, list[Any] | None] = {}  # one read per lookup per task
        self.kind = (  # type: ignore[misc]
            PREVIEW_RENDER
            if preview_job_id is not None
            else RENDER_PARAMS
            if render_params is not None
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
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise PictoryValidationError(
            f"storyboard rendered to text that is neither JSON nor a dict literal: {text[:80]!r}; "
            "nothing was sent to Pictory"
        ) from None
