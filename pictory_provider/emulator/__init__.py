"""A local emulator of the Pictory AI Studio image API, for testing DAGs offline (like moto).

Start it in-process (a daemon thread with its own event loop) and point the Pictory connection at
``emu.base_url``; any API key starting with ``pictai_`` is accepted unless ``api_keys`` is given::

    from pictory_provider.emulator import PictoryEmulator

    with PictoryEmulator(job_seconds=0.5) as emu:
        ...  # use emu.base_url; emu.stats() counts requests, responses, jobs, connections

or run it as a process: ``python -m pictory_provider.emulator --port 8931 --job-seconds 3``
(also installed as ``pictory-emulator``).

Served routes: ``POST``/``GET /pictoryapis/v1/aistudio/images``, ``GET /pictoryapis/v1/jobs``,
``GET /pictoryapis/v1/jobs/{id}``, ``DELETE /pictoryapis/v1/jobs/{id}/clean`` and the generated PNG
files at ``GET /files/{id}.png`` (no auth). Jobs are ``in-progress`` for ``job_seconds``, then
``completed`` (or ``failed``); a job's ``webhook`` receives a POST of the final job JSON.

Fault injection
---------------
``emu.add_fault(kind, *, route="any", count=1, status=None, retry_after=None, delay=None, body=None,
error_code=None, error_message=None, prompt_contains=None)`` queues a fault. Each API request takes the
first queued fault whose ``route`` matches and decrements its ``count``; the fault is removed when it reaches 0.

Routes: ``"create"`` (POST images), ``"job"`` (GET job), ``"list"`` (both list endpoints),
``"clean"``, ``"file"`` (``/files/...``) and ``"any"``.

Kinds:

- ``"status"``: answer ``status`` (default 500) with ``{"message": "<reason phrase>"}`` or ``body``
  (a string is sent verbatim); ``retry_after`` adds a ``Retry-After`` header.
- ``"rate_limit"``: 429 ``{"message": "Too Many Requests"}`` with ``Retry-After: <retry_after>``
  (default 1, rounded up to whole seconds).
- ``"slow"``: wait ``delay`` seconds (default 5), then answer normally.
- ``"non_json"``: answer ``status`` (default 200) with ``text/html``: ``body`` or a Cloudflare
  "Attention Required!" error 1010 page.
- ``"reset"``: abort the TCP connection (RST) without sending any response.
- ``"fail_job"``: ``route`` is ignored; the next ``count`` created jobs end ``failed`` with
  ``error_code`` (default ``IMAGE_GENERATION_FAILED``) and ``error_message`` (default
  ``The image could not be generated``). With ``prompt_contains="marker"`` only jobs whose prompt
  contains ``marker`` fail (other jobs pass it by), so a test can fail one chosen item of a mapped task.

An unknown kind or route raises ``ValueError``. ``emu.clear_faults()`` drops all queued faults,
``emu.set_job_seconds(s)`` changes the duration of jobs created afterwards, ``emu.reset()`` forgets
jobs, faults and counters, ``emu.stats()`` returns a snapshot::

    {"requests": {"create": n, "job": n, "list": n, "clean": n, "file": n},
     "responses": {"200": n, "429": n, ...}, "posts": n, "jobs_created": n,
     "connections": n, "faults_applied": n,
     "webhooks": [{"job_id": ..., "url": ..., "status": <HTTP status or error text>}]}

and ``emu.request_log`` lists ``{"method", "path", "route", "status", "time"}`` per API request
(never headers or keys).

Other processes use the same controls over HTTP (no auth): ``POST /_emulator/faults`` with a JSON
object of ``kind`` plus the keyword arguments above (400 if invalid), ``GET``/``DELETE
/_emulator/faults``, ``GET /_emulator/stats``, ``POST /_emulator/config`` ``{"job_seconds": x}``,
``POST /_emulator/reset`` and ``GET /_emulator/jobs/{id}`` (the internal job record).
"""

from __future__ import annotations

from pictory_provider.emulator.app import PictoryEmulator

__all__ = ["PictoryEmulator"]
