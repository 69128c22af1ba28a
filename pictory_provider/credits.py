"""AI credits: prices, the one cost estimate, the quota and ledger parsers, the budget guard.

Pure Python (no Airflow, no HTTP library), shared by the hook, the operators and the emulator.
Pictory documents the prices (per image by model; per generated second by video model), ``GET
/pictoryapis/v1/quota`` and ``GET /pictoryapis/v1/aicredits/usage``. It does **not** document what it
answers when the credits run out; :func:`raise_for_exhausted_credits` and :func:`failed_job_error`
state the assumptions this client makes.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pendulum

from pictory_provider import api
from pictory_provider.exceptions import (
    PictoryAPIError,
    PictoryBudgetError,
    PictoryCreditsExhaustedError,
    PictoryJobFailedError,
    PictoryValidationError,
)

__all__ = [
    "CreditTransaction",
    "Quota",
    "QuotaUsage",
    "check_max_ai_credits",
    "estimate_credits",
    "failed_job_error",
    "guard_spend",
    "parse_credit_transaction",
    "parse_credit_usage",
    "parse_quota",
    "raise_for_exhausted_credits",
    "report_spend",
    "usage_path",
    "usage_period",
]

log = logging.getLogger(__name__)

QUOTA_PATH = "/pictoryapis/v1/quota"
AI_CREDITS_USAGE_PATH = "/pictoryapis/v1/aicredits/usage"
#: Pictory keeps the AI-credit ledger of the last 12 months only.
USAGE_MONTHS = 12

IMAGE, VIDEO = "image", "video"
#: Credit comparisons tolerate float noise (3 * 0.6 is 1.7999999999999998).
_EPSILON = 1e-9


def _fmt(value: float) -> str:
    """A credit amount for people: ``0.6``, ``160``, ``999999.4`` (no exponent, no float noise)."""
    return f"{round(value, 4):f}".rstrip("0").rstrip(".")


# -- the estimate --------------------------------------------------------------------------------


def _seconds(duration: object) -> float:
    if isinstance(duration, (int, float)) and not isinstance(duration, bool):
        seconds = float(duration)
    elif isinstance(duration, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*s?\s*", duration):
        seconds = float(duration.strip().rstrip("s"))
    else:
        seconds = -1.0
    if not (math.isfinite(seconds) and seconds > 0):
        raise PictoryValidationError(
            f"duration must be a number of seconds such as '8s' (got {duration!r})",
            [{"name": "duration", "errors": "must be like '8s'"}],
        )
    return seconds


def estimate_credits(kind: str = IMAGE, model: str | None = None, duration: str | float | None = None) -> float:
    """What one request will cost in AI credits, from Pictory's documented prices.

    An image costs its model's price (``model`` ``None`` means Pictory's default, ``seedream3.0``); a
    video costs its model's per-second price times ``duration`` (``"8s"``; default model
    ``pixverse5.5``, default duration the model's first supported one).
    """
    if kind == IMAGE:
        chosen = model or api.DEFAULT_MODEL
        if chosen not in api.MODEL_CREDITS:
            raise PictoryValidationError(
                f"model must be one of {', '.join(api.MODEL_CREDITS)} (got {model!r})",
                [{"name": "model", "errors": "unknown image model"}],
            )
        return float(api.MODEL_CREDITS[chosen])
    if kind == VIDEO:
        chosen = model or api.DEFAULT_VIDEO_MODEL
        if chosen not in api.VIDEO_MODEL_CREDITS_PER_SECOND:
            raise PictoryValidationError(
                f"model must be one of {', '.join(api.VIDEO_MODEL_CREDITS_PER_SECOND)} (got {model!r})",
                [{"name": "model", "errors": "unknown video model"}],
            )
        seconds = _seconds(api.VIDEO_DURATIONS[chosen][0] if duration is None else duration)
        return api.video_credits(chosen, f"{seconds:g}s")  # the one per-second price rule
    raise PictoryValidationError(f"kind must be {IMAGE!r} or {VIDEO!r} (got {kind!r})")


# -- the quota ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaUsage:
    """One quota of the current billing term: what was used out of the limit."""

    used: float
    limit: float

    @property
    def remaining(self) -> float:
        return round(self.limit - self.used, 6)


@dataclass(frozen=True)
class Quota:
    """``GET /pictoryapis/v1/quota``: AI credits and the other quotas of the current billing term.

    ``ai_credits_remaining`` is ``ai_credits_limit - ai_credits_used``. The other quotas are ``None``
    when Pictory did not send them.
    """

    ai_credits_used: float
    ai_credits_limit: float
    video_minutes: QuotaUsage | None = None
    transcription_minutes: QuotaUsage | None = None
    eleven_labs_voice_over_minutes: QuotaUsage | None = None

    @property
    def ai_credits_remaining(self) -> float:
        return round(self.ai_credits_limit - self.ai_credits_used, 6)

    def to_dict(self) -> dict[str, Any]:
        """JSON primitives (for XCom)."""

        def pair(usage: QuotaUsage | None) -> dict[str, float] | None:
            return None if usage is None else {"used": usage.used, "limit": usage.limit}

        return {
            "ai_credits_used": self.ai_credits_used,
            "ai_credits_limit": self.ai_credits_limit,
            "ai_credits_remaining": self.ai_credits_remaining,
            "video_minutes": pair(self.video_minutes),
            "transcription_minutes": pair(self.transcription_minutes),
            "eleven_labs_voice_over_minutes": pair(self.eleven_labs_voice_over_minutes),
        }


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _usage(value: object) -> QuotaUsage | None:
    if not isinstance(value, dict):
        return None
    used, limit = _number(value.get("used")), _number(value.get("limit"))
    return None if used is None or limit is None else QuotaUsage(used=used, limit=limit)


def parse_quota(body: object) -> Quota:
    """Parse a ``GET /quota`` body (also when wrapped in ``{"data": ...}``); unknown fields are ignored.

    ``aiCredits`` must carry numeric ``used`` and ``limit``, else :class:`PictoryAPIError`.
    """
    if isinstance(body, dict) and "aiCredits" not in body and isinstance(body.get("data"), dict):
        body = body["data"]
    credits = _usage(body.get("aiCredits")) if isinstance(body, dict) else None
    if not isinstance(body, dict) or credits is None:
        raise PictoryAPIError("Pictory returned a quota without numeric aiCredits.used and aiCredits.limit")
    return Quota(
        ai_credits_used=credits.used,
        ai_credits_limit=credits.limit,
        video_minutes=_usage(body.get("videoMinutes")),
        transcription_minutes=_usage(body.get("transcriptionMinutes")),
        eleven_labs_voice_over_minutes=_usage(body.get("elevenLabsVoiceOverMinutes")),
    )


# -- the ledger ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditTransaction:
    """One row of ``GET /pictoryapis/v1/aicredits/usage``: a debit (spend) or a credit (top-up, reset)."""

    transaction_id: str
    type: str
    amount: float
    source: str | None
    description: str | None
    plan: str | None
    transaction_date: pendulum.DateTime

    @property
    def is_debit(self) -> bool:
        return self.type == "debit"

    def to_dict(self) -> dict[str, Any]:
        """JSON primitives (for XCom); the date as ISO 8601."""
        return {
            "transaction_id": self.transaction_id,
            "type": self.type,
            "amount": self.amount,
            "source": self.source,
            "description": self.description,
            "plan": self.plan,
            "transaction_date": self.transaction_date.isoformat(),
        }


def _date(value: object) -> pendulum.DateTime | None:
    if isinstance(value, str) and value:
        try:
            parsed = pendulum.parse(value)
        except (ValueError, pendulum.parsing.exceptions.ParserError):
            return None
        return parsed if isinstance(parsed, pendulum.DateTime) else None
    number = _number(value)
    if number is not None:  # epoch seconds, or milliseconds
        return pendulum.from_timestamp(number / 1000 if number > 1e11 else number)
    return None


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def parse_credit_transaction(item: object) -> CreditTransaction:
    """Parse one ledger row; unknown fields are ignored, a missing or unusable required one raises."""
    if not isinstance(item, dict):
        raise PictoryAPIError(f"Pictory returned a credit-usage row that is not an object: {type(item).__name__}")
    transaction_id, kind = item.get("transactionId"), item.get("type")
    amount, date = _number(item.get("amount")), _date(item.get("transactionDate"))
    for name, ok in (("transactionId", transaction_id not in (None, "")), ("type", isinstance(kind, str))):
        if not ok:
            raise PictoryAPIError(f"Pictory returned a credit-usage row without {name}")
    if amount is None:
        raise PictoryAPIError(f"Pictory returned credit-usage row {transaction_id} without a numeric amount")
    if date is None:
        raise PictoryAPIError(f"Pictory returned credit-usage row {transaction_id} without a usable transactionDate")
    return CreditTransaction(
        transaction_id=str(transaction_id),
        type=str(kind).lower(),
        amount=amount,
        source=_text(item.get("source")),
        description=_text(item.get("description")),
        plan=_text(item.get("plan")),
        transaction_date=date,
    )


def parse_credit_usage(body: object) -> list[CreditTransaction]:
    """Parse a ``GET /aicredits/usage`` body: Pictory documents a JSON array, newest first.

    An object wrapping the array in ``data`` or ``items`` is accepted too.
    """
    if isinstance(body, dict):
        body = next((body[key] for key in ("data", "items") if isinstance(body.get(key), list)), body)
    if not isinstance(body, list):
        raise PictoryAPIError("Pictory returned an AI-credit usage response that is not a list of transactions")
    return [parse_credit_transaction(item) for item in body]


def usage_period(year: object = None, month: object = None, now: datetime | None = None) -> tuple[int, int] | None:
    """Check a ledger query: ``None`` for the default (current) month, else ``(year, month)``.

    ``year`` without ``month`` is refused (Pictory answers 400 to it); ``month`` alone means this year
    (UTC). Only the current month and the 12 before it are accepted: Pictory keeps 12 months of
    ledger, and a future month has none.
    """
    if year is None and month is None:
        return None
    if month is None:
        raise PictoryValidationError(
            "year requires month: pass both (e.g. year=2026, month=3), or neither for the current month",
            [{"name": "month", "errors": "required when year is given"}],
        )
    today = now or datetime.now(UTC)
    year = today.year if year is None else year
    if isinstance(year, bool) or not isinstance(year, int):
        raise PictoryValidationError(
            f"year must be an integer (got {year!r})", [{"name": "year", "errors": "must be an integer"}]
        )
    if isinstance(month, bool) or not isinstance(month, int):
        raise PictoryValidationError(
            f"month must be an integer (got {month!r})", [{"name": "month", "errors": "must be an integer"}]
        )
    if not 1 <= month <= 12:
        raise PictoryValidationError(
            f"month must be 1 to 12 (got {month})", [{"name": "month", "errors": "must be 1 to 12"}]
        )
    age = (today.year - year) * 12 + today.month - month
    if not 0 <= age <= USAGE_MONTHS:
        raise PictoryValidationError(
            f"Pictory keeps the AI-credit ledger of the last {USAGE_MONTHS} months only; "
            f"{year}-{month:02d} is {'in the future' if age < 0 else 'older'}",
            [{"name": "month", "errors": "outside the last 12 months"}],
        )
    return year, month


def usage_path(year: object = None, month: object = None) -> str:
    """The ``GET /aicredits/usage`` path with its query, after :func:`usage_period`'s checks."""
    period = usage_period(year, month)
    return AI_CREDITS_USAGE_PATH if period is None else f"{AI_CREDITS_USAGE_PATH}?year={period[0]}&month={period[1]}"


