"""Hardening against hostile or broken answers (issue #28), over real HTTP against the emulator.

The key quoted back by a server, ``Retry-After`` past any deadline, a refused connection diagnosed at
once, an upload ``PUT`` answered with a redirect: each is injected with the emulator's faults.
"""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import quote

import pytest

from pictory_provider.exceptions import PictoryAuthError, PictoryError
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.triggers.pictory import PictoryJobTrigger

from .conftest import conn_json

FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}
#: A key with characters that URL-encoding changes, so the encoded form differs from the raw one.
ODD_KEY = "pictai_k3y+with/odd=chars"
ECHOES = (ODD_KEY, quote(ODD_KEY, safe=""), quote(ODD_KEY, safe="").lower())


def echo_key(emulator, route: str, count: int = 1) -> None:
    """A proxy or WAF that quotes the Authorization value back, raw and URL-encoded."""
    body = {"message": f"Unauthorized key {ODD_KEY} (as sent: {quote(ODD_KEY, safe='')})"}
    emulator.add_fault("status", route=route, status=401, body=body, count=count)


@pytest.fixture
def odd_key_conn(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json(emulator.base_url, ODD_KEY))
    return emulator


def assert_no_key(text: str) -> None:
    for form in ECHOES:
        assert form not in text, form


def test_a_key_quoted_back_never_reaches_a_worker_error_or_log(odd_key_conn, caplog):
    echo_key(odd_key_conn, "quota")
    with caplog.at_level(logging.DEBUG), pytest.raises(PictoryAuthError) as raised:
        PictoryHook(**FAST).get_quota()
    assert "Unauthorized key ***" in str(raised.value)
    assert_no_key(str(raised.value) + repr(raised.value.args) + caplog.text)


@pytest.mark.asyncio
async def test_a_key_quoted_back_never_reaches_the_trigger_event_or_its_log(odd_key_conn, caplog, capsys):
    job_id = await asyncio.to_thread(PictoryHook(**FAST).generate_image, "A key echo")
    echo_key(odd_key_conn, "job")
    trigger = PictoryJobTrigger(job_id, poll_interval=0.1, hook_params=FAST)
    with caplog.at_level(logging.DEBUG):
        events = [event async for event in trigger.run()]
    payload = events[0].payload
    assert payload["status"] == "error" and "Unauthorized key ***" in payload["message"]
    assert_no_key(json.dumps(payload) + caplog.text + "".join(capsys.readouterr()))
    from airflow.providers.common.compat.sdk import AirflowFailException

    from pictory_provider.events import complete_from_event

    with pytest.raises(AirflowFailException) as resumed:  # the task resumed from the event
        complete_from_event({}, payload, TimeoutError)
    assert isinstance(resumed.value, PictoryError)
    assert_no_key(str(resumed.value))
