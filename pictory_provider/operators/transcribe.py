"""PictoryTranscribeOperator (a video or audio file to its transcript and subtitles) and
PictoryHighlightsOperator (a transcript to its highlights and summary).

The same operator as the others (:class:`~pictory_provider.operators.pictory.PictoryGenerateOperatorBase`:
submit once, resume on retry, wait in the triggerer, spend report) with the kinds of
:mod:`pictory_provider.kinds`. Their outputs are *texts* in the job: they are read from the job when it
completes (the trigger's event stays small) and, with ``output_path``, stored as files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pictory_provider.exceptions import PictoryValidationError
from pictory_provider.kinds import HIGHLIGHTS, HIGHLIGHTS_FROM_JOB, TRANSCRIPTION
from pictory_provider.operators.base import PictoryGenerateOperatorBase
from pictory_provider.transcription import (
    DEFAULT_HIGHLIGHT_DURATION,
    DEFAULT_LANGUAGE,
    DEFAULT_MEDIA_TYPE,
    highlights_request_errors,
    transcription_request_errors,
)

__all__ = ["PictoryHighlightsOperator", "PictoryTranscribeOperator"]


class PictoryTranscribeOperator(PictoryGenerateOperatorBase):
    """Transcribe a video or audio file with Pictory and, by default, wait for it and publish the texts.

    ``POST /pictoryapis/v2/transcription``. The request is checked before anything is sent: an
    http(s) ``file_url`` (upload a local recording first with ``PictoryHook().upload_media(path)``),
    ``media_type`` ``video`` or ``audio``, a language code such as ``en-US``, an http(s) ``webhook``.

    The modes and promises of :class:`~pictory_provider.operators.pictory.PictoryGenerateImageOperator`:
    the job id goes to XCom ``job_id`` as soon as Pictory accepts the request; ``wait_for_completion``,
    ``deferrable`` (default), a retry resumes the same job on Airflow >= 3.3 instead of paying twice,
    ``check_quota``. Pictory has no list of transcriptions by file, so a request whose answer was lost
    cannot be looked up: the next try fails with ``PictorySubmissionUnresolvedError`` instead of
    transcribing twice (``resubmit_unclear=True`` to send it again anyway). ``max_ai_credits`` is refused
    (Pictory does not say what a transcription costs before it runs).

    A completed transcription publishes XCom ``transcript_text`` (the plain text, when at most 32,000
    characters; ``None`` above, read the stored ``.txt``), ``media_url`` (``file_url``), ``duration``
    (seconds), ``media_info`` and ``ai_credits_used`` (``None`` when Pictory reports none). With
    ``output_path`` it stores ``<job_id>.srt``, ``.vtt``, ``.txt`` and the word-level transcript as
    ``.json`` (or all four beside a file name: ``talk.txt`` gives ``talk.srt``, ``talk.vtt``, ...), each
    file whole or not at all, and publishes ``srt_path``, ``vtt_path``, ``txt_path``, ``transcript_path``.
    The transcript itself (every word with its timing, speakers, pauses) is in the ``.json`` or
    ``PictoryHook().get_job(job_id).transcript``: it stays out of XCom.

    :param file_url: Public http(s) URL of the video or audio file (MP4, MOV, AVI, MP3, WAV, M4A; templated).
    :param media_type: ``video`` (default) or ``audio`` (templated).
    :param language: The spoken language, e.g. ``en-US`` (default), ``es-ES`` (templated).
    :param webhook: http(s) URL Pictory POSTs the finished job to (templated).

    The other parameters are those of :class:`~pictory_provider.operators.pictory.PictoryGenerateImageOperator`
    (``output_path``: where the four files go, a trailing ``/`` meaning ``<folder>/<job_id>.srt``, ...;
    ``wait_for_completion``, ``deferrable``, ``poll_interval``, ``timeout``, ``pictory_conn_id``, ...).
    """

    kind = TRANSCRIPTION
    request_fields = ("file_url", "media_type", "language", "webhook")
    template_fields: Sequence[str] = (*request_fields, "output_path", "pictory_conn_id", "adopt_job_id")

    def __init__(
        self,
        *,
        file_url: str,
        media_type: str = DEFAULT_MEDIA_TYPE,
        language: str = DEFAULT_LANGUAGE,
        webhook: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.file_url = file_url
        self.media_type = media_type
        self.language = language
        self.webhook = webhook
        literal = {"fileUrl": file_url, "mediaType": media_type, "language": language, "webhook": webhook}
        _check_when_parsed("transcription", literal, transcription_request_errors)

    def _known_outputs(self) -> dict[str, Any]:
        return {"media_url": self.file_url}


class PictoryHighlightsOperator(PictoryGenerateOperatorBase):
    """Generate highlights (and a summary) of a transcript with Pictory and, by default, wait for them.

    Two sources, exactly one of them:

    * ``transcription_job_id="..."``: highlights of a completed transcription job
      (``POST /pictoryapis/v2/transcription/{jobId}/highlights``), e.g.
      ``"{{ ti.xcom_pull(task_ids='transcribe', key='job_id') }}"``.
    * ``transcript=[...]``: sentences with timed ``words`` (a transcription's ``transcript``, edited or
      not) or segments ``{text, start, end}`` (``POST /pictoryapis/v2/transcription/highlights``); a
      template rendered to JSON text (or a dict's repr) is read back; ``duration`` is the source's length.

    Checked before any request: an empty transcript, one without timing or without a spoken word,
    a ``highlight_duration`` that is not a whole number of seconds, a malformed language or webhook.
    The modes and promises of :class:`PictoryTranscribeOperator` (no list of highlights jobs either: an
    unclear create fails the next try instead of paying twice).

    A completed job publishes XCom ``highlights`` (segments ``{start, end, text}``, seconds in the
    source), ``highlights_summary`` (text, when Pictory gives one) and ``ai_credits_used``; with
    ``output_path`` both go to ``<job_id>.json`` (XCom ``highlights_path``). What a completed highlights
    job carries is not documented by Pictory: see docs/transcription.md for what is inferred.

    :param transcript: The transcript (templated); or ``transcription_job_id``.
    :param transcription_job_id: A completed transcription job's id (templated).
    :param highlight_duration: Seconds of highlights wanted (default 60; templated).
    :param duration: The source's length in seconds (with ``transcript``; optional).
    :param language: The transcript's language code, e.g. ``en`` (templated; optional).
    :param webhook: http(s) URL Pictory POSTs the finished job to (templated).

    The other parameters are those of :class:`~pictory_provider.operators.pictory.PictoryGenerateImageOperator`
    (``output_path``: where the highlights' ``.json`` goes).
    """

    kind = HIGHLIGHTS
    template_fields: Sequence[str] = (
        "transcript",
        "transcription_job_id",
        "highlight_duration",
        "language",
        "webhook",
        "output_path",
        "pictory_conn_id",
        "adopt_job_id",
    )
    template_fields_renderers = {"transcript": "json"}

    def __init__(
        self,
        *,
        transcript: Any = None,
        transcription_job_id: str | None = None,
        highlight_duration: int | str = DEFAULT_HIGHLIGHT_DURATION,
        duration: float | None = None,
        language: str | None = None,
        webhook: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (transcript is None) == (transcription_job_id is None):
            raise PictoryValidationError(
                "PictoryHighlightsOperator needs exactly one of transcript= (sentences or segments) and "
                "transcription_job_id= (a completed transcription job)"
            )
        if transcription_job_id is not None and duration is not None:
            raise PictoryValidationError("duration goes with transcript= (a transcription job knows its length)")
        self.transcript = transcript
        self.transcription_job_id = transcription_job_id
        self.highlight_duration = highlight_duration
        self.duration = duration
        self.language = language
        self.webhook = webhook
        self.kind = HIGHLIGHTS_FROM_JOB if transcription_job_id is not None else HIGHLIGHTS  # type: ignore[misc]
        if isinstance(transcript, list):  # a literal transcript (an empty one, say): refused when the DAG is parsed
            _check_when_parsed("highlights", {"transcript": transcript}, highlights_request_errors)

    def _request_params(self) -> dict[str, Any]:
        common = {"highlight_duration": self.highlight_duration, "language": self.language, "webhook": self.webhook}
        if self.kind is HIGHLIGHTS_FROM_JOB:
            return {"transcription_job_id": self.transcription_job_id, **common}
        return {"transcript": self.transcript, "duration": self.duration, **common}


def _check_when_parsed(what: str, body: dict[str, Any], errors_of: Any) -> None:
    """The request check when the DAG is parsed (pure, no network), on the values that are no templates
    or XCom references (those are checked when the task runs, before any request)."""
    literal = {
        name: value
        for name, value in body.items()
        if value is not None
        and (not isinstance(value, str) or not any(mark in value for mark in ("{{", "{%", "{#")))
        and isinstance(value, (str, list))
    }
    errors = [error for error in errors_of(literal) if error["name"].split(".")[0].split("[")[0] in literal]
    if errors:
        shown = "; ".join(error["errors"] for error in errors)
        raise PictoryValidationError(
            f"Invalid Pictory {what} request (checked when the DAG is parsed): {shown}", errors
        )
