"""The UI plugin's FastAPI app over Airflow's own tables (XCom, rendered fields, asset events) in SQLite.

The routes run as the api-server runs them (FastAPI, Airflow's models and queries); only the signed-in
user and the auth manager's answers are given (the real ones need a running api-server: the e2e suite,
tests/e2e/test_ui_plugin.py, drives them in Airflow's UI).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pictory_provider.ui.plugin import supported

pytestmark = pytest.mark.skipif(not supported(), reason="plugin apps need Airflow >= 3.1")

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
JOB_A, JOB_B, JOB_FORGED = (
    "aaaaaaaa-1111-4111-8111-111111111111",
    "bbbbbbbb-2222-4222-8222-222222222222",
    "cccccccc-3333-4333-8333-333333333333",
)


class ScopedAuthManager:
    """Airflow's auth manager answers for a user who may read the DAGs whose id starts with ``prefix``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def get_authorized_dag_ids(self, *, user: Any, method: str = "GET", **_: Any) -> set[str]:
        return {dag_id for dag_id in ("a_dag", "b_dag") if dag_id.startswith(self.prefix)}

    def is_authorized_dag(self, *, method: str, user: Any, access_entity: Any = None, details: Any = None) -> bool:
        return bool(details.id.startswith(self.prefix))

    def is_authorized_connection(self, *, method: str, user: Any, details: Any = None) -> bool:
        return False


@pytest.fixture
def session() -> Iterator[Any]:
    from airflow.models.asset import AssetEvent
    from airflow.models.connection import Connection
    from airflow.models.dag import DagModel
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session
    from sqlalchemy.pool import StaticPool

    # One in-memory database that the app's worker thread shares with the test.
    engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    metadata = XComModel.metadata
    tables = [model.__table__ for model in (XComModel, RenderedTaskInstanceFields, AssetEvent, DagModel, Connection)]
    tables += [metadata.tables[name] for name in ("dag_bundle", "dag_bundle_team", "team") if name in metadata.tables]
    metadata.create_all(engine, tables=tables)
    with Session(engine) as db:
        yield db
    engine.dispose()


def publish(
    session: Any,
    dag_id: str,
    task_id: str,
    values: dict[str, Any],
    rendered: dict[str, Any] | None,
    run_id: str = "run1",
    minutes_ago: int = 60,
) -> None:
    """What a finished task leaves in Airflow's tables: its XCom rows and its rendered template fields."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel

    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    for key, value in values.items():
        raw = value.raw if isinstance(value, SimpleNamespace) else XComModel.serialize_value(value)
        session.execute(
            XComModel.__table__.insert().values(
                dag_run_id=1 if dag_id == "a_dag" else 2,
                dag_id=dag_id,
                run_id=run_id,
                task_id=task_id,
                map_index=-1,
                key=key,
                value=raw,
                timestamp=at,
            )
        )
    if rendered is not None:
        session.execute(
            RenderedTaskInstanceFields.__table__.insert().values(
                dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=-1, rendered_fields=rendered
            )
        )
    session.commit()


def image(job_id: str, stored: Path | None = None) -> dict[str, Any]:
    values = {"job_id": job_id, "image_url": f"https://cdn.pictory.ai/{job_id}.png", "ai_credits_used": 0.6}
    return values | ({"image_path": str(stored)} if stored else {})


@pytest.fixture
def client(session: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The app as the api-server mounts it, for a user who may read ``a_dag`` only."""
    from airflow.api_fastapi.common.db.common import _get_session
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from pictory_provider.ui import app as ui_app

    app = ui_app.create_app("")
    app.dependency_overrides[_get_session] = lambda: session
    app.dependency_overrides[get_user] = lambda: SimpleNamespace(username="scoped")
    monkeypatch.setattr(ui_app, "_auth_manager", lambda: ScopedAuthManager("a_"))
    root = FastAPI()
    root.mount("/pictory", app)  # as the api-server mounts a plugin's app at its url_prefix
    return TestClient(root)


def task_query(dag_id: str, task_id: str) -> dict[str, str]:
    return {"dag_id": dag_id, "run_id": "run1", "task_id": task_id, "map_index": "-1"}


