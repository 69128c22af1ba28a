"""The emulator's in-memory state: jobs, faults, counters and the request log (thread-safe)."""

from __future__ import annotations

import base64
import binascii
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pictory_provider import api
from pictory_provider.api import JobStatus
from pictory_provider.emulator.faults import API_ROUTES, Fault, _seconds

PAGE_SIZE = 100
REQUEST_LOG_LIMIT = 10_000
DEFAULT_FAIL_CODE = "IMAGE_GENERATION_FAILED"
DEFAULT_FAIL_MESSAGE = "The image could not be generated"
FILES_PREFIX = "/files/"


@dataclass
class Job:
    """An image job as the emulator stores it."""

    id: str
    seq: int
    prompt: str
    model: str
    aspect_ratio: str
    style: str | None
    reference_image_url: str | None
    webhook: str | None
    origin: str
    created_at: float
    completes_at: float
    error_code: str | None = None
    error_message: str | None = None
    cleaned: bool = False

    @property
    def size(self) -> tuple[int, int]:
        return api.ASPECT_RATIO_SIZES[self.aspect_ratio]

    @property
    def outcome(self) -> JobStatus:
        return JobStatus.FAILED if self.error_code is not None else JobStatus.COMPLETED

    def status(self, now: float) -> JobStatus:
        if self.cleaned:
            return JobStatus.CLEANED
        return JobStatus.IN_PROGRESS if now < self.completes_at else self.outcome

    def payload(self, status: JobStatus) -> dict[str, Any]:
        """The ``GET /jobs/{id}`` body for this job in ``status``."""
        data: dict[str, Any] = {"status": status.value}
        if status is JobStatus.COMPLETED:
            width, height = self.size
            data.update(
                url=f"{self.origin}{FILES_PREFIX}{self.id}.png",
                width=width,
                height=height,
                aiCreditsUsed=api.MODEL_CREDITS[self.model],
            )
        elif status is JobStatus.FAILED:
            data.update(error_code=self.error_code, error_message=self.error_message)
        return {"job_id": self.id, "success": status is not JobStatus.FAILED, "data": data}

    def image_item(self) -> dict[str, Any]:
        width, height = self.size
        item: dict[str, Any] = {
            "url": f"{self.origin}{FILES_PREFIX}{self.id}.png",
            "id": self.id,
            "prompt": self.prompt,
            "aspectRatio": self.aspect_ratio,
            "createdDate": datetime.fromtimestamp(self.created_at, timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "model": self.model,
            "width": width,
            "height": height,
        }
        if self.style is not None:
            item["style"] = self.style
        if self.reference_image_url is not None:
            item["referenceImageUrl"] = self.reference_image_url
        return item

    def record(self, now: float) -> dict[str, Any]:
        width, height = self.size
        return {
            "job_id": self.id,
            "status": self.status(now).value,
            "prompt": self.prompt,
            "model": self.model,
            "aspect_ratio": self.aspect_ratio,
            "style": self.style,
            "reference_image_url": self.reference_image_url,
            "webhook": self.webhook,
            "width": width,
            "height": height,
            "ai_credits_used": api.MODEL_CREDITS[self.model],
            "created_at": self.created_at,
            "completes_at": self.completes_at,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "cleaned": self.cleaned,
        }


def encode_page_key(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode()


def decode_page_key(key: str) -> int:
    """Return the sequence number a ``nextPageKey`` points after; ``ValueError`` if it is not ours."""
    try:
        text = base64.urlsafe_b64decode(key.encode()).decode()
    except (binascii.Error, UnicodeError):
        raise ValueError("invalid nextPageKey") from None
    prefix, _, number = text.partition(":")
    if prefix != "seq" or not number.isdigit():
        raise ValueError("invalid nextPageKey")
    return int(number)


class EmulatorState:
    """Jobs, faults and counters shared by the server thread and the controlling thread."""

    def __init__(self, job_seconds: float = 2.0, api_keys: Iterable[str] | None = None) -> None:
        self.lock = threading.Lock()
        self._job_seconds = _seconds("job_seconds", job_seconds)
        if isinstance(api_keys, str):
            api_keys = [api_keys]
        self._api_keys = None if api_keys is None else frozenset(api_keys)
        self._seq = 0
        self._generation = 0  # bumped by reset() so requests in flight are not counted afterwards
        self._jobs: dict[str, Job] = {}
        self._faults: list[Fault] = []
        self._requests = dict.fromkeys(API_ROUTES, 0)
        self._responses: dict[str, int] = {}
        self._posts = 0
        self._jobs_created = 0
        self._connections: set[str] = set()
        self._faults_applied = 0
        self._webhooks: list[dict[str, Any]] = []
        self._request_log: list[dict[str, Any]] = []

    # -- control (any thread) -------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self._generation += 1
            self._jobs.clear()
            self._faults.clear()
            self._requests = dict.fromkeys(API_ROUTES, 0)
            self._responses.clear()
            self._posts = self._jobs_created = self._faults_applied = 0
            self._connections.clear()
            self._webhooks.clear()
            self._request_log.clear()

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
    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("pictai_") or len(header) == len("pictai_"):
            return False
        return self._api_keys is None or header in self._api_keys

    def begin_request(self, route: str, peer: str | None, is_post: bool) -> tuple[int, Fault | None]:
        """Count an API request and take (decrement) the first matching fault, if any."""
        with self.lock:
            generation = self._generation
            self._requests[route] += 1
            if is_post and route == "create":
                self._posts += 1
            if peer is not None:
                self._connections.add(peer)
            for index, fault in enumerate(self._faults):
                if fault.kind != "fail_job" and fault.route in ("any", route):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._faults[index]
                    self._faults_applied += 1
                    return generation, fault
            return generation, None

    def finish_request(
        self, generation: int, method: str, path: str, route: str, status: int | None, started: float
    ) -> None:
        with self.lock:
            if generation != self._generation:
                return
            if status is not None:
                self._responses[str(status)] = self._responses.get(str(status), 0) + 1
            self._request_log.append(
                {"method": method, "path": path, "route": route, "status": status, "time": started}
            )
            if len(self._request_log) > REQUEST_LOG_LIMIT:
                del self._request_log[: len(self._request_log) - REQUEST_LOG_LIMIT]

    # -- jobs (server thread) --------------------------------------------------------------
    def create_job(self, body: dict[str, Any], origin: str) -> Job:
        now = time.time()
        with self.lock:
            self._seq += 1
            job = Job(
                id=str(uuid.uuid4()),
                seq=self._seq,
                prompt=body["prompt"],
                model=body.get("model", api.DEFAULT_MODEL),
                aspect_ratio=body.get("aspectRatio", api.DEFAULT_ASPECT_RATIO),
                style=body.get("style"),
                reference_image_url=body.get("referenceImageUrl"),
                webhook=body.get("webhook"),
                origin=origin,
                created_at=now,
                completes_at=now + self._job_seconds,
            )
            for index, fault in enumerate(self._faults):
                if fault.fails_job(job.prompt):
                    job.error_code = fault.error_code or DEFAULT_FAIL_CODE
                    job.error_message = fault.error_message or DEFAULT_FAIL_MESSAGE
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._faults[index]
                    self._faults_applied += 1
                    break
            self._jobs[job.id] = job
            self._jobs_created += 1
            return job

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
            return job.webhook, job.payload(job.outcome)

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

    def file_size(self, job_id: str) -> tuple[int, int] | None:
        with self.lock:
            job = self._jobs.get(job_id)
            if job is None or job.status(time.time()) is not JobStatus.COMPLETED:
                return None
            return job.size

    def page(self, after: int | None, images: bool) -> tuple[list[dict[str, Any]], int | None]:
        """One page, newest first, of jobs (or of completed images) created before ``after``."""
        now = time.time()
        with self.lock:
            selected = []
            for job in sorted(self._jobs.values(), key=lambda j: j.seq, reverse=True):
                if after is not None and job.seq >= after:
                    continue
                status = job.status(now)
                if images and status is not JobStatus.COMPLETED:
                    continue
                selected.append((job, status))
            more = len(selected) > PAGE_SIZE
            selected = selected[:PAGE_SIZE]
            if images:
                items = [job.image_item() for job, _ in selected]
            else:
                items = []
                for job, status in selected:
                    payload = job.payload(status)
                    items.append({"success": payload["success"], "data": {**payload["data"], "jobId": job.id}})
            return items, (selected[-1][0].seq if more else None)
