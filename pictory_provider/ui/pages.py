"""The Pictory pages as server-rendered HTML (no build step, no JavaScript framework).

Every value from Airflow's records is escaped; URLs reach ``src``/``href`` only through
:func:`pictory_provider.ui.gallery.safe_url` or the plugin's own routes. Pure Python (no Airflow).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from pictory_provider.kinds import KINDS_BY_SHAPE
from pictory_provider.ui.gallery import MAX_JOB_CREDITS, Output, Spend, TaskKey, request_summary, safe_url
from pictory_provider.ui.theme import HEADERS
from pictory_provider.ui.theme import page as _page

__all__ = ["HEADERS", "Filters", "QuotaView", "gallery_page", "query", "task_page", "ti_ui_path"]

#: Labels of request fields whose name does not read well capitalized.
LABELS = {"pictory_conn_id": "Connection"}
#: What each kind is called on the page.
KIND_LABELS = {
    "image": "Image",
    "video": "Video clip",
    "render": "Video",
    "transcription": "Transcript",
    "highlights": "Highlights",
}
#: The output's links, in the order shown, by result field (each URL is listed once; ``share_url`` is
#: Pictory's page of the video, ``url`` the file itself).
LINK_LABELS = {
    "share_url": "Open on Pictory",
    "url": "Download",
    "media_url": "Source media",
    "srt_url": "Subtitles (SRT)",
    "vtt_url": "Subtitles (VTT)",
    "txt_url": "Transcript (TXT)",
    "audio_url": "Narration audio",
    "thumbnail_url": "Thumbnail",
    "last_frame_image_url": "Last frame",
}
#: File extensions shown in a video player (any other output is shown as an image).
VIDEO_EXTENSIONS = ("mp4", "webm", "mov")
#: A transcription's source shown in an audio player (any other source in a video player).
AUDIO_EXTENSIONS = ("mp3", "wav", "m4a")


@dataclass(frozen=True)
class Filters:
    """The gallery's filters (query parameters); dates are ISO ``YYYY-MM-DD`` strings or empty."""

    dag_id: str = ""
    kind: str = ""
    since: str = ""
    until: str = ""
    conn_id: str = ""


@dataclass(frozen=True)
class QuotaView:
    """The quota panel: the connections the user may pick, the chosen one and its quota or error."""

    conn_ids: Sequence[str]
    chosen: str = ""
    quota: Mapping[str, Any] | None = None
    error: str | None = None


def _label(name: str) -> str:
    """A field's label: ``aspect_ratio`` reads "Aspect ratio", ``poster_url`` reads "Poster"."""
    return LABELS.get(name) or LINK_LABELS.get(name) or name.removesuffix("_url").replace("_", " ").capitalize()


def _kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def _links(output: Output) -> str:
    """The output's URLs as named links, each URL once, Pictory's page first."""
    ordered = [*LINK_LABELS, *(name for name in output.fields if name not in LINK_LABELS)]
    seen: set[str] = set()
    items = []
    for name in ordered:
        link = safe_url(output.fields.get(name))
        if link and link not in seen:
            seen.add(link)
            items.append(
                f'<li><a href="{escape(link)}" target="_blank" rel="noopener" title="{escape(link)}">'
                f"{escape(_label(name))}</a></li>"
            )
    return f'<ul class="links" id="links">{"".join(items)}</ul>' if items else ""


def _num(value: float) -> str:
    return f"{round(value, 4):f}".rstrip("0").rstrip(".") if math.isfinite(value) else "?"


def _credits(output: Output, **attributes: str) -> str:
    """The output's AI credits, or that its recorded value was not counted."""
    extra = "".join(f' {name}="{escape(value)}"' for name, value in attributes.items())
    if output.credits_ignored:
        return f'<span class="credits error"{extra}>AI credits not counted (implausible value)</span>'
    return f'<span class="credits"{extra}>{_num(output.credits)}</span>'


def ti_ui_path(task: TaskKey) -> str:
    """The task instance's page in Airflow's UI, relative to the UI's base path."""
    path = "/dags/{}/runs/{}/tasks/{}".format(*(quote(part, safe="") for part in task[:3]))
    return path + (f"/mapped/{task.map_index}" if task.map_index >= 0 else "")


