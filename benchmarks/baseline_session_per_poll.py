"""Shared keep-alive session (ours) vs a new aiohttp.ClientSession per poll (baseline), side by side.

The baseline is the pattern of the dbt Cloud / HTTP provider triggers::

    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers=...) as response: ...

``SessionPerPollTrigger`` below is otherwise identical to ``PictoryJobTrigger``: the same poll loop
(copied from ``PictoryJobTrigger._wait`` minus the outer shared-session block) and the package's own
``PictoryHook.aget_job``/``_asend`` (retries, pacer, timeouts, ``interpret_response``, ``parse_job``);
its hook only replaces ``shared_session()`` by a new ``aiohttp.ClientSession`` per request. Each case
runs through ``capacity.run_case`` (fresh emulator and worker processes, request pacer off).

The TLS cases serve the emulator app over HTTPS with a throwaway CA (``_tls_emulator.py``); both
triggers trust it through ``SSL_CERT_FILE`` (aiohttp's default SSL context loads it), no code change.

Run: ``.venv/bin/python benchmarks/baseline_session_per_poll.py`` (``--no-tls`` to skip TLS).
"""

from __future__ import annotations

import os
import sys
import tempfile

# Importable by the capacity worker (which sets the real environment first); when run as a script
# this process only orchestrates, but importing Airflow below still needs a throwaway home.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="pictory-bench-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import argparse
import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from _common import TerminateOnSignal, md_table
from capacity import capacity_table, derived, run_case

from pictory_provider.api import JobStatus, job_failure
from pictory_provider.events import ERROR, FAILED, SUCCESS, TIMEOUT, make_event
from pictory_provider.exceptions import PictoryError
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.hooks.transport import describe_exception
from pictory_provider.triggers.pictory import PictoryJobTrigger


class SessionPerPollHook(PictoryHook):
    """PictoryHook whose async requests each open (and close) a new ClientSession, hence a new connection.

    Only the session source changes: ``_asend`` (pacer, timeouts, error mapping) and ``aget_job``
    (retries, parsing) are the package's own, so the comparison isolates the session strategy.
    """

    @staticmethod
    @contextlib.asynccontextmanager
    async def shared_session() -> AsyncIterator[aiohttp.ClientSession]:  # type: ignore[override]
        async with aiohttp.ClientSession() as session:
            yield session


class SessionPerPollTrigger(PictoryJobTrigger):
    """PictoryJobTrigger's loop with a session per poll instead of the loop's shared session."""

    async def _wait(self) -> dict[str, Any]:
        hook = SessionPerPollHook(self.pictory_conn_id, **self.hook_params)
        polls, last_status = 0, None
        try:
            while True:
                job = await hook.aget_job(self.job_id)
                polls += 1
                if job.raw_status != last_status:
                    self.log.info("Pictory job %s is %r (poll %d)", self.job_id, job.raw_status, polls)
                    last_status = job.raw_status
                if job.status is JobStatus.COMPLETED:
                    return make_event(SUCCESS, self.job_id, f"completed after {polls} poll(s)", job)
                failure = job_failure(job)
                if failure:
                    return make_event(FAILED, self.job_id, f"{job.raw_status} after {polls} poll(s)", job, failure)
                if job.status is JobStatus.UNKNOWN:
                    self.log.warning("Pictory job %s has undocumented status %r", self.job_id, job.raw_status)
                delay = self.poll_interval
                if self.end_time is not None:
                    remaining = self.end_time - time.time()
                    if remaining <= 0:
                        return make_event(TIMEOUT, self.job_id, f"still {job.raw_status!r} at the deadline")
                    delay = min(delay, remaining)
                await asyncio.sleep(delay)
        except PictoryError as exc:
            self.log.exception("Giving up on Pictory job %s (%d poll(s) answered before)", self.job_id, polls)
            return make_event(ERROR, self.job_id, str(exc))
        except Exception as exc:
            self.log.exception("Unexpected error while polling Pictory job %s", self.job_id)
            return make_event(ERROR, self.job_id, f"unexpected error: {describe_exception(exc)}")


def ratio_table(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> str:
    rows = []
    for ours, base in pairs:
        o, b = derived(ours), derived(base)
        rows.append(
            [
                f"{ours['n']:,}" + (" TLS" if ours["tls"] else ""),
                f"{ours['poll_interval']:g}",
                f"{o['cpu_per_poll_us']:.0f}",
                f"{b['cpu_per_poll_us']:.0f}",
                f"**{b['cpu_per_poll_us'] / o['cpu_per_poll_us']:.1f}x**",
                f"{o['emu_cpu_per_poll_us']:.0f} / {b['emu_cpu_per_poll_us']:.0f}",
                f"{ours['new_peers']:,} / {base['new_peers']:,}",
                f"{ours['max_established']} / {base['max_established']}",
                f"{base['max_time_wait']:,}",
                f"{ours['latency_p99']:.2f} / {base['latency_p99']:.2f}",
                f"{ours['errors']} / {base['errors']}",
            ]
        )
    headers = [
        "N",
        "poll (s)",
        "ours CPU µs/poll",
        "session-per-poll CPU µs/poll",
        "ratio (target ≥ 3x)",
        "emulator CPU µs/poll ours / baseline",
        "client ports seen ours / baseline",
        "max ESTABLISHED ours / baseline",
        "baseline max TIME_WAIT",
        "latency p99 (s) ours / baseline",
        "errors ours / baseline",
    ]
    return md_table(headers, rows)


DEFAULT_CASES = [(100, 1.0), (1000, 1.0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", action="append", metavar="N:POLL", help="plain-HTTP cases (default 100:1 1000:1)")
    parser.add_argument(
        "--tls-case", action="append", metavar="N:POLL", help="TLS cases (default: the plain-HTTP cases)"
    )
    parser.add_argument("--no-tls", action="store_true")
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the workers; collapsed stacks go to DIR")
    args = parser.parse_args()
    cases = [(int(c.split(":")[0]), float(c.split(":")[1])) for c in args.case] if args.case else DEFAULT_CASES
    plan = [(n, poll, False) for n, poll in cases]
    if not args.no_tls:
        tls_cases = [(int(c.split(":")[0]), float(c.split(":")[1])) for c in args.tls_case] if args.tls_case else cases
        plan += [(n, poll, True) for n, poll in tls_cases]
    began = time.monotonic()
    pairs = []
    with TerminateOnSignal():
        for n, poll, tls in plan:
            ours = run_case(n, poll, "ours", tls=tls, profile_dir=args.profile)
            base = run_case(n, poll, "baseline", tls=tls, profile_dir=args.profile)
            pairs.append((ours, base))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(pairs, out, indent=1)
    print("### Shared keep-alive session vs session per poll\n")
    print(ratio_table(pairs))
    print("\nAll runs:\n")
    print(capacity_table([r for pair in pairs for r in pair]))
    print(f"\n_baseline_session_per_poll.py wall time: {time.monotonic() - began:.0f} s_")


if __name__ == "__main__":
    main()
