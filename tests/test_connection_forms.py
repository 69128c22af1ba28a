"""Connection forms a new user writes, parsed by Airflow itself, and the connection test's answers.

Each URI goes through ``AIRFLOW_CONN_*`` and Airflow's own Connection parsing to ``PictoryHook``:
the intuitive forms reach a plain-http server (the emulator) as written or fail with a message that
shows the working form; Pictory's own hosts stay https. The connection test ("Test" button, ``airflow
connections test``) answers within seconds and says what is wrong (issue 15).
"""

from __future__ import annotations

import json
import re
import socket
import time

import pytest

from pictory_provider.exceptions import PictoryConfigError
from pictory_provider.hooks.pictory import PictoryHook

from .conftest import API_KEY


def hook_for(monkeypatch: pytest.MonkeyPatch, value: str) -> PictoryHook:
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_FORMS", value)
    return PictoryHook("pictory_forms")


# (connection value with {port} and {key}, the base URL the hook must use)
WORKING_FORMS = [
    # the intuitive URI: a loopback host means http
    ("pictory://:{key}@127.0.0.1:{port}", "http://127.0.0.1:{port}"),
    ("pictory://:{key}@localhost:{port}", "http://localhost:{port}"),
    ("pictory://:{key}@[::1]:{port}", "http://[::1]:{port}"),
    # the explicit scheme as a URI query parameter (Airflow puts it in the extra) or in __extra__
    ("pictory://:{key}@127.0.0.1:{port}?scheme=http", "http://127.0.0.1:{port}"),
    ("pictory://:{key}@127.0.0.1:{port}/?__extra__=%7B%22scheme%22%3A+%22http%22%7D", "http://127.0.0.1:{port}"),
    ("pictory://:{key}@emulator.internal:{port}?scheme=http", "http://emulator.internal:{port}"),
    # the percent-encoded full URL (docs/connection.md)
    ("pictory://:{key}@http%3A%2F%2F127.0.0.1%3A{port}", "http://127.0.0.1:{port}"),
    ("pictory://:{key}@http%3A%2F%2F127.0.0.1:{port}", "http://127.0.0.1:{port}"),
    # JSON forms
    ('{{"conn_type": "pictory", "host": "http://127.0.0.1:{port}", "password": "{key}"}}', "http://127.0.0.1:{port}"),
    ('{{"conn_type": "pictory", "host": "127.0.0.1", "port": {port}, "password": "{key}"}}', "http://127.0.0.1:{port}"),
    (
        '{{"conn_type": "pictory", "host": "emulator.internal:{port}", "password": "{key}", '
        '"extra": {{"scheme": "http"}}}}',
        "http://emulator.internal:{port}",
    ),
    # real hosts keep https
    ("pictory://:{key}@", "https://api.pictory.ai"),
    ("pictory://:{key}@api.pictory.ai", "https://api.pictory.ai"),
    ("pictory://:{key}@pictory-proxy.example.com:{port}", "https://pictory-proxy.example.com:{port}"),
    ("pictory://:{key}@127.0.0.1:{port}?scheme=https", "https://127.0.0.1:{port}"),
    # a proxy's own path is kept (only Pictory's /pictoryapis segment is refused)
    (
        '{{"conn_type": "pictory", "host": "https://proxy.example.com/pictoryapis-relay/", "password": "{key}"}}',
        "https://proxy.example.com/pictoryapis-relay",
    ),
    ('{{"conn_type": "pictory", "password": "{key}", "port": 0}}', "https://api.pictory.ai"),  # the UI's port 0
]


@pytest.mark.parametrize(("value", "base_url"), WORKING_FORMS)
def test_connection_forms_resolve_to_the_base_url(monkeypatch, value, base_url):
    hook = hook_for(monkeypatch, value.format(port=8931, key=API_KEY))
    credentials = hook.get_credentials()
    assert credentials.base_url == base_url.format(port=8931)
    assert credentials.api_key == API_KEY