def _media(output: Output, src: str | None, *, big: bool = False, track_src: str | None = None) -> str:
    """The image, or the video in a player (poster: its thumbnail; subtitles: its VTT track, ``track_src``
    when the plugin serves the stored one: a browser loads a track only from the page's own origin)."""
    if src is None:
        return '<div class="placeholder">No viewable URL was recorded.</div>'
    alt = escape(output.title or output.job_id)
    kind = KINDS_BY_SHAPE.get(output.kind)
    extension = kind.extension if kind else src.lower().split("?")[0].rsplit(".", 1)[-1]
    if kind is not None and kind.text_files:  # a transcription: its source media, in a player
        extension = src.lower().split("?")[0].rsplit(".", 1)[-1]
        if extension in AUDIO_EXTENSIONS:
            return f'<audio controls preload="metadata" src="{escape(src)}"></audio>'
        extension = VIDEO_EXTENSIONS[0]
    if extension in VIDEO_EXTENSIONS:
        poster = safe_url(output.fields.get("thumbnail_url"))
        track = track_src or safe_url(output.fields.get("vtt_url"))
        return (
            f'<video controls preload="metadata" src="{escape(src)}"'
            + (f' poster="{escape(poster)}"' if poster else "")
            + (">" if not big else ' style="width: 100%">')
            + (f'<track kind="subtitles" label="Subtitles" default src="{escape(track)}">' if track else "")
            + "</video>"
        )
    return f'<img src="{escape(src)}" alt="{alt}" loading="lazy">'


def _seconds(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "?"


def _texts(output: Output) -> str:
    """A transcription's text, or highlight segments and their summary, to show beside the player."""
    fields = output.fields
    parts: list[str] = []
    if "text" in fields:
        text = fields.get("text")
        parts.append(
            f'<h2>Transcript</h2><pre id="transcript" style="white-space: pre-wrap">{escape(text)}</pre>'
            if isinstance(text, str)
            else '<p class="empty" id="transcript">The transcript is too long for XCom: read its stored .txt.</p>'
        )
    segments = fields.get("highlights")
    if isinstance(segments, list):
        rows = "".join(
            f"<tr><td>{_seconds(s.get('start'))}&ndash;{_seconds(s.get('end'))} s</td>"
            f"<td>{escape(str(s.get('text')))}</td></tr>"
            for s in segments
            if isinstance(s, dict)
        )
        parts.append(f'<h2>Highlights</h2><table id="highlights">{rows}</table>')
    if isinstance(fields.get("summary"), str):
        parts.append(f'<p id="summary">{escape(fields["summary"])}</p>')
    return f'<div class="output">{"".join(parts)}</div>' if parts else ""


def _options(values: Iterable[str], chosen: str, blank: str, label: Callable[[str], str] = str) -> str:
    options = [f'<option value="">{escape(blank)}</option>']
    for value in values:
        selected = " selected" if value == chosen else ""
        options.append(f'<option value="{escape(value)}"{selected}>{escape(label(value))}</option>')
    return "".join(options)


def _card(output: Output, src: str | None, ui_base: str, plugin_route: str) -> str:
    task = output.task
    ti_href = f"{ui_base}{ti_ui_path(task)}/plugin/{plugin_route}"
    label = f"{task.task_id}" + (f"[{task.map_index}]" if task.map_index >= 0 else "")
    title = output.title
    text = output.fields.get("summary") or output.fields.get("text")  # highlights, or a transcript
    shown = (
        f'<p class="meta">{escape(text[:280])}</p>' if src is None and isinstance(text, str) else _media(output, src)
    )
    when = escape(output.timestamp.strftime("%Y-%m-%d %H:%M"))
    return (
        f'<div class="card" data-job-id="{escape(output.job_id)}" data-dag-id="{escape(task.dag_id)}">'
        f"{shown}"
        + (f'<div class="title" title="{escape(title[:500])}">{escape(title[:140])}</div>' if title else "")
        + f'<div class="meta"><span class="badge">{escape(_kind_label(output.kind))}</span> '
        f"{_credits(output)} AI credits</div>"
        f'<div class="meta"><a href="{escape(ti_href)}" target="_top">{escape(task.dag_id)} · {escape(label)}</a></div>'
        f'<div class="meta run" title="{escape(task.run_id)}">{when} UTC · {escape(task.run_id)}</div>'
        "</div>"
    )


def _spend_tables(summary: Spend) -> str:
    if not summary.jobs:
        return '<p class="empty">No AI credits recorded for these filters.</p>'
    top = max((credits for _, credits, _ in summary.by_day), default=0.0) or 1e-9

    def bar(credits: float, most: float) -> str:
        share = credits / most if math.isfinite(credits / most) else 0.0
        return f'<span class="bar" style="width: {max(2, min(120, round(120 * share)))}px"></span>'

    days = "".join(
        f'<tr><td>{day.isoformat()}</td><td class="num">{_num(credits)}</td><td class="num">{jobs}</td>'
        f"<td>{bar(credits, top)}</td></tr>"
        for day, credits, jobs in summary.by_day
    )
    most = max((credits for _, credits, _ in summary.by_dag), default=0.0) or 1e-9
    dags = "".join(
        f'<tr><td>{escape(dag)}</td><td class="num">{_num(credits)}</td><td class="num">{jobs}</td>'
        f"<td>{bar(credits, most)}</td></tr>"
        for dag, credits, jobs in summary.by_dag
    )
    head = '<tr><th>{}</th><th class="num">AI credits</th><th class="num">Jobs</th><th></th></tr>'
    ignored = (
        f'<p class="error" id="credits-ignored">{summary.ignored} job(s) recorded AI credits that cannot be true '
        f"(not a number, negative or above {MAX_JOB_CREDITS:,} for one job): their credits are not counted.</p>"
        if summary.ignored
        else ""
    )
    return (
        f'<p id="spend-total"><span class="credits">{_num(summary.total)}</span> AI credits, {summary.jobs} jobs</p>'
        + ignored
        + '<div class="panels">'
        f'<table id="spend-by-day">{head.format("Day (UTC)")}{days}</table>'
        f'<table id="spend-by-dag">{head.format("DAG")}{dags}</table>'
        "</div>"
    )


def _quota_panel(view: QuotaView, filters: Filters) -> str:
    if not view.conn_ids and not view.chosen:
        return '<p class="empty">No Pictory connection you may read.</p>'
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(value)}">'
        for name, value in (("dag_id", filters.dag_id), ("kind", filters.kind))
        if value
    )
    form = (
        f'<form class="filters" method="get">{hidden}<label>Connection<select name="conn_id">'
        f"{_options(view.conn_ids, view.chosen, 'Choose a connection')}</select></label></form>"
    )
    if view.error:
        return form + f'<p class="error" id="quota">{escape(view.error)}</p>'
    if view.quota is None:
        return form
    quota = view.quota
    return form + (
        f'<p id="quota"><span class="credits">{_num(float(quota["ai_credits_remaining"]))}</span> AI credits left '
        f"of {_num(float(quota['ai_credits_limit']))} this billing term "
        f"({_num(float(quota['ai_credits_used']))} used) on <code>{escape(view.chosen)}</code>.</p>"
    )