def test_a_file_is_served_only_where_the_tasks_own_output_path_puts_it(client, session, tmp_path):
    """An XCom ``image_path`` can be written by any user allowed to write the DAG's XCom (Airflow's REST
    API): it must not make the api-server serve another DAG's file (or any PNG on the machine)."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    own, other = tmp_path / "a" / f"{JOB_A}.png", tmp_path / "b" / f"{JOB_B}.png"
    own.write_bytes(PNG)
    other.write_bytes(PNG + b"another DAG's picture")
    publish(session, "a_dag", "image", image(JOB_A, own), {"prompt": "ours", "output_path": f"{tmp_path}/a/"})
    publish(session, "b_dag", "image", image(JOB_B, other), {"prompt": "theirs", "output_path": f"{tmp_path}/b/"})
    # A user who may write a_dag's XCom points a task of a_dag at b_dag's file.
    publish(session, "a_dag", "forged", image(JOB_FORGED, other), {"output_path": f"{tmp_path}/a/"})
    publish(session, "a_dag", "forged_no_fields", image(JOB_FORGED.replace("c", "d"), other), None)

    served = client.get("/pictory/file", params=task_query("a_dag", "image"))
    assert (served.status_code, served.content) == (200, PNG)
    assert "/pictory/file?" in client.get("/pictory/task", params=task_query("a_dag", "image")).text
    assert client.get("/pictory/file", params=task_query("b_dag", "image")).status_code == 403
    for task_id in ("forged", "forged_no_fields"):
        refused = client.get("/pictory/file", params=task_query("a_dag", task_id))
        assert refused.status_code == 404, task_id
        assert "/pictory/file?" not in client.get("/pictory/task", params=task_query("a_dag", task_id)).text
    page = client.get("/pictory/").text
    assert page.count("/pictory/file?") == 1  # only the image task's own file; the forged cards show the URL
    assert f"https://cdn.pictory.ai/{JOB_FORGED}.png" in page
    assert "theirs" not in page and "b_dag" not in page
    # The output_path given as a file (not a folder), as file:// URLs on either side: still that one file.
    named = tmp_path / "a" / "named.png"
    named.write_bytes(PNG)
    publish(session, "a_dag", "named", image(JOB_FORGED.replace("c", "e"), named), {"output_path": f"file://{named}"})
    assert client.get("/pictory/file", params=task_query("a_dag", "named")).status_code == 200


def test_an_undecodable_xcom_value_does_not_break_the_pages(client, session):
    """A value the api-server cannot deserialize (a class outside ``allowed_deserialization_classes``, as
    another provider's task or a REST API user may store under a key such as ``width``) is skipped."""
    custom = json.dumps({"__classname__": "some_lib.Size", "__version__": 1, "__data__": {"w": 1}})
    publish(session, "a_dag", "image", image(JOB_A) | {"width": SimpleNamespace(raw=custom)}, {"prompt": "ours"})
    listed = client.get("/pictory/api/outputs")
    assert listed.status_code == 200
    assert [output["job_id"] for output in listed.json()["outputs"]] == [JOB_A]
    assert client.get("/pictory/").status_code == 200
    assert "ours" in client.get("/pictory/task", params=task_query("a_dag", "image")).text


def test_the_quota_is_asked_only_with_a_pictory_connection(client, monkeypatch, emulator):
    """A user who may read connections picks any conn_id in the URL: another service's connection
    (its password) must never be sent to its host, or to Pictory, as a Pictory API key."""
    from pictory_provider.ui import app as ui_app

    from .conftest import API_KEY, conn_json

    class MayReadConnections(ScopedAuthManager):
        def is_authorized_connection(self, *, method: str, user: Any, details: Any = None) -> bool:
            return True

    monkeypatch.setattr(ui_app, "_auth_manager", lambda: MayReadConnections("a_"))
    other = json.dumps({"conn_type": "http", "host": emulator.base_url, "password": "pictai_not-for-pictory"})
    monkeypatch.setenv("AIRFLOW_CONN_OTHER_SERVICE", other)
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_UI", conn_json(emulator.base_url))
    page = client.get("/pictory/", params={"conn_id": "other_service"}).text
    assert "of type &#x27;http&#x27;, not a Pictory connection" in page
    assert sum(emulator.stats()["requests"].values()) == 0
    page = client.get("/pictory/", params={"conn_id": "pictory_ui"}).text
    assert "AI credits left" in page and API_KEY not in page
    assert sum(emulator.stats()["requests"].values()) == 1


def test_the_last_date_a_date_input_takes_means_no_end(client, session):
    """``until=9999-12-31`` (the date picker's last day, "no end") has no next day to stop before."""
    publish(session, "a_dag", "image", image(JOB_A), {"prompt": "ours"})
    for params in ({"until": "9999-12-31"}, {"since": "2000-01-01", "until": "9999-12-31"}):
        listed = client.get("/pictory/api/outputs", params=params)
        assert listed.status_code == 200, params
        assert [output["job_id"] for output in listed.json()["outputs"]] == [JOB_A]
    assert client.get("/pictory/", params={"until": "9999-12-31"}).status_code == 200


def test_the_tab_finds_a_run_whose_id_has_a_plus_as_airflow_3_1_links_it(client, session, tmp_path):
    """Airflow 3.1's UI puts the run id into the tab's URL unencoded: ``manual__...+00:00`` arrives with a
    literal ``+`` (a space to a form decoder). Run ids have no spaces, so ``+`` is the run id's own."""
    from pictory_provider.ui.pages import query

    run_id = "manual__2026-03-01T12:00:00.123456+00:00"
    stored = tmp_path / f"{JOB_A}.png"
    stored.write_bytes(PNG)
    publish(session, "a_dag", "image", image(JOB_A, stored), {"prompt": "ours", "output_path": f"{tmp_path}/"}, run_id)
    as_3_1 = f"dag_id=a_dag&run_id={run_id}&task_id=image&map_index={{MAP_INDEX}}"  # Airflow 3.1.8's UI
    as_3_3 = query(dag_id="a_dag", run_id=run_id, task_id="image", map_index="{MAP_INDEX}")  # encoded
    for raw in (as_3_1, as_3_3):
        page = client.get(f"/pictory/task?{raw}").text
        assert JOB_A in page and "ours" in page, raw
        assert client.get(f"/pictory/file?{raw}").content == PNG, raw
    href = re.search(r'src="/pictory/(file\?[^"]+)"', client.get(f"/pictory/task?{as_3_1}").text)
    assert href is not None
    assert client.get("/pictory/" + html.unescape(href[1])).content == PNG  # the plugin's own link


def test_a_read_cut_at_max_rows_says_the_spend_is_incomplete(client, session, monkeypatch):
    """The spend must not look complete when the newest MAX_ROWS records left older ones out."""

    publish(session, "a_dag", "first", image(JOB_A), {"prompt": "older"})
    publish(session, "a_dag", "second", image(JOB_B), {"prompt": "newer"})
    whole = client.get("/pictory/api/outputs").json()
    assert (whole["truncated"], whole["spend"]["jobs"]) == (False, 2)
    assert 'id="truncated"' not in client.get("/pictory/").text
    from pictory_provider.ui import records

    monkeypatch.setattr(records, "MAX_ROWS", 4)  # fewer than the 6 XCom rows of the two tasks
    cut = client.get("/pictory/api/outputs").json()
    assert cut["truncated"] is True
    page = client.get("/pictory/").text
    assert 'id="truncated"' in page and "Only the newest 4 records were read" in page


def test_a_task_that_publishes_a_job_again_shows_it_in_its_own_tab(client, session):
    """A downstream task re-publishing a job counts once in the spend, but its own tab shows the output it
    published (titled by the submitter's prompt), not "no output"."""
    publish(session, "a_dag", "generate", image(JOB_A), {"prompt": "a lighthouse"}, minutes_ago=10)
    publish(session, "a_dag", "copy", image(JOB_A), {}, minutes_ago=5)
    assert client.get("/pictory/api/outputs").json()["spend"]["jobs"] == 1
    for task_id in ("generate", "copy"):
        page = client.get("/pictory/task", params=task_query("a_dag", task_id)).text
        assert JOB_A in page and "a lighthouse" in page and 'id="no-output"' not in page, task_id


def test_a_renders_stored_subtitles_reach_the_player_from_the_plugin(client, session, tmp_path):
    """Browsers load a <track> only from the page's own origin (Chromium: "Unsafe attempt to load URL"),
    so the player's subtitles are the stored VTT served by the plugin, bound like the MP4 to the task's
    own output_path; without a stored VTT the track stays the render's vtt_url."""
    mp4, vtt = tmp_path / f"{JOB_A}.mp4", tmp_path / f"{JOB_A}.vtt"
    mp4.write_bytes(b"\0\0\0\x18ftypisom" + b"\0" * 32)
    vtt.write_text("WEBVTT\n\n00:00.000 --> 00:02.000\nHello\n")
    elsewhere = tmp_path / "b" / f"{JOB_B}.vtt"
    elsewhere.parent.mkdir()
    elsewhere.write_text("WEBVTT\n\nanother DAG's subtitles\n")
    render = {"job_id": JOB_A, "video_url": f"https://cdn.pictory.ai/{JOB_A}.mp4", "share_url": "https://pictory.ai/s"}
    render |= {"vtt_url": "https://cdn.pictory.ai/subs.vtt", "duration": 2, "ai_credits_used": 1}
    publish(
        session,
        "a_dag",
        "render",
        render | {"video_path": str(mp4), "vtt_path": str(vtt)},
        {"output_path": f"{tmp_path}/"},
    )
    forged = render | {"job_id": JOB_B, "vtt_path": str(elsewhere)}
    publish(session, "a_dag", "forged", forged, {"output_path": f"{tmp_path}/"})

    page = client.get("/pictory/task", params=task_query("a_dag", "render")).text
    track = re.search(r'<track [^>]*src="([^"]+)"', page)
    assert track is not None and html.unescape(track[1]).endswith("&part=vtt"), page
    served = client.get(html.unescape(track[1]))
    assert served.status_code == 200 and served.text.startswith("WEBVTT") and "Hello" in served.text
    assert served.headers["content-type"].startswith("text/vtt")
    assert client.get("/pictory/file", params=task_query("a_dag", "render")).content.startswith(b"\0\0\0\x18ftyp")
    # a vtt_path XCom pointing elsewhere is not served; the player keeps the render's vtt_url
    assert client.get("/pictory/file", params=task_query("a_dag", "forged") | {"part": "vtt"}).status_code == 404
    page = client.get("/pictory/task", params=task_query("a_dag", "forged")).text
    assert '<track kind="subtitles" label="Subtitles" default src="https://cdn.pictory.ai/subs.vtt">' in page
    assert client.get("/pictory/file", params=task_query("a_dag", "render") | {"part": "srt"}).status_code == 404


def test_a_key_quoted_back_by_the_server_never_reaches_the_quota_view_or_its_log(client, monkeypatch, emulator, caplog):
    """A proxy answering ``401 {"message": "Unauthorized key <the key>"}``: the page and the api-server's
    log show ``***``, as Airflow's own REST API does for that connection."""
    from urllib.parse import quote

    from pictory_provider.ui import app as ui_app

    from .conftest import conn_json

    class MayReadConnections(ScopedAuthManager):
        def is_authorized_connection(self, *, method: str, user: Any, details: Any = None) -> bool:
            return True

    key = "pictai_k3y+with/odd=chars"
    monkeypatch.setattr(ui_app, "_auth_manager", lambda: MayReadConnections("a_"))
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_UI", conn_json(emulator.base_url, key))
    body = {"message": f"Unauthorized key {key} ({quote(key, safe='')})"}
    emulator.add_fault("status", route="quota", status=401, body=body, count=5)
    with caplog.at_level("DEBUG"):
        page = client.get("/pictory/", params={"conn_id": "pictory_ui"}).text
    assert "Could not read the quota" in page and "Unauthorized key ***" in page
    for form in (key, html.escape(key), quote(key, safe="")):
        assert form not in page and form not in caplog.text, form


def test_a_stored_output_replaced_by_a_link_to_another_dags_file_is_not_served(client, session, tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    own, other = tmp_path / "a" / f"{JOB_A}.png", tmp_path / "b" / f"{JOB_B}.png"
    other.write_bytes(PNG + b"another DAG's picture")
    own.symlink_to(other)
    publish(session, "a_dag", "image", image(JOB_A, own), {"prompt": "ours", "output_path": f"{tmp_path}/a/"})
    assert client.get("/pictory/file", params=task_query("a_dag", "image")).status_code == 404
    assert "/pictory/file?" not in client.get("/pictory/task", params=task_query("a_dag", "image")).text


# -- issue #28 item 5: one record cannot break the page ----------------------------------------------


def job(number: int) -> str:
    return f"{number:08d}-1111-4111-8111-111111111111"


@pytest.mark.parametrize("value", [1e308, float("inf"), -3.0, 2_000_000, 10**400, "12"])
def test_implausible_credits_are_left_out_of_the_spend_and_the_page_stays_up(client, session, value):
    """``ai_credits_used = 1e308`` made ``GET /pictory/`` answer 500 (the bar) and the total ``1e+308``."""
    publish(session, "a_dag", "good", image(JOB_A), {"prompt": "counted"}, minutes_ago=90)
    for number in range(2):  # two, so that an unbounded sum would overflow too
        publish(session, "a_dag", f"bad{number}", image(job(number)) | {"ai_credits_used": value}, {"prompt": "x"})
    page = client.get("/pictory/")
    assert page.status_code == 200
    assert re.search(r'id="spend-total"><span class="credits">0\.6</span> AI credits, 3 jobs', page.text)
    assert "2 job(s) recorded AI credits that cannot be true" in page.text and "above 1,000,000" in page.text
    listed = client.get("/pictory/api/outputs").json()
    assert (listed["spend"]["total"], listed["spend"]["ignored"]) == (0.6, 2)
    assert [o["ai_credits_ignored"] for o in listed["outputs"]] == [True, True, False]
    tab = client.get("/pictory/task", params=task_query("a_dag", "bad0"))
    assert tab.status_code == 200 and "AI credits not counted (implausible value)" in tab.text


def test_huge_urls_are_not_passed_on_and_outputs_are_paged(client, session):
    """300 outputs with a 1 MB ``image_url`` made ``/api/outputs`` answer 314 MB."""
    huge = "https://cdn.pictory.ai/" + "x" * 1_000_000 + ".png"
    publish(session, "a_dag", "huge", image(JOB_A) | {"image_url": huge}, {"prompt": "huge"}, minutes_ago=1)
    publish(session, "a_dag", "broken", image(JOB_B) | {"image_url": "http://[oops/x.png"}, None, minutes_ago=2)
    for number in range(128):
        publish(session, "a_dag", f"t{number}", image(job(number)), None, minutes_ago=3 + number)
    first = client.get("/pictory/api/outputs")
    assert first.status_code == 200 and len(first.content) < 100_000
    body = first.json()
    assert (len(body["outputs"]), body["total"], body["offset"], body["limit"], body["next_offset"]) == (
        100,
        130,
        0,
        100,
        100,
    )
    assert [o["url"] for o in body["outputs"][:2]] == [None, None] and body["spend"]["jobs"] == 130
    rest = client.get("/pictory/api/outputs", params={"offset": 100, "limit": 50}).json()
    assert len(rest["outputs"]) == 30 and rest["next_offset"] is None
    assert rest["outputs"][-1]["job_id"] == job(127)
    assert client.get("/pictory/api/outputs", params={"limit": 100_000}).status_code == 422
    page = client.get("/pictory/")
    assert page.status_code == 200 and len(page.content) < 200_000 and "xxxxxxxxxx" not in page.text
    assert page.text.count('class="card"') == 60 and "1-60 of 130" in page.text
    older = re.search(r'id="older" href="\?([^"]+)"', page.text)
    assert older is not None and html.unescape(older[1]) == "offset=60"
    last = client.get("/pictory/?" + "offset=120").text
    assert last.count('class="card"') == 10 and "121-130 of 130" in last and 'id="older"' not in last
    assert f'data-job-id="{job(127)}"' in last and 'id="newer" href="?offset=60"' in last


TRUNCATED = "Truncated. You can change this behaviour in [core]max_templated_field_length. {'aspectRatio': ..."


def test_a_render_of_an_approved_preview_is_titled_by_the_name_its_preview_published(client, session):
    """The render task's own fields hold only ``preview_job_id``: the title is the ``video_name`` the task of
    its run that made that preview published (its rendered storyboard is truncated when large), or for
    records older than that XCom, the preview task's rendered storyboard's ``videoName``."""
    preview = {"job_id": JOB_A, "preview_url": "https://video.pictory.ai/v2/preview/x", "video_name": "Spring launch"}
    publish(session, "a_dag", "preview", preview, {"storyboard": TRUNCATED, "preview_only": True})
    render = {"job_id": JOB_B, "video_url": f"https://cdn.pictory.ai/{JOB_B}.mp4", "ai_credits_used": 12}
    publish(session, "a_dag", "render", render, {"preview_job_id": JOB_A, "pictory_conn_id": "pictory_default"})
    tab = client.get("/pictory/task", params=task_query("a_dag", "render")).text
    assert '<h1 id="title">Spring launch</h1>' in tab
    card = re.search(rf'<div class="card" data-job-id="{JOB_B}".*?</div></div>', client.get("/pictory/").text)
    assert card and "Spring launch" in card.group(0)
    titles = {o["job_id"]: o["title"] for o in client.get("/pictory/api/outputs").json()["outputs"]}
    assert titles[JOB_B] == "Spring launch"
    # an older preview task (no video_name XCom): its rendered storyboard
    board = {"videoName": "Autumn sale", "scenes": [{"story": "Hello"}]}
    publish(
        session,
        "a_dag",
        "old_preview",
        {"job_id": JOB_FORGED, "preview_url": "https://x.test/p"},
        {"storyboard": board},
    )
    publish(session, "a_dag", "old_render", render | {"job_id": "d" * 36}, {"preview_job_id": JOB_FORGED})
    older = client.get("/pictory/task", params=task_query("a_dag", "old_render")).text
    assert '<h1 id="title">Autumn sale</h1>' in older
    # a preview this run did not make is not found: the render still says what it is
    publish(session, "a_dag", "lone", render | {"job_id": "e" * 36}, {"preview_job_id": "made-elsewhere"})
    lone = client.get("/pictory/task", params=task_query("a_dag", "lone")).text
    assert '<h1 id="title">Render of a reviewed storyboard preview</h1>' in lone
