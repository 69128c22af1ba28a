"""The transcription and highlights contract: paths, request checks and what a completed job carries.

Pure Python (no Airflow, no HTTP library), shared by the hook, the operators, the job parser and the
emulator. Addresses are under ``https://docs.pictory.ai/``:

- ``api-reference/transcription/video-transcription``: ``POST /pictoryapis/v2/transcription`` with
  ``fileUrl`` (MP4, MOV, AVI, MP3, WAV, M4A over HTTPS), ``mediaType`` (``video`` default, ``audio``),
  ``language`` (default ``en-US``; "over 20 languages") and ``webhook`` -> ``{success, data: {jobId}}``.
- ``api-reference/jobs/get-transcription-job-by-id``: the completed job's ``transcript`` (sentences of
  words with ``start_time``/``end_time``, ``speakerId``, pause markers ``is_pause``/empty ``word``/
  ``pause_size``), ``txt``, ``srt`` and ``vtt`` as the files' *text*, and ``mediaInfo``; "verify both the
  in-progress status and the presence of transcript data to determine completion".
- ``api-reference/transcription/generate-highlights-from-transcript`` (sentences with words) and
  ``api-reference/transcription/video-summary-transcription`` (segments ``{text, start, end}``):
  ``POST /pictoryapis/v2/transcription/highlights`` with ``transcript``, ``highlight_duration``,
  ``duration``, ``language`` (``en``, ``es``, ...), ``webhook``.
- ``api-reference/transcription/generate-highlights-from-job``: ``POST
  /pictoryapis/v2/transcription/{jobId}/highlights`` with ``highlight_duration``, ``webhook``, ``language``.

What a completed highlights job carries is not documented: ``highlight`` (or ``highlights``), a list of
segments, and ``summary`` are inferred (see docs/transcription.md).
"""

from __future__ import annotations

import ast
import json
import logging
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pictory_provider.exceptions import PictoryAPIError, PictoryValidationError

if TYPE_CHECKING:
    from pictory_provider.api import PictoryJob

__all__ = [
    "DEFAULT_HIGHLIGHT_DURATION",
    "DEFAULT_LANGUAGE",
    "DEFAULT_MEDIA_TYPE",
    "HIGHLIGHTS_FROM_JOB_PATH",
    "HIGHLIGHTS_PATH",
    "MAX_XCOM_TEXT_CHARS",
    "MEDIA_FORMATS",
    "MEDIA_TYPES",
    "TRANSCRIPTION_PATH",
    "build_highlights_from_job_request",
    "build_highlights_request",
    "build_transcription_request",
    "highlight_segments",
    "highlights_outputs",
    "highlights_request_errors",
    "job_outputs",
    "read_transcript",
    "transcript_errors",
    "transcript_segments",
    "transcript_text",
    "transcription_outputs",
    "transcription_request_errors",
]

log = logging.getLogger(__name__)

TRANSCRIPTION_PATH = "/pictoryapis/v2/transcription"
HIGHLIGHTS_PATH = "/pictoryapis/v2/transcription/highlights"
#: ``{jobId}``: the id of a completed transcription job.
HIGHLIGHTS_FROM_JOB_PATH = "/pictoryapis/v2/transcription/{jobId}/highlights"

MEDIA_TYPES = ("video", "audio")
DEFAULT_MEDIA_TYPE = "video"
DEFAULT_LANGUAGE = "en-US"
#: The documented file formats ("Supported formats: MP4, MOV, AVI, MP3, WAV, M4A").
MEDIA_FORMATS = ("mp4", "mov", "avi", "mp3", "wav", "m4a")
#: Seconds of highlights when none are asked for (Pictory's example programs ask for 60).
DEFAULT_HIGHLIGHT_DURATION = 60
#: The longest transcript text published as XCom; a longer one is published by its stored file's path.
MAX_XCOM_TEXT_CHARS = 32_000
#: A language code: ``en``, ``en-US`` (the page lists codes of this form; its list itself is not modelled).
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Z]{2})?")
_LANGUAGE_LOOSE = re.compile(r"([A-Za-z]{2,3})(?:[-_ ]([A-Za-z]{2}))?")


