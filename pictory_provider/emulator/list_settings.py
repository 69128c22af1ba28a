"""The emulator's ``GET /jobs`` and outputs-list settings (``configure_list``) and the ``createdDate`` forms."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pictory_provider.emulator.faults import _seconds
from pictory_provider.emulator.jobs import PAGINGS

__all__ = ["CREATED_DATE_FORMS", "LIST_DEFAULTS", "PAGE_SIZE", "check_list_settings", "created_date"]

PAGE_SIZE = 100
#: ``GET /jobs`` settings (``configure_list``): page size, paging, other jobs created before each page
#: is read (``arrivals_per_page``, "jobs arriving during a scan"), completed items without their
#: outputs (``list_outputs: False``: status only, so clients must read the job itself) or summary items
#: (``list_outputs: "url"``: status and url only, no width/height/aiCreditsUsed/video fields).
#: ``job_seconds_max`` (``None`` or >= ``job_seconds``): each new job runs a random time in between.
#: ``clock_offset``: seconds Pictory's clock is ahead of this host's (negative: behind), in the
#: ``createdDate`` of list items and the ``Date`` header. ``created_dates``: the form of ``createdDate``
#: in the outputs lists (see :data:`CREATED_DATE_FORMS`). ``created_skew``: seconds the ``createdDate``
#: stamps run ahead of the ``Date`` header (two clocks of Pictory's that may disagree). ``streamed_mp4``:
#: MP4s as a streaming muxer writes them (the last box has size 0, "to the end of the file").
LIST_DEFAULTS: dict[str, Any] = {
    "page_size": PAGE_SIZE,
    "paging": "key",
    "arrivals_per_page": 0,
    "list_outputs": True,
    "job_seconds_max": None,
    "clock_offset": 0.0,
    "created_dates": "iso",
    "created_skew": 0.0,
    "streamed_mp4": False,
}
#: ``createdDate`` forms: ISO with ``Z`` (Pictory's documented form), ISO without a zone, epoch
#: seconds, epoch milliseconds (numbers), ``"garbled"`` (unreadable text) and ``"absent"``.
CREATED_DATE_FORMS = ("iso", "iso-naive", "epoch-s", "epoch-ms", "garbled", "absent")


def created_date(moment: float, form: str) -> Any:
    """A ``createdDate`` value of ``moment`` (epoch seconds) in one of :data:`CREATED_DATE_FORMS`."""
    iso = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    return {
        "iso": iso.replace("+00:00", "Z"),
        "iso-naive": iso.replace("+00:00", ""),
        "epoch-s": int(moment),
        "epoch-ms": int(moment * 1000),
        "garbled": "yesterday-ish",
    }.get(form)


def check_list_settings(settings: Mapping[str, Any]) -> None:
    """``ValueError`` naming the first unknown or malformed setting of :data:`LIST_DEFAULTS`."""
    for name, value in settings.items():
        if name not in LIST_DEFAULTS:
            raise ValueError(f"unknown list setting {name!r}")
        if name == "page_size" and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"page_size must be an integer >= 1 (got {value!r})")
        if name == "arrivals_per_page" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"arrivals_per_page must be an integer >= 0 (got {value!r})")
        if name == "paging" and value not in PAGINGS:
            raise ValueError(f"paging must be one of {', '.join(PAGINGS)} (got {value!r})")
        if name == "job_seconds_max" and value is not None:
            _seconds(name, value)
        if name == "list_outputs" and not isinstance(value, bool) and value != "url":
            raise ValueError(f'list_outputs must be true, false or "url" (got {value!r})')
        if name == "streamed_mp4" and not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false (got {value!r})")
        if name in ("clock_offset", "created_skew") and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"{name} must be a number of seconds (got {value!r})")
        if name == "created_dates" and value not in CREATED_DATE_FORMS:
            raise ValueError(f"created_dates must be one of {', '.join(CREATED_DATE_FORMS)} (got {value!r})")
