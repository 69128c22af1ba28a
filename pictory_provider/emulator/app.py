""":class:`PictoryEmulator`: the emulator app served from a daemon thread with its own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from aiohttp import web

from pictory_provider.emulator.faults import make_fault
from pictory_provider.emulator.routes import build_app, finish_jobs, make_runner
from pictory_provider.emulator.state import EmulatorState

__all__ = ["EmulatorState", "PictoryEmulator", "build_app", "make_runner"]


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):  # noqa: S104 - we only map wildcard binds to a reachable address
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class PictoryEmulator:
    """A local Pictory AI Studio API served by aiohttp from a daemon thread (see the package docs)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        job_seconds: float = 2.0,
        api_keys: Iterable[str] | None = None,
        rate_limit: float | None = None,
        rate_limit_burst: float | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._state = EmulatorState(
            job_seconds=job_seconds, api_keys=api_keys, rate_limit=rate_limit, rate_limit_burst=rate_limit_burst
        )
        self._lifecycle = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._app: web.Application | None = None
        self._error: BaseException | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> PictoryEmulator:
        """Start serving in a background thread; return once the socket is bound."""
        with self._lifecycle:
            if self._thread is not None:
                raise RuntimeError("PictoryEmulator is already running")
            ready = threading.Event()
            self._error = None
            thread = threading.Thread(target=self._run, args=(ready,), name="pictory-emulator", daemon=True)
            thread.start()
            ready.wait()
            if self._error is not None:
                thread.join()
                error, self._error = self._error, None
                raise error
            self._thread = thread
        return self

    def stop(self) -> None:
        """Stop the server, close its loop and join its thread (idempotent)."""
        with self._lifecycle:
            thread, loop = self._thread, self._loop
            if thread is None or loop is None:
                return
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            self._thread = None
            self._loop = self._app = None

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # this thread's loop, for code that looks it up implicitly
        runner = make_runner(self._state)
        try:
            try:
                loop.run_until_complete(runner.setup())
                site = web.TCPSite(runner, self.host, self._requested_port)
                loop.run_until_complete(site.start())
                self._port = int(runner.addresses[0][1])
            except BaseException as exc:  # reported to start()'s caller
                self._error = exc
                ready.set()
                return
            self._loop, self._app = loop, runner.app
            ready.set()
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(runner.cleanup())
            pending = asyncio.all_tasks(loop)  # e.g. a "slow" fault still sleeping
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            asyncio.set_event_loop(None)
            loop.close()

    def __enter__(self) -> PictoryEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (once started)."""
        port = self._port if self._port is not None else self._requested_port
        if not port:
            raise RuntimeError("PictoryEmulator has not been started")
        return port

    @property
    def base_url(self) -> str:
        """``http://host:port`` to use as the Pictory base URL."""
        return f"http://{_url_host(self.host)}:{self.port}"

    # -- control ----------------------------------------------------------------------------
    def add_fault(
        self,
        kind: str,
        *,
        route: str = "any",
        count: int = 1,
        status: int | None = None,
        retry_after: float | str | None = None,
        delay: float | None = None,
        body: Any = None,
        error_code: str | None = None,
        error_message: str | None = None,
        size: int | None = None,
        prompt_contains: str | None = None,
    ) -> None:
        """Queue a fault (see the package docstring); ``ValueError`` for an unknown kind or route."""
        self._state.add_fault(
            make_fault(
                kind,
                route=route,
                count=count,
                status=status,
                retry_after=retry_after,
                delay=delay,
                body=body,
                error_code=error_code,
                error_message=error_message,
                size=size,
                prompt_contains=prompt_contains,
            )
        )

    def clear_faults(self) -> None:
        self._state.clear_faults()

    def configure_list(self, **settings: Any) -> dict[str, Any]:
        """``GET /jobs`` settings: ``page_size``, ``paging`` ("key" | "offset"), ``arrivals_per_page``,
        ``list_outputs`` (see :data:`~pictory_provider.emulator.list_settings.LIST_DEFAULTS`); reset restores them."""
        return self._state.configure_list(**settings)

    def add_other_jobs(
        self, count: int, *, kind: str = "transcription", status: str = "completed", data_bytes: int = 2000
    ) -> list[str]:
        """Add jobs of another type to the account (listed, readable, with ``data_bytes`` of data)."""
        return self._state.add_other_jobs(count, kind=kind, status=status, data_bytes=data_bytes)

    def set_rate_limit(self, rate: float | None, burst: float | None = None) -> dict[str, float | None]:
        """Limit each API key to ``rate`` requests per second (a token bucket of ``burst`` tokens,
        default ``rate``): a request over it is answered 429 with ``Retry-After``. ``None``/0 turns
        it off; :meth:`reset` restores the constructor's setting."""
        return self._state.set_rate_limit(rate, burst)

    def faults(self) -> list[dict[str, Any]]:
        """The active faults with their remaining counts."""
        return self._state.faults()

    def set_job_seconds(self, seconds: float) -> None:
        """How long jobs created from now on stay ``in-progress``."""
        self._state.set_job_seconds(seconds)

    def finish_jobs(self) -> int:
        """Every job still ``in-progress`` completes (or fails, if a fault says so) now, its webhook
        (if any) is sent now too; returns how many."""
        loop, app = self._loop, self._app
        if loop is None or app is None:  # not serving: no webhook can be sent
            return len(self._state.finish_jobs())

        async def in_the_loop() -> int:
            return finish_jobs(app)

        return asyncio.run_coroutine_threadsafe(in_the_loop(), loop).result(timeout=30)

    def stats(self) -> dict[str, Any]:
        """A snapshot of the request, response, job, connection, fault and webhook counters."""
        return self._state.stats()

    def reset(self) -> None:
        """Forget all jobs, faults, counters and the request log."""
        self._state.reset()

    def job(self, job_id: str) -> dict[str, Any] | None:
        """The internal record of a job (as ``GET /_emulator/jobs/{id}``), or ``None``."""
        return self._state.job_record(job_id)

    def set_credits(
        self, *, limit: float | None = None, used: float | None = None, when_exhausted: str | None = None
    ) -> dict[str, Any]:
        """Set the AI-credit ``limit``, the credits ``used`` and what happens when they run out
        (``"reject"``: HTTP 402, the default; ``"fail_job"``); return :meth:`credits`."""
        return self._state.credits.configure(limit=limit, used=used, when_exhausted=when_exhausted)

    def credits(self) -> dict[str, Any]:
        """``{"limit", "used", "remaining", "when_exhausted", "ledger"}`` (the ledger newest first)."""
        return self._state.credits.snapshot()

    @property
    def request_log(self) -> list[dict[str, Any]]:
        """A copy of the API request log: ``{"method", "path", "route", "status", "time"}`` per request."""
        return self._state.request_log()