def _error(name: str, errors: str) -> dict[str, str]:
    return {"name": name, "errors": errors}


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _language_errors(value: object, example: str) -> list[dict[str, str]]:
    if value is None:
        return []
    if isinstance(value, str) and _LANGUAGE.fullmatch(value):
        return []
    hint = ""
    loose = _LANGUAGE_LOOSE.fullmatch(value.strip()) if isinstance(value, str) else None
    if loose:
        code = loose.group(1).lower() + (f"-{loose.group(2).upper()}" if loose.group(2) else "")
        hint = f"; did you mean {code!r}?"
    return [
        _error(
            "language",
            f"language must be a language code such as {example!r} (one of Pictory's supported languages) "
            f"(got {value!r}){hint}",
        )
    ]


def _webhook_errors(value: object) -> list[dict[str, str]]:
    if value is None or _is_http_url(value):
        return []
    return [_error("webhook", f"webhook must be an absolute http(s) URL (got {value!r})")]


def _raise(what: str, errors: list[dict[str, str]]) -> None:
    if errors:
        shown = "; ".join(error["errors"] for error in errors[:10])
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise PictoryValidationError(f"Invalid Pictory {what} request: {shown}{more}; nothing was sent", errors)


# -- transcription --------------------------------------------------------------------------------


def transcription_request_errors(body: Mapping[str, Any]) -> list[dict[str, str]]:
    """Pictory-style ``fields`` errors of a ``POST /v2/transcription`` body (empty if valid)."""
    errors: list[dict[str, str]] = []
    file_url = body.get("fileUrl")
    if not _is_http_url(file_url):
        shown = "it is missing" if file_url is None else f"got {file_url!r}"
        errors.append(
            _error(
                "fileUrl",
                f"fileUrl must be an absolute http(s) URL of the video or audio file ({shown}); upload a local "
                "file first with PictoryHook().upload_media(path)",
            )
        )
    media_type = body.get("mediaType")
    if media_type is not None and media_type not in MEDIA_TYPES:
        errors.append(_error("mediaType", f"mediaType must be one of {', '.join(MEDIA_TYPES)} (got {media_type!r})"))
    errors += _language_errors(body.get("language"), DEFAULT_LANGUAGE)
    errors += _webhook_errors(body.get("webhook"))
    return errors


def build_transcription_request(
    file_url: str,
    *,
    media_type: str | None = DEFAULT_MEDIA_TYPE,
    language: str | None = DEFAULT_LANGUAGE,
    webhook: str | None = None,
) -> dict[str, Any]:
    """The documented ``POST /v2/transcription`` body, or :class:`PictoryValidationError` naming the field.

    A file whose name ends in a format the page does not list is sent with a warning (a signed URL may
    have no extension at all; Pictory decides).
    """
    candidate = {"fileUrl": file_url, "mediaType": media_type, "language": language, "webhook": webhook}
    body = {name: value for name, value in candidate.items() if value is not None}
    _raise("transcription", transcription_request_errors(body))
    name = urlsplit(file_url).path.rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension and extension not in MEDIA_FORMATS:
        log.warning(
            "fileUrl ends in .%s, which is not among the formats Pictory documents for transcription (%s)",
            extension,
            ", ".join(MEDIA_FORMATS),
        )
    return body


def transcription_outputs(job: PictoryJob) -> dict[str, Any]:
    """The result fields of a completed transcription (the text only up to :data:`MAX_XCOM_TEXT_CHARS`).

    Raises :class:`PictoryAPIError` when the job carries no transcript data (the docs: completion is
    the status *and* the transcript).
    """
    if job.transcript is None:
        raise PictoryAPIError(
            f"Pictory reported transcription job {job.job_id} {job.raw_status!r} without transcript data; "
            "nothing was published (a retry reads the job again)"
        )
    text = job.txt if job.txt is not None else transcript_text(job.transcript)
    if len(text) > MAX_XCOM_TEXT_CHARS:
        log.warning(
            "The transcript of job %s has %d characters, more than the %d published as XCom transcript_text: "
            "it is published as None; its text is in the stored .txt (output_path, XCom txt_path) or "
            "PictoryHook().get_job(job_id).txt",
            job.job_id,
            len(text),
            MAX_XCOM_TEXT_CHARS,
        )
    return {
        "text": text if len(text) <= MAX_XCOM_TEXT_CHARS else None,
        "duration": job.duration,
        "media_info": job.media_info,
        "ai_credits_used": job.ai_credits_used,
    }


def transcript_text(transcript: object) -> str:
    """The spoken words of a transcript (sentences of ``words``, or ``{text}`` segments), a line per sentence."""
    return "\n".join(segment["text"] for segment in transcript_segments(transcript) if segment["text"])


