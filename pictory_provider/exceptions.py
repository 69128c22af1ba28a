"""Errors raised by the Pictory provider.

Errors that the same task would meet again on every try (bad input, a refused key, a job id Pictory
does not know, a missing connection, a spend guard, a failed job, an ambiguous submission) are also
``AirflowFailException``: the task fails at once instead of using up its retries. Transient ones
(:class:`PictoryTransientError`, timeouts, a submission not known yet) keep Airflow's retries.

Every message is built from status codes, Pictory's own error fields and our own text; none of them
ever contains the API key (HTTP library errors are never ``repr()``-ed, their reprs carry headers).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.common.compat.sdk import AirflowFailException

__all__ = [
    "PictoryAPIError",
    "PictoryAuthError",
    "PictoryBudgetError",
    "PictoryConfigError",
    "PictoryCreditsExhaustedError",
    "PictoryDownloadError",
    "PictoryError",
    "PictoryEventError",
    "PictoryJobFailedError",
    "PictoryJobTimeoutError",
    "PictoryNotFoundError",
    "PictorySubmissionAmbiguousError",
    "PictorySubmissionUnclearError",
    "PictorySubmissionUnresolvedError",
    "PictoryTransientError",
    "PictoryValidationError",
    "PictoryWaitError",
]


class PictoryError(Exception):
    """Base class of every error this provider raises."""


class PictoryConfigError(PictoryError, AirflowFailException):
    """The Airflow connection is missing or unusable (no API key, bad base URL, ...). Not retried."""


class PictoryValidationError(PictoryError, ValueError, AirflowFailException):
    """A request was rejected, locally before sending or by Pictory with HTTP 400. Not retried.

    ``fields`` is Pictory's ``fields`` list (``[{"name": ..., "errors": ...}]``) or, for a local
    check, a one-element list naming the offending field.
    """

    def __init__(self, message: str, fields: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or []


class PictoryAPIError(PictoryError):
    """Pictory answered with an HTTP error that is not retried (or an unusable body)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PictoryAuthError(PictoryAPIError, AirflowFailException):
    """HTTP 401/403: the API key is missing, invalid, or the request was blocked. Not retried."""


class PictoryNotFoundError(PictoryAPIError, AirflowFailException):
    """HTTP 404: no job with this id exists for this API key. Not retried."""


class PictoryTransientError(PictoryAPIError):
    """Transient failures (5xx, 429, network, timeouts, non-JSON bodies) outlasted the retry budget."""


class PictoryJobFailedError(PictoryError, AirflowFailException):
    """The Pictory job ended in ``failed`` (or its outputs were ``cleaned``).

    Also an ``AirflowFailException``: the task fails without retrying, since polling the same failed
    job again cannot succeed (``soft_fail=True`` on the sensor turns it into a skip).
    """

    def __init__(self, job_id: str, error_code: str | None, error_message: str | None) -> None:
        super().__init__(
            f"Pictory job {job_id} failed: {error_code or 'UNKNOWN_ERROR'}: {error_message or 'no error message given'}"
        )
        self.job_id = job_id
        self.error_code = error_code
        self.error_message = error_message


class PictoryJobTimeoutError(PictoryError):
    """The job did not finish within the allowed time (the remote job keeps running)."""


class PictoryEventError(PictoryError):
    """A trigger event handed to ``execute_complete`` is missing or malformed."""


class PictoryDownloadError(PictoryError):
    """The generated image could not be downloaded or stored (bad URL, not a PNG, too large, I/O)."""


class PictorySubmissionUnclearError(PictoryTransientError):
    """The request that creates a paid job failed after it may have reached Pictory (a read timeout,
    a reset, a 5xx): a job may exist and be billed. It is never retried blindly; on Airflow >= 3.3 the
    task's next try looks for the job (see :mod:`pictory_provider.submission`)."""


class PictorySubmissionUnresolvedError(PictoryError):
    """A retry could not tell from Pictory's lists whether an earlier, unclear submission created a job,
    so it did not submit again (pass ``resubmit_unclear=True`` to the operator to submit anyway).
    Retried by Airflow: jobs still running may tell later."""


class PictorySubmissionAmbiguousError(PictorySubmissionUnresolvedError, AirflowFailException):
    """Two or more jobs of the same request were created in the unclear submission's window: the lists
    can never tell which is the task's own, so the task fails without retrying."""


class PictoryWaitError(PictoryError, AirflowFailException):
    """Waiting in the triggerer ended with an error that another try would meet again (a refused key,
    a job id Pictory does not know, a missing connection). Not retried."""


class PictoryBudgetError(PictoryError, AirflowFailException):
    """A spend guard refused a paid request before it was sent (``max_ai_credits``, ``check_quota``).

    Also an ``AirflowFailException``: the task fails without retrying, since the same request would be
    refused again. ``estimate`` is the request's estimated cost; ``limit`` the ``max_ai_credits`` or
    ``remaining`` the credits left, whichever refused it.
    """

    def __init__(
        self, message: str, *, estimate: float | None = None, limit: float | None = None, remaining: float | None = None
    ) -> None:
        super().__init__(message)
        self.estimate = estimate
        self.limit = limit
        self.remaining = remaining


class PictoryCreditsExhaustedError(PictoryBudgetError):
    """Pictory refused a request, or failed a job, because the account's AI credits are exhausted.

    Pictory does not document this answer: an HTTP 402, or a 400/403/429 whose JSON names credits
    (``status``), or a job that failed with a credits-related code (``job_id``, ``error_code``,
    ``error_message``). Not retried by Airflow.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        job_id: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.job_id = job_id
        self.error_code = error_code
        self.error_message = error_message
