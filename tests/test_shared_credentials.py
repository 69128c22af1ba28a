"""Triggers of one connection that start together share one connection lookup (per event loop)."""

from __future__ import annotations

import asyncio

import pytest

from pictory_provider.exceptions import PictoryConfigError
from pictory_provider.hooks import sessions
from pictory_provider.hooks.pictory import PictoryHook

from .conftest import API_KEY, conn_json


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The connection ids really looked up (Airflow's lookup runs; this only counts, slowly)."""
    calls: list[str] = []
    real = PictoryHook._alookup_credentials

    async def counted(self: PictoryHook):  # type: ignore[no-untyped-def]
        calls.append(self.pictory_conn_id)
        await asyncio.sleep(0.05)  # a lookup that takes a while, as one through Airflow's API server
        return await real(self)

    monkeypatch.setattr(PictoryHook, "_alookup_credentials", counted)
    return calls


@pytest.mark.asyncio
async def test_triggers_starting_together_share_one_lookup(pictory_conn, lookups, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_OTHER", conn_json(pictory_conn.base_url))
    creds = await asyncio.gather(*(PictoryHook().aget_credentials() for _ in range(50)))
    assert lookups == ["pictory_default"]
    assert {c.base_url for c in creds} == {pictory_conn.base_url} and creds[0].api_key == API_KEY
    later = await PictoryHook().aget_credentials()  # moments later: reused too
    assert later == creds[0] and lookups == ["pictory_default"]
    await PictoryHook("pictory_other").aget_credentials()  # another connection id: its own lookup
    assert lookups == ["pictory_default", "pictory_other"]


@pytest.mark.asyncio
async def test_a_changed_connection_variable_is_seen_at_once(pictory_conn, lookups, monkeypatch):
    first = await PictoryHook().aget_credentials()
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json("http://127.0.0.1:9"))
    second = await PictoryHook().aget_credentials()
    assert (first.base_url, second.base_url) == (pictory_conn.base_url, "http://127.0.0.1:9")
    assert len(lookups) == 2


@pytest.mark.asyncio
async def test_reuse_ends_after_a_few_seconds(pictory_conn, lookups, monkeypatch):
    monkeypatch.setattr(sessions, "CREDENTIALS_REUSE_SECONDS", 0.1)
    await PictoryHook().aget_credentials()
    await PictoryHook().aget_credentials()
    assert len(lookups) == 1
    await asyncio.sleep(0.15)
    await PictoryHook().aget_credentials()  # e.g. the connection was edited in the UI meanwhile
    assert len(lookups) == 2


@pytest.mark.asyncio
async def test_a_failed_lookup_is_shared_but_never_reused(emulator, lookups, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json(emulator.base_url, api_key=""))
    results = await asyncio.gather(*(PictoryHook().aget_credentials() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, PictoryConfigError) and "has no API key" in str(r) for r in results)
    assert len(lookups) == 1
    with pytest.raises(PictoryConfigError, match="has no API key"):
        await PictoryHook().aget_credentials()
    assert len(lookups) == 2  # the failure was not kept: the next trigger looks again


@pytest.mark.asyncio
async def test_a_cancelled_trigger_does_not_cancel_the_others_lookup(pictory_conn, lookups):
    first = asyncio.create_task(PictoryHook().aget_credentials())
    second = asyncio.create_task(PictoryHook().aget_credentials())
    await asyncio.sleep(0.01)  # both wait for the one lookup
    first.cancel()
    creds = await second
    assert first.cancelled() and creds.base_url == pictory_conn.base_url and len(lookups) == 1


def test_event_loops_do_not_share_lookups(pictory_conn, lookups):
    asyncio.run(PictoryHook().aget_credentials())
    asyncio.run(PictoryHook().aget_credentials())
    assert len(lookups) == 2