def _pager(filters: Filters, offset: int, size: int, total: int) -> str:
    """Links to the newer and older pages of the gallery (the filters kept)."""
    kept = {"dag_id": filters.dag_id, "kind": filters.kind, "since": filters.since, "until": filters.until}
    kept |= {"conn_id": filters.conn_id}
    links = []
    if offset > 0:
        newer = max(0, offset - size)
        links.append(f'<a id="newer" href="?{escape(query(**kept, offset=str(newer) if newer else ""))}">Newer</a>')
    if offset + size < total:
        links.append(f'<a id="older" href="?{escape(query(**kept, offset=str(offset + size)))}">Older</a>')
    shown = f"{offset + 1}-{min(offset + size, total)} of {total}"
    return f'<p class="meta" id="pages">{shown}' + "".join(f" · {link}" for link in links) + "</p>"


def gallery_page(
    outputs: Sequence[Output],
    summary: Spend,
    *,
    filters: Filters,
    dag_ids: Iterable[str],
    kinds: Iterable[str],
    quota: QuotaView,
    media_src: Mapping[str, str | None],
    ui_base: str,
    plugin_route: str,
    shown: int,
    offset: int = 0,
    total: int | None = None,
    truncated_at: int | None = None,
) -> str:
    """The Pictory page: filters, AI-credit spend, quota, and one page of the gallery: ``outputs`` are the
    ``shown`` (or fewer) outputs from ``offset`` on, of ``total`` (default: ``len(outputs)``)."""
    form = (
        '<form class="filters" method="get">'
        f'<label>DAG<select name="dag_id">{_options(dag_ids, filters.dag_id, "All DAGs")}</select></label>'
        f'<label>Kind<select name="kind">{_options(kinds, filters.kind, "All kinds", _kind_label)}</select></label>'
        f'<label>From (UTC)<input type="date" name="since" value="{escape(filters.since)}"></label>'
        f'<label>To (UTC)<input type="date" name="until" value="{escape(filters.until)}"></label>'
        + (f'<input type="hidden" name="conn_id" value="{escape(filters.conn_id)}">' if filters.conn_id else "")
        + '<button type="submit">Apply</button></form>'
    )
    total = len(outputs) if total is None else total
    cards = "".join(_card(o, media_src.get(o.job_id), ui_base, plugin_route) for o in outputs[:shown])
    gallery = (
        f'<div class="grid" id="gallery">{cards}</div>'
        + (_pager(filters, offset, shown, total) if total > shown or offset else "")
        if total
        else '<p class="empty" id="gallery">No Pictory outputs in the DAGs you may read for these filters.</p>'
    )
    body = (
        "<h1>Pictory</h1>"
        '<p class="lead">What your DAGs made with Pictory, and the AI credits it used.</p>'
        + form
        + "<h2>AI-credit spend</h2>"
        + (
            f'<p class="error" id="truncated">Only the newest {truncated_at:,} records were read: older outputs '
            "and their AI credits are missing. Narrow the dates or pick a DAG.</p>"
            if truncated_at
            else ""
        )
        + _spend_tables(summary)
        + "<h2>Quota</h2>"
        + _quota_panel(quota, filters)
        + f"<h2>Outputs ({total})</h2>"
        + gallery
    )
    return _page("Pictory", body)


