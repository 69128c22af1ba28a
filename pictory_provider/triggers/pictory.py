"""PictoryJobTrigger: waits for a Pictory job in Airflow's triggerer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from pictory_provider.api import JobStatus, PictoryJob, job_failure, parse_job, validate_job_id
from pictory_provider.events import ERROR, FAILED, SUCCESS, TIMEOUT, make_event
from pictory_provider.exceptions import PictoryError
from pictory_provider.hooks.pictory import PictoryHook, log_render_progress
from pictory_provider.hooks.scan import StatusScan, scan_registration
from pictory_provider.hooks.transport import DeadlineReached, describe_exception
from pictory_provider.task_settings import check_wait_settings

__all__ = [
    "PictoryJobTrigger",
]


class PictoryJobTrigger(BaseTrigger):
    """Poll a Pictory job until it completes, fails or times out, then fire exactly one event.

    Runs in the triggerer's event loop and never blocks it: the connection is looked up
    asynchronously, requests go through ``aiohttp`` on a keep-alive session shared by every Pictory
    trigger of the loop, and waits use ``asyncio.sleep``. Transient failures (5xx, 429 with
    ``Retry-After``, network errors, timeouts, non-JSON bodies) are retried with backoff inside the
    hook's budget of ``hook_params["max_attempts"]`` (default 5) consecutive failures; exhausting it,
    a 401/403 or a 404 fires an ``error`` event.

    The event (see :mod:`pictory_provider.events`) has ``status`` ∈ success | failed | error | timeout,
    ``job_id``, ``url``, ``width``, ``height``, ``ai_credits_used``, ``error_code``,
    ``error_message``, ``message``, and the video results ``duration``, ``thumbnail_url`` and
    ``last_frame_image_url`` (``None`` for images). One trigger serves every job kind: image and video
    jobs share the job endpoint and its parser.

    Pictory has no cancel endpoint: killing or clearing the deferred task stops the polling, but the
    remote job runs on to completion (and is billed).

    :param job_id: The Pictory job id (a UUID).
    :param pictory_conn_id: The Airflow connection id.
    :param poll_interval: Seconds between polls.
    :param end_time: Wall-clock deadline (epoch seconds); past it the trigger fires ``timeout``. Being
        wall-clock, it survives the trigger being re-created on another triggerer.
    :param hook_params: Extra keyword arguments for :class:`PictoryHook` (JSON primitives), e.g.
        ``{"max_attempts": 8, "retry_min_wait": 2}``.
    :param require_url: A completed job must carry a result URL (default); ``False`` for a preview or
        any job of unknown kind. A rendering job's ``renderProgress`` is logged when it changes.
    """

    def __init__(
        self,
        job_id: str,
        pictory_conn_id: str = PictoryHook.default_conn_name,
        poll_interval: float = 10.0,
        end_time: float | None = None,
        hook_params: dict[str, Any] | None = None,
        require_url: bool = True,
    ) -> None:
        super().__init__()
        self.require_url = bool(require_url)
        self.job_id = validate_job_id(job_id)
        self.pictory_conn_id = pictory_conn_id
        self.poll_interval = float(poll_interval)
        check_wait_settings(self.poll_interval, float("inf"))
        self.end_time = None if end_time is None else float(end_time)
        self.hook_params = dict(hook_params or {})
        json.dumps(self.hook_params)  # must survive the trigger table: fail fast here, not in the triggerer

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "pictory_conn_id": self.pictory_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "hook_params": self.hook_params,
            }
            | ({} if self.require_url else {"require_url": False}),
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        event = await self._wait()
        self.log.info("Pictory job %s: firing %s event (%s)", self.job_id, event["status"], event["message"])
        yield TriggerEvent(event)

    def _until_next_tick(self) -> float:
        """Seconds to sleep: about ``poll_interval``, ending on a shared grid of ticks (1 s, or less).

        Triggers then wake together, so one event-loop wakeup serves every poll due in that tick:
        with 1,000 triggers this cuts the triggerer's CPU per poll about threefold. Rounding to the
        nearest tick keeps the average interval (and detection latency) at ``poll_interval``. (On the
        status scan a trigger does not sleep at all: the scan wakes it when its job changes.)
        """
        tick = min(1.0, self.poll_interval)
        now = asyncio.get_running_loop().time()
        wake = round((now + self.poll_interval) / tick) * tick
        return wake - now if wake > now else wake + tick - now

    async def _poll(self, scan: StatusScan, mode: str, last_status: str | None) -> PictoryJob:
        """One poll: the job's next state from the key's status scan, or its own GET."""
        body, _ = await scan.poll(
            self.job_id, mode, last_status=last_status, poll_interval=self.poll_interval, end_time=self.end_time
        )
        return parse_job(body, self.job_id, require_url=self.require_url)

    async def _wait(self) -> dict[str, Any]:
        hook = PictoryHook(self.pictory_conn_id, **self.hook_params)
        polls, last_status, progress = 0, None, None
        try:
            creds = await hook.aget_credentials()
            async with hook.shared_session(), scan_registration(creds, hook.transport, self.job_id) as scan:
                while True:
                    job = await self._poll(scan, creds.status_polling, last_status)
                    polls += 1
                    progress = log_render_progress(self.log, job, progress)
                    if job.status is JobStatus.COMPLETED:
                        return make_event(SUCCESS, self.job_id, f"completed after {polls} poll(s)", job)
                    failure = job_failure(job)
                    if failure:
                        return make_event(FAILED, self.job_id, f"{job.raw_status} after {polls} poll(s)", job, failure)
                    if job.raw_status != last_status:  # the final status shows in the "firing" line
                        self.log.info("Pictory job %s is %r (poll %d)", self.job_id, job.raw_status, polls)
                        last_status = job.raw_status
                    if job.status is JobStatus.UNKNOWN:
                        self.log.warning("Pictory job %s has undocumented status %r", self.job_id, job.raw_status)
                    # on the list the scan paces the next poll (its tick grid); a per-job GET sleeps here
                    delay = 0.0 if scan.uses_list(creds.status_polling) else self._until_next_tick()
                    if self.end_time is not None:
                        remaining = self.end_time - time.time()
                        if remaining <= 0:
                            raise DeadlineReached
                        delay = min(delay, remaining)
                    if delay:
                        await asyncio.sleep(delay)
        except DeadlineReached:
            return make_event(
                TIMEOUT,
                self.job_id,
                f"still {last_status!r} at the deadline after {polls} answered poll(s); "
                "the job keeps running on Pictory's side",
            )
        except PictoryError as exc:
            self.log.exception("Giving up on Pictory job %s (%d poll(s) answered before)", self.job_id, polls)
            return make_event(ERROR, self.job_id, str(exc), error=(type(exc).__name__, str(exc)))
        except Exception as exc:
            self.log.exception("Unexpected error while polling Pictory job %s", self.job_id)
            return make_event(ERROR, self.job_id, f"unexpected error: {describe_exception(exc)}")