# -- the budget guard ---------------------------------------------------------------------------


def check_max_ai_credits(value: object) -> float | None:
    """Validate an operator's ``max_ai_credits`` (``None`` or a number >= 0) when the DAG is parsed."""
    if value is None:
        return None
    number = _number(value)
    if number is None or number < 0:
        raise PictoryValidationError(
            f"max_ai_credits must be a number of AI credits >= 0, or None (got {value!r})",
            [{"name": "max_ai_credits", "errors": "must be a number >= 0"}],
        )
    return number


def guard_spend(
    estimate: float | None,
    *,
    max_ai_credits: float | None,
    check_quota: bool,
    read_quota: Callable[[], Quota],
) -> Quota | None:
    """Refuse a paid request before it is sent; return the quota read (``None`` without ``check_quota``).

    ``estimate`` is ``None`` when Pictory does not say what the job costs before it runs (renders):
    then nothing is refused and the log says so (the operator refuses ``max_ai_credits`` for those).

    :raises PictoryBudgetError: the estimate exceeds ``max_ai_credits`` (nothing is sent), or, with
        ``check_quota``, the remaining credits cannot cover it (only the quota was read). The quota
        check is advisory: tasks running at the same time can pass it together.
    """
    if estimate is None:  # a render: Pictory reports aiCreditsUsed only when the job finishes
        quota = read_quota() if check_quota else None
        log.info(
            "Estimated cost: not known before the job runs (Pictory reports aiCreditsUsed when it finishes)%s",
            ""
            if quota is None
            else f"; {_fmt(quota.ai_credits_remaining)} of {_fmt(quota.ai_credits_limit)} AI credits remain",
        )
        return quota
    if max_ai_credits is not None and estimate > max_ai_credits + _EPSILON:
        raise PictoryBudgetError(
            f"This request would cost an estimated {_fmt(estimate)} AI credits, more than max_ai_credits="
            f"{_fmt(max_ai_credits)}; nothing was sent to Pictory",
            estimate=estimate,
            limit=max_ai_credits,
        )
    if not check_quota:
        log.info("Estimated cost: %s AI credits (max_ai_credits=%s)", _fmt(estimate), max_ai_credits)
        return None
    quota = read_quota()
    if quota.ai_credits_remaining + _EPSILON < estimate:
        raise PictoryBudgetError(
            f"This request would cost an estimated {_fmt(estimate)} AI credits but only "
            f"{_fmt(quota.ai_credits_remaining)} of {_fmt(quota.ai_credits_limit)} remain this billing term; "
            "nothing was sent to Pictory",
            estimate=estimate,
            remaining=quota.ai_credits_remaining,
        )
    log.info(
        "Estimated cost: %s AI credits (max_ai_credits=%s); %s of %s AI credits remain",
        _fmt(estimate),
        max_ai_credits,
        _fmt(quota.ai_credits_remaining),
        _fmt(quota.ai_credits_limit),
    )
    return quota


