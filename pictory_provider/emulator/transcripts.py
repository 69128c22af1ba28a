"""The emulator's transcription and highlights jobs: a small recorded webinar, transcribed.

Every transcription job transcribes the same short talk (two speakers, word timings, pause markers
between sentences), in the shapes of ``api-reference/jobs/get-transcription-job-by-id`` and
``docs/video-to-text-usecase``: ``transcript`` (sentences of ``words`` with ``uid``, ``word``,
``start_time``, ``end_time``, ``speakerId``, ``sentence_index``; a pause is a word with
``is_pause: true``, an empty ``word`` and a ``pause_size``), ``txt``, ``srt``, ``vtt`` as texts and
``mediaInfo``. Highlights pick whole sentences (the longest first) that fit the asked duration; their
result shape (``highlight`` segments ``{start, end, text}``, ``summary``) is inferred.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pictory_provider.emulator.jobs import Job, _timestamp
from pictory_provider.transcription import transcript_segments

__all__ = ["WEBINAR", "HighlightsJob", "TranscriptionJob", "highlights_of", "transcript_of"]

#: The talk every transcription finds: ``(speakerId, sentence)``.
WEBINAR = (
    (1, "Welcome to our quarterly product webinar."),
    (1, "Today we show how a recorded talk becomes a short highlight video without any editing."),
    (2, "Thanks for having me."),
    (2, "Our customers upload a recording and get subtitles, a transcript and highlights within minutes."),
    (1, "The highlights are narrated again with subtitles, so they work on social media without sound."),
    (2, "Everything runs every night, and nobody has to remember it."),
    (1, "Thank you for watching, and see you next quarter."),
)
#: Seconds per spoken word, and the pause after each sentence (the emulator's choice).
WORD_SECONDS, PAUSE_SECONDS = 0.4, 0.6
#: Width, height and aspect ratio of ``mediaInfo`` for a video (inferred names: the page says "duration,
#: dimensions, and aspect ratio").
VIDEO_INFO = {"width": 1280, "height": 720, "aspectRatio": "16:9"}


def _uid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(map(str, parts))))


def transcript_of(job_id: str) -> list[dict[str, Any]]:
    """The talk as Pictory's transcript: one item per sentence, its words timed, a pause after it."""
    sentences, clock = [], 0.0
    for index, (speaker, sentence) in enumerate(WEBINAR):
        words = []
        for position, word in enumerate(sentence.split()):
            start, clock = clock, round(clock + WORD_SECONDS, 2)
            words.append(
                {
                    "uid": _uid(job_id, index, position),
                    "word": word,
                    "start_time": start,
                    "end_time": clock,
                    "speakerId": speaker,
                    "sentence_index": index,
                }
            )
        pause_end = round(clock + PAUSE_SECONDS, 2)
        words.append(
            {
                "uid": _uid(job_id, index, "pause"),
                "word": "",
                "start_time": clock,
                "end_time": pause_end,
                "speakerId": speaker,
                "sentence_index": index,
                "is_pause": True,
                "pause_size": "small",
            }
        )
        clock = pause_end
        sentences.append({"uid": _uid(job_id, index), "speakerId": speaker, "words": words})
    return sentences


def subtitles(segments: list[dict[str, Any]], extension: str) -> str:
    """``srt``, ``vtt`` or ``txt`` of timed segments (a cue per segment)."""
    if extension == "txt":
        return "\n".join(segment["text"] for segment in segments) + "\n"
    separator = "," if extension == "srt" else "."
    cues = [
        f"{number}\n{_timestamp(s['start'], separator)} --> {_timestamp(s['end'], separator)}\n{s['text']}\n"
        for number, s in enumerate(segments, 1)
    ]
    return ("" if extension == "srt" else "WEBVTT\n\n") + "\n".join(cues)


