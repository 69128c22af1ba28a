"""Connection → credentials: the base URL and API key a :class:`PictoryHook` resolves from Airflow."""

from __future__ import annotations

import difflib
import functools
import hashlib
import ipaddress
import logging
import os
import re
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
    "api_key_problem",
    "base_url_from_host",
    "credentials_from_connection",
    "extra_of",
    "is_loopback",
    "is_pictory_host",
    "unreadable_env_connection_hint",
]

log = logging.getLogger(__name__)

#: Requests per second one triggerer process sends for one API key, unless the connection's extra
#: sets ``max_requests_per_second`` (0 turns the cap off).
DEFAULT_MAX_REQUESTS_PER_SECOND = 20.0
USER_AGENT = f"airflow-provider-pictory/{__version__}"
#: Connection extra ``status_polling``: how the triggerer learns job states (``auto`` picks by load).
STATUS_POLLING_MODES = ("auto", "list", "per_job")
#: The connection extra keys the provider reads (a near miss is logged as a likely typo).
EXTRA_SETTINGS = ("scheme", "max_requests_per_second", "status_polling")


@dataclass(frozen=True)
class PictoryCredentials:
    """Base URL and API key resolved from an Airflow connection (the key never shows in reprs)."""

    base_url: str
    api_key: str = field(repr=False)
    max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND
    status_polling: str = "auto"

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


#: The working forms of a connection to a plain-http server such as the emulator, shown in errors.
HTTP_FORMS_HINT = (
    "for a plain-http server such as the emulator use the Base URL 'http://127.0.0.1:8931', "
    "the URI 'pictory://:pictai_...@127.0.0.1:8931' (loopback hosts mean http) or, for any other "
    "host, 'pictory://:pictai_...@myhost:8931?scheme=http'"
)


