"""`make demo`: generate one image end to end and store the PNG under output/.

Offline by default: starts the bundled Pictory emulator and points ``pictory_default`` at it. With
``PICTORY_API_KEY`` set (and optionally ``PICTORY_BASE_URL``), the same run targets the real API.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "output"


def main() -> int:
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="pictory-demo-home-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    from pictory_provider.emulator import PictoryEmulator
    from pictory_provider.hooks.pictory import PictoryHook

    api_key = os.environ.get("PICTORY_API_KEY")
    emulator = None
    if api_key:
        base_url = os.environ.get("PICTORY_BASE_URL", "https://api.pictory.ai")
        print(f"Using the real Pictory API at {base_url}")
    else:
        emulator = PictoryEmulator(job_seconds=2).start()
        base_url, api_key = emulator.base_url, "pictai_demo_emulator_key"
        print(f"Started the Pictory emulator at {base_url}")
    os.environ["AIRFLOW_CONN_PICTORY_DEFAULT"] = json.dumps(
        {"conn_type": "pictory", "host": base_url, "password": api_key}
    )
    try:
        hook = PictoryHook()
        job_id = hook.generate_image(
            "A lighthouse on a cliff at dawn, soft light", model="flux-schnell", aspect_ratio="16:9"
        )
        job = hook.wait_for_job(job_id, poll_interval=1, timeout=600)
        response = hook.get_conn().get(job.url, timeout=(10, 60))
        response.raise_for_status()
        if not response.content.startswith(b"\x89PNG\r\n\x1a\n"):
            raise SystemExit(f"{job.url} did not return a PNG")
        OUTPUT.mkdir(exist_ok=True)
        path = OUTPUT / f"pictory-{job_id}.png"
        path.write_bytes(response.content)
    finally:
        if emulator is not None:
            emulator.stop()
    print(f"job id:          {job_id}")
    print(f"image url:       {job.url}")
    print(f"size:            {job.width}x{job.height}")
    print(f"AI credits used: {job.ai_credits_used}")
    print(f"PNG written to:  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
