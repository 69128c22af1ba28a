"""Drive an emulator running in another process (``pictory-emulator``) through its admin routes.

Included in docs/emulator.md; tests/test_docs.py runs :func:`configure_faults` against an emulator.
"""

from __future__ import annotations

from typing import Any

import requests


def configure_faults(base_url: str) -> dict[str, Any]:
    """Queue faults, shorten jobs, read the counters; return the stats and the queued faults."""
    # --8<-- [start:admin]
    admin = f"{base_url}/_emulator"

    # Start from a clean slate: no jobs, no faults, zeroed counters.
    requests.post(f"{admin}/reset", timeout=10).raise_for_status()
    # Jobs created from now on stay "in-progress" for half a second.
    requests.post(f"{admin}/config", json={"job_seconds": 0.5}, timeout=10).raise_for_status()
    # The next two status polls answer 503, the next created job ends "failed".
    faults = [
        {"kind": "status", "route": "job", "status": 503, "count": 2},
        {"kind": "fail_job", "error_code": "CONTENT_POLICY", "error_message": "Prompt rejected"},
    ]
    for fault in faults:
        requests.post(f"{admin}/faults", json=fault, timeout=10).raise_for_status()

    queued = requests.get(f"{admin}/faults", timeout=10).json()["faults"]
    stats = requests.get(f"{admin}/stats", timeout=10).json()  # requests, responses, jobs_created, ...
    # --8<-- [end:admin]
    return {"faults": queued, "stats": stats}