def is_loopback(hostname: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1): hosts that mean http."""
    name = hostname.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_pictory_host(hostname: str) -> bool:
    name = hostname.lower().rstrip(".")
    return name == "pictory.ai" or name.endswith(".pictory.ai")


def base_url_from_host(host: str | None, port: int | None = None, scheme: object = None) -> str:
    """Turn the connection's Base URL field into a URL.

    Empty means Pictory. A full URL keeps its scheme. A bare host means https, except that loopback
    hosts (``127.0.0.1``, ``localhost``, ``::1``: the emulator) mean http; the connection extra
    ``scheme`` (``"http"`` or ``"https"``) chooses explicitly. Pictory's own hosts are https only.
    """
    wanted = _scheme_from_extra(scheme)
    value = (host or "").strip()
    if not value:
        if wanted == "http":
            raise PictoryConfigError(
                f"Connection extra 'scheme' is 'http' but the Base URL (host) is empty, which means "
                f"{DEFAULT_BASE_URL} (https only): set the host of your http server; {HTTP_FORMS_HINT}"
            )
        return DEFAULT_BASE_URL
    if "://" in value:
        given = value.split("://", 1)[0].lower()
        if wanted and given != wanted:
            raise PictoryConfigError(
                f"Connection extra 'scheme' is {wanted!r} but the Base URL {host!r} says {given!r}: drop one of them"
            )
    else:
        if value.count(":") > 1 and not value.startswith("["):
            value = f"[{value}]"  # a bare IPv6 address, as Airflow's URI parser hands it over
        hostname = urlsplit(f"//{value}").hostname or ""
        value = f"{wanted or ('http' if is_loopback(hostname) else 'https')}://{value}"
    try:
        parts = urlsplit(value)
        has_port = parts.port is not None
    except ValueError:
        parts, has_port = None, False
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise PictoryConfigError(
            f"Unsupported Pictory base URL {host!r}: use an http(s) URL such as {DEFAULT_BASE_URL} "
            f"or http://127.0.0.1:8931, or leave the Base URL field empty ({HTTP_FORMS_HINT})"
        )
    if parts.scheme == "http" and is_pictory_host(parts.hostname):
        raise PictoryConfigError(
            f"Pictory's API at {parts.hostname} is https only: plain http would send the API key "
            f"unencrypted. Leave the Base URL empty (or use https://{parts.hostname})"
        )
    api_path = re.search(r"/pictoryapis(?:/|$)", parts.path.lower())
    api_at = api_path.start() if api_path else -1
    if api_at != -1:
        root = f"{parts.scheme}://{parts.netloc}{parts.path[:api_at]}"
        raise PictoryConfigError(
            f"The Base URL {host!r} includes Pictory's API path ({parts.path[api_at:]}): the provider adds "
            f"/pictoryapis/v1/... to every request itself. Set the Base URL to {root} "
            f"(or leave it empty for {DEFAULT_BASE_URL})"
        )
    netloc = parts.netloc
    if port and not has_port:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def api_key_problem(api_key: str) -> str | None:
    """What makes ``api_key`` unusable in a header (a control or non-Latin-1 character), never echoing it."""
    for index, char in enumerate(api_key):
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            kind = "a line break" if char in "\r\n" else "a control character"
            return f"{kind} (U+{code:04X}) at position {index + 1}"
        if code > 0xFF:
            return f"a character outside Latin-1 (U+{code:04X}) at position {index + 1}"
    return None


def _scheme_from_extra(scheme: object) -> str | None:
    if scheme is None or scheme == "":
        return None
    if not isinstance(scheme, str) or scheme.strip().lower() not in ("http", "https"):
        raise PictoryConfigError(
            f"Connection extra 'scheme' must be 'http' or 'https', got {scheme!r}; {HTTP_FORMS_HINT}"
        )
    return scheme.strip().lower()


def unreadable_env_connection_hint(conn_id: str) -> str:
    """Why a connection set in ``AIRFLOW_CONN_<ID>`` can still be "not defined" (never its value)."""
    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    if not os.environ.get(name):
        return ""
    return (
        f". {name} is set in this process but Airflow could not read it: in the URI form a URL inside "
        f"the host must be percent-encoded (pictory://:pictai_...@http%3A%2F%2F127.0.0.1%3A8931); {HTTP_FORMS_HINT}"
    )


def credentials_from_connection(conn: Any, conn_id: str, extra: dict[str, Any]) -> PictoryCredentials:
    """Build :class:`PictoryCredentials` from an Airflow ``Connection`` and its parsed extra."""
    api_key = (conn.password or "").strip()
    if not api_key:
        raise PictoryConfigError(
            f"Connection {conn_id!r} has no API key: put your Pictory API key (it starts with 'pictai_') "
            "in the connection's API Key (password) field" + _misplaced_key_hint(conn, extra)
        )
    problem = api_key_problem(api_key)
    if problem:
        raise PictoryConfigError(
            f"Connection {conn_id!r}: the API key contains {problem}, so it cannot be sent in an HTTP header; "
            "copy the key again from Pictory and paste it into the connection's API Key (password) field"
        )
    if api_key[:7].lower() == "bearer ":
        raise PictoryConfigError(
            f"Connection {conn_id!r}: the API key starts with 'Bearer ', but Pictory takes the raw key in the "
            "Authorization header: remove 'Bearer ' from the connection's API Key (password) field"
        )
    if not api_key.startswith("pictai_"):
        log.warning("The API key of connection %r does not start with 'pictai_'; Pictory may reject it", conn_id)
    for name in extra:
        close = difflib.get_close_matches(name, EXTRA_SETTINGS, n=1, cutoff=0.75)
        if name not in EXTRA_SETTINGS and close:
            log.warning(
                "Connection %r: extra %r is not a Pictory setting and is ignored; did you mean %r?",
                conn_id,
                name,
                close[0],
            )
    rate = extra.get("max_requests_per_second")
    if rate is None:  # absent, or left empty in the connection form (Airflow >= 3.2 stores null)
        rate = DEFAULT_MAX_REQUESTS_PER_SECOND
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate < 0:
        raise PictoryConfigError(
            f"Connection {conn_id!r}: extra 'max_requests_per_second' must be a number >= 0 "
            f"(0 turns the cap off), got {rate!r}"
        )
    polling = extra.get("status_polling") or "auto"
    if polling not in STATUS_POLLING_MODES:
        raise PictoryConfigError(
            f"Connection {conn_id!r}: extra 'status_polling' must be one of {', '.join(STATUS_POLLING_MODES)}, "
            f"got {polling!r}"
        )
    return PictoryCredentials(
        base_url=base_url_from_host(conn.host, conn.port, extra.get("scheme")),
        api_key=api_key,
        max_requests_per_second=float(rate),
        status_polling=polling,
    )


def _misplaced_key_hint(conn: Any, extra: dict[str, Any]) -> str:
    """Where a key without a password probably went instead (named, never echoed)."""
    if (getattr(conn, "login", None) or "").strip():
        return (
            "; the key seems to be in the Login field: in the URI form the key goes after a colon, "
            "pictory://:pictai_...@ (the colon before the key matters)"
        )
    keys = sorted(k for k in extra if "key" in k.lower() or "token" in k.lower() or k.lower() == "password")
    if keys:
        named = ", ".join(map(repr, keys))
        return f"; the extra has {named}, which the provider does not read: move the key to the password field"
    return ""


def extra_of(conn: Any) -> dict[str, Any]:
    extra = conn.extra_dejson if conn.extra else {}
    return extra if isinstance(extra, dict) else {}