def _words_text(words: list[Any]) -> str:
    spoken = [str(word.get("word", "")) for word in words if isinstance(word, dict) and not word.get("is_pause")]
    return " ".join(word for word in spoken if word)


def transcript_segments(transcript: object) -> list[dict[str, Any]]:
    """One ``{start, end, text, speaker}`` per sentence of a transcript (pause markers left out)."""
    segments: list[dict[str, Any]] = []
    for item in transcript if isinstance(transcript, list) else []:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("words"), list):
            timed = [w for w in item["words"] if isinstance(w, dict) and not w.get("is_pause") and w.get("word")]
            if not timed:
                continue
            start, end = timed[0].get("start_time"), timed[-1].get("end_time")
            text, speaker = _words_text(item["words"]), item.get("speakerId")
        else:
            start, end, speaker = item.get("start"), item.get("end"), item.get("speaker")
            text = str(item.get("text") or item.get("content") or "")
        segments.append({"start": start, "end": end, "text": text, "speaker": speaker})
    return segments


# -- highlights ------------------------------------------------------------------------------------


def transcript_errors(transcript: object) -> list[dict[str, str]]:
    """Why ``transcript`` cannot be sent for highlights: sentences with ``words`` (Generate Highlights from
    Custom Transcript) or segments ``{text, start, end}`` (Video Summary), with at least one spoken word."""
    if not isinstance(transcript, list) or not transcript:
        got = "an empty list" if transcript == [] else type(transcript).__name__
        return [
            _error(
                "transcript",
                f"transcript must be a non-empty list of sentences (with words) or segments {{text, start, end}} "
                f"(got {got}); with a transcription job, pass transcription_job_id instead",
            )
        ]
    errors: list[dict[str, str]] = []
    for index, item in enumerate(transcript):
        where = f"transcript[{index}]"
        if not isinstance(item, dict):
            errors.append(_error(where, f"{where} must be an object (got {type(item).__name__})"))
        elif "words" in item:
            if not isinstance(item["words"], list):
                errors.append(_error(f"{where}.words", f"{where}.words must be a list of word objects"))
                continue
            for position, word in enumerate(item["words"]):
                if not isinstance(word, dict) or not all(_is_number(word.get(k)) for k in ("start_time", "end_time")):
                    errors.append(
                        _error(
                            f"{where}.words[{position}]",
                            f"{where}.words[{position}] needs word, start_time and end_time (seconds)",
                        )
                    )
                    break
        elif not (isinstance(item.get("text"), str) and _is_number(item.get("start")) and _is_number(item.get("end"))):
            errors.append(_error(where, f"{where} needs text, start and end (seconds), or words"))
        if len(errors) >= 10:
            break
    if not errors and not any(segment["text"].strip() for segment in transcript_segments(transcript)):
        errors.append(_error("transcript", "transcript has no spoken words (only pauses or empty text)"))
    return errors


def _duration_errors(body: Mapping[str, Any]) -> list[dict[str, str]]:
    errors = []
    target = body.get("highlight_duration")
    if target is not None and (isinstance(target, bool) or not isinstance(target, int) or target < 1):
        errors.append(
            _error("highlight_duration", f"highlight_duration must be a whole number of seconds >= 1 (got {target!r})")
        )
    total = body.get("duration")
    if total is not None and not (_is_number(total) and total > 0):
        errors.append(_error("duration", f"duration must be the source's length in seconds, > 0 (got {total!r})"))
    return errors


def highlights_request_errors(body: Mapping[str, Any]) -> list[dict[str, str]]:
    """Pictory-style ``fields`` errors of a ``POST /v2/transcription/highlights`` body (empty if valid)."""
    errors = transcript_errors(body.get("transcript"))
    errors += _duration_errors(body)
    errors += _language_errors(body.get("language"), "en")
    errors += _webhook_errors(body.get("webhook"))
    return errors


