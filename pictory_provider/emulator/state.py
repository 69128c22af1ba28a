"""The emulator's in-memory state: jobs, faults, counters and the request log (thread-safe)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

from pictory_provider.api import JobStatus
from pictory_provider.emulator.account import CreditAccount
from pictory_provider.emulator.faults import API_ROUTES, Fault, KeyRateLimit, _seconds
from pictory_provider.emulator.jobs import (
    Job,
    OtherJob,
    PreviewJob,
    RenderJob,
    VideoJob,
    decode_page_key,
    encode_page_key,
    new_job,
)
from pictory_provider.emulator.list_settings import (
    LIST_DEFAULTS,
    PAGE_SIZE,
    check_list_settings,
    created_date,
)

REQUEST_LOG_LIMIT = 10_000


class EmulatorState:
    """Jobs, faults and counters shared by the server thread and the controlling thread."""

    def __init__(
        self,
        job_seconds: float = 2.0,
        api_keys: Iterable[str] | None = None,
        rate_limit: float | None = None,
        rate_limit_burst: float | None = None,
    ) -> None:
        self.lock = threading.Lock()
        self.rate_limit = KeyRateLimit(rate_limit, rate_limit_burst)
        self._initial_rate_limit = (self.rate_limit.rate, rate_limit_burst)
        self._job_seconds = _seconds("job_seconds", job_seconds)
        if isinstance(api_keys, str):
            api_keys = [api_keys]
        self._api_keys = None if api_keys is None else frozenset(api_keys)
        self._seq = 0
        self._generation = 0  # bumped by reset() so requests in flight are not counted afterwards
        self._jobs: dict[str, Job] = {}
        self._others: dict[str, OtherJob] = {}
        self.list_config: dict[str, Any] = dict(LIST_DEFAULTS)
        self._faults: list[Fault] = []
        self._requests = dict.fromkeys(API_ROUTES, 0)
        self._responses: dict[str, int] = {}
        self._posts = 0
        self._jobs_created = 0
        self._connections: set[str] = set()
        self._faults_applied = 0
        self._webhooks: list[dict[str, Any]] = []
        self._request_log: list[dict[str, Any]] = []
        self._uploads: dict[str, dict[str, Any]] = {}
        self.credits = CreditAccount()

    # -- control (any thread) -------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self._generation += 1
            self._jobs.clear()
            self._others.clear()
            self.list_config = dict(LIST_DEFAULTS)
            self._faults.clear()
            self._requests = dict.fromkeys(API_ROUTES, 0)
            self._responses.clear()
            self._posts = self._jobs_created = self._faults_applied = 0
            self.rate_limit.configure(*self._initial_rate_limit)
            self._connections.clear()
            self._webhooks.clear()
            self._request_log.clear()
            self._uploads.clear()
            self.credits.reset()

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        with self.lock:
            return [fault.to_dict() for fault in self._faults]

    def set_job_seconds(self, seconds: float) -> None:
        value = _seconds("job_seconds", seconds)
        with self.lock:
            self._job_seconds = value

    @property
    def job_seconds(self) -> float:
        with self.lock:
            return self._job_seconds

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": dict(self._requests),
                "responses": dict(self._responses),
                "posts": self._posts,
                "jobs_created": self._jobs_created,
                "connections": len(self._connections),
                "faults_applied": self._faults_applied,
                "webhooks": [dict(item) for item in self._webhooks],
            }

    def request_log(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(entry) for entry in self._request_log]

    def job_record(self, job_id: str) -> dict[str, Any] | None:
        with self.lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.record(time.time())

    # -- request bookkeeping (server thread) ----------------------------------------------
    @staticmethod
    def auth_kind(header: str | None) -> str:
        """How a request authenticated, never the credential: none, key (``pictai_...``), basic, other."""
        if not header:
            return "none"
        if header.startswith("pictai_"):
            return "key"
        return "basic" if header.lower().startswith("basic ") else "other"

    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("pictai_") or len(header) == len("pictai_"):
            return False
        return self._api_keys is None or header in self._api_keys

    def set_rate_limit(self, rate: float | None, burst: float | None = None) -> dict[str, float | None]:
        """Limit every API key to ``rate`` requests per second (``None``/0: off); see :class:`KeyRateLimit`."""
        with self.lock:
            self.rate_limit.configure(rate, burst)
            return self.rate_limit.settings()

    def begin_request(
        self, route: str, peer: str | None, is_post: bool, key: str | None = None
    ) -> tuple[int, Fault | None]:
        """Count an API request; a request over its key's rate limit gets a ``rate_limit`` fault,
        any other takes (decrements) the first matching queued fault, if any."""
        with self.lock:
            generation = self._generation
            self._requests[route] += 1
            if is_post and route == "create":  # POST, or the PUT that renders a preview
                self._posts += 1
            if peer is not None:
                self._connections.add(peer)
            wait = None if route == "file" else self.rate_limit.take(key, time.monotonic())
            if wait is not None:
                return generation, Fault("rate_limit", route, 1, retry_after=max(1.0, wait))
            for index, fault in enumerate(self._faults):
                if fault.kind != "fail_job" and fault.route in ("any", route):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._faults[index]
                    self._faults_applied += 1
                    return generation, fault
            return generation, None

    def finish_request(
        self,
        generation: int,
        method: str,
        path: str,
        route: str,
        status: int | None,
        started: float,
        auth: str = "none",
        query: str = "",
    ) -> None:
        with self.lock:
            if generation != self._generation:
                return
            if status is not None:
                self._responses[str(status)] = self._responses.get(str(status), 0) + 1
            self._request_log.append(
                {
                    "method": method,
                    "path": path,
                    "query": query,
                    "route": route,
                    "status": status,
                    "time": started,
                    "auth": auth,
                }
            )
            if len(self._request_log) > REQUEST_LOG_LIMIT:
                del self._request_log[: len(self._request_log) - REQUEST_LOG_LIMIT]

    # -- jobs (server thread) --------------------------------------------------------------
    def create_job(self, body: dict[str, Any], origin: str, kind: str = "image") -> Job:
        now = time.time()
        with self.lock:
            self._seq += 1
            job = new_job(
                kind,
                body,
                id=str(uuid.uuid4()),
                seq=self._seq,
                origin=origin,
                created_at=now,
                completes_at=now + self._job_seconds,
            )
            longest = self.list_config["job_seconds_max"]
            if longest is not None and longest > self._job_seconds:
                job.completes_at = now + random.uniform(self._job_seconds, longest)
            for index, fault in enumerate(self._faults):
                if fault.fails_job(job.prompt):
                    job.error_code = fault.error_code or job.fail_code
                    job.error_message = fault.error_message or job.fail_message
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._faults[index]
                    self._faults_applied += 1
                    break
            self.credits.charge(job)  # may raise OutOfCredits (no job) or fail the job
            self._jobs[job.id] = job
            self._jobs_created += 1
            return job

    def render_preview(self, preview_id: str, webhook: str | None, origin: str) -> Job:
        """A render job of a completed preview's storyboard. ``KeyError``: no such preview;
        ``ValueError``: the preview is not completed."""
        with self.lock:
            preview = self._jobs.get(preview_id)
            if not isinstance(preview, PreviewJob):
                raise KeyError(preview_id)
            status = preview.status(time.time())
            if status is not JobStatus.COMPLETED:
                raise ValueError(f"the preview job is {status.value}, not completed")
            body = dict(preview.storyboard or {})
        if webhook is not None:
            body["webhook"] = webhook
        else:
            body.pop("webhook", None)
        return self.create_job(body, origin, "render")

    def transcript_of(self, job_id: str) -> list[Any]:
        """A completed transcription job's ``transcript``. ``KeyError``: no such transcription job;
        ``ValueError``: it is not completed."""
        from pictory_provider.emulator.transcripts import TranscriptionJob

        with self.lock:
            job = self._jobs.get(job_id)
            if not isinstance(job, TranscriptionJob):
                raise KeyError(job_id)
            status = job.status(time.time())
            if status is not JobStatus.COMPLETED:
                raise ValueError(f"the transcription job is {status.value}, not completed")
            return list(job.completed_data()["transcript"])

    def subtitles(self, job_id: str, extension: str) -> str | None:
        """A completed render job's ``srt``, ``vtt`` or ``txt`` text, else ``None``."""
        with self.lock:
            job = self._jobs.get(job_id)
            if not isinstance(job, RenderJob) or job.status(time.time()) is not JobStatus.COMPLETED:
                return None
            return job.subtitles(extension)

    def new_upload(self, file_name: str, content_type: str) -> dict[str, str]:
        """Reserve an upload: its key, signature and the content type the signed ``PUT`` must send."""
        key = f"{uuid.uuid4().hex}/{file_name}"
        signature = uuid.uuid4().hex
        with self.lock:
            self._uploads[key] = {"content_type": content_type, "signature": signature, "body": None}
        return {"key": key, "signature": signature}

    def put_upload(self, key: str, signature: str, content_type: str, body: bytes) -> str | None:
        """Store an upload's bytes; what is wrong (``None`` if stored)."""
        with self.lock:
            upload = self._uploads.get(key)
            if upload is None or upload["signature"] != signature:
                return "SignatureDoesNotMatch"
            if upload["content_type"] != content_type:
                return "SignatureDoesNotMatch: the Content-Type differs from the signed one"
            upload["body"] = body
            return None

    def uploaded(self, key: str) -> tuple[str, bytes] | None:
        with self.lock:
            upload = self._uploads.get(key)
            return None if upload is None or upload["body"] is None else (upload["content_type"], upload["body"])

    def finish_jobs(self) -> list[str]:
        """Every image or video job still in progress reaches its outcome now; returns their ids."""
        now = time.time()
        with self.lock:
            running = [job for job in self._jobs.values() if job.status(now) is JobStatus.IN_PROGRESS]
            for job in running:
                job.completes_at = now
            return [job.id for job in running]

    def job_payload(self, job_id: str) -> dict[str, Any] | None:
        with self.lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.payload(job.status(time.time()))

    def webhook_payload(self, job_id: str) -> tuple[str, dict[str, Any]] | None:
        """The terminal-state body to POST to the job's webhook (``None`` if the job is gone)."""
        with self.lock:
            job = self._jobs.get(job_id)
            if job is None or job.webhook is None:
                return None
            payload = job.payload(job.outcome)
            # webhookInput: "Custom data object that will be included in the webhook POST payload when the job
            # completes" (https://docs.pictory.ai/api-reference/videos/create-storyboard-preview); where in the
            # payload is not documented: inferred as a top-level ``webhookInput`` beside ``job_id`` and ``data``.
            echoed = (getattr(job, "storyboard", None) or {}).get("webhookInput")
            if echoed is not None:
                payload["webhookInput"] = echoed
            return job.webhook, payload

    def record_webhook(self, job_id: str, url: str, status: int | str) -> None:
        with self.lock:
            self._webhooks.append({"job_id": job_id, "url": url, "status": status})

    def clean_job(self, job_id: str) -> JobStatus | None:
        """Clean a finished job; return its status before cleaning (``None`` if unknown)."""
        with self.lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            status = job.status(time.time())
            if status is not JobStatus.IN_PROGRESS:
                job.cleaned = True
            return status

    def file_size(self, job_id: str, kind: str = "image") -> tuple[int, int] | None:
        with self.lock:
            job = self._jobs.get(job_id)
            if job is None or job.kind != kind or job.status(time.time()) is not JobStatus.COMPLETED:
                return None
            return job.size

    def video_media(self, job_id: str) -> tuple[int, int, int] | None:
        """``(width, height, seconds)`` of a completed video job, else ``None``."""
        with self.lock:
            job = self._jobs.get(job_id)
            if not isinstance(job, VideoJob) or job.status(time.time()) is not JobStatus.COMPLETED:
                return None
            return (*job.size, job.seconds)

    def configure_list(self, **settings: Any) -> dict[str, Any]:
        """Change ``GET /jobs`` settings (see :data:`LIST_DEFAULTS`); ``ValueError`` for bad ones."""
        check_list_settings(settings)
        with self.lock:
            self.list_config.update(settings)
            return dict(self.list_config)

    def add_other_jobs(
        self, count: int, *, kind: str = "transcription", status: str = "completed", data_bytes: int = 2000
    ) -> list[str]:
        """Add ``count`` jobs of another type (bulky ``data``: ``data_bytes`` of transcript text)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be an integer >= 0 (got {count!r})")
        if isinstance(data_bytes, bool) or not isinstance(data_bytes, int) or data_bytes < 0:
            raise ValueError(f"data_bytes must be an integer >= 0 (got {data_bytes!r})")
        with self.lock:
            return [self._add_other(kind, str(status), data_bytes) for _ in range(count)]

    def _add_other(self, kind: str, status: str, data_bytes: int) -> str:
        self._seq += 1
        words = ("lorem ipsum dolor sit amet " * (data_bytes // 27 + 1))[:data_bytes]
        data = {
            "jobType": kind,
            "transcript": [{"speakerId": 1, "words": words}],
            "renderProgress": 100,
        }
        job = OtherJob(id=str(uuid.uuid4()), seq=self._seq, status=status, data=data)
        self._others[job.id] = job
        return job.id

    def other_payload(self, job_id: str) -> dict[str, Any] | None:
        with self.lock:
            job = self._others.get(job_id)
            return None if job is None else job.payload()

    def page(self, key: str | None, images: bool, kind: str = "image") -> tuple[list[dict[str, Any]], str | None]:
        """One page, newest first, of all jobs (or, with ``images``, of completed ``kind`` outputs) and the
        next page's key.

        ``ValueError`` for a ``key`` that is not ours.
        """
        now = time.time()
        with self.lock:
            config = self.list_config
            offset_paging = config["paging"] == "offset" and not images
            size = config["page_size"] if not images else PAGE_SIZE
            if key is None:
                position = after = None
            elif offset_paging:
                position, after = decode_page_key(key, "off"), None
            else:
                position, after = None, decode_page_key(key)
            if not images:
                for _ in range(config["arrivals_per_page"]):
                    self._add_other("render", "in-progress", 200)
            everything: list[Job | OtherJob] = [*self._jobs.values()]
            if not images:
                everything.extend(self._others.values())
            everything.sort(key=lambda j: j.seq, reverse=True)
            selected: list[tuple[Job | OtherJob, JobStatus | None]] = []
            for job in everything:
                if after is not None and job.seq >= after:
                    continue
                status = job.status(now) if isinstance(job, Job) else None
                if images and (status is not JobStatus.COMPLETED or getattr(job, "kind", None) != kind):
                    continue
                selected.append((job, status))
            start = position or 0
            more = len(selected) > start + size
            selected = selected[start : start + size]
            if images:
                items = []
                for job, _ in selected:
                    if isinstance(job, Job):
                        item = job.list_item()
                        item.pop("createdDate")
                        created = created_date(
                            job.created_at + config["clock_offset"] + config["created_skew"], config["created_dates"]
                        )
                        if created is not None:
                            item["createdDate"] = created
                        items.append(item)
            else:
                items = []
                for job, status in selected:
                    if isinstance(job, OtherJob):
                        payload = job.payload()
                    else:
                        assert status is not None
                        payload = job.payload(status)
                        if config["list_outputs"] is not True:  # False: status only; "url": a summary
                            kept = ("status", "url") if config["list_outputs"] == "url" else ("status",)
                            payload["data"] = {k: v for k, v in payload["data"].items() if k in kept}
                    items.append({"success": payload["success"], "data": {**payload["data"], "jobId": job.id}})
            if not more:
                return items, None
            if offset_paging:
                return items, encode_page_key(start + size, "off")
            return items, encode_page_key(selected[-1][0].seq)
