"""What one poll costs on this machine, from an empty event-loop wakeup up to PictoryHook.aget_job.

K pollers on one asyncio loop each poll once a second (K polls/s), against the emulator in another
process; the table gives client CPU per poll (process_time) for:

* ``asyncio.sleep only``: the wakeup alone, no request (the floor of any poller);
* ``raw aiohttp GET, shared session``: ``session.get(...).text()`` on one keep-alive session;
* ``raw aiohttp GET, session per poll``: ``async with ClientSession()`` around each GET (baseline);
* ``PictoryHook.aget_job``: ours (retry wrapper, timeouts, error mapping, parse_job);
* ``aget_job, wakeups aligned``: ours, but every poller sleeps to the next whole second of loop
  time, so the K polls of a second share one wakeup instead of K (what a grid-aligned sleep in the
  trigger would do).

Pollers are spread evenly over the second (except the aligned row), as triggers are in a triggerer.
70 polls/s is the load of 700 triggers at poll_interval=10 s; 700 polls/s that of 7,000.

Run: ``.venv/bin/python benchmarks/poll_floor.py`` (~2 min).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import API_KEY, IMAGES_PATH, UNCAPPED, EmulatorProcess, TerminateOnSignal, airflow_env, log, md_table

VARIANTS = [
    "asyncio.sleep only",
    "raw aiohttp GET, shared session",
    "raw aiohttp GET, session per poll",
    "PictoryHook.aget_job",
    "aget_job, wakeups aligned to 1 s",
]


async def measure(
    variant: str, base_url: str, job_ids: list[str], rate: int, seconds: float, emu: Any
) -> dict[str, float]:
    import aiohttp

    from pictory_provider.hooks.pictory import PictoryHook

    hook = PictoryHook()
    creds = await hook.aget_credentials()
    url = base_url + "/pictoryapis/v1/jobs/"
    async with hook.shared_session() as session:

        async def sleep_only(job_id: str) -> None:
            return None

        async def raw_shared(job_id: str) -> None:
            async with session.get(url + job_id, headers=creds.headers) as response:
                await response.text()

        async def raw_new(job_id: str) -> None:
            async with aiohttp.ClientSession() as own, own.get(url + job_id, headers=creds.headers) as response:
                await response.text()

        async def ours(job_id: str) -> None:
            await hook.aget_job(job_id)

        poll = {
            "asyncio.sleep only": sleep_only,
            "raw aiohttp GET, shared session": raw_shared,
            "raw aiohttp GET, session per poll": raw_new,
            "PictoryHook.aget_job": ours,
            "aget_job, wakeups aligned to 1 s": ours,
        }[variant]
        aligned = "aligned" in variant
        loop = asyncio.get_running_loop()
        count = [0]
        for job_id in job_ids[:5]:
            await poll(job_id)  # warm up

        async def poller(index: int, end: float) -> None:
            job_id = job_ids[index % len(job_ids)]
            if not aligned:
                await asyncio.sleep(index / rate)
            else:
                await asyncio.sleep(1.0 - loop.time() % 1.0)
            while loop.time() < end:
                await poll(job_id)
                count[0] += 1
                await asyncio.sleep(1.0 - loop.time() % 1.0 if aligned else 1.0)

        end = loop.time() + 1.0 + seconds
        cpu0, emu0 = time.process_time(), emu.cpu_seconds()
        await asyncio.gather(*(poller(i, end) for i in range(rate)))
        cpu1, emu1 = time.process_time(), emu.cpu_seconds()
    return {"client": (cpu1 - cpu0) / count[0] * 1e6, "server": (emu1 - emu0) / count[0] * 1e6, "polls": count[0]}


def create_jobs(base_url: str, count: int) -> list[str]:
    ids = []
    for index in range(count):
        body = json.dumps({"prompt": f"floor benchmark {index}"}).encode()
        request = urllib.request.Request(base_url + IMAGES_PATH, data=body, method="POST")  # noqa: S310
        request.add_header("Authorization", API_KEY)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            ids.append(json.loads(response.read())["data"]["jobId"])
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="70,700", help="polls per second to test (default 70,700)")
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per cell (default 4)")
    parser.add_argument("--repeat", type=int, default=2, help="passes; the median per cell is reported")
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    began = time.monotonic()
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    with TerminateOnSignal(), EmulatorProcess(job_seconds=100_000, log_dir=tempfile.mkdtemp()) as emu:
        home = tempfile.mkdtemp(prefix="pictory-bench-home-")
        os.environ.update(airflow_env(emu.base_url, home, conn_extra=UNCAPPED))  # the hook's pacer off
        job_ids = create_jobs(emu.base_url, 50)
        for repeat in range(args.repeat):
            for rate in rates:
                for variant in VARIANTS if repeat % 2 == 0 else VARIANTS[::-1]:
                    log(f"poll_floor: {variant} at {rate}/s")
                    result = asyncio.run(measure(variant, emu.base_url, job_ids, rate, args.seconds, emu))
                    results.setdefault((variant, rate), []).append(result)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({f"{variant} @ {rate}/s": cell for (variant, rate), cell in results.items()}, out, indent=1)
    headers = ["poll path"]
    for rate in rates:
        headers += [f"client µs/poll @ {rate}/s", f"emulator µs/poll @ {rate}/s"]
    rows = []
    for variant in VARIANTS:
        row = [variant]
        for rate in rates:
            cell = results[(variant, rate)]
            row.append(f"{statistics.median(r['client'] for r in cell):.0f}")
            row.append("-" if variant.startswith("asyncio") else f"{statistics.median(r['server'] for r in cell):.0f}")
        rows.append(row)
    print("### Per-poll CPU floor on this machine (client and emulator CPU per poll)\n")
    print(md_table(headers, rows))
    print(f"\n_poll_floor.py wall time: {time.monotonic() - began:.0f} s_")


if __name__ == "__main__":
    main()