def task_page(
    task: TaskKey,
    output: Output | None,
    src: str | None,
    *,
    stored_href: str | None,
    track_src: str | None = None,
    preview_url: str | None = None,
) -> str:
    """The task instance tab: the output inline and what Airflow recorded about it; for a storyboard
    preview task (XCom ``preview_url``), Pictory's preview player in an iframe."""
    player = safe_url(preview_url)
    if output is None and player:
        embed = player + ("&" if "?" in player else "?") + "mode=player"  # Pictory's embed guide: ?mode=player
        body = (
            "<h1>Storyboard preview</h1>"
            f'<p class="lead" id="preview">Made by task <code>{escape(task.task_id)}</code>: watch it before the '
            f'render is paid for (<a href="{escape(player)}" target="_blank" rel="noopener">open in a new tab</a>).'
            "</p>"
            f'<iframe src="{escape(embed)}" width="100%" height="450" style="border: none; border-radius: 8px" '
            'allow="autoplay; fullscreen" referrerpolicy="no-referrer"></iframe>'
        )
        return _page("Pictory", body)
    if output is None:
        body = (
            "<h1>Pictory output</h1>"
            f'<p class="empty" id="no-output">Task <code>{escape(task.task_id)}</code> of run '
            f"<code>{escape(task.run_id)}</code> has published no finished Pictory output (yet).</p>"
        )
        return _page("Pictory", body)
    details = request_summary(output.request)[1]
    rows: list[tuple[str, str]] = [
        ("Kind", f'<span class="badge">{escape(_kind_label(output.kind))}</span>'),
        ("Job ID", f"<code>{escape(output.job_id)}</code>"),
    ]
    rows += [(_label(name), escape(value)) for name, value in details]
    fields = output.fields
    if fields.get("width") and fields.get("height"):
        rows.append(("Size", f"{escape(str(fields['width']))} &times; {escape(str(fields['height']))}"))
    if fields.get("duration") is not None:
        rows.append(("Duration", f"{escape(str(fields['duration']))} s"))
    rows.append(("AI credits", _credits(output, id="credits")))
    if output.stored_path:
        stored = escape(output.stored_path)
        rows.append(("Stored at", f'<a href="{escape(stored_href)}">{stored}</a>' if stored_href else stored))
    links = _links(output)
    if links:
        rows.append(("Links", links))
    source = "an asset event" if output.source == "asset_event" else "XCom"
    rows.append(("Recorded", f"{escape(output.timestamp.strftime('%Y-%m-%d %H:%M:%S'))} UTC, from {source}"))
    texts = _texts(output)  # a transcript beside its player; highlights (no player without a source)
    media = _media(output, src, big=True, track_src=track_src) if src or not texts else ""
    title = output.title
    body = (
        (f'<h1 id="title">{escape(title)}</h1>' if title else "<h1>Pictory output</h1>")
        + f'<p class="lead">{escape(_kind_label(output.kind))} published by task '
        f"<code>{escape(task.task_id)}</code></p>"
        + '<div class="detail">'
        + (f'<div class="output">{media}</div>' if media else "")
        + texts
        + "<dl>"
        + "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows)
        + "</dl></div>"
    )
    return _page("Pictory", body)


def query(**params: str) -> str:
    """A query string of the non-empty parameters (a space as ``%20``: the app reads a ``+`` as itself)."""
    return urlencode({key: value for key, value in params.items() if value}, quote_via=quote)
