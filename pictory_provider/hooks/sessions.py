"""The triggerer's shared resources: one ``aiohttp`` session per event loop (with the
environment's proxies), one request pacer per API key (:mod:`pictory_provider.hooks.ratelimit`) and
one connection lookup for the triggers of a connection that start together.

Used by :class:`~pictory_provider.hooks.transport.PictoryTransport`'s async path and the status scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp

from pictory_provider.hooks.connection import PictoryCredentials
from pictory_provider.hooks.ratelimit import MAX_IN_FLIGHT_PER_KEY, DeadlineReached, RequestPacer, pacer_for

__all__ = [
    "CREDENTIALS_REUSE_SECONDS",
    "MAX_IN_FLIGHT_PER_KEY",
    "SHARED_CREDENTIALS",
    "SHARED_SESSIONS",
    "DeadlineReached",
    "RequestPacer",
    "env_proxy_for",
    "pacer_for",
]


def env_proxy_for(url: str) -> tuple[str | None, aiohttp.BasicAuth | None]:
    """The proxy ``HTTP(S)_PROXY``/``NO_PROXY`` name for ``url`` (as ``requests`` reads them), or None.

    Read explicitly instead of with ``aiohttp``'s ``trust_env``, which would also apply a ``~/.netrc``
    entry for the Pictory host (and then refuse the request next to our ``Authorization`` header).
    """
    from aiohttp.helpers import get_env_proxy_for_url
    from yarl import URL

    try:
        proxy, proxy_auth = get_env_proxy_for_url(URL(url))
    except LookupError:
        return None, None
    return str(proxy), proxy_auth


class _SharedSessions:
    """One keep-alive ``aiohttp.ClientSession`` per event loop, shared by every hook on that loop.

    The triggerer runs all triggers in one event loop, so hundreds of waiting jobs reuse a few pooled
    TCP (and TLS) connections instead of opening one per poll. A session is closed when its last user
    leaves, so short-lived loops (``dag.test()``, pytest) leak nothing. No host may take more than
    ``limit_per_host`` of the pool (and no key more than :data:`MAX_IN_FLIGHT_PER_KEY`), so a slow
    host cannot starve the others. Proxies come from the environment, read once per session and base
    URL (:func:`env_proxy_for`).
    """

    def __init__(self) -> None:
        self._sessions: dict[asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, int]] = {}
        self._proxies: weakref.WeakKeyDictionary[
            aiohttp.ClientSession, dict[str, tuple[str | None, aiohttp.BasicAuth | None]]
        ] = weakref.WeakKeyDictionary()

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[aiohttp.ClientSession]:
        loop = asyncio.get_running_loop()
        session, users = self._sessions.get(loop, (None, 0))
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=256, limit_per_host=64, keepalive_timeout=75)
            session, users = aiohttp.ClientSession(connector=connector), 0
        self._sessions[loop] = (session, users + 1)
        try:
            yield session
        finally:
            current, users = self._sessions[loop]
            if users <= 1:
                del self._sessions[loop]
                await current.close()
            else:
                self._sessions[loop] = (current, users - 1)

    async def proxy_for(self, session: aiohttp.ClientSession, base_url: str) -> tuple[str | None, Any]:
        """The environment's proxy for ``base_url`` (looked up once per session, off the loop)."""
        proxies = self._proxies.setdefault(session, {})
        if base_url not in proxies:
            proxies[base_url] = await asyncio.to_thread(env_proxy_for, base_url)
        return proxies[base_url]


SHARED_SESSIONS = _SharedSessions()


#: How long a connection's resolved credentials serve the other triggers of the same event loop
#: (seconds). Changing the connection's ``AIRFLOW_CONN_<ID>`` variable takes effect at once.
CREDENTIALS_REUSE_SECONDS = 5.0


@dataclass(eq=False)
class _Lookup:
    task: asyncio.Task[PictoryCredentials]
    expires: float = float("inf")  # loop time; set when the lookup succeeds


class _SharedCredentials:
    """One connection lookup for the triggers of one connection that start together.

    A mapped sensor or a triggerer restart starts hundreds of triggers of one connection at once;
    each looking the connection up costs the triggerer CPU (and, on Airflow 3, a request to the
    execution API through the triggerer's supervisor). Here lookups of one connection id in one
    event loop that overlap share one answer, which also serves the loop's later lookups for
    :data:`CREDENTIALS_REUSE_SECONDS`. Safe to share: a triggerer looks every connection up with
    the same identity, whichever task a trigger waits for. A failed
    lookup is never reused, a cancelled trigger does not cancel the lookup the others wait for, and
    the connection's environment variable is part of the key, so setting it anew (tests, the pytest
    plugin) is seen at once.
    """

    def __init__(self) -> None:
        self._lookups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], _Lookup]] = (
            weakref.WeakKeyDictionary()
        )

    async def get(
        self, conn_id: str, resolve: Callable[[], Coroutine[Any, Any, PictoryCredentials]]
    ) -> PictoryCredentials:
        """The credentials of ``conn_id``: from a lookup running or finished moments ago, or ``resolve()``."""
        loop = asyncio.get_running_loop()
        lookups = self._lookups.setdefault(loop, {})
        env_value = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}", "")
        key = (conn_id, hashlib.sha256(env_value.encode()).hexdigest())
        lookup = lookups.get(key)
        if lookup is None or loop.time() >= lookup.expires:
            lookup = lookups[key] = _Lookup(loop.create_task(resolve()))
            lookup.task.add_done_callback(functools.partial(self._finished, lookups, key, lookup))
        return await asyncio.shield(lookup.task)

    @staticmethod
    def _finished(lookups: dict[tuple[str, str], _Lookup], key: tuple[str, str], lookup: _Lookup, task: Any) -> None:
        if not task.cancelled() and task.exception() is None:
            lookup.expires = asyncio.get_running_loop().time() + CREDENTIALS_REUSE_SECONDS
        elif lookups.get(key) is lookup:  # failed: the next trigger looks the connection up again
            del lookups[key]


SHARED_CREDENTIALS = _SharedCredentials()
