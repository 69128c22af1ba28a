"""A custom operator that reuses PictoryJobTrigger and the provider's event handling.

Included in docs/triggers.md; tests/test_docs.py runs it against the emulator up to the deferral and
then feeds ``execute_complete`` the event the trigger fires.
"""

from __future__ import annotations

# --8<-- [start:operator]
import time
from datetime import timedelta
from typing import Any

from airflow.providers.common.compat.sdk import BaseOperator

from pictory_provider.events import complete_from_event
from pictory_provider.exceptions import PictoryJobTimeoutError
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.triggers.pictory import PictoryJobTrigger


class BrandedImageOperator(BaseOperator):
    """Adds house style to every prompt, then waits in the triggerer like the provider's operator."""

    template_fields = ("subject",)

    def __init__(self, *, subject: str, timeout: float = 1800, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.subject = subject
        self.timeout = timeout

    def execute(self, context: Any) -> None:
        prompt = f"{self.subject}, flat illustration, brand palette of navy and coral"
        job_id = PictoryHook().generate_image(prompt, aspect_ratio="16:9")
        context["ti"].xcom_push(key="job_id", value=job_id)
        self.defer(
            trigger=PictoryJobTrigger(job_id=job_id, poll_interval=15, end_time=time.time() + self.timeout),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout + 60),
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        # Validates the event, pushes image_url, ai_credits_used, width and height (and stores the
        # PNG if given an output_path), or raises the matching Pictory error.
        return complete_from_event(context, event, PictoryJobTimeoutError)


# --8<-- [end:operator]
