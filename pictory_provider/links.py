"""Operator extra links whose URL a task publishes in XCom (the image URL, later the video URL).

Airflow 3 asks every extra link for its URL at the end of **each try** (in the worker, to store it
for the UI), also when the task deferred or failed and published nothing yet. A plain
``XCom.get_value`` then logs ``XCom not found`` at ERROR level in a healthy run, so the lookup here
stays quiet: no lookup at all when the try did not succeed, and otherwise a lookup that answers
"nothing" without an error (the XCom slice of the task). Airflow 2 computes links in the webserver
from the metadata DB, where a missing XCom is quietly ``None``.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

log = logging.getLogger(__name__)

__all__ = ["PictoryXComLink", "published_value"]


def published_value(ti_key: Any, key: str) -> Any:
    """The XCom ``key`` of the task instance ``ti_key``, or None, without logging an error if absent.

    ``ti_key`` is the running task instance when Airflow 3 calls a link at the end of a try (it has a
    ``state``), or a ``TaskInstanceKey``.
    """
    state = getattr(ti_key, "state", None)
    if state is not None and state != "success":  # deferred, failed, up for retry: nothing published yet
        return None
    get_all = getattr(XCom, "get_all", None)  # Airflow 3: the XCom slice answers "none" without an error
    if get_all is not None:
        values = get_all(key=key, dag_id=ti_key.dag_id, task_id=ti_key.task_id, run_id=ti_key.run_id)
        if not values:
            return None
        if getattr(ti_key, "map_index", -1) < 0:
            return values[0]
        # a mapped task: the slice holds every map index's value; ask for this one (it exists unless a
        # sibling published the key and this one did not)
    return XCom.get_value(key=key, ti_key=ti_key)


class PictoryXComLink(BaseOperatorLink):
    """An extra link to the URL a task publishes as XCom ``url_xcom_key``; empty until it exists.

    Subclasses set ``name`` (the button label) and ``url_xcom_key``. (Not ``xcom_key``: that is
    Airflow's own attribute, the key under which Airflow 3 stores the finished link.)
    """

    url_xcom_key: ClassVar[str]

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        try:
            value = published_value(ti_key, self.url_xcom_key)
        except Exception as exc:  # Airflow 3.0 fails the end of the try if a link raises
            log.warning("Could not look up XCom %r for the %r link: %s", self.url_xcom_key, self.name, exc)
            return ""
        return value if isinstance(value, str) else ""
