"""How the Pictory pages look and behave inside Airflow's UI: its fonts, colours and controls, its light or
dark mode, and the security headers every page is served with (pure Python, no Airflow).

The colours are Airflow 3's own theme tokens (the Chakra UI ``brand``, ``gray``, ``blue`` and ``red`` palettes
in OKLCH, as Airflow 3.3's UI bundle defines them) and its semantic roles (``bg``, ``fg``,
``border``, ``fg.muted``, ``colorPalette="brand"`` buttons); the page follows the light/dark class that
Airflow's UI sets on its own ``<html>`` (the views are same-origin iframes), and the browser's preference
when it is opened on its own.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

__all__ = ["HEADERS", "SCRIPT", "STYLE", "page"]

#: Airflow 3's palette (its UI theme), by Chakra token name.
_PALETTE = {
    "brand-100": "oklch(0.962 0.012 249.460)",
    "brand-200": "oklch(0.923 0.023 255.082)",
    "brand-300": "oklch(0.865 0.039 252.420)",
    "brand-500": "oklch(0.575 0.08 257.759)",
    "brand-600": "oklch(0.469 0.084 257.657)",
    "brand-700": "oklch(0.399 0.084 257.850)",
    "brand-900": "oklch(0.259 0.062 265.566)",
    "gray-50": "oklch(0.985 0.004 253)",
    "gray-100": "oklch(0.955 0.006 253)",
    "gray-200": "oklch(0.915 0.01 253)",
    "gray-300": "oklch(0.85 0.016 253)",
    "gray-400": "oklch(0.75 0.025 252)",
    "gray-600": "oklch(0.45 0.055 251)",
    "gray-700": "oklch(0.35 0.045 251)",
    "gray-800": "oklch(0.28 0.035 251)",
    "gray-900": "oklch(0.18 0.03 251)",
    "gray-950": "oklch(0.11 0.025 251)",
    "blue-300": "oklch(0.809 0.105 251.813)",
    "blue-600": "oklch(0.546 0.245 262.881)",
    "red-400": "oklch(0.704 0.191 22.216)",
    "red-600": "oklch(0.577 0.245 27.325)",
}
#: Airflow's semantic colours: (light, dark) palette tokens.
_ROLES = {
    "bg": ("#fff", "#000"),
    "bg-subtle": ("gray-50", "gray-950"),
    "bg-muted": ("gray-100", "gray-900"),
    "fg": ("#000", "gray-50"),
    "fg-muted": ("gray-600", "gray-400"),
    "border": ("gray-200", "gray-800"),
    "border-emphasized": ("gray-300", "gray-700"),
    "brand-solid": ("brand-600", "brand-600"),
    "brand-hover": ("brand-700", "brand-500"),
    "brand-fg": ("brand-700", "brand-300"),
    "brand-muted": ("brand-100", "brand-900"),
    "link": ("blue-600", "blue-300"),
    "error": ("red-600", "red-400"),
}


def _roles(mode: int) -> str:
    return " ".join(f"--{role}: {_PALETTE.get(pair[mode], pair[mode])};" for role, pair in _ROLES.items())


STYLE = (
    f":root {{ color-scheme: light; {_roles(0)} }}\n:root.dark {{ color-scheme: dark; {_roles(1)} }}\n"
    + """
body { margin: 0; padding: 16px 20px; background: var(--bg); color: var(--fg);
  font: 14px/1.5 Inter, -apple-system, BlinkMacSystemFont, "Segoe UI", Helvetica, Arial, sans-serif;
  -webkit-font-smoothing: antialiased; }
h1 { font-size: 20px; font-weight: 600; margin: 0 0 4px; }
h2 { font-size: 16px; font-weight: 600; margin: 24px 0 8px; }
.lead { color: var(--fg-muted); margin: 0 0 16px; }
a { color: var(--link); text-decoration: none; } a:hover { text-decoration: underline; }
code { font: 13px SFMono-Regular, Menlo, Monaco, Consolas, monospace; background: var(--bg-muted);
  padding: 1px 4px; border-radius: 4px; }
form.filters { display: flex; flex-wrap: wrap; gap: 8px 12px; align-items: flex-end; margin: 0 0 8px; }
form label { display: flex; flex-direction: column; gap: 4px; font-size: 12px; font-weight: 500;
  color: var(--fg-muted); }
input, select, button { font: inherit; font-size: 14px; height: 36px; box-sizing: border-box;
  border-radius: 6px; color: inherit; }
