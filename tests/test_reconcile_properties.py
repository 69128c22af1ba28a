"""The never-buy-twice rules (issue #26) as invariants over generated Pictory accounts.

A generated scenario is the truth of one account: the request's own job (made or not, finished,
running or failed, created on time or late), jobs of sibling map indexes and other tasks (claimed),
identical requests of other runs (unclaimed), other prompts, other kinds (a finished video, a render
in progress), a ``createdDate`` clock up to 2 minutes off Pictory's ``Date`` header, a killed worker,
and list pages of any size. The lists are built from it as Pictory shows them (newest first, items
with the documented fields), and the pure verdict function must hold, for every scenario:

- it never says "created nothing" (send again) while the request's own job exists;
- it says "created nothing" only when every job above the fence is provably another's;
- it adopts only an identical, unclaimed job created inside the closed window, and when the request's
  own job exists, only that job;
- jobs of other kinds and jobs below the fence never change the verdict.

The cases found by the attack on the rules are kept as explicit examples at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pictory_provider.api import JOBS_PATH
from pictory_provider.kinds import IMAGE
from pictory_provider.reconcile import LATE_CREATE_GRACE, Verdict, Window, parse_created, read_evidence

T0 = 1_764_900_000.0  # the fence's Date header (Pictory's clock)
LIMIT = 40.0  # connect + read timeout: a killed worker's request was out at most this long
PROMPT = "A lighthouse at dawn"
BODY = {"prompt": PROMPT, "model": "flux-schnell"}
ROLES = (
    "sibling",  # same request, another map index: its clear answer stored and published the id (claimed)
    "identical",  # same request by another run: nobody here claims it
    "other-prompt",  # an image of another request
    "video",  # a finished video (its data shows duration, thumbnail)
    "render",  # a render in progress (renderProgress)
    "unknown-running",  # an AI Studio job in progress: {"status": "in-progress"}, kind unknown
    "failed",  # a failed job of unknown kind
)


@dataclass
class Job:
    job_id: str
    role: str
    at: float  # true creation time, in the Date header's clock
    status: str = "completed"


@dataclass
class Scenario:
    jobs: list[Job]  # every job of the account, the request's own included
    own: Job | None
    skew: float  # createdDate clock minus Date clock
    elapsed: float | None  # how long the try saw the request out; None: the worker was killed
    page_size: int = 3
    below: list[Job] = field(default_factory=list)

    @property
    def fence(self) -> str | None:
        before = [job for job in self.all_jobs if job.at < T0]
        return max(before, key=lambda job: job.at).job_id if before else None

    @property
    def all_jobs(self) -> list[Job]:
        return self.jobs + self.below

    @property
    def window(self) -> Window:
        out = LIMIT if self.elapsed is None else self.elapsed
        return Window(self.fence, T0, T0 + out + 1.0)

    @property
    def claimed(self) -> set[str]:
        return {job.job_id for job in self.all_jobs if job.role == "sibling"}

    def above(self) -> list[Job]:
        return [job for job in self.all_jobs if job.at >= T0]


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _data(job: Job) -> dict[str, Any]:
    """The job's ``data`` as the jobs list shows it (docs: jobs/get-jobs, ai-studio/get-*-job)."""
    data: dict[str, Any] = {"jobId": job.job_id, "status": job.status}
    if job.status == "in-progress":
        if job.role == "render":
            data.update(renderProgress=40, renderProgressMessage="Generating video", renderState="RUNNING")
        return data
    if job.status == "failed":
        return data | {"error_code": "GENERATION_FAILED", "error_message": "failed"}
    data["url"] = f"https://cdn.example/{job.job_id}." + ("mp4" if job.role == "video" else "png")
    if job.role == "video":
        data.update(duration="5s", thumbnailImageUrl=f"https://cdn.example/{job.job_id}.jpg")
    return data


