"""From Airflow's own records to Pictory outputs and their AI-credit spend (pure Python, no Airflow).

The UI plugin reads XCom rows, asset events and rendered template fields from Airflow's database and
hands them to these functions. What a job kind publishes comes from :data:`pictory_provider.kinds.KINDS_BY_SHAPE`
(its named XCom keys, its stored-file key), so a new kind shows up here without code changes.

Rules:

- a task instance made a Pictory output when it published its kind's URL key (``image_url``,
  ``video_url``) and a job id (XCom ``job_id``, or ``job_id`` in its return value); when several kinds
  share a URL key, the kind whose keys the task published best wins;
- one output per job id: a job published twice (a downstream task re-publishing it) counts once, and so
  does its spend;
- asset events (the outlets' ``extra``) add the jobs whose XCom is gone (a cleared task), so the spend
  still counts them;
- URLs shown to the browser are http(s) only, and at most :data:`MAX_URL_LENGTH` characters;
- credits that cannot be true (not a finite number, negative, above :data:`MAX_JOB_CREDITS` for one
  job) are not counted, and the spend says how many were left out, so one record cannot skew or
  break the page; job ids and stored paths longer than any real one are not read.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from pictory_provider.kinds import KINDS_BY_SHAPE, JobKind

__all__ = [
    "MAX_JOB_CREDITS",
    "MAX_URL_LENGTH",
    "REQUEST_TITLE_FIELDS",
    "AssetEventRow",
    "Output",
    "Spend",
    "TaskKey",
    "XComRow",
    "filter_outputs",
    "merge_outputs",
    "outputs_from_asset_events",
    "outputs_from_xcoms",
    "request_summary",
    "safe_url",
    "spend",
    "tasks_without_job_id",
    "video_name",
    "xcom_keys",
]

#: Rendered template fields that name what was asked for, in order of preference (the first present
#: is the output's title: a prompt, or a render's name; a rendered ``storyboard`` gives its ``videoName``).
REQUEST_TITLE_FIELDS = ("prompt", "video_name", "storyboard_name", "name")
#: Rendered template fields shown beside the title (when the task has them).
REQUEST_DETAIL_FIELDS = (
    "model",
    "aspect_ratio",
    "style",
    "duration",
    "media_type",
    "language",
    "highlight_duration",
    "pictory_conn_id",
)
#: AI credits one job can plausibly use: a value above it (or negative, or not a finite number) is a broken
#: record and is not counted. Far above any real job (a long render costs tens to hundreds of credits).
MAX_JOB_CREDITS = 1_000_000
#: Longest URL passed to the browser (signed CDN URLs run to 1-2 KB; 8 KB is where common servers stop).
MAX_URL_LENGTH = 8192
#: Longest job id read (Pictory's are 36-character UUIDs) and stored path (a path is at most 4096 bytes on Linux).
MAX_JOB_ID_LENGTH = 128
MAX_PATH_LENGTH = 4096
#: Longest video name read (a title; Pictory's ``videoName`` has no documented limit: inferred).
MAX_NAME_LENGTH = 1000


class TaskKey(NamedTuple):
    """One task instance: ``(dag_id, run_id, task_id, map_index)``."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int