def read_transcript(value: object) -> object:
    """A transcript from what a template or XCom gives: a list, JSON or Python-literal text of one, or a
    transcription's result or job data (its ``transcript``)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text)
        except ValueError:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                raise PictoryValidationError(
                    f"transcript is text that is neither JSON nor a list literal ({text[:60]!r}...): Pictory needs "
                    "timed sentences or segments; to summarize a transcription job pass transcription_job_id",
                    [_error("transcript", "not a list")],
                ) from None
    if isinstance(value, Mapping):
        data = value.get("data")
        inner: Mapping[str, Any] = data if isinstance(data, Mapping) else value
        value = inner.get("transcript", value)
    return value


def _coerce_seconds(value: object, name: str) -> object:
    """A templated whole number of seconds (``"60"``) as an ``int``; anything else as it is."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer() and name == "highlight_duration":
        return int(value)
    return value


def build_highlights_request(
    transcript: object,
    *,
    highlight_duration: int | str | None = DEFAULT_HIGHLIGHT_DURATION,
    duration: float | None = None,
    language: str | None = None,
    webhook: str | None = None,
) -> dict[str, Any]:
    """The ``POST /v2/transcription/highlights`` body, or :class:`PictoryValidationError` (an empty
    transcript, one without timing, a bad duration, language or webhook) before any request."""
    candidate = {
        "transcript": read_transcript(transcript),
        "highlight_duration": _coerce_seconds(highlight_duration, "highlight_duration"),
        "duration": duration,
        "language": language,
        "webhook": webhook,
    }
    body = {name: value for name, value in candidate.items() if value is not None}
    _raise("highlights", highlights_request_errors(body))
    return body


def build_highlights_from_job_request(
    transcription_job_id: str,
    *,
    highlight_duration: int | str | None = DEFAULT_HIGHLIGHT_DURATION,
    language: str | None = None,
    webhook: str | None = None,
) -> dict[str, Any]:
    """``{"jobId", "highlight_duration", ...}``: ``jobId`` goes into the path, the rest is the body."""
    from pictory_provider.api import validate_job_id

    candidate = {
        "jobId": validate_job_id(transcription_job_id),
        "highlight_duration": _coerce_seconds(highlight_duration, "highlight_duration"),
        "language": language,
        "webhook": webhook,
    }
    body = {name: value for name, value in candidate.items() if value is not None}
    _raise(
        "highlights", _duration_errors(body) + _language_errors(body.get("language"), "en") + _webhook_errors(webhook)
    )
    return body


#: Keys of a completed highlights job's segments (inferred: the page says "identifies the most important
#: segments"; ``highlight`` is the name of the transcription request's own highlights field).
HIGHLIGHT_KEYS = ("highlight", "highlights")


def highlight_segments(value: object) -> list[dict[str, Any]] | None:
    """The highlight segments as ``{start, end, text}`` (``None`` when ``value`` is no list). Each
    segment may be ``{start, end, text}`` or a sentence with ``words`` (both forms Pictory's transcripts use)."""
    if not isinstance(value, list):
        return None
    segments = []
    for item in value:
        if isinstance(item, dict) and "words" in item:
            segments += [{k: s[k] for k in ("start", "end", "text")} for s in transcript_segments([item])]
        elif isinstance(item, dict):
            start = item.get("start", item.get("start_time"))
            end = item.get("end", item.get("end_time"))
            segments.append({"start": start, "end": end, "text": str(item.get("text") or "")})
    return segments


def highlights_outputs(job: PictoryJob) -> dict[str, Any]:
    """The result fields of a completed highlights job; :class:`PictoryAPIError` without highlights."""
    if job.highlights is None:
        raise PictoryAPIError(
            f"Pictory reported highlights job {job.job_id} {job.raw_status!r} without highlight segments; "
            "nothing was published (a retry reads the job again)"
        )
    return {"highlights": job.highlights, "summary": job.summary, "ai_credits_used": job.ai_credits_used}


def job_outputs(data: Mapping[str, Any]) -> dict[str, Any]:
    """The transcription and highlights results of a job's ``data`` as :class:`~pictory_provider.api.PictoryJob`
    fields (``None`` where absent or of another type: these are read, never trusted blindly)."""
    transcript = data.get("transcript")
    media_info = data.get("mediaInfo")
    highlights = next((data[key] for key in HIGHLIGHT_KEYS if data.get(key) is not None), None)
    summary = data.get("summary")
    texts = {name: data.get(name) if isinstance(data.get(name), str) else None for name in ("txt", "srt", "vtt")}
    return {
        "transcript": transcript if isinstance(transcript, list) else None,
        "media_info": media_info if isinstance(media_info, dict) else None,
        "highlights": highlight_segments(highlights),
        "summary": summary if isinstance(summary, str) else None,
        **texts,
    }