def _image_item(job: Job, skew: float) -> dict[str, Any]:
    prompt = "Another prompt entirely" if job.role == "other-prompt" else PROMPT
    return {
        "url": f"https://cdn.example/{job.job_id}.png",
        "id": job.job_id,
        "prompt": prompt,
        "model": "flux-schnell",
        "aspectRatio": "1:1",
        "createdDate": _iso(job.at + skew),
    }


def lists(scenario: Scenario) -> Any:
    """Pictory's jobs list and images list (newest first, ``page_size`` items a page)."""
    ordered = sorted(scenario.all_jobs, key=lambda job: job.at, reverse=True)
    jobs = [{"success": job.status != "failed", "data": _data(job)} for job in ordered]
    images = [
        _image_item(job, scenario.skew)
        for job in ordered
        if job.status == "completed" and job.role not in ("video", "render")
    ]
    pages = {JOBS_PATH: jobs, IMAGE.path: images}

    def list_page(path: str, key: str | None) -> dict[str, Any]:
        start = int(key or 0)
        items = pages[path][start : start + scenario.page_size]
        more = start + scenario.page_size < len(pages[path])
        return {"items": items, "nextPageKey": str(start + scenario.page_size) if more else None}

    return list_page


def verdict_of(scenario: Scenario) -> Any:
    return read_evidence(IMAGE, BODY, scenario.window, lists(scenario), claimed=scenario.claimed)


@st.composite
def scenarios(draw: Any) -> Scenario:
    skew = draw(st.floats(-120, 120))
    killed = draw(st.booleans())
    out = draw(st.floats(0, LIMIT))  # how long the request was really out before the try gave up or died
    elapsed = None if killed else float(int(out) + 1)
    jobs: list[Job] = []
    for index in range(draw(st.integers(0, 8))):
        role = draw(st.sampled_from(ROLES))
        status = {"render": "in-progress", "unknown-running": "in-progress", "failed": "failed"}.get(role)
        if status is None:
            status = draw(st.sampled_from(["completed", "completed", "in-progress"]))
        at = T0 + draw(st.floats(-600, 600))
        jobs.append(Job(f"job-{index}", role, at, status))
    own = None
    if draw(st.booleans()):
        late = draw(st.floats(0, 120))  # Pictory may create the job after the client gave up
        status = draw(st.sampled_from(["completed", "in-progress", "failed"]))
        own = Job("job-own", "identical", T0 + min(out, draw(st.floats(0, LIMIT))) + late, status)
        jobs.append(own)
    if not any(job.at < T0 for job in jobs):
        jobs.append(Job("job-fence", "other-prompt", T0 - 700))
    return Scenario(jobs, own, skew, elapsed, page_size=draw(st.integers(1, 5)))


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _provably_anothers(scenario: Scenario, job: Job) -> bool:
    finished = job.status == "completed"
    return job.role in ("sibling", "render") or (job.role in ("video", "other-prompt") and finished)


@SETTINGS
@given(scenarios())
def test_never_send_again_while_the_requests_own_job_exists(scenario: Scenario) -> None:
    evidence = verdict_of(scenario)
    if scenario.own is not None:
        assert evidence.verdict is not Verdict.CREATED_NOTHING, evidence.summary()
    if evidence.verdict is Verdict.CREATED_NOTHING:
        assert all(_provably_anothers(scenario, job) for job in scenario.above()), evidence.summary()


@SETTINGS
@given(scenarios())
def test_adopt_only_an_unclaimed_identical_job_inside_the_closed_window(scenario: Scenario) -> None:
    evidence = verdict_of(scenario)
    if evidence.verdict is not Verdict.ADOPT:
        return
    (adopted, created), window = evidence.candidates[0], scenario.window
    job = next(job for job in scenario.jobs if job.job_id == adopted)
    assert adopted not in scenario.claimed
    assert job.role == "identical" and job.status == "completed"
    moment = parse_created(created)
    assert moment is not None and window.start is not None and window.end is not None
    assert window.start - 2 <= moment.timestamp() <= window.end + LATE_CREATE_GRACE
    if scenario.own is not None:
        assert adopted == scenario.own.job_id, evidence.summary()


