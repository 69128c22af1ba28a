"""Lookups as Pictory documents them, the escape hatch (``request``, ``get_conn``) and JSON errors,
over real HTTP against the emulator."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import requests

from pictory_provider.exceptions import PictoryAPIError, PictoryAuthError, PictoryNotFoundError, PictoryValidationError
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.hooks.transport import USER_AGENT
from pictory_provider.lookups import music_search_body

from .compat import HAS_AIRFLOW_SDK
from .conftest import API_KEY

ROOT = Path(__file__).resolve().parent.parent
FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}


def test_lookups_return_typed_records_with_the_documented_names(pictory_conn):
    hook = PictoryHook(**FAST)
    voices = hook.list_voices()
    assert [voice["name"] for voice in voices] == ["Joanna", "Fiona", "Shreya"]
    assert voices[0]["id"] == 1001 and voices[0]["gender"] == "female" and voices[0]["ssmlSupportCategory"] == "B"
    assert hook.list_brands()[0] == {"id": "eb67b4ba-0eef-41fa-a772-d9675cc3645c", "name": "Default Brand"}
    assert hook.list_text_styles()[1]["name"] == "Headliner" and hook.list_subtitle_styles() == hook.list_text_styles()
    assert hook.list_templates()[0]["templateId"] == "202507141030549677ylq8k8gu44vy1y"
    assert [layout["templateName"] for layout in hook.list_smart_layouts()] == ["Modern minimalist", "Kinetic"]
    assert "Feel Good" in hook.list_music_moods() and "Downtempo" in hook.list_music_genres()
    assert hook.list_music_genre_groups() and hook.list_music_instruments() and hook.list_music_purposes()


def test_list_avatars_follows_next_page_key(pictory_conn):
    avatars = PictoryHook(**FAST).list_avatars()
    assert [avatar["name"] for avatar in avatars] == ["Annie", "Brandon"]  # one per page in the emulator
    assert avatars[0]["looks"][0]["id"] == "Annie_expressive12_public"  # the avatarId to send
    pages = [entry for entry in pictory_conn.request_log if entry["path"] == "/pictoryapis/v1/avatars"]
    assert len(pages) == 2


def test_search_music_filters_and_reads_numeric_ids(pictory_conn):
    hook = PictoryHook(**FAST)
    assert [track["id"] for track in hook.search_music(mood=["Feel Good"])] == [165]
    assert [track["title"] for track in hook.search_music("bio", pageSize=20, page=1)] == ["Bio Journey"]
    assert hook.search_music(mood=["feel good"]) == []  # filter values are case-sensitive, as documented
    assert hook.search_music(page=2) == []


@pytest.mark.parametrize(
    ("filters", "needle"),
    [
        ({"pageSize": 10}, "pageSize must be an integer from 20 to 100"),
        ({"pageSize": 101}, "pageSize must be an integer from 20 to 100"),
        ({"page": 0}, "page must be an integer >= 1"),
        ({"sort": "newest"}, "sort must be one of latest, shuffle, featured"),
        ({"moods": ["Happy / Bright"]}, "did you mean 'mood'?"),
        ({"mood": "Happy / Bright"}, "mood must be a list of names"),
        ({"minDuration": 60, "maxDuration": 30}, "minDuration is above maxDuration"),
    ],
)
def test_search_music_checks_its_documented_limits_before_sending(pictory_conn, filters, needle):
    with pytest.raises(PictoryValidationError, match=needle):
        PictoryHook(**FAST).search_music(**filters)
    assert pictory_conn.stats()["requests"].get("lookup", 0) == 0


def test_the_emulator_refuses_a_music_search_outside_the_limits(pictory_conn):
    answer = requests.post(
        pictory_conn.base_url + "/pictoryapis/v1/music/search",
        json={"pageSize": 5},
        headers={"Authorization": API_KEY},
        timeout=10,
    )
    assert answer.status_code == 400 and answer.json()["fields"][0]["name"] == "pageSize"
    assert music_search_body(pageSize=20, mood=["Calm / Serene"]) == {"pageSize": 20, "mood": ["Calm / Serene"]}


def test_an_undocumented_answer_is_an_error_not_a_key_error(pictory_conn):
    hook = PictoryHook(**FAST)
    pictory_conn.add_fault("status", route="lookup", status=200, body={"data": [{"avatarId": "a1"}]})
    with pytest.raises(PictoryAPIError, match="no documented 'items' array"):
        hook.list_avatars()
    pictory_conn.add_fault("status", route="lookup", status=200, body=[{"id": "not-a-number", "name": "X"}])
    with pytest.raises(PictoryAPIError, match="item 0 lacks the documented id, name"):
        hook.list_voices()


def test_search_music_reads_pictorys_search_results_shape(pictory_conn):
    """Pictory's own client reads a music search's ``data.searchResults`` (besides the documented items)."""
    tracks = [{"id": 9, "title": "Night drive", "audioUrl": "https://cdn.example.com/music/9.mp3"}]
    pictory_conn.add_fault(
        "status", route="lookup", status=200, body={"success": True, "data": {"searchResults": tracks}}
    )
    assert PictoryHook(**FAST).search_music("night") == tracks


# -- the escape hatch ----------------------------------------------------------------------------


def test_request_calls_an_endpoint_the_hook_has_no_method_for(pictory_conn):
    """The example of docs/hooks.md: list the account's projects (``GET /v2/projects``)."""
    hook = PictoryHook(**FAST)
    projects = hook.request("GET", "/pictoryapis/v2/projects")
    assert projects["items"][0]["name"] == "Hello World Template" and projects["pageKey"]  # a first page of two
    pictory_conn.add_fault("status", route="lookup", status=503)  # retried like every GET of the hook
    assert hook.request("get", "/pictoryapis/v2/projects")["items"]
    entry = pictory_conn.request_log[-1]
    assert entry["status"] == 200 and entry["route"] == "lookup"