@pytest.mark.parametrize(
    "value",
    [
        "pictory://:{key}@127.0.0.1:{port}",
        "pictory://:{key}@127.0.0.1:{port}?scheme=http",
        "pictory://:{key}@localhost:{port}",
    ],
)
def test_intuitive_uri_reaches_the_emulator_as_written(monkeypatch, emulator, value):
    port = emulator.base_url.rsplit(":", 1)[1]
    hook = hook_for(monkeypatch, value.format(port=port, key=API_KEY))
    ok, message = hook.test_connection()
    assert ok, message
    assert sum(emulator.stats()["requests"].values()) >= 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("pictory://:{key}@127.0.0.1:8931?scheme=ftp", "extra 'scheme' must be 'http' or 'https'"),
        ("pictory://:{key}@http%3A%2F%2F127.0.0.1%3A8931?scheme=https", "says 'http'"),
        ("pictory://:{key}@?scheme=http", "the Base URL (host) is empty"),
        ("pictory://:{key}@api.pictory.ai?scheme=http", "https only"),
        ("pictory://:{key}@http%3A%2F%2Fapi.pictory.ai", "https only"),
        ("pictory://:{key}@ftp%3A%2F%2F127.0.0.1", "Unsupported Pictory base URL"),
    ],
)
def test_wrong_forms_fail_with_the_working_form(monkeypatch, value, message):
    hook = hook_for(monkeypatch, value.format(key=API_KEY))
    with pytest.raises(PictoryConfigError, match=re.escape(message)) as err:
        hook.get_credentials()
    assert API_KEY not in str(err.value)
    if "https only" not in message:
        assert "pictory://:pictai_...@127.0.0.1:8931" in str(err.value) or "drop one" in str(err.value)
    ok, answer = hook.test_connection()  # the "Test" button shows the same message
    assert not ok and message in answer


# -- the connection test: fast, with a hint ---------------------------------------------------------


def timed_test(monkeypatch: pytest.MonkeyPatch, host: str) -> tuple[float, bool, str]:
    hook = hook_for(monkeypatch, json.dumps({"conn_type": "pictory", "host": host, "password": API_KEY}))
    started = time.monotonic()
    ok, message = hook.test_connection()
    return time.monotonic() - started, ok, message


def test_https_to_the_plain_http_emulator_answers_fast_with_the_http_url(monkeypatch, emulator):
    http_url = emulator.base_url
    https_url = http_url.replace("http://", "https://")
    seconds, ok, message = timed_test(monkeypatch, https_url)
    assert not ok
    assert seconds < 3, f"took {seconds:.1f} s"
    assert f"did you mean {http_url}?" in message
    assert "?scheme=http" in message
    assert API_KEY not in message
    # and the suggested URL works
    assert timed_test(monkeypatch, http_url)[1:] == (True, f"Connected to Pictory at {http_url}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("host", "hint"),
    [
        ("http://127.0.0.1:{free}", "connection refused"),
        ("https://127.0.0.1:{free}", "connection refused"),
        ("https://no-such-host.invalid", "does not resolve"),
    ],
)
def test_errors_that_cannot_heal_are_not_retried(monkeypatch, host, hint):
    seconds, ok, message = timed_test(monkeypatch, host.format(free=free_port()))
    assert not ok
    assert hint in message
    assert "after 1 attempt(s)" in message
    assert seconds < 3, f"took {seconds:.1f} s"


def test_a_transient_failure_gets_one_more_try(monkeypatch, emulator):
    emulator.add_fault("status", status=503, count=1)
    seconds, ok, message = timed_test(monkeypatch, emulator.base_url)
    assert (ok, message) == (True, f"Connected to Pictory at {emulator.base_url}")
    assert seconds < 5

    emulator.add_fault("status", status=503, count=5)
    seconds, ok, message = timed_test(monkeypatch, emulator.base_url)
    assert not ok and "HTTP 503" in message
    assert seconds < 5


def test_wrong_key_says_so(monkeypatch, emulator):
    hook = hook_for(
        monkeypatch, json.dumps({"conn_type": "pictory", "host": emulator.base_url, "password": "not-a-key"})
    )
    ok, message = hook.test_connection()
    assert not ok and "HTTP 401" in message and "check the API key" in message