class XComRow(NamedTuple):
    """One XCom row (``value`` already deserialized)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    key: str
    value: Any
    timestamp: datetime


class AssetEventRow(NamedTuple):
    """One asset event produced by a task (``extra`` is the event's extra dict)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    extra: Any
    timestamp: datetime


@dataclass(frozen=True)
class Output:
    """One finished Pictory job, as Airflow recorded it.

    ``fields`` holds the kind's result fields (``url``, ``width``, ``ai_credits_used``, ...: the names of
    :attr:`JobKind.result_fields`); ``request_task`` is the task whose rendered fields describe the
    request (the task itself, or the task that submitted the job when a sensor waited for it).
    """

    task: TaskKey
    kind: str
    job_id: str
    fields: Mapping[str, Any]
    stored_path: str | None
    timestamp: datetime
    source: str = "xcom"
    request_task: TaskKey | None = None
    request: Mapping[str, Any] = field(default_factory=dict)
    #: Files stored beside the output, by extension (a render's ``vtt``: XCom ``vtt_path``).
    extra_paths: Mapping[str, str] = field(default_factory=dict)
    #: The output's name the task published (XCom ``video_name``: a storyboard's ``videoName``), or for the
    #: render of a reviewed preview, the name the preview's task published.
    name: str | None = None

    @property
    def url(self) -> str | None:
        """The output's download URL (a transcription's: its source media), if it is a safe http(s) URL."""
        return safe_url(self.fields.get("url") or self.fields.get("media_url"))

    @property
    def credits(self) -> float:
        """AI credits the job used (0 when Airflow recorded none, or a value that cannot be true)."""
        return _credits(self.fields.get("ai_credits_used")) or 0.0

    @property
    def credits_ignored(self) -> bool:
        """Airflow recorded credits for the job that cannot be true (see :data:`MAX_JOB_CREDITS`)."""
        return self.fields.get("ai_credits_used") is not None and _credits(self.fields["ai_credits_used"]) is None

    @property
    def title(self) -> str | None:
        """The video's name (XCom ``video_name``), else the prompt (or render name) from the rendered template
        fields; for the render of a reviewed preview whose name is not found, that it is one."""
        title = self.name or request_summary(self.request)[0]
        if title is None and isinstance(self.request.get("preview_job_id"), str):
            return "Render of a reviewed storyboard preview"
        return title


def _credits(value: object) -> float | None:
    """A plausible credit count as a float, else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value) if not isinstance(value, int) or abs(value) <= MAX_JOB_CREDITS else math.inf
        if math.isfinite(number) and 0 <= number <= MAX_JOB_CREDITS:
            return number
    return None


def safe_url(value: object) -> str | None:
    """``value`` when it is an absolute http(s) URL (never ``javascript:`` and the like) of at most
    :data:`MAX_URL_LENGTH` characters, else ``None``."""
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH or any(ch in value for ch in "\r\n\t\0"):
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:  # "http://[" (an unclosed IPv6 host): not a URL
        return None
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def xcom_keys(kinds: Mapping[str, JobKind] = KINDS_BY_SHAPE) -> set[str]:
    """The named XCom keys the UI reads: the job id and each kind's keys (the return value is read
    only for :func:`tasks_without_job_id`)."""
    keys = {"job_id", "video_name"}
    for kind in kinds.values():
        keys.update(kind.xcom_keys.values())
        keys.add(kind.path_key)
        keys.update(path_key for _, path_key in kind.stored_files)
    return keys


def tasks_without_job_id(rows: Iterable[XComRow], kinds: Mapping[str, JobKind] = KINDS_BY_SHAPE) -> set[TaskKey]:
    """Task instances that published an output URL but no ``job_id`` key (sensors): their return value
    carries the job id, so only theirs is read."""
    url_keys = {kind.url_key for kind in kinds.values()}
    with_url: set[TaskKey] = set()
    with_job: set[TaskKey] = set()
    for row in rows:
        task = TaskKey(row.dag_id, row.run_id, row.task_id, row.map_index)
        if row.key in url_keys:
            with_url.add(task)
        elif row.key == "job_id":
            with_job.add(task)
    return with_url - with_job


def _best_kind(values: Mapping[str, Any], kinds: Mapping[str, JobKind]) -> JobKind | None:
    """The kind whose named keys the task published best (its URL key must be among them)."""
    best: tuple[int, JobKind] | None = None
    for kind in kinds.values():
        if kind.url_key not in values:
            continue
        keys = set(kind.xcom_keys.values())
        score = len(keys & values.keys()) - len(keys - values.keys())
        if best is None or score > best[0]:
            best = (score, kind)
    return None if best is None else best[1]


def _job_id(values: Mapping[str, Any]) -> str | None:
    job_id = values.get("job_id")
    if not isinstance(job_id, str):
        returned = values.get("return_value")
        job_id = returned.get("job_id") if isinstance(returned, Mapping) else None
    return job_id if isinstance(job_id, str) and 0 < len(job_id) <= MAX_JOB_ID_LENGTH else None


def _path(value: object) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_PATH_LENGTH else None


def outputs_from_xcoms(rows: Iterable[XComRow], kinds: Mapping[str, JobKind] = KINDS_BY_SHAPE) -> list[Output]:
    """The outputs the XCom rows describe, newest first, one per job id (see the module rules)."""
    by_task: dict[TaskKey, dict[str, Any]] = defaultdict(dict)
    stamps: dict[TaskKey, datetime] = {}
    for row in rows:
        task = TaskKey(row.dag_id, row.run_id, row.task_id, row.map_index)
        by_task[task][row.key] = row.value
        stamps[task] = max(stamps.get(task, row.timestamp), row.timestamp)
    # Who published each job id first in a run: the submitting task, whose rendered fields hold the prompt.
    submitters: dict[tuple[str, str, str], TaskKey] = {}
    for task in sorted(by_task, key=lambda t: stamps[t]):
        job_id = _job_id(by_task[task])
        if job_id:
            submitters.setdefault((task.dag_id, task.run_id, job_id), task)
    outputs: dict[str, Output] = {}
    for task in sorted(by_task, key=lambda t: stamps[t]):
        values = by_task[task]
        kind = _best_kind(values, kinds)
        job_id = _job_id(values)
        if kind is None or job_id is None or job_id in outputs:
            continue
        fields = {name: values.get(key) for name, key in kind.xcom_keys.items()}
        stored = values.get(kind.path_key)
        submitter = submitters.get((task.dag_id, task.run_id, job_id), task)
        outputs[job_id] = Output(
            task=task,
            kind=kind.name,
            job_id=job_id,
            fields=fields,
            stored_path=_path(stored),
            timestamp=stamps[task],
            request_task=submitter,
            extra_paths=_extra_paths(values, kind),
            name=video_name(values) or video_name(by_task[submitter]),  # a sensor's job: its submitter's name
        )
    return sorted(outputs.values(), key=lambda o: o.timestamp, reverse=True)


def video_name(values: Mapping[str, Any]) -> str | None:
    """The ``video_name`` a task published, when it is a name (a non-empty string of at most 1,000 characters)."""
    name = values.get("video_name")
    return name if isinstance(name, str) and 0 < len(name) <= MAX_NAME_LENGTH else None


def _extra_paths(values: Mapping[str, Any], kind: JobKind) -> dict[str, str]:
    """Where the files stored beside the output are, by extension (strings only)."""
    return {extension: path for extension, path_key in kind.stored_files if (path := _path(values.get(path_key)))}


def _kind_of_extra(extra: Mapping[str, Any], kinds: Mapping[str, JobKind]) -> JobKind | None:
    for kind in kinds.values():
        if extra.get(kind.path_key):
            return kind
    url = extra.get("url")
    try:
        path = urlsplit(url).path.lower() if isinstance(url, str) else ""
    except ValueError:
        path = ""
    for kind in kinds.values():
        if path.endswith(f".{kind.extension}") and all(
            name in kind.result_fields for name in extra if name in ("duration", "width", "height")
        ):
            return kind
    return None


def outputs_from_asset_events(
    rows: Iterable[AssetEventRow], kinds: Mapping[str, JobKind] = KINDS_BY_SHAPE
) -> list[Output]:
    """Outputs from the asset events Pictory tasks emitted (``extra`` with ``job_id`` and ``url``)."""
    outputs: dict[str, Output] = {}
    for row in sorted(rows, key=lambda r: r.timestamp):
        extra = row.extra if isinstance(row.extra, Mapping) else {}
        job_id = _job_id({"job_id": extra.get("job_id")})
        kind = _kind_of_extra(extra, kinds)
        if job_id is None or kind is None or job_id in outputs:
            continue
        task = TaskKey(row.dag_id, row.run_id, row.task_id, row.map_index)
        stored = extra.get(kind.path_key)
        outputs[job_id] = Output(
            task=task,
            kind=kind.name,
            job_id=job_id,
            fields={name: extra.get(name) for name in kind.result_fields},
            stored_path=_path(stored),
            timestamp=row.timestamp,
            source="asset_event",
            request_task=task,
            extra_paths=_extra_paths(extra, kind),
        )
    return list(outputs.values())


def merge_outputs(*sources: Iterable[Output]) -> list[Output]:
    """One output per job id, the first source winning (pass XCom outputs first), newest first."""
    merged: dict[str, Output] = {}
    for source in sources:
        for output in source:
            merged.setdefault(output.job_id, output)
    return sorted(merged.values(), key=lambda o: o.timestamp, reverse=True)


def filter_outputs(
    outputs: Iterable[Output],
    *,
    dag_id: str | None = None,
    kind: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[Output]:
    """The outputs of one DAG / kind, made between ``since`` and ``until`` (UTC dates, inclusive)."""
    return [
        output
        for output in outputs
        if (not dag_id or output.task.dag_id == dag_id)
        and (not kind or output.kind == kind)
        and (since is None or output.timestamp.date() >= since)
        and (until is None or output.timestamp.date() <= until)
    ]


@dataclass(frozen=True)
class Spend:
    """AI credits spent: in total, by UTC day (oldest first) and by DAG (most first); ``ignored`` jobs
    recorded credits that cannot be true (counted as jobs, their credits left out)."""

    total: float
    jobs: int
    by_day: list[tuple[date, float, int]]
    by_dag: list[tuple[str, float, int]]
    ignored: int = 0


def spend(outputs: Iterable[Output]) -> Spend:
    """Sum the AI credits of the outputs (each job once: the outputs are one per job id)."""
    days: dict[date, list[float]] = defaultdict(list)
    dags: dict[str, list[float]] = defaultdict(list)
    ignored = 0
    for output in outputs:
        ignored += output.credits_ignored
        days[output.timestamp.date()].append(output.credits)
        dags[output.task.dag_id].append(output.credits)

    def total(values: list[float]) -> float:
        return round(math.fsum(values), 6)

    by_day = [(day, total(values), len(values)) for day, values in sorted(days.items())]
    by_dag = sorted(((dag, total(v), len(v)) for dag, v in dags.items()), key=lambda item: (-item[1], item[0]))
    every = [value for values in days.values() for value in values]
    return Spend(total=total(every), jobs=len(every), by_day=by_day, by_dag=by_dag, ignored=ignored)


def request_summary(rendered: Mapping[str, Any]) -> tuple[str | None, list[tuple[str, str]]]:
    """The title (prompt or render name) and the other request details from rendered template fields."""
    title = next((str(rendered[name]) for name in REQUEST_TITLE_FIELDS if rendered.get(name)), None)
    board = rendered.get("storyboard")  # PictoryRenderVideoOperator: the storyboard's videoName
    if title is None and isinstance(board, Mapping) and board.get("videoName"):
        title = str(board["videoName"])
    details = [(name, str(rendered[name])) for name in REQUEST_DETAIL_FIELDS if rendered.get(name) not in (None, "")]
    return title, details