@SETTINGS
@given(scenarios())
def test_jobs_of_other_kinds_and_jobs_below_the_fence_never_change_the_verdict(scenario: Scenario) -> None:
    verdict = verdict_of(scenario).verdict
    # a video in progress shows no kind ({"status": "in-progress"}): it could be the request's own
    shows_other_kind = {job.job_id for job in scenario.jobs if job.role == "render" or _data(job).get("duration")}
    without_other_kinds = [job for job in scenario.jobs if job.job_id not in shows_other_kind or job.at < T0]
    if any(job.at < T0 for job in without_other_kinds):  # the fence stays where it was
        assert verdict_of(replace(scenario, jobs=without_other_kinds)).verdict is verdict
    fence_at = min((job.at for job in scenario.above()), default=T0) if scenario.fence else T0
    older = [Job("job-older-identical", "identical", T0 - 900), Job("job-older-running", "unknown-running", T0 - 800)]
    older[1].status = "in-progress"
    assert fence_at >= T0
    assert verdict_of(replace(scenario, below=older)).verdict is verdict


# -- the cases the attack found (issue #26), as explicit examples -----------------------------------


def test_case_1_clock_ahead_and_an_unrelated_job_completing_never_sends_again() -> None:
    """createdDate ~60 s ahead of Date; a sibling's unrelated image completes between; the request's own
    job still runs. It was labelled "later" and the retry bought a second image."""
    own = Job("job-own", "identical", T0 + 3, "in-progress")
    unrelated = Job("job-sibling-other", "other-prompt", T0 + 1)
    scenario = Scenario([Job("job-fence", "other-prompt", T0 - 5), unrelated, own], own, skew=60, elapsed=4)
    evidence = verdict_of(scenario)
    assert evidence.verdict is Verdict.WAIT and evidence.running == ["job-own"]


def test_case_1_a_late_create_beyond_the_grace_never_sends_again() -> None:
    own = Job("job-own", "identical", T0 + 4 + LATE_CREATE_GRACE + 20)
    unrelated = Job("job-unrelated", "other-prompt", T0 + 2)
    scenario = Scenario([Job("job-fence", "other-prompt", T0 - 5), unrelated, own], own, skew=0, elapsed=4)
    evidence = verdict_of(scenario)
    assert evidence.verdict is Verdict.UNRESOLVED and evidence.outside[0].startswith("job-own")


def test_case_4_a_siblings_identical_job_is_never_adopted_and_proves_nothing_was_made() -> None:
    """One prompt, two map indexes; map 0's create got a 502 and made nothing, map 1 made its job."""
    sibling = Job("job-map-1", "sibling", T0 + 1)
    scenario = Scenario([Job("job-fence", "other-prompt", T0 - 5), sibling], None, skew=0, elapsed=2)
    evidence = verdict_of(scenario)
    assert evidence.verdict is Verdict.CREATED_NOTHING and evidence.claimed == ["job-map-1"]


def test_case_4_a_killed_workers_window_ends_at_the_request_limit() -> None:
    """The worker died mid-create (no elapsed); another run made an identical image 45 s later."""
    later = Job("job-other-run", "identical", T0 + LIMIT + 1 + LATE_CREATE_GRACE + 45)
    scenario = Scenario([Job("job-fence", "other-prompt", T0 - 5), later], None, skew=0, elapsed=None)
    evidence = verdict_of(scenario)
    assert evidence.verdict is Verdict.UNRESOLVED and not evidence.candidates


def test_case_7_a_render_in_progress_never_blocks_an_image() -> None:
    mine = Job("job-own", "identical", T0 + 1)
    render = Job("job-render", "render", T0 + 2, "in-progress")
    scenario = Scenario([Job("job-fence", "other-prompt", T0 - 5), mine, render], mine, skew=0, elapsed=2)
    evidence = verdict_of(scenario)
    assert evidence.verdict is Verdict.ADOPT and evidence.candidates[0][0] == "job-own"
    assert evidence.other_kind == 1