def report_spend(result: object, *, check_quota: bool, read_quota: Callable[[], Quota]) -> None:
    """Log what a completed job cost and, with ``check_quota``, what remains (a fresh quota read).

    Never raises: the job is done and paid for, so a failed quota read only logs a warning.
    """
    if not isinstance(result, dict):
        return  # submit-only: the job id, nothing completed yet
    if result.get("ai_credits_used") is None:
        log.info("Pictory job %s reported no AI credits used (its answer has no aiCreditsUsed)", result.get("job_id"))
    else:
        log.info("Pictory job %s used %s AI credits", result.get("job_id"), result.get("ai_credits_used"))
    if not check_quota:
        return
    try:
        quota = read_quota()
    except Exception as exc:  # the paid result must not be lost to a failed read
        log.warning("Could not read the remaining AI credits after the job: %s", exc)
        return
    log.info(
        "%s of %s AI credits remain this billing term", _fmt(quota.ai_credits_remaining), _fmt(quota.ai_credits_limit)
    )


# -- out of credits: the assumptions -------------------------------------------------------------

# ASSUMPTION (Pictory does not document it, see docs/spend.md): an account without enough AI credits
# gets either an HTTP error naming credits, or a job that is accepted and then ends "failed" with a
# credits-related error code. Both are recognised by these words; HTTP 402 Payment Required always is.
_CREDITS_WORDS = re.compile(
    r"credit|insufficient[ _-]?(funds|balance)|quota[ _-]?(exceeded|exhausted)|exceeded your quota"
    r"|payment[ _-]?required",
    re.IGNORECASE,
)
#: HTTP statuses that mean "out of credits" when their JSON body names credits (402: always).
CREDITS_STATUSES = (400, 402, 403, 429)


