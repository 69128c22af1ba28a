"""The emulator's AI-credit account: the balance jobs debit, the ledger, and the quota/usage routes.

Emulator assumptions (Pictory documents none of this):

- A job is debited its price (:func:`pictory_provider.credits.estimate_credits`) when the POST is
  accepted; a job that ends ``failed`` (``fail_job`` fault, or out of credits) costs nothing.
- Out of credits (remaining < price): with ``when_exhausted="reject"`` (the default) the POST is
  answered **HTTP 402** ``{"code": "INSUFFICIENT_AI_CREDITS", "message": ...}`` and no job is created;
  with ``"fail_job"`` the job is accepted and ends ``failed`` with ``error_code`` ``INSUFFICIENT_AI_CREDITS``.
- The ledger starts each reset with one ``credit`` row, source ``Monthly Reset``, of the limit; setting
  ``used`` or ``limit`` by hand writes no ledger row.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from pictory_provider import credits
from pictory_provider.exceptions import PictoryValidationError

if TYPE_CHECKING:
    from pictory_provider.emulator.jobs import Job

DEFAULT_LIMIT = 1_000_000.0
PLAN = "API Starter (emulated)"
WHEN_EXHAUSTED = ("reject", "fail_job")
OUT_OF_CREDITS_CODE = "INSUFFICIENT_AI_CREDITS"
#: The other documented quotas, fixed in the emulator: (used, limit).
OTHER_QUOTAS: dict[str, tuple[float, float]] = {
    "videoMinutes": (0, 600),
    "transcriptionMinutes": (0, 600),
    "elevenLabsVoiceOverMinutes": (0, 60),
}


class OutOfCredits(Exception):
    """Raised from job creation in ``reject`` mode: answer 402 and create no job."""

    def __init__(self, price: float, remaining: float) -> None:
        super().__init__(f"Insufficient AI credits: this request costs {price:g} and {remaining:g} remain")
        self.price = price
        self.remaining = remaining

    def response(self) -> web.Response:
        return web.json_response({"code": OUT_OF_CREDITS_CODE, "message": str(self)}, status=402)


@dataclass(frozen=True)
class Transaction:
    id: str
    type: str
    amount: float
    source: str
    description: str
    at: float

    def item(self) -> dict[str, Any]:
        return {
            "transactionId": self.id,
            "type": self.type,
            "amount": self.amount,
            "source": self.source,
            "description": self.description,
            "plan": PLAN,
            "transactionDate": _iso(self.at),
        }


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _credits(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0 (got {value!r})")
    return float(value)


class CreditAccount:
    """The AI-credit balance of the emulated account (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self, now: float | None = None) -> None:
        """Back to the default: limit 1,000,000, nothing used, ``reject`` when exhausted, a fresh ledger."""
        at = datetime.now(UTC).timestamp() if now is None else now
        with self._lock:
            self._limit = DEFAULT_LIMIT
            self._used = 0.0
            self._when_exhausted = "reject"
            self._ledger = [
                Transaction(str(uuid.uuid4()), "credit", DEFAULT_LIMIT, "Monthly Reset", "Monthly AI credits", at)
            ]

    def configure(
        self, *, limit: float | None = None, used: float | None = None, when_exhausted: str | None = None
    ) -> dict[str, Any]:
        """Set the limit, the credits used and the out-of-credits behaviour; ``ValueError`` if invalid."""
        if when_exhausted is not None and when_exhausted not in WHEN_EXHAUSTED:
            raise ValueError(f"when_exhausted must be one of {', '.join(WHEN_EXHAUSTED)} (got {when_exhausted!r})")
        new_limit = None if limit is None else _credits("limit", limit)
        new_used = None if used is None else _credits("used", used)
        with self._lock:
            if new_limit is not None:
                self._limit = new_limit
            if new_used is not None:
                self._used = new_used
            if when_exhausted is not None:
                self._when_exhausted = when_exhausted
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        """``{"limit", "used", "remaining", "when_exhausted", "ledger": [usage items, newest first]}``."""
        with self._lock:
            return {
                "limit": self._limit,
                "used": self._used,
                "remaining": round(self._limit - self._used, 6),
                "when_exhausted": self._when_exhausted,
                "ledger": [item.item() for item in reversed(self._ledger)],
            }

    def charge(self, job: Job) -> None:
        """Debit a job being created, or refuse it (``OutOfCredits``) or fail it, when credits run out."""
        if job.error_code is not None:
            return  # a job that will fail costs nothing
        price = job.credits  # the documented price: the image model's, or per second for a video
        with self._lock:
            remaining = round(self._limit - self._used, 6)
            if remaining < price:
                if self._when_exhausted == "reject":
                    raise OutOfCredits(price, remaining)
                job.error_code = OUT_OF_CREDITS_CODE
                job.error_message = f"Insufficient AI credits: the {job.kind} costs {price:g} and {remaining:g} remain"
                return
            self._used = round(self._used + price, 6)
            self._ledger.append(
                Transaction(
                    str(uuid.uuid4()),
                    "debit",
                    price,
                    "Text-to-Video" if job.kind == "video" else "Text-to-Image",
                    f"AI Studio {job.kind} ({job.model})",
                    job.created_at,
                )
            )

    def quota_body(self) -> dict[str, Any]:
        with self._lock:
            body = {name: {"used": used, "limit": limit} for name, (used, limit) in OTHER_QUOTAS.items()}
            body["aiCredits"] = {"used": self._used, "limit": self._limit}
            return body

    def usage_items(self, period: tuple[int, int]) -> list[dict[str, Any]]:
        year, month = period
        with self._lock:
            rows = [row for row in reversed(self._ledger)]
        return [
            row.item()
            for row in rows
            if (stamp := datetime.fromtimestamp(row.at, UTC)).year == year and stamp.month == month
        ]


