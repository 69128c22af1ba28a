"""Spend control (#13): prices and the estimate, the quota and ledger parsers, the budget guard, the
out-of-credits mapping, and the emulator's credit account, over real HTTP where a request is involved."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pendulum
import pytest
import requests
from airflow.providers.common.compat.sdk import AirflowFailException, TaskDeferred

from pictory_provider import api, credits
from pictory_provider.credits import (
    CreditTransaction,
    Quota,
    QuotaUsage,
    estimate_credits,
    failed_job_error,
    guard_spend,
    parse_credit_usage,
    parse_quota,
    raise_for_exhausted_credits,
    usage_period,
)
from pictory_provider.emulator.account import DEFAULT_LIMIT
from pictory_provider.exceptions import (
    PictoryAPIError,
    PictoryAuthError,
    PictoryBudgetError,
    PictoryCreditsExhaustedError,
    PictoryError,
    PictoryJobFailedError,
    PictoryValidationError,
)
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.operators.pictory import PictoryGenerateImageOperator
from pictory_provider.sensors.pictory import PictoryImageJobSensor

from .compat import AIRFLOW_V_3_3_PLUS
from .conftest import API_KEY
from .fakes import TaskStateStore, make_context

FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}
needs_task_state_store = pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="resume on retry needs Airflow 3.3")
QUOTA_BODY = {
    "videoMinutes": {"used": 12, "limit": 600},
    "transcriptionMinutes": {"used": 3.5, "limit": 300},
    "elevenLabsVoiceOverMinutes": {"used": 0, "limit": 60, "resetsOn": "2026-12-01"},
    "aiCredits": {"used": 9.4, "limit": 10, "plan": "API Starter"},
    "somethingNew": {"used": 1, "limit": 2},
}
USAGE_ROW = {
    "transactionId": "txn-7f3a",
    "type": "debit",
    "amount": 0.6,
    "source": "Text-to-Image",
    "description": "AI Studio image (flux-schnell)",
    "plan": "API Starter",
    "transactionDate": "2026-11-03T10:15:30.250Z",
    "balanceAfter": 9.4,
}


def hook() -> PictoryHook:
    return PictoryHook(**FAST)


def operator(**kwargs: Any) -> PictoryGenerateImageOperator:
    params = {"task_id": "generate", "prompt": "A lighthouse at dawn", "hook_params": FAST, "poll_interval": 0.1}
    return PictoryGenerateImageOperator(**(params | kwargs))


def routes(emulator) -> list[str]:
    return [entry["route"] for entry in emulator.request_log]


# -- the estimate -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "cost"), [*api.MODEL_CREDITS.items(), (None, 2)])
def test_image_estimate_is_the_models_price(model, cost):
    assert estimate_credits("image", model) == cost


@pytest.mark.parametrize(
    ("model", "duration", "cost"),
    [
        (None, None, 8.0),  # pixverse5.5, its first duration 5s, 1.6 per second
        ("pixverse5.5", "10s", 16.0),
        ("veo3.1", "8s", 160.0),
        ("veo3.1", None, 80.0),
        ("veo3.1_fast", "6s", 60.0),
        ("veo3.1_fast", 4, 40.0),
    ],
)
def test_video_estimate_is_per_second_price_times_duration(model, duration, cost):
    assert estimate_credits("video", model, duration) == cost


@pytest.mark.parametrize(
    ("kind", "model", "duration", "needle"),
    [
        ("image", "dall-e", None, "model must be one of"),
        ("video", "sora", None, "model must be one of"),
        ("video", "veo3.1", "eight", "duration must be"),
        ("video", "veo3.1", "0s", "duration must be"),
        ("audio", None, None, "kind must be"),
    ],
)
def test_estimate_refuses_unknown_values(kind, model, duration, needle):
    with pytest.raises(PictoryValidationError, match=needle):
        estimate_credits(kind, model, duration)


# -- parsing ------------------------------------------------------------------------------------------


def test_quota_parser_reads_every_field_and_ignores_unknown_ones():
    quota = parse_quota(QUOTA_BODY)
    assert quota == Quota(
        ai_credits_used=9.4,
        ai_credits_limit=10.0,
        video_minutes=QuotaUsage(used=12.0, limit=600.0),
        transcription_minutes=QuotaUsage(used=3.5, limit=300.0),
        eleven_labs_voice_over_minutes=QuotaUsage(used=0.0, limit=60.0),
    )
    assert quota.ai_credits_remaining == 0.6  # limit - used, without float noise
    assert quota.video_minutes is not None
    assert quota.video_minutes.remaining == 588
    assert quota.to_dict()["ai_credits_remaining"] == 0.6
    assert parse_quota({"success": True, "data": QUOTA_BODY}) == quota  # wrapped like other responses


def test_quota_parser_other_quotas_are_optional_credits_are_not():
    assert parse_quota({"aiCredits": {"used": 0, "limit": 5}}).video_minutes is None
    for body in ({}, {"aiCredits": {"used": "1", "limit": 5}}, {"aiCredits": {"used": 1}}, [], None):
        with pytest.raises(PictoryAPIError, match="aiCredits"):
            parse_quota(body)


def test_ledger_parser_reads_every_field_and_ignores_unknown_ones():
    credit = USAGE_ROW | {"transactionId": 42, "type": "Credit", "amount": 10, "source": "Monthly Reset"}
    rows = parse_credit_usage([USAGE_ROW, credit | {"description": None, "plan": None}])
    assert rows[0] == CreditTransaction(
        transaction_id="txn-7f3a",
        type="debit",
        amount=0.6,
        source="Text-to-Image",
        description="AI Studio image (flux-schnell)",
        plan="API Starter",
        transaction_date=pendulum.datetime(2026, 11, 3, 10, 15, 30, 250000, tz="UTC"),
    )
    assert isinstance(rows[0].transaction_date, pendulum.DateTime)
    assert rows[0].is_debit and not rows[1].is_debit
    assert (rows[1].transaction_id, rows[1].type, rows[1].amount) == ("42", "credit", 10.0)
    assert (rows[1].description, rows[1].plan) == (None, None)
    assert rows[0].to_dict()["transaction_date"] == "2026-11-03T10:15:30.250000+00:00"
    assert parse_credit_usage({"data": [USAGE_ROW]}) == rows[:1]
    assert parse_credit_usage([]) == []


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"message": "nope"}, "not a list"),
        (["row"], "not an object"),
        ([USAGE_ROW | {"transactionId": None}], "without transactionId"),
        ([USAGE_ROW | {"type": None}], "without type"),
        ([USAGE_ROW | {"amount": "0.6"}], "numeric amount"),
        ([USAGE_ROW | {"transactionDate": "yesterday"}], "transactionDate"),
    ],
)
def test_ledger_parser_refuses_unusable_rows(body, needle):
    with pytest.raises(PictoryAPIError, match=needle):
        parse_credit_usage(body)


def test_usage_period_rules():
    now = datetime(2026, 11, 29, tzinfo=UTC)
    assert usage_period(now=now) is None
    assert usage_period(2026, 3, now) == (2026, 3)
    assert usage_period(None, 7, now) == (2026, 7)  # month alone: this year
    assert usage_period(2025, 11, now) == (2025, 11)  # 12 months back
    cases = [
        ((2026, None), "year requires month"),
        ((2025, 10), "last 12 months"),
        ((2026, 12), "in the future"),
        ((2026, 13), "month must be 1 to 12"),
        (("2026", 1), "year must be an integer"),
        ((2026, True), "month must be an integer"),
    ]
    for (year, month), needle in cases:
        with pytest.raises(PictoryValidationError, match=needle):
            usage_period(year, month, now)


# -- the guard (pure) ----------------------------------------------------------------------------------


class QuotaReader:
    def __init__(self, remaining: float) -> None:
        self.calls = 0
        self.remaining = remaining

    def __call__(self) -> Quota:
        self.calls += 1
        return Quota(ai_credits_used=100 - self.remaining, ai_credits_limit=100)


def test_guard_refuses_over_max_without_reading_the_quota():
    reader = QuotaReader(1000)
    with pytest.raises(PictoryBudgetError, match=r"estimated 14 AI credits, more than max_ai_credits=5") as err:
        guard_spend(14, max_ai_credits=5, check_quota=True, read_quota=reader)
    assert (err.value.estimate, err.value.limit, reader.calls) == (14, 5, 0)
    assert isinstance(err.value, AirflowFailException)  # Airflow does not retry it


def test_guard_refuses_when_the_quota_cannot_pay_and_passes_when_it_can():
    reader = QuotaReader(1.5)
    with pytest.raises(PictoryBudgetError, match=r"estimated 2 AI credits but only 1.5 of 100 remain") as err:
        guard_spend(2, max_ai_credits=None, check_quota=True, read_quota=reader)
    assert (err.value.estimate, err.value.remaining, reader.calls) == (2, 1.5, 1)
    assert guard_spend(1.5, max_ai_credits=1.5, check_quota=True, read_quota=reader) == reader()  # exactly enough
    assert guard_spend(0.6 * 3, max_ai_credits=1.8, check_quota=False, read_quota=reader) is None  # float noise
    assert reader.calls == 3


def test_max_ai_credits_is_checked_when_the_dag_is_parsed():
    for value in (-1, "ten", True, float("nan")):
        with pytest.raises(PictoryValidationError, match="max_ai_credits must be"):
            operator(max_ai_credits=value)
    assert operator(max_ai_credits=3).max_ai_credits == 3.0


# -- out of credits: the mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (402, None),
        (402, {"message": "Payment Required"}),
        (403, {"message": "Insufficient AI credits"}),
        (403, {"code": "QUOTA_EXCEEDED", "message": "Forbidden"}),
        (400, {"code": "INSUFFICIENT_CREDITS", "message": "Not enough credits"}),
        (429, {"error": "You exceeded your quota of AI credits"}),
    ],
)
def test_out_of_credits_answers_map_to_the_clear_error(status, body):
    with pytest.raises(PictoryCreditsExhaustedError, match="AI credits are exhausted") as err:
        raise_for_exhausted_credits(status, body, "the Generate Image request")
    assert err.value.status == status


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (403, None),  # Cloudflare HTML
        (403, {"message": "Forbidden"}),
        (429, {"message": "Too Many Requests"}),
        (400, {"code": "INVALID_REQUEST_BODY", "message": "Request body validation failed"}),
        (401, {"message": "Unauthorized"}),
        (500, {"message": "credit service down"}),
    ],
)
def test_other_errors_are_left_alone(status, body):
    assert raise_for_exhausted_credits(status, body, "x") is None


def test_failed_job_with_a_credits_code_is_the_clear_error():
    error = failed_job_error("job-1", "INSUFFICIENT_AI_CREDITS", "Not enough AI credits")
    assert isinstance(error, PictoryCreditsExhaustedError)
    assert (error.job_id, error.error_code) == ("job-1", "INSUFFICIENT_AI_CREDITS")
    assert "AI credits are exhausted: job job-1 failed" in str(error)
    assert isinstance(failed_job_error("job-1", "CONTENT_POLICY", "The prompt was refused"), PictoryJobFailedError)


# -- the hook against the emulator --------------------------------------------------------------------


def test_get_quota_reads_the_emulator_balance_that_jobs_debit(pictory_conn):
    pictory_conn.set_credits(limit=100, used=12.5)
    quota = hook().get_quota()
    assert (quota.ai_credits_used, quota.ai_credits_limit, quota.ai_credits_remaining) == (12.5, 100, 87.5)
    assert quota.video_minutes == QuotaUsage(used=0, limit=600)
    hook().generate_image("A lighthouse at dawn", model="nanobanana")
    assert hook().get_quota().ai_credits_remaining == 83.5
    assert routes(pictory_conn) == ["quota", "create", "quota"]


def test_get_ai_credit_usage_returns_the_ledger_newest_first(pictory_conn):
    hook().generate_image("A lighthouse at dawn", model="flux-schnell")
    hook().generate_image("A lighthouse at dusk", model="seedream3.0")
    pictory_conn.add_fault("fail_job")
    hook().generate_image("A lighthouse that fails")  # a failed job is not charged
    rows = hook().get_ai_credit_usage()
    assert [(row.type, row.amount, row.source) for row in rows] == [
        ("debit", 2.0, "Text-to-Image"),
        ("debit", 0.6, "Text-to-Image"),
        ("credit", DEFAULT_LIMIT, "Monthly Reset"),
    ]
    assert all(isinstance(row.transaction_date, pendulum.DateTime) for row in rows)
    assert rows[0].transaction_date >= rows[1].transaction_date
    now = pendulum.now("UTC")
    assert hook().get_ai_credit_usage(year=now.year, month=now.month) == rows
    last_year = now.subtract(months=12)
    assert hook().get_ai_credit_usage(last_year.year, last_year.month) == []
    assert pictory_conn.credits()["used"] == 2.6


def test_year_without_month_is_refused_locally(pictory_conn):
    with pytest.raises(PictoryValidationError, match="year requires month"):
        hook().get_ai_credit_usage(year=2026)
    assert pictory_conn.request_log == []
    # Pictory's own answer to it (and the emulator's): 400 INVALID_REQUEST
    answer = requests.get(
        pictory_conn.base_url + credits.AI_CREDITS_USAGE_PATH + "?year=2026",
        headers={"Authorization": API_KEY},
        timeout=5,
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "INVALID_REQUEST")


def test_quota_and_usage_need_the_api_key(emulator):
    for path in (credits.QUOTA_PATH, credits.AI_CREDITS_USAGE_PATH):
        assert requests.get(emulator.base_url + path, timeout=5).status_code == 401


# -- the operator's guard ----------------------------------------------------------------------------


def test_max_ai_credits_refuses_with_zero_requests(pictory_conn):
    with pytest.raises(PictoryBudgetError, match="estimated 14 AI credits, more than max_ai_credits=5"):
        operator(model="nanobanana-pro", max_ai_credits=5, check_quota=True).execute(make_context(TaskStateStore()))
    assert pictory_conn.request_log == []


def test_check_quota_refuses_with_one_quota_read_and_no_post(pictory_conn):
    pictory_conn.set_credits(limit=10, used=9.5)
    with pytest.raises(PictoryBudgetError, match="estimated 2 AI credits but only 0.5 of 10 remain"):
        operator(check_quota=True).execute(make_context(TaskStateStore()))
    assert routes(pictory_conn) == ["quota"]
    assert pictory_conn.stats()["posts"] == 0


def test_guard_passes_when_credits_suffice_and_logs_the_spend(pictory_conn, caplog):
    pictory_conn.set_credits(limit=10, used=8)
    caplog.set_level(logging.INFO, logger="pictory_provider.credits")
    result = operator(check_quota=True, max_ai_credits=2, deferrable=False).execute(make_context(TaskStateStore()))
    assert result["ai_credits_used"] == 2
    # the quota, then (with a task state store, Airflow >= 3.3) the fence read, then the create
    fence = ["list"] if AIRFLOW_V_3_3_PLUS else []
    assert routes(pictory_conn)[: 2 + len(fence)] == ["quota", *fence, "create"]
    assert routes(pictory_conn)[-1] == "quota"  # what remains, read after completion
    assert f"Pictory job {result['job_id']} used 2 AI credits" in caplog.text
    assert "0 of 10 AI credits remain this billing term" in caplog.text
    assert pictory_conn.credits()["remaining"] == 0


def test_without_check_quota_the_spend_is_logged_without_a_quota_read(pictory_conn, caplog):
    caplog.set_level(logging.INFO, logger="pictory_provider.credits")
    result = operator(deferrable=False, model="flux-schnell").execute(make_context())
    assert "quota" not in routes(pictory_conn)
    assert f"Pictory job {result['job_id']} used 0.6 AI credits" in caplog.text
    assert "remain this billing term" not in caplog.text


def run_trigger(trigger) -> dict[str, Any]:
    async def first_event() -> Any:
        async for event in trigger.run():
            return event.payload
        return None

    return asyncio.run(asyncio.wait_for(first_event(), 20))


def test_deferred_completion_logs_the_spend_and_what_remains(pictory_conn, caplog):
    pictory_conn.set_job_seconds(0)
    caplog.set_level(logging.INFO, logger="pictory_provider.credits")
    op, ctx = operator(check_quota=True, model="flux-schnell"), make_context(TaskStateStore())
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    result = op.execute_complete(ctx, run_trigger(deferred.value.trigger))
    assert f"Pictory job {result['job_id']} used 0.6 AI credits" in caplog.text
    assert "999999.4 of 1000000 AI credits remain" in caplog.text


@needs_task_state_store
def test_a_resumed_retry_is_not_guarded_again(pictory_conn):
    store = TaskStateStore()
    with pytest.raises(TaskDeferred) as first:
        operator(check_quota=True, max_ai_credits=2).execute(make_context(store))
    assert routes(pictory_conn) == ["quota", "list", "create"]  # the fence read before the create
    pictory_conn.set_credits(used=DEFAULT_LIMIT)  # nothing left: a new purchase would be refused
    before = len(pictory_conn.request_log)
    with pytest.raises(TaskDeferred) as second:  # the retry reconnects to the same, already paid, job
        operator(check_quota=True, max_ai_credits=2).execute(make_context(store))
    assert second.value.trigger.job_id == first.value.trigger.job_id
    assert routes(pictory_conn)[before:] == ["job"]
    assert pictory_conn.stats()["posts"] == 1


@needs_task_state_store
def test_a_retry_after_a_failed_job_is_a_new_purchase_and_is_guarded(pictory_conn):
    pictory_conn.set_job_seconds(0)
    pictory_conn.add_fault("fail_job")
    store = TaskStateStore()
    with pytest.raises(PictoryJobFailedError):
        operator(check_quota=True, deferrable=False).execute(make_context(store))
    pictory_conn.set_credits(limit=10, used=9)
    with pytest.raises(PictoryBudgetError, match="only 1 of 10 remain"):
        operator(check_quota=True, deferrable=False).execute(make_context(store))
    assert pictory_conn.stats()["posts"] == 1


# -- out of credits, end to end over HTTP ----------------------------------------------------------


def test_emulator_rejects_a_post_it_cannot_charge_with_402(pictory_conn):
    pictory_conn.set_credits(limit=10, used=9)
    answer = requests.post(
        pictory_conn.base_url + api.IMAGES_PATH,
        json={"prompt": "A lighthouse at dawn"},
        headers={"Authorization": API_KEY},
        timeout=5,
    )
    assert answer.status_code == 402
    assert answer.json() == {
        "code": "INSUFFICIENT_AI_CREDITS",
        "message": "Insufficient AI credits: this request costs 2 and 1 remain",
    }
    assert pictory_conn.stats()["jobs_created"] == 0
    assert pictory_conn.credits()["used"] == 9


def test_operator_without_guard_gets_the_clear_error_from_a_402(pictory_conn):
    pictory_conn.set_credits(used=DEFAULT_LIMIT)
    with pytest.raises(PictoryCreditsExhaustedError, match=r"AI credits are exhausted.*HTTP 402") as err:
        operator().execute(make_context(TaskStateStore()))
    assert err.value.status == 402
    assert isinstance(err.value, AirflowFailException)
    assert pictory_conn.stats()["posts"] == 1  # not retried


@pytest.mark.parametrize(
    ("status", "body"),
    [(403, {"message": "Insufficient AI credits"}), (429, {"message": "AI credit quota exceeded"})],
)
def test_403_or_429_naming_credits_is_the_clear_error_and_not_retried(pictory_conn, status, body):
    pictory_conn.add_fault("status", route="create", status=status, body=body, count=3)
    with pytest.raises(PictoryCreditsExhaustedError, match=f"HTTP {status}: {body['message']}"):
        hook().generate_image("A lighthouse at dawn")
    assert pictory_conn.stats()["posts"] == 1


def test_a_403_not_naming_credits_stays_an_auth_error(pictory_conn):
    pictory_conn.add_fault("status", route="create", status=403, body={"message": "Forbidden"})
    with pytest.raises(PictoryAuthError):
        hook().generate_image("A lighthouse at dawn")


def test_a_job_failed_for_credits_is_the_clear_error_in_every_wait(pictory_conn):
    pictory_conn.set_credits(used=DEFAULT_LIMIT, when_exhausted="fail_job")
    pictory_conn.set_job_seconds(0)
    # synchronous wait
    with pytest.raises(PictoryCreditsExhaustedError, match="INSUFFICIENT_AI_CREDITS") as err:
        operator(deferrable=False).execute(make_context())
    assert err.value.job_id is not None
    # deferred wait: the trigger's failed event
    op, ctx = operator(), make_context()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    event = run_trigger(deferred.value.trigger)
    assert (event["status"], event["error_code"]) == ("failed", "INSUFFICIENT_AI_CREDITS")
    with pytest.raises(PictoryCreditsExhaustedError, match="AI credits are exhausted"):
        op.execute_complete(ctx, event)
    # the sensor, which skips it with soft_fail like any failed job
    job_id = hook().generate_image("A lighthouse at dawn")
    with pytest.raises(PictoryCreditsExhaustedError):
        PictoryImageJobSensor(task_id="wait", job_id=job_id, deferrable=False).poke(make_context())
    assert pictory_conn.credits()["used"] == DEFAULT_LIMIT  # failed jobs cost nothing


# -- the emulator's controls ------------------------------------------------------------------------


def test_emulator_credit_controls_over_admin_http(emulator):
    admin = f"{emulator.base_url}/_emulator/credits"
    state = requests.post(admin, json={"limit": 20, "used": 5, "when_exhausted": "fail_job"}, timeout=5).json()
    assert {key: state[key] for key in ("limit", "used", "remaining", "when_exhausted")} == {
        "limit": 20,
        "used": 5,
        "remaining": 15,
        "when_exhausted": "fail_job",
    }
    assert [row["source"] for row in state["ledger"]] == ["Monthly Reset"]
    assert requests.get(admin, timeout=5).json() == state
    for bad in ({"limit": -1}, {"used": "lots"}, {"when_exhausted": "explode"}, {"balance": 3}, [1]):
        assert requests.post(admin, json=bad, timeout=5).status_code == 400
    with pytest.raises(ValueError, match="when_exhausted"):
        emulator.set_credits(when_exhausted="explode")
    requests.post(f"{emulator.base_url}/_emulator/reset", timeout=5)
    assert emulator.credits()["limit"] == DEFAULT_LIMIT
    assert emulator.credits()["when_exhausted"] == "reject"


def test_budget_error_is_a_pictory_error():
    assert issubclass(PictoryCreditsExhaustedError, PictoryBudgetError)
    assert issubclass(PictoryBudgetError, PictoryError)


def test_the_spend_page_states_the_prices_and_parameters_of_the_code():
    page = (Path(__file__).resolve().parent.parent / "docs" / "spend.md").read_text(encoding="utf-8")
    for model, price in api.MODEL_CREDITS.items():
        assert re.search(rf"\| image \| `{re.escape(model)}`[^|]*\| {price:g} ", page), model
    for model, price in api.VIDEO_MODEL_CREDITS_PER_SECOND.items():
        default = api.VIDEO_DURATIONS[model][0]
        assert re.search(rf"\| video \| `{re.escape(model)}`[^|]*`{default}`\) \| {price:g} ", page), model
    for name in ("max_ai_credits", "check_quota"):
        assert f"| `{name}` |" in page
