"""Connection → credentials: the base URL and API key a :class:`PictoryHook` resolves from Airflow."""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pictory_provider import __version__
from pictory_provider.api import DEFAULT_BASE_URL
from pictory_provider.exceptions import PictoryConfigError

__all__ = [
    "DEFAULT_MAX_REQUESTS_PER_SECOND",
    "USER_AGENT",
    "PictoryCredentials",
    "base_url_from_host",
    "credentials_from_connection",
    "extra_of",
]

log = logging.getLogger(__name__)

#: Requests per second one triggerer process sends for one API key, unless the connection's extra
#: sets ``max_requests_per_second`` (0 turns the cap off).
DEFAULT_MAX_REQUESTS_PER_SECOND = 20.0
USER_AGENT = f"airflow-provider-pictory/{__version__}"


@dataclass(frozen=True)
class PictoryCredentials:
    """Base URL and API key resolved from an Airflow connection (the key never shows in reprs)."""

    base_url: str
    api_key: str = field(repr=False)
    max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND

    @functools.cached_property
    def key_digest(self) -> str:
        """SHA-256 of the API key: identifies the key (e.g. for the rate cap) without holding it."""
        return hashlib.sha256(self.api_key.encode()).hexdigest()

    @functools.cached_property
    def headers(self) -> dict[str, str]:
        return {
            "Authorization": self.api_key,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }


def base_url_from_host(host: str | None, port: int | None = None) -> str:
    """Turn the connection's Base URL field into a URL: empty means Pictory, a bare host means https."""
    value = (host or "").strip()
    if not value:
        return DEFAULT_BASE_URL
    if "://" not in value:
        value = f"https://{value}"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PictoryConfigError(
            f"Unsupported Pictory base URL {host!r}: use an http(s) URL such as {DEFAULT_BASE_URL} "
            "or http://127.0.0.1:8931, or leave the Base URL field empty"
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def credentials_from_connection(conn: Any, conn_id: str, extra: dict[str, Any]) -> PictoryCredentials:
    """Build :class:`PictoryCredentials` from an Airflow ``Connection`` and its parsed extra."""
    api_key = (conn.password or "").strip()
    if not api_key:
        raise PictoryConfigError(
            f"Connection {conn_id!r} has no API key: put your Pictory API key (it starts with 'pictai_') "
            "in the connection's API Key (password) field"
        )
    if not api_key.startswith("pictai_"):
        log.warning("The API key of connection %r does not start with 'pictai_'; Pictory may reject it", conn_id)
    rate = extra.get("max_requests_per_second")
    if rate is None:  # absent, or left empty in the connection form (Airflow >= 3.2 stores null)
        rate = DEFAULT_MAX_REQUESTS_PER_SECOND
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate < 0:
        raise PictoryConfigError(
            f"Connection {conn_id!r}: extra 'max_requests_per_second' must be a number >= 0 "
            f"(0 turns the cap off), got {rate!r}"
        )
    return PictoryCredentials(
        base_url=base_url_from_host(conn.host, conn.port), api_key=api_key, max_requests_per_second=float(rate)
    )


def extra_of(conn: Any) -> dict[str, Any]:
    extra = conn.extra_dejson if conn.extra else {}
    return extra if isinstance(extra, dict) else {}