# -- routes ---------------------------------------------------------------------------------------

ACCOUNT_KEY = web.AppKey("pictory_emulator_credit_account", CreditAccount)


async def get_quota(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[ACCOUNT_KEY].quota_body())


def _int_query(request: web.Request, name: str) -> int | str | None:
    value = request.query.get(name)
    if value is None:
        return None
    return int(value) if value.strip().isdigit() else value


async def get_usage(request: web.Request) -> web.StreamResponse:
    now = datetime.now(UTC)
    try:
        period = credits.usage_period(_int_query(request, "year"), _int_query(request, "month"), now)
    except PictoryValidationError as exc:
        return web.json_response({"code": "INVALID_REQUEST", "message": str(exc)}, status=400)
    return web.json_response(request.app[ACCOUNT_KEY].usage_items(period or (now.year, now.month)))


async def admin_get_credits(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[ACCOUNT_KEY].snapshot())


async def admin_set_credits(request: web.Request) -> web.StreamResponse:
    account = request.app[ACCOUNT_KEY]
    try:
        payload = await request.json() if await request.read() else {}
        if not isinstance(payload, dict):
            raise ValueError("body must be a JSON object")
        unknown = sorted(set(payload) - {"limit", "used", "when_exhausted"})
        if unknown:
            raise ValueError(f"unknown credit fields: {', '.join(unknown)}")
        return web.json_response(account.configure(**payload))
    except ValueError as exc:
        return web.json_response({"code": "INVALID_REQUEST", "message": str(exc)}, status=400)


#: Handler → route name, for the request counters and faults (``"quota"``, ``"usage"``).
CREDIT_ROUTES: dict[Callable[[web.Request], Awaitable[web.StreamResponse]], str] = {
    get_quota: "quota",
    get_usage: "usage",
}


def add_credit_routes(app: web.Application, account: CreditAccount) -> None:
    """Serve ``GET /quota``, ``GET /aicredits/usage`` and the ``/_emulator/credits`` admin routes."""
    app[ACCOUNT_KEY] = account
    app.router.add_get(credits.QUOTA_PATH, get_quota, allow_head=False)
    app.router.add_get(credits.AI_CREDITS_USAGE_PATH, get_usage, allow_head=False)
    app.router.add_get("/_emulator/credits", admin_get_credits, allow_head=False)
    app.router.add_post("/_emulator/credits", admin_set_credits)
