"""PictoryRenderVideoOperator: a storyboard (script, blog post, scenes) to a finished, narrated video.

The same operator as the AI Studio ones (:class:`~pictory_provider.operators.pictory.PictoryGenerateOperatorBase`),
with one of three job kinds of :mod:`pictory_provider.kinds`: a direct render, a preview, or the render
of a reviewed preview.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pictory_provider.exceptions import PictoryValidationError
from pictory_provider.kinds import PREVIEW, PREVIEW_RENDER, RENDER
from pictory_provider.operators.pictory import PictoryGenerateOperatorBase, PictoryVideoLink
from pictory_provider.request_limits import nesting_problem, too_deep
from pictory_provider.sensors.pictory import DEFAULT_CONN_ID, DEFAULT_TIMEOUT

__all__ = ["PictoryRenderVideoOperator"]


class PictoryRenderVideoOperator(PictoryGenerateOperatorBase):
    """Render a Pictory storyboard to a video and, by default, wait for it and store it.

    Three modes:

    * ``storyboard={...}``: render it (``POST /v2/video/storyboard/render``).
    * ``storyboard={...}, preview_only=True``: create a preview job (``POST /v2/video/storyboard``),
      wait for it and return its id (XCom ``job_id``); nothing is rendered or paid for yet.
    * ``preview_job_id="..."``: render that reviewed preview (``PUT /v2/video/render/{id}``), e.g.
      after a human approval task.

    The storyboard is checked before any request (:mod:`pictory_provider.storyboard`): unknown field
    names at the top level and in scenes are refused with the documented name ("did you mean
    videoName?"), as are a missing ``videoName``, scenes without exactly one content source, the
    documented exclusive pairs and an ``avatar`` without ``voiceOver.enabled``; a missing
    ``voiceOver`` (a silent video) and background music without ``volume`` are logged as warnings.

    The modes and promises of :class:`~pictory_provider.operators.pictory.PictoryGenerateImageOperator`:
    the job id goes to XCom ``job_id`` as soon as Pictory accepts the request, ``wait_for_completion``,
    ``deferrable`` (default), a retry resumes the same job on Airflow >= 3.3 instead of paying for a
    second render, and the spend report logs ``aiCreditsUsed``. A render's result: XCom ``video_url``,
    ``share_url``, ``srt_url``, ``vtt_url``, ``txt_url``, ``thumbnail_url``, ``duration`` (seconds, a
    number), ``ai_credits_used``; with ``output_path`` the MP4 and its subtitles are stored
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
    :param preview_only: Create a preview of ``storyboard`` instead of rendering it.
    :param webhook: http(s) URL Pictory POSTs the finished job to (templated).
    :param output_path: Store the MP4 (and ``.srt``/``.vtt``) there (templated; a trailing ``/`` means
        ``<folder>/<job_id>.mp4``).
    :param timeout: Seconds to wait (default one hour; renders take minutes).
    :param poll_interval: Seconds between status polls (default 30, as Pictory's own client).

    The other parameters are those of :class:`~pictory_provider.operators.pictory.PictoryGenerateImageOperator`.
    """

    kind = RENDER
    template_fields: Sequence[str] = ("storyboard", "preview_job_id", "webhook", "output_path", "pictory_conn_id")
    template_fields_renderers = {"storyboard": "json"}
    operator_extra_links = (PictoryVideoLink(),)  # XCom video_url, as a video's

    def __init__(
        self,
        *,
        storyboard: dict[str, Any] | str | None = None,
        preview_job_id: str | None = None,
        preview_only: bool = False,
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
        if (storyboard is None) == (preview_job_id is None):
            raise PictoryValidationError(
                "PictoryRenderVideoOperator needs storyboard= (render it, or preview it with preview_only=True) "
                "or preview_job_id= (render a reviewed preview), not both"
            )
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
        self.webhook = webhook
        self.kind = PREVIEW_RENDER if preview_job_id is not None else PREVIEW if preview_only else RENDER  # type: ignore[misc]

    def _request_params(self) -> dict[str, Any]:
        if self.kind is PREVIEW_RENDER:
            return {"preview_job_id": self.preview_job_id, "webhook": self.webhook}
        storyboard = self.storyboard
        if isinstance(storyboard, str):  # a template that rendered to text: JSON, or a dict's repr (XCom)
            storyboard = _parse_storyboard_text(storyboard)
        return {"storyboard": storyboard, "webhook": self.webhook}


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