def _mentions_credits(*values: object) -> bool:
    return any(isinstance(value, str) and _CREDITS_WORDS.search(value) for value in values)


def raise_for_exhausted_credits(status: int, body: object, what: str) -> None:
    """Raise :class:`PictoryCreditsExhaustedError` if an HTTP error answer means "out of AI credits".

    Assumed (undocumented): HTTP 402 always; HTTP 400, 403 or 429 when its JSON ``message``, ``code``,
    ``error``, ``error_code`` or ``error_message`` mentions credits, an insufficient balance or an
    exceeded quota. A 403 without such a JSON body stays an auth/CDN block.
    """
    if status not in CREDITS_STATUSES:
        return
    fields = (
        [body.get(key) for key in ("message", "code", "error", "error_code", "error_message")]
        if isinstance(body, dict)
        else []
    )
    if status != 402 and not _mentions_credits(*fields):
        return
    said = next((value for value in fields if isinstance(value, str) and value), "")
    raise PictoryCreditsExhaustedError(
        f"Pictory AI credits are exhausted: Pictory refused {what} (HTTP {status}{': ' + said if said else ''}). "
        "Check the quota (PictoryHook.get_quota) and wait for the monthly reset or upgrade the plan",
        status=status,
    )


def failed_job_error(
    job_id: str, error_code: str | None, error_message: str | None
) -> PictoryJobFailedError | PictoryCreditsExhaustedError:
    """The error for a failed job: :class:`PictoryCreditsExhaustedError` when Pictory's error code or
    message is credits-related (assumed, as above), else :class:`PictoryJobFailedError`."""
    if _mentions_credits(error_code, error_message):
        return PictoryCreditsExhaustedError(
            f"Pictory AI credits are exhausted: job {job_id} failed with {error_code or 'UNKNOWN_ERROR'}: "
            f"{error_message or 'no error message given'}. Check the quota (PictoryHook.get_quota) and wait "
            "for the monthly reset or upgrade the plan",
            job_id=job_id,
            error_code=error_code,
            error_message=error_message,
        )
    return PictoryJobFailedError(job_id, error_code, error_message)
