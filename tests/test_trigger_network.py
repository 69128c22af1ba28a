"""The triggerer's network under faults (issue #10 items 11, 13-15), against the emulator over real HTTP:
deadlines during retries, proxies from the environment, a slow host next to a healthy one, the rate cap
after a 429 pause and when waiters are cancelled."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from pictory_provider.emulator import PictoryEmulator
from pictory_provider.triggers.pictory import PictoryJobTrigger

from .conftest import API_KEY, conn_json
from .test_trigger import FAST, only_event, run_to_end, submit

FOREVER = 10**6


def connection(base_url: str, rate: float | None = None, api_key: str = API_KEY, polling: str = "per_job") -> str:
    """A connection polling job by job (these tests are about single requests, not the list scan)."""
    conn = json.loads(conn_json(base_url, api_key))
    conn["extra"] = {"status_polling": polling}
    if rate is not None:
        conn["extra"]["max_requests_per_second"] = rate
    return json.dumps(conn)


# -- item 11: end_time holds while failures are retried ------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("retry_after", [None, 20])
async def test_end_time_holds_while_503s_are_retried(pictory_conn, retry_after):
    pictory_conn.set_job_seconds(60)
    job_id = await asyncio.to_thread(submit)
    pictory_conn.add_fault("status", route="job", status=503, count=FOREVER, retry_after=retry_after)
    hook_params = {"max_attempts": 20, "retry_min_wait": 1.0, "retry_max_wait": 30.0}
    trigger = PictoryJobTrigger(job_id, poll_interval=1, end_time=time.time() + 2, hook_params=hook_params)
    started = time.monotonic()
    event = only_event(await run_to_end(trigger, limit=15))
    elapsed = time.monotonic() - started
    assert event["status"] == "timeout", event  # so soft_fail skips, as for any other timeout
    assert "keeps running" in event["message"]
    assert 1.5 <= elapsed < 3.0, elapsed


# -- item 13: HTTP(S)_PROXY / NO_PROXY, and ~/.netrc never replaces the key ------------------------


class ForwardProxy:
    """A minimal HTTP forward proxy on 127.0.0.1 (absolute-form requests, Content-Length bodies)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.authorizations: list[str] = []
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    @staticmethod
    async def _read_message(reader: asyncio.StreamReader) -> tuple[list[bytes], bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")[:-2]
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        return lines, await reader.readexactly(length) if length else b""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from urllib.parse import urlsplit

        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                lines, body = await self._read_message(reader)
                method, target, version = lines[0].split(b" ")
                self.requests.append(target.decode())
                for line in lines[1:]:
                    if line.lower().startswith(b"authorization:"):
                        self.authorizations.append(line.partition(b":")[2].strip().decode())
                parts = urlsplit(target.decode())
                if upstream is None:
                    upstream = await asyncio.open_connection(parts.hostname, parts.port)
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                headers = [line for line in lines[1:] if not line.lower().startswith(b"proxy-")]
                upstream[1].write(b"\r\n".join([b" ".join([method, path.encode(), version]), *headers]) + b"\r\n\r\n")
                upstream[1].write(body)
                response, response_body = await self._read_message(upstream[0])
                writer.write(b"\r\n".join(response) + b"\r\n\r\n" + response_body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            if upstream is not None:
                upstream[1].close()


@pytest.fixture
def clean_proxy_env(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def netrc_for_pictory_host(monkeypatch, tmp_path) -> None:
    """A ~/.netrc entry for the emulator's host, set after the (sync, worker-path) submit."""
    # a ~/.netrc with an entry for the Pictory host (127.0.0.1): it must neither replace nor break the key
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))


@pytest.mark.asyncio
async def test_trigger_goes_through_the_environment_proxy_and_keeps_its_key(pictory_conn, clean_proxy_env, tmp_path):
    pictory_conn.set_job_seconds(0.2)
    job_id = await asyncio.to_thread(submit)
    netrc_for_pictory_host(clean_proxy_env, tmp_path)
    async with ForwardProxy() as proxy:
        clean_proxy_env.setenv("HTTP_PROXY", proxy.url)
        event = only_event(await run_to_end(PictoryJobTrigger(job_id, poll_interval=0.1, hook_params=FAST)))
    assert event["status"] == "success", event
    assert any(target.endswith(f"/pictoryapis/v1/jobs/{job_id}") for target in proxy.requests), proxy.requests
    assert proxy.authorizations and set(proxy.authorizations) == {API_KEY}  # the key, never netrc's Basic


@pytest.mark.asyncio
async def test_no_proxy_bypasses_the_environment_proxy(pictory_conn, clean_proxy_env):
    pictory_conn.set_job_seconds(0.2)
    job_id = await asyncio.to_thread(submit)
    async with ForwardProxy() as proxy:
        clean_proxy_env.setenv("HTTP_PROXY", proxy.url)
        clean_proxy_env.setenv("NO_PROXY", "127.0.0.1")
        event = only_event(await run_to_end(PictoryJobTrigger(job_id, poll_interval=0.1, hook_params=FAST)))
    assert event["status"] == "success", event
    assert proxy.requests == []


# -- item 14: a slow host does not starve a healthy key -------------------------------------------


@pytest.mark.asyncio
async def test_a_slow_host_does_not_delay_a_healthy_key(pictory_conn, monkeypatch):
    pictory_conn.set_job_seconds(0)
    healthy_job = await asyncio.to_thread(submit)
    with PictoryEmulator(job_seconds=60) as slow:
        slow.add_fault("slow", route="job", delay=4, count=FOREVER)
        monkeypatch.setenv("AIRFLOW_CONN_SLOW", connection(slow.base_url, rate=0, api_key=API_KEY + "slow"))
        slow_triggers = [
            PictoryJobTrigger(str(uuid.uuid4()), "slow", poll_interval=1, hook_params=FAST) for _ in range(120)
        ]
        tasks = [asyncio.create_task(run_to_end(t)) for t in slow_triggers]
        try:
            await asyncio.sleep(0.5)  # the slow host now holds every connection it may take
            started = time.monotonic()
            event = only_event(await run_to_end(PictoryJobTrigger(healthy_job, poll_interval=0.1, hook_params=FAST)))
            elapsed = time.monotonic() - started
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    assert event["status"] == "success"
    assert elapsed < 1.5, elapsed  # not behind the slow host's 4 s answers


# -- item 15: the rate cap stays a cap -------------------------------------------------------------


@pytest.mark.asyncio
async def test_rate_cap_holds_after_a_429_pause(pictory_conn, monkeypatch):
    pictory_conn.set_job_seconds(4.0)
    job_ids = [await asyncio.to_thread(submit, f"Capped image {i}") for i in range(25)]
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", connection(pictory_conn.base_url, rate=10))
    start = len(pictory_conn.request_log)
    runs = [asyncio.create_task(run_to_end(PictoryJobTrigger(j, poll_interval=0.1, hook_params=FAST))) for j in job_ids]
    await asyncio.sleep(0.5)
    pictory_conn.add_fault("rate_limit", route="job", retry_after=1, count=1)
    events = await asyncio.gather(*runs)
    assert [only_event(e)["status"] for e in events] == ["success"] * 25
    log = [r for r in pictory_conn.request_log[start:] if r["route"] == "job"]
    limited = next(r["time"] for r in log if r["status"] == 429)
    after = sorted(r["time"] for r in log if r["time"] > limited + 0.05)
    assert len(after) >= 20
    burst = max(sum(1 for t in after if first <= t < first + 0.1) for first in after)
    busiest = max(sum(1 for t in after if first <= t < first + 1.0) for first in after)
    assert burst <= 2 and busiest <= 11, (burst, busiest)


@pytest.mark.asyncio
async def test_cancelled_triggers_release_their_turns(pictory_conn, monkeypatch):
    pictory_conn.set_job_seconds(0)
    job_id = await asyncio.to_thread(submit)
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", connection(pictory_conn.base_url, rate=10))
    waiting = [
        asyncio.create_task(run_to_end(PictoryJobTrigger(str(uuid.uuid4()), poll_interval=5, hook_params=FAST)))
        for _ in range(200)
    ]
    await asyncio.sleep(0.3)  # all 200 queue for their first poll at 10/s (20 s of turns)
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    started = time.monotonic()
    event = only_event(await run_to_end(PictoryJobTrigger(job_id, poll_interval=0.1, hook_params=FAST)))
    assert event["status"] == "success"
    assert time.monotonic() - started < 1.5
