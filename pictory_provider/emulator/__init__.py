"""A local emulator of the Pictory AI Studio image and video API, for testing DAGs offline (like moto).

Start it in-process (a daemon thread with its own event loop) and point the Pictory connection at
``emu.base_url``; any API key starting with ``pictai_`` is accepted unless ``api_keys`` is given::

    from pictory_provider.emulator import PictoryEmulator

    with PictoryEmulator(job_seconds=0.5) as emu:
        ...  # use emu.base_url; emu.stats() counts requests, responses, jobs, connections

or run it as a process: ``python -m pictory_provider.emulator --port 8931 --job-seconds 3``
(also installed as ``pictory-emulator``).

Served routes: ``POST``/``GET /pictoryapis/v1/aistudio/images``, ``POST``/``GET
/pictoryapis/v1/aistudio/videos``, ``GET /pictoryapis/v1/jobs``, ``GET /pictoryapis/v1/jobs/{id}``,
``DELETE /pictoryapis/v1/jobs/{id}/clean``, ``GET /pictoryapis/v1/quota``,
``GET /pictoryapis/v1/aicredits/usage``, the generated PNG files at ``GET /files/{id}.png`` and a
video job's media at ``GET /files/{id}.mp4`` (a playable H.264 MP4 of the job's size and duration),
``{id}-thumbnail.jpg``, ``{id}-preview.jpg`` and ``{id}-last-frame.png`` (no auth; written in code,
see :mod:`pictory_provider.emulator.media`). Video jobs cost the documented credits per second.
Transcriptions and highlights: ``POST /pictoryapis/v2/transcription``, ``POST
/pictoryapis/v2/transcription/highlights`` and ``POST /pictoryapis/v2/transcription/{id}/highlights``
(see :mod:`pictory_provider.emulator.transcripts`). Jobs are ``in-progress`` for ``job_seconds``, then
``completed`` (or ``failed``); a job's ``webhook`` receives a POST of the final job JSON.

Fault injection
---------------
``emu.add_fault(kind, *, route="any", count=1, status=None, retry_after=None, delay=None, body=None,
error_code=None, error_message=None, prompt_contains=None)`` queues a fault. Each API request takes the
first queued fault whose ``route`` matches and decrements its ``count``; the fault is removed when it reaches 0.

Routes: ``"create"`` (POST images or videos, renders, transcriptions, highlights), ``"job"`` (GET job),
``"list"`` (both list endpoints), ``"clean"``, ``"file"`` (``/files/...``), ``"quota"``, ``"usage"`` and
``"any"``.

Kinds:

- ``"status"``: answer ``status`` (default 500) with ``{"message": "<reason phrase>"}`` or ``body``
  (a string is sent verbatim); ``retry_after`` adds a ``Retry-After`` header; ``delay`` waits that
  long first (a gateway that gives up: nothing is created).
- ``"rate_limit"``: 429 ``{"message": "Too Many Requests"}`` with ``Retry-After: <retry_after>``
  (default 1, rounded up to whole seconds; a string such as an HTTP-date or ``"inf"`` is sent verbatim).
- ``"slow"``: wait ``delay`` seconds (default 5), then answer normally (the request takes effect
  only after the wait, even when the client gave up meanwhile: a create Pictory makes late).
- ``"answer_late"``: handle the request at once (a ``create`` really creates its job), then wait
  ``delay`` seconds (default 5) before sending the answer: with a shorter client read timeout, the
  job exists although the client saw only a timeout.
- ``"non_json"``: answer ``status`` (default 200) with ``text/html``: ``body`` or a Cloudflare
  "Attention Required!" error 1010 page.
- ``"reset"``: abort the TCP connection (RST) without sending any response.
- ``"fail_job"``: ``route`` is ignored; the next ``count`` created jobs end ``failed`` with
  ``error_code`` (default ``IMAGE_GENERATION_FAILED``, or ``VIDEO_GENERATION_FAILED`` for videos,
  ``TRANSCRIPTION_FAILED``, ``HIGHLIGHTS_FAILED``; a transcription's "prompt" is its ``fileUrl``) and
  ``error_message`` (default ``The image could not be generated`` / ``The video ...``). With
  ``prompt_contains="marker"`` only jobs whose prompt contains ``marker`` fail (other jobs pass it by),
  so a test can fail one chosen item of a mapped task.
- ``"drip"``: the normal answer, its body sent one byte every ``delay`` seconds (default 0.5).
- ``"truncate"``: the first half of the normal body, without ``Content-Length`` (close-delimited),
  then the connection is closed.
- ``"short_length"``: the whole normal body under a ``Content-Length`` of half its size.
- ``"redirect"``: answer ``status`` (default 302) with ``Location: <body>`` (a string, required).
- ``"wrong_job_id"``: the normal answer with its top-level ``job_id`` set to ``body`` (default
  ``"../../escaped"``).
- ``"huge"``: HTTP 200 with a valid JSON in-progress job body padded to ``size`` bytes (default 16 MiB).

``add_fault`` also takes ``size`` (bytes, for ``huge``).

An unknown kind or route raises ``ValueError``. ``emu.clear_faults()`` drops all queued faults,
``emu.set_job_seconds(s)`` changes the duration of jobs created afterwards, ``emu.configure_list(...)``
shapes ``GET /jobs`` (``page_size``, ``paging`` "key" | "offset", ``arrivals_per_page``,
``list_outputs`` True | False | "url" (summary items: status and url only),
``job_seconds_max``), ``emu.add_other_jobs(n, ...)`` adds jobs of other types with bulky data, ``emu.reset()`` forgets
jobs, faults and counters, ``emu.stats()`` returns a snapshot::

    {"requests": {"create": n, "job": n, "list": n, "clean": n, "file": n},
     "responses": {"200": n, "429": n, ...}, "posts": n, "jobs_created": n,
     "connections": n, "faults_applied": n,
     "webhooks": [{"job_id": ..., "url": ..., "status": <HTTP status or error text>}]}

AI credits (see :mod:`pictory_provider.emulator.account` for the assumptions): jobs debit a balance
(limit 1,000,000 by default) when accepted; ``emu.set_credits(limit=, used=, when_exhausted=)`` sets it
(``"reject"``: a POST it cannot pay is answered HTTP 402; ``"fail_job"``: the job ends ``failed`` with
``INSUFFICIENT_AI_CREDITS``) and ``emu.credits()`` returns it with the ledger.

Rate limit (off by default): ``PictoryEmulator(rate_limit=3)``, ``emu.set_rate_limit(3, burst=None)``,
``--rate-limit 3 [--rate-limit-burst N]`` or ``POST /_emulator/config {"rate_limit": 3,
"rate_limit_burst": N}`` limit each API key to that many requests per second: a token bucket of
``burst`` tokens (default: the rate) per key; an API request (not ``/files/``) that finds no token is
answered 429 ``{"message": "Too Many Requests"}`` with ``Retry-After`` (whole seconds, at least 1) and
has no effect. ``emu.reset()`` restores the constructor's setting.

and ``emu.request_log`` lists ``{"method", "path", "query", "route", "status", "time", "auth"}`` per API
request (never headers or keys; ``auth`` is how the request authenticated: ``none``, ``key`` for a
``pictai_`` key, ``basic`` or ``other``).

Other processes use the same controls over HTTP (no auth): ``POST /_emulator/faults`` with a JSON
object of ``kind`` plus the keyword arguments above (400 if invalid), ``GET``/``DELETE
/_emulator/faults``, ``GET /_emulator/stats``, ``GET /_emulator/requests`` (the request log),
``POST /_emulator/config`` ``{"job_seconds": x, "rate_limit": r, <list settings>}``,
``POST /_emulator/other_jobs``, ``POST /_emulator/finish_jobs`` (``{"finished": n}``), ``POST /_emulator/reset``,
``GET /_emulator/jobs/{id}`` (the internal
job record) and ``GET``/``POST /_emulator/credits`` (``{"limit", "used", "when_exhausted"}``).
"""

from __future__ import annotations

from pictory_provider.emulator.app import PictoryEmulator

__all__ = ["PictoryEmulator"]