def test_an_unencoded_url_in_the_uri_names_the_working_forms(monkeypatch):
    """Airflow cannot parse it and reports the connection as missing; the error says why."""
    hook = hook_for(monkeypatch, f"pictory://:{API_KEY}@http://127.0.0.1:8931")
    with pytest.raises(PictoryConfigError, match="AIRFLOW_CONN_PICTORY_FORMS is set in this process but") as err:
        hook.get_credentials()
    assert "http%3A%2F%2F127.0.0.1%3A8931" in str(err.value)
    assert "pictory://:pictai_...@127.0.0.1:8931" in str(err.value)
    assert API_KEY not in str(err.value)


def test_the_plain_http_hint_needs_a_failed_tls_handshake(emulator):
    """A 5xx from a real https server must not read as "speaks plain http" (some answer plain requests)."""
    from pictory_provider.hooks.diagnosis import diagnose_unreachable

    https_url = emulator.base_url.replace("http://", "https://")
    assert diagnose_unreachable(https_url, tls_failed=False) is None
    assert "did you mean http://" in (diagnose_unreachable(https_url, tls_failed=True) or "")


# -- a key or a path in the wrong place: said before any request (review of issue 21) ------------------


@pytest.mark.parametrize("path", ["/pictoryapis/v1", "/pictoryapis/v1/", "/pictoryapis"])
def test_a_base_url_with_the_api_path_names_the_root_before_any_request(monkeypatch, emulator, path):
    # Copied from Pictory's API reference, "https://api.pictory.ai/pictoryapis/v1" used to 404 every
    # request with "Pictory found nothing", which did not say what to change.
    value = json.dumps({"conn_type": "pictory", "host": emulator.base_url + path, "password": API_KEY})
    hook = hook_for(monkeypatch, value)
    with pytest.raises(PictoryConfigError, match="includes Pictory's API path") as err:
        hook.generate_image("A lighthouse at dawn")
    assert f"Set the Base URL to {emulator.base_url} " in str(err.value)
    assert sum(emulator.stats()["requests"].values()) == 0


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("pictory://{key}@127.0.0.1:8931", "the key seems to be in the Login field"),  # the colon forgotten
        ('{{"conn_type": "pictory", "extra": {{"api_key": "{key}"}}}}', "the extra has 'api_key'"),
        ('{{"conn_type": "pictory", "password": "Bearer {key}"}}', "remove 'Bearer '"),  # the raw key, no prefix
    ],
)
def test_a_key_in_the_wrong_field_is_named_without_echoing_it(monkeypatch, emulator, value, hint):
    hook = hook_for(monkeypatch, value.format(key=API_KEY).replace("127.0.0.1:8931", emulator.base_url[7:]))
    with pytest.raises(PictoryConfigError, match="has no API key|starts with 'Bearer '") as err:
        hook.generate_image("A lighthouse at dawn")
    assert hint in str(err.value)
    assert API_KEY not in str(err.value)
    assert sum(emulator.stats()["requests"].values()) == 0


def test_a_missing_connection_in_a_pytest_test_names_the_fixture(monkeypatch):
    # A user's test that imports a DAG and runs dag.test() without the plugin's fixture.
    monkeypatch.delenv("AIRFLOW_CONN_PICTORY_NOWHERE", raising=False)
    with pytest.raises(PictoryConfigError, match="is not defined") as err:
        PictoryHook("pictory_nowhere").get_credentials()
    assert "ask for the provider's `pictory_connection` fixture" in str(err.value)
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # outside pytest (a deployment), no word about fixtures
    with pytest.raises(PictoryConfigError, match="is not defined") as err:
        PictoryHook("pictory_nowhere").get_credentials()
    assert "fixture" not in str(err.value)


@pytest.mark.parametrize(
    ("typo", "meant"), [("max_request_per_second", "max_requests_per_second"), ("status_poling", "status_polling")]
)
def test_a_typo_in_an_extra_key_is_logged_with_the_key_meant(monkeypatch, caplog, typo, meant):
    value = json.dumps({"conn_type": "pictory", "password": API_KEY, "extra": {typo: 1, "unrelated_team_tag": "x"}})
    with caplog.at_level("WARNING", logger="pictory_provider.hooks.connection"):
        hook_for(monkeypatch, value).get_credentials()
    warnings = [r.getMessage() for r in caplog.records if r.name == "pictory_provider.hooks.connection"]
    assert warnings == [
        f"Connection 'pictory_forms': extra {typo!r} is not a Pictory setting and is ignored; did you mean {meant!r}?"
    ]