input, select { min-width: 140px; padding: 0 10px; border: 1px solid var(--border); background: var(--bg); }
input:hover, select:hover { border-color: var(--border-emphasized); }
input:focus-visible, select:focus-visible, button:focus-visible, a:focus-visible {
  outline: 2px solid var(--brand-solid); outline-offset: 1px; }
button { padding: 0 14px; border: 1px solid transparent; background: var(--brand-solid); color: #fff;
  font-weight: 500; cursor: pointer; }
button:hover { background: var(--brand-hover); }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 16px; }
.card { display: flex; flex-direction: column; gap: 6px; border: 1px solid var(--border); border-radius: 8px;
  padding: 10px; background: var(--bg); min-width: 0; }
.card img, .card video, .card .placeholder { width: 100%; height: 200px; object-fit: contain;
  background: var(--bg-muted); border-radius: 6px; }
.placeholder { display: flex; align-items: center; justify-content: center; min-height: 120px;
  color: var(--fg-muted); background: var(--bg-muted); border-radius: 8px; }
.card .title { font-weight: 500; display: -webkit-box; -webkit-line-clamp: 2; -webkit-box-orient: vertical;
  overflow: hidden; }
.meta { font-size: 12px; color: var(--fg-muted); overflow-wrap: anywhere; }
.run { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.badge { display: inline-block; font-size: 12px; font-weight: 500; line-height: 20px; padding: 0 8px;
  border-radius: 999px; background: var(--brand-muted); color: var(--brand-fg); }
.credits { font-weight: 600; color: var(--fg); }
table { border-collapse: collapse; font-size: 14px; }
th { font-size: 12px; font-weight: 500; color: var(--fg-muted); }
td, th { padding: 6px 16px 6px 0; text-align: left; vertical-align: top; border-bottom: 1px solid var(--border); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: 8px; background: var(--brand-solid); border-radius: 4px; }
.panels { display: flex; flex-wrap: wrap; gap: 32px; align-items: flex-start; }
.detail { display: flex; flex-wrap: wrap; gap: 16px 32px; align-items: flex-start; }
.output { flex: 1 1 420px; max-width: 760px; }
.output img, .output video { max-width: 100%; max-height: 70vh; border-radius: 8px; }
dl { flex: 1 1 300px; margin: 0; display: grid; grid-template-columns: max-content 1fr; gap: 8px 16px; }
dt { color: var(--fg-muted); font-size: 12px; font-weight: 500; line-height: 20px; }
dd { margin: 0; overflow-wrap: anywhere; }
ul.links { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 6px; }
ul.links a { display: inline-block; padding: 2px 10px; border: 1px solid var(--border); border-radius: 6px;
  color: var(--fg); font-size: 13px; }
ul.links a:hover { background: var(--bg-muted); text-decoration: none; }
pre { background: var(--bg-subtle); border: 1px solid var(--border); border-radius: 6px; padding: 8px 12px; }
.empty { color: var(--fg-muted); } .error { color: var(--error); }
"""
)
SCRIPT = (
    "(function () {"
    " var root = document.documentElement, airflow = null;"
    " try { if (window.parent !== window) airflow = window.parent.document.documentElement; } catch (e) {}"
    " var media = window.matchMedia('(prefers-color-scheme: dark)');"
    " function follow() {"
    "  var dark = airflow && (airflow.classList.contains('dark') || airflow.classList.contains('light'))"
    "   ? airflow.classList.contains('dark') : media.matches;"
    "  root.classList.toggle('dark', dark);"
    " }"
    " follow(); media.addEventListener('change', follow);"
    " if (airflow) new MutationObserver(follow).observe(airflow, {attributes: true, attributeFilter: ['class']});"
    " document.querySelectorAll('form.filters select').forEach(function (s) {"
    "  s.addEventListener('change', function () { s.form.submit(); }); });"
    "})();"
)
#: Headers of every page: only the page's own script runs (by hash), media from http(s), forms to the
#: plugin itself, framed only by Airflow's UI (same origin), a preview's player page framed from http(s),
#: and no Airflow URL in the Referer that image requests send to Pictory's CDN.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' http: https: data:; media-src 'self' http: https:; "
        "style-src 'unsafe-inline'; "
        f"script-src 'sha256-{base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()}'; "
        "frame-src http: https:; form-action 'self'; frame-ancestors 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "private, no-store",
}


def page(title: str, body: str) -> str:
    """A whole HTML page: ``body`` (already escaped) in Airflow's look."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{body}"
        f"<script>{SCRIPT}</script></body></html>"
    )