def highlights_of(segments: list[dict[str, Any]], seconds: float) -> list[dict[str, Any]]:
    """Whole segments, the longest first, that fit ``seconds`` (at least one), in the talk's order."""
    chosen: list[dict[str, Any]] = []
    used = 0.0
    for segment in sorted(segments, key=lambda s: (-(s["end"] - s["start"]), s["start"])):
        length = segment["end"] - segment["start"]
        if not chosen or used + length <= seconds:
            chosen.append(segment)
            used += length
    return [{key: s[key] for key in ("start", "end", "text")} for s in sorted(chosen, key=lambda s: s["start"])]


@dataclass
class TranscriptionJob(Job):
    """A transcription of ``fileUrl`` (kept in ``prompt``): the talk of :data:`WEBINAR`, whatever the file."""

    kind = "transcription"
    fail_code, fail_message = "TRANSCRIPTION_FAILED", "The file could not be transcribed"
    media_type: str = "video"
    language: str = "en-US"

    @property
    def credits(self) -> float:
        return 0.0  # transcription uses transcription minutes (the quota), not AI credits

    def payload(self, status: Any) -> dict[str, Any]:
        body = super().payload(status)
        body["data"].pop("aiCreditsUsed", None)  # Pictory documents none for a transcription
        return body

    def completed_data(self) -> dict[str, Any]:
        transcript = transcript_of(self.id)
        segments = transcript_segments(transcript)
        info: dict[str, Any] = {"duration": transcript[-1]["words"][-1]["end_time"]}
        if self.media_type == "video":
            info.update(VIDEO_INFO)
        return {
            "transcript": transcript,
            "txt": subtitles(segments, "txt"),
            "srt": subtitles(segments, "srt"),
            "vtt": subtitles(segments, "vtt"),
            "mediaInfo": info,
        }

    def record(self, now: float) -> dict[str, Any]:
        return super().record(now) | {"kind": self.kind, "media_type": self.media_type, "language": self.language}


@dataclass
class HighlightsJob(Job):
    """Highlights of a transcript (sentences or segments): whole sentences fitting ``highlight_duration``."""

    kind = "highlights"
    fail_code, fail_message = "HIGHLIGHTS_FAILED", "The highlights could not be generated"
    transcript: list[Any] | None = None
    highlight_duration: float = 60
    source_job_id: str | None = None

    @property
    def credits(self) -> float:
        return 0.0

    def payload(self, status: Any) -> dict[str, Any]:
        body = super().payload(status)
        body["data"].pop("aiCreditsUsed", None)  # not documented for highlights either
        return body

    def completed_data(self) -> dict[str, Any]:
        segments = [s for s in transcript_segments(self.transcript) if s["text"] and s["start"] is not None]
        chosen = highlights_of(segments, self.highlight_duration)
        return {"highlight": chosen, "summary": " ".join(segment["text"] for segment in chosen)}

    def record(self, now: float) -> dict[str, Any]:
        return super().record(now) | {
            "kind": self.kind,
            "highlight_duration": self.highlight_duration,
            "source_job_id": self.source_job_id,
        }


def new_transcription_job(kind: str, body: dict[str, Any], **common: Any) -> Job:
    """A :class:`TranscriptionJob` or :class:`HighlightsJob` from a validated body."""
    shared: dict[str, Any] = {"model": kind, "aspect_ratio": "16:9", "style": None, "reference_image_url": None}
    if kind == "transcription":
        return TranscriptionJob(
            prompt=str(body["fileUrl"]),
            webhook=body.get("webhook"),
            media_type=body.get("mediaType", "video"),
            language=body.get("language", "en-US"),
            **shared,
            **common,
        )
    segments = transcript_segments(body.get("transcript"))
    return HighlightsJob(
        prompt=" ".join(str(s["text"]) for s in segments)[:200],
        webhook=body.get("webhook"),
        transcript=body.get("transcript"),
        highlight_duration=body.get("highlight_duration", 60),
        source_job_id=body.get("jobId"),
        **shared,
        **common,
    )
