"""Transcription and highlights: a mixin of :class:`~pictory_provider.hooks.pictory.PictoryHook`.

API methods only, over the hook's ``create_job`` (validation first, then the create request with the
never-duplicate rule of every paid request). The contract is :mod:`pictory_provider.transcription`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pictory_provider.exceptions import PictoryValidationError
from pictory_provider.kinds import HIGHLIGHTS, HIGHLIGHTS_FROM_JOB, TRANSCRIPTION
from pictory_provider.transcription import DEFAULT_HIGHLIGHT_DURATION, DEFAULT_LANGUAGE, DEFAULT_MEDIA_TYPE

if TYPE_CHECKING:
    from pictory_provider.kinds import JobKind

__all__ = ["PictoryTranscriptionMixin"]


class PictoryTranscriptionMixin:
    """:meth:`transcribe` and :meth:`generate_highlights` (see :class:`PictoryHook`)."""

    if TYPE_CHECKING:

        def create_job(self, kind: JobKind, *args: Any, **params: Any) -> str: ...

    def transcribe(
        self,
        file_url: str,
        *,
        media_type: str = DEFAULT_MEDIA_TYPE,
        language: str = DEFAULT_LANGUAGE,
        webhook: str | None = None,
    ) -> str:
        """Transcribe a video or audio file (``POST /pictoryapis/v2/transcription``); return the job id.

        Checked before any request: ``file_url`` must be an http(s) URL (upload a local file with
        :meth:`upload_media` first), ``media_type`` ``video`` or ``audio``, ``language`` a language code
        such as ``en-US``, ``webhook`` an http(s) URL. The completed job (:meth:`get_job`) carries
        ``transcript``, ``txt``, ``srt``, ``vtt`` and ``media_info``. The POST follows the never-duplicate
        rule of :meth:`generate_image`.
        """
        return self.create_job(TRANSCRIPTION, file_url, media_type=media_type, language=language, webhook=webhook)

    def generate_highlights(
        self,
        transcript: Any = None,
        *,
        transcription_job_id: str | None = None,
        highlight_duration: int = DEFAULT_HIGHLIGHT_DURATION,
        duration: float | None = None,
        language: str | None = None,
        webhook: str | None = None,
    ) -> str:
        """Highlights of a transcript, or of a completed transcription job; return the highlights job's id.

        ``transcript``: sentences with timed ``words`` (a transcription's ``transcript``) or segments
        ``{text, start, end}`` (``POST /pictoryapis/v2/transcription/highlights``; ``duration`` is the
        source's length in seconds). ``transcription_job_id``: ``POST
        /pictoryapis/v2/transcription/{jobId}/highlights``. ``highlight_duration``: seconds of highlights
        (default 60). An empty transcript, one without timing or both sources are refused before any
        request. The completed job carries ``highlights`` (segments) and ``summary``.
        """
        if (transcript is None) == (transcription_job_id is None):
            raise PictoryValidationError(
                "generate_highlights needs exactly one of transcript= (sentences or segments) and "
                "transcription_job_id= (a completed transcription job); nothing was sent",
                [{"name": "transcript", "errors": "give transcript or transcription_job_id"}],
            )
        if transcription_job_id is not None:
            if duration is not None:
                raise PictoryValidationError(
                    "duration goes with transcript= (Pictory reads a transcription job's own length); nothing was sent",
                    [{"name": "duration", "errors": "not with transcription_job_id"}],
                )
            return self.create_job(
                HIGHLIGHTS_FROM_JOB,
                transcription_job_id,
                highlight_duration=highlight_duration,
                language=language,
                webhook=webhook,
            )
        return self.create_job(
            HIGHLIGHTS,
            transcript,
            highlight_duration=highlight_duration,
            duration=duration,
            language=language,
            webhook=webhook,
        )
