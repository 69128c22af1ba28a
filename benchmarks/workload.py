"""One case of the many-waiting-jobs workload; ``run_all.py`` runs the cases and writes the page.

N image jobs of one API key are created up front, each finishing at a random moment 5-25 s after
creation. The account also holds older jobs of other types with bulky ``data`` and receives new
ones (other jobs and image jobs nobody waits for) while the N waits run in one event loop, as in a
triggerer. Modes:

- ``package``: :class:`PictoryJobTrigger` as shipped (``status_polling`` auto, rate cap 20/s);
- ``list`` / ``per_job``: the same with the connection extra ``status_polling`` forced (the list
  scan, or one GET per job per poll);
- ``session_per_poll``: the pattern of other providers, one ``GET /jobs/{id}`` per job every
  ``poll`` seconds with a new ``aiohttp`` session for every request and no rate cap. It runs the
  same trigger class (connection lookup, logs, parsing, events), only the session and the polling
  differ, so the comparison measures exactly those.

Prints one JSON object: requests by route, CPU seconds of this process while the waits ran (the
account's other traffic comes from a child process, ``--feed``, so it is not counted),
detection delay (event received minus job completion) p50/p99/max, correct events.

Run: ``python benchmarks/workload.py --base-url http://127.0.0.1:PORT --n 1000 --poll 5 --mode package``
against a fresh ``python -m pictory_provider.emulator --port 0``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

API_KEY = "pictai_benchmark_key"
IMAGES = "/pictoryapis/v1/aistudio/images"
JOBS = "/pictoryapis/v1/jobs"
HEADERS = {"Authorization": API_KEY, "Content-Type": "application/json", "Accept": "application/json"}
OLDER_OTHER_JOBS = 300  # transcriptions already in the account, 3 KB of data each
ARRIVALS_PER_SECOND = 2  # other jobs (renders, in progress) arriving while the triggers wait
NEW_IMAGES_PER_SECOND = 1  # image jobs of the same key that nobody waits for


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def admin(session: aiohttp.ClientSession, base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    method = session.post if body is not None else session.get
    async with method(f"{base}/_emulator/{path}", json=body) as response:
        response.raise_for_status()
        return await response.json()


async def create_jobs(session: aiohttp.ClientSession, base: str, n: int, prefix: str) -> list[str]:
    gate = asyncio.Semaphore(20)

    async def one(i: int) -> str:
        async with gate, session.post(base + IMAGES, json={"prompt": f"{prefix} {i}"}, headers=HEADERS) as r:
            return str((await r.json())["data"]["jobId"])

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def arrivals(session: aiohttp.ClientSession, base: str) -> None:
    i = 0
    while True:
        await asyncio.sleep(1.0)
        await admin(
            session, base, "other_jobs", {"count": ARRIVALS_PER_SECOND, "kind": "render", "status": "rendering"}
        )
        await create_jobs(session, base, NEW_IMAGES_PER_SECOND, f"Unwatched image {i}")
        i += 1


async def feed(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        await arrivals(session, base)


async def wait_package(job_id: str, poll: float) -> dict[str, Any]:
    from pictory_provider.triggers.pictory import PictoryJobTrigger

    async for event in PictoryJobTrigger(job_id, poll_interval=poll).run():
        return dict(event.payload)
    raise RuntimeError("no event")


def use_a_session_per_poll() -> None:
    """Turn the package into the session-per-poll pattern: the same trigger (connection lookup, logs,
    parsing, events), but a new ``aiohttp`` session for every request and no shared one."""
    from pictory_provider.hooks import transport
    from pictory_provider.hooks.pictory import PictoryHook

    @contextlib.asynccontextmanager
    async def new_session() -> AsyncIterator[aiohttp.ClientSession]:
        async with aiohttp.ClientSession() as session:
            yield session

    transport.SHARED_SESSIONS.use = new_session  # type: ignore[method-assign]
    PictoryHook.shared_session = staticmethod(contextlib.nullcontext)  # type: ignore[assignment,method-assign]


async def run(base: str, n: int, poll: float, mode: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        await admin(session, base, "config", {"job_seconds": 5, "job_seconds_max": 25})
        await admin(session, base, "other_jobs", {"count": OLDER_OTHER_JOBS, "data_bytes": 3000})
        job_ids = await create_jobs(session, base, n, "Benchmark image")
        before = await admin(session, base, "stats")
        received: dict[str, float] = {}

        async def wait(job_id: str) -> dict[str, Any]:
            event = await wait_package(job_id, poll)
            received[job_id] = time.time()
            return event

        # The account's other traffic comes from its own process: CPU below is the waits' alone.
        feeder = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--base-url", base, "--feed", stdin=asyncio.subprocess.DEVNULL
        )
        profile_to = os.environ.get("PICTORY_BENCH_PROFILE")  # a cProfile dump of the waits, if set
        profiler = None
        if profile_to:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        cpu0, wall0 = cpu_seconds(), time.monotonic()
        events = await asyncio.gather(*(wait(j) for j in job_ids))
        cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile_to)
        feeder.terminate()
        await feeder.wait()
        after = await admin(session, base, "stats")
        gate = asyncio.Semaphore(50)

        async def record(job_id: str) -> dict[str, Any]:
            async with gate:
                return await admin(session, base, f"jobs/{job_id}")  # type: ignore[no-any-return]

        records = await asyncio.gather(*(record(j) for j in job_ids))
    delays = sorted(received[r["job_id"]] - r["completes_at"] for r in records)
    correct = sum(
        1
        for job_id, event in zip(job_ids, events, strict=True)
        if event["status"] == "success" and event["job_id"] == job_id and event["url"] == f"{base}/files/{job_id}.png"
    )
    requests = {route: after["requests"][route] - before["requests"][route] for route in ("job", "list")}
    return {
        "mode": mode,
        "n": n,
        "poll": poll,
        "requests": requests,
        "requests_total": sum(requests.values()),
        "cpu_seconds": round(cpu, 3),
        "wall_seconds": round(wall, 1),
        "delay_p50": round(statistics.median(delays), 2),
        "delay_p99": round(delays[min(len(delays) - 1, int(0.99 * len(delays)))], 2),
        "delay_max": round(delays[-1], 2),
        "correct": correct,
        "errors": sum(1 for e in events if e["status"] != "success"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--n", type=int)
    parser.add_argument("--poll", type=float)
    parser.add_argument("--mode", choices=("package", "list", "per_job", "session_per_poll"))
    parser.add_argument("--feed", action="store_true", help="only add the account's other jobs, every second")
    args = parser.parse_args()
    if args.feed:
        asyncio.run(feed(args.base_url))
        return
    if args.n is None or args.poll is None or args.mode is None:
        parser.error("--n, --poll and --mode are required (unless --feed)")
    # Airflow reads its home at import time; the connection comes from the environment, as in a triggerer.
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="pictory-bench-")
    extra: dict[str, Any] = {"status_polling": args.mode} if args.mode in ("list", "per_job") else {}
    if args.mode == "session_per_poll":  # other providers: one GET per job per poll, no rate cap
        extra = {"status_polling": "per_job", "max_requests_per_second": 0}
        use_a_session_per_poll()
    conn = {"conn_type": "pictory", "host": args.base_url, "password": API_KEY, "extra": extra}
    os.environ["AIRFLOW_CONN_PICTORY_DEFAULT"] = json.dumps(conn)
    logging.basicConfig(level=logging.WARNING)  # as a triggerer whose trigger logs are at WARNING
    for name in ("airflow", "pictory_provider", "airflow.triggers"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import pictory_provider.triggers.pictory  # noqa: F401  (imports Airflow too: before the clock starts)

    json.dump(asyncio.run(run(args.base_url, args.n, args.poll, args.mode)), sys.stdout)
    print()


if __name__ == "__main__":
    main()
