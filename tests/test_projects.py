"""Saved projects and template videos against the emulator: the lookups (paged projects, a project and a
template by id), PictoryRenderVideoOperator(project_id=...) and (template_id=..., variables=...), the
variables checked against the template's own before any paid request, and the emulator's routes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import requests
from airflow.providers.common.compat.sdk import TaskDeferred

from pictory_provider.events import EVENT_KEYS
from pictory_provider.exceptions import PictoryNotFoundError, PictoryValidationError
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.kinds import PROJECT_RENDER, TEMPLATE_RENDER
from pictory_provider.operators.render import PictoryRenderVideoOperator
from pictory_provider.projects import parse_template, template_variable_errors
from pictory_provider.triggers.pictory import PictoryJobTrigger

from .conftest import API_KEY
from .fakes import make_context

FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}
PROJECT_ID = "20251222191648030d7df02f5b4054d4ca8831f1369459e25"
HELLO = "202512230204424435786014d42904bbc95813430789fe736"  # templates/get-template-by-id's example
CORPORATE = "202507141030549677ylq8k8gu44vy1y"  # {"Name", "Company"}
RENDER_XCOM = {
    "job_id",
    "video_url",
    "share_url",
    "srt_url",
    "vtt_url",
    "txt_url",
    "thumbnail_url",
    "duration",
    "ai_credits_used",
    "audio_url",
}


def operator(**kwargs) -> PictoryRenderVideoOperator:
    return PictoryRenderVideoOperator(**({"task_id": "render", "hook_params": FAST, "poll_interval": 0.1} | kwargs))


def routes(emulator) -> dict:
    return {route: count for route, count in emulator.stats()["requests"].items() if count}


def first_event(trigger: PictoryJobTrigger) -> dict:
    async def run() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    return asyncio.run(asyncio.wait_for(run(), 20))


# -- lookups -------------------------------------------------------------------------------------


def test_list_projects_follows_the_documented_page_key(pictory_conn):
    projects = PictoryHook(**FAST).list_projects()
    assert [project["id"] for project in projects] == [PROJECT_ID, 1762768083800, 1751663566232]
    assert projects[1]["name"] == "my_saved_project"
    paths = [entry["path"] for entry in pictory_conn.request_log]
    queries = [entry.get("query", "") for entry in pictory_conn.request_log]
    assert paths == ["/pictoryapis/v2/projects"] * 2 and queries[0] == "" and queries[1].startswith("pagekey=")


def test_get_project_by_text_or_number_id_and_unknown_ones(pictory_conn):
    hook = PictoryHook(**FAST)
    project = hook.get_project(PROJECT_ID)
    assert project["projectName"] == "Hello World Template" and project["scenes"][0]["text"] == "Hello World"
    assert hook.get_project(1762768083800)["projectName"] == "my_saved_project"
    with pytest.raises(PictoryNotFoundError):
        hook.get_project("20990101000000000000000000000000000000000000000000")


def test_get_template_reads_its_variables(pictory_conn):
    template = PictoryHook(**FAST).get_template(HELLO)
    assert template["variables"] == {"Name": "NAME"} and template["name"] == "Hello World Template"
    assert [item["templateId"] for item in PictoryHook(**FAST).list_templates()][-1] == HELLO


# -- project renders ---------------------------------------------------------------------------


def test_project_render_publishes_what_a_render_publishes(pictory_conn, tmp_path):
    ctx = make_context()
    result = operator(project_id=PROJECT_ID, deferrable=False, output_path=f"{tmp_path}/").execute(ctx)
    assert set(ctx["ti"].xcom) == RENDER_XCOM | {"video_path", "srt_path", "vtt_path"}
    assert Path(result["video_path"]).name == f"{result['job_id']}.mp4" and Path(result["srt_path"]).exists()
    assert requests.get(result["txt_url"], timeout=10).text.startswith("Hello World")
    posts = [entry for entry in pictory_conn.request_log if entry["method"] == "POST"]
    assert [entry["path"] for entry in posts] == [f"/pictoryapis/v2/projects/{PROJECT_ID}/render"]


def test_project_render_defers_and_completes_from_the_triggers_event(pictory_conn):
    pictory_conn.set_job_seconds(0.3)
    ctx = make_context()
    op = operator(project_id=1762768083800)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    assert type(deferred.value.trigger) is PictoryJobTrigger
    event = first_event(deferred.value.trigger)
    assert tuple(event) == EVENT_KEYS and event["job_kind"] == "render"
    result = op.execute_complete(ctx, event)
    assert result["url"].endswith(".mp4") and set(ctx["ti"].xcom) == RENDER_XCOM


@pytest.mark.parametrize("project_id", ["../jobs", "", "a b", True, None])
def test_bad_project_ids_are_refused_before_any_request(pictory_conn, project_id):
    with pytest.raises(PictoryValidationError):
        PictoryHook(**FAST).render_project(project_id)
    if project_id is not None:
        with pytest.raises(PictoryValidationError, match="project"):
            operator(project_id=project_id, deferrable=False).execute(make_context())
    assert routes(pictory_conn) == {}


def test_project_render_takes_no_webhook_and_no_variables():
    with pytest.raises(PictoryValidationError, match="no body"):
        operator(project_id=PROJECT_ID, webhook="https://hooks.example.com/x")
    with pytest.raises(PictoryValidationError, match="go with template_id"):
        operator(project_id=PROJECT_ID, variables={"Name": "Ada"})


# -- template renders --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "needle"),
    [
        (
            {"name": "Ada", "Company": "Acme"},
            r"variable 'name' \(did you mean 'Name'\?\); the template has Name, Company",
        ),
        ({"Nmae": "Ada", "Company": "Acme"}, r"did you mean 'Name'"),
        ({"Name": "Ada"}, r"variable 'Company' is missing; the template has Name, Company"),
        ({"Name": "Ada", "Company": " "}, "Company is blank"),
        ({"Name": "Ada", "Company": ["Acme"]}, "must be text or a number"),
    ],
)
def test_template_variables_are_checked_before_any_paid_request(pictory_conn, variables, needle):
    with pytest.raises(PictoryValidationError, match=needle):
        PictoryHook(**FAST).render_template(CORPORATE, variables)
    with pytest.raises(PictoryValidationError, match=needle):
        operator(template_id=CORPORATE, variables=variables, deferrable=False).execute(make_context())
    assert routes(pictory_conn) == {"lookup": 2}  # one GET of the template each; nothing bought
    assert pictory_conn.stats()["posts"] == 0


def test_template_render_fills_the_variables_and_publishes_a_render(pictory_conn, tmp_path):
    ctx = make_context()
    op = operator(template_id=HELLO, variables={"Name": "Ada"}, deferrable=False, output_path=f"{tmp_path}/ada.mp4")
    result = op.execute(ctx)
    assert set(ctx["ti"].xcom) == RENDER_XCOM | {"video_name", "video_path", "srt_path", "vtt_path"}
    assert requests.get(result["txt_url"], timeout=10).text == "Hi Ada, how are you doing today?\n"
    assert Path(tmp_path / "ada.srt").exists()
    assert routes(pictory_conn)["lookup"] == 1  # the template read once
    record = pictory_conn.job(result["job_id"])
    assert record["kind"] == "render"


def test_template_render_defers_and_completes_from_the_triggers_event(pictory_conn):
    pictory_conn.set_job_seconds(0.3)
    ctx = make_context()
    op = operator(template_id=CORPORATE, variables={"Name": "Ada", "Company": "Acme"}, video_name="ada-welcome")
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    event = first_event(deferred.value.trigger)
    result = op.execute_complete(ctx, event)
    assert requests.get(result["txt_url"], timeout=10).text.startswith("Welcome to Acme, Ada.")
    assert set(ctx["ti"].xcom) == RENDER_XCOM | {"video_name"} and ctx["ti"].xcom["video_name"] == "ada-welcome"


def test_template_mode_parameters_are_checked_when_the_dag_is_parsed():
    with pytest.raises(PictoryValidationError, match="needs variables"):
        operator(template_id=HELLO)
    with pytest.raises(PictoryValidationError, match="go with template_id"):
        operator(storyboard={"videoName": "x", "scenes": [{"story": "Hi"}]}, video_name="y")
    assert operator(template_id="{{ params.template }}", variables="{{ params.row }}").kind is TEMPLATE_RENDER
    assert operator(project_id="{{ params.project }}").kind is PROJECT_RENDER


def test_unknown_template_is_refused_with_zero_paid_requests(pictory_conn):
    with pytest.raises(PictoryNotFoundError):
        operator(template_id="2099nosuchtemplate", variables={"Name": "Ada"}, deferrable=False).execute(make_context())
    assert pictory_conn.stats()["posts"] == 0


def test_template_and_project_renders_are_never_reconciled_by_guessing():
    assert PROJECT_RENDER.list_path is None and TEMPLATE_RENDER.list_path is None
    assert PROJECT_RENDER.create_request({"projectId": "p1"}) == ("POST", "/pictoryapis/v2/projects/p1/render", {})


def test_variable_check_is_pure_and_names_every_variable():
    template = parse_template({"templateId": "t", "name": "T", "variables": {"Name": "NAME", "Year": "YEAR"}})
    assert template_variable_errors(template, {"Name": "Ada", "Year": 2026}) == []
    assert [error["name"] for error in template_variable_errors(template, {})] == ["variables.Name", "variables.Year"]


# -- the emulator checks a template render like Pictory would (inferred) --------------------------


def test_emulator_refuses_a_template_render_with_unknown_variables(emulator):
    body = {"videoName": "x", "templateId": HELLO, "variables": {"Nom": "Ada"}}
    answer = requests.post(
        emulator.base_url + "/pictoryapis/v2/video/storyboard/render",
        json=body,
        headers={"Authorization": API_KEY},
        timeout=10,
    )
    assert answer.status_code == 400 and answer.json()["code"] == "INVALID_REQUEST_BODY"
    assert {field["name"] for field in answer.json()["fields"]} == {"variables.Nom", "variables.Name"}
    unknown = requests.post(
        emulator.base_url + "/pictoryapis/v2/video/storyboard/render",
        json=body | {"templateId": "nope"},
        headers={"Authorization": API_KEY},
        timeout=10,
    )
    assert unknown.status_code == 400 and unknown.json()["fields"][0]["name"] == "templateId"