def test_request_maps_errors_and_sends_params(pictory_conn):
    hook = PictoryHook(**FAST)
    with pytest.raises(PictoryNotFoundError):
        hook.request("GET", "/pictoryapis/v1/nothing-here")
    with pytest.raises(PictoryValidationError, match="pageSize"):
        hook.request("POST", "/pictoryapis/v1/music/search", json={"pageSize": 1})
    next_key = hook.request("GET", "/pictoryapis/v1/avatars")["nextPageKey"]
    second = hook.request("GET", "/pictoryapis/v1/avatars", params={"nextPageKey": next_key})
    assert second["items"][0]["name"] == "Brandon" and second["nextPageKey"] is None
    for path in ("https://elsewhere.example/x", "//elsewhere.example/x", "pictoryapis/v2/projects"):
        with pytest.raises(PictoryValidationError, match="relative to the connection's base URL"):
            hook.request("GET", path)
    with pytest.raises(PictoryValidationError, match="unsupported HTTP method"):
        hook.request("TRACE", "/pictoryapis/v2/projects")


def test_request_maps_a_refused_key_to_an_auth_error_without_the_key(pictory_conn):
    pictory_conn.add_fault("status", route="lookup", status=401, body={"message": "Unauthorized"})
    with pytest.raises(PictoryAuthError) as caught:
        PictoryHook(**FAST).request("GET", "/pictoryapis/v2/projects")
    assert "HTTP 401" in str(caught.value) and API_KEY not in str(caught.value)


def test_get_conn_is_an_authenticated_session(pictory_conn):
    hook = PictoryHook(**FAST)
    session = hook.get_conn()
    answer = session.get(hook.get_credentials().base_url + "/pictoryapis/v2/projects", timeout=10)
    assert answer.status_code == 200, answer.text  # it sent no key before: 401
    assert session.headers["User-Agent"] == USER_AGENT
    assert API_KEY not in repr(session.auth) and API_KEY not in str(session.headers)


# -- errors as Pictory answers them ----------------------------------------------------------------


def test_unknown_routes_and_methods_answer_json(pictory_conn):
    base, key = pictory_conn.base_url, {"Authorization": API_KEY}
    answer = requests.get(base + "/pictoryapis/v1/no-such-route", headers=key, timeout=10)
    assert answer.status_code == 404 and answer.json() == {"message": "Not Found"}
    answer = requests.delete(base + "/pictoryapis/v1/voiceovers/tracks", headers=key, timeout=10)
    assert answer.status_code == 405 and answer.json() == {"message": "Method Not Allowed"}


def test_a_storyboard_post_without_json_content_type_is_refused(pictory_conn):
    body = '{"videoName": "x", "scenes": [{"story": "Hello there."}]}'
    for path in ("/pictoryapis/v2/video/storyboard/render", "/pictoryapis/v2/video/storyboard"):
        answer = requests.post(
            pictory_conn.base_url + path,
            data=body,
            headers={"Authorization": API_KEY, "Content-Type": "text/plain"},
            timeout=10,
        )
        assert answer.status_code == 400 and "application/json" in answer.json()["message"], path
    assert pictory_conn.stats()["jobs_created"] == 0


@pytest.mark.skipif(not HAS_AIRFLOW_SDK, reason="docs/snippets/dag_patterns.py is written for Airflow 3 (airflow.sdk)")
def test_the_escape_hatch_example_of_the_docs_runs(pictory_conn):
    """docs/hooks.md includes ``list_project_names`` from docs/snippets/dag_patterns.py."""
    assert "<!-- code: docs/snippets/dag_patterns.py:escape_hatch -->" in (ROOT / "docs" / "hooks.md").read_text()
    spec = importlib.util.spec_from_file_location("docs_snippet_escape_hatch", ROOT / "docs/snippets/dag_patterns.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.list_project_names() == ["Hello World Template", "my_saved_project", "What_is_Calculus"]
