"""Offline tests of Pictory code for your own CI, with the provider's pytest plugin.

The plugin (installed with the provider) gives every test the fixtures ``pictory_emulator`` (the
bundled emulator, reset for each test) and ``pictory_connection`` (``pictory_default`` pointed at it):
this file needs no conftest. Included in docs/emulator.md and docs/storing-images.md;
tests/test_docs.py collects and runs these tests as part of the provider's own suite.
"""

from __future__ import annotations

# --8<-- [start:imports]
import pytest

from pictory_provider.emulator import PictoryEmulator
from pictory_provider.exceptions import PictoryDownloadError, PictoryJobFailedError
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.storage import store_image

# --8<-- [end:imports]


# --8<-- [start:happy_path]
def test_generate_and_wait(pictory_emulator: PictoryEmulator, pictory_connection: str) -> None:
    hook = PictoryHook(pictory_connection)  # "pictory_default", pointed at the emulator
    job_id = hook.generate_image("A lighthouse on a cliff at dawn", model="flux-schnell", aspect_ratio="16:9")
    job = hook.wait_for_job(job_id, poll_interval=0.1, timeout=10)

    assert job.status.value == "completed"
    assert (job.width, job.height) == (1280, 720)
    assert job.ai_credits_used == 0.6  # flux-schnell's price per image
    assert job.url is not None
    assert job.url.endswith(".png")
    assert pictory_emulator.stats()["jobs_created"] == 1


# --8<-- [end:happy_path]


# --8<-- [start:faults]
def test_transient_errors_are_retried_and_failed_jobs_are_not(
    pictory_emulator: PictoryEmulator, pictory_connection: str
) -> None:
    hook = PictoryHook(retry_min_wait=0.05, retry_max_wait=0.2)  # short backoff for tests

    # Two 503s on the status endpoint: the hook retries them within its budget (max_attempts=5).
    pictory_emulator.add_fault("status", route="job", status=503, count=2)
    # A 429 with Retry-After: 1 on the create call: retried after one second, no duplicate job.
    pictory_emulator.add_fault("rate_limit", route="create", retry_after=1)
    job_id = hook.generate_image("A red fox in fresh snow")
    assert hook.wait_for_job(job_id, poll_interval=0.1, timeout=10).status.value == "completed"
    stats = pictory_emulator.stats()
    assert stats["responses"]["503"] == 2
    assert stats["responses"]["429"] == 1
    assert stats["jobs_created"] == 1

    # The next job ends "failed": PictoryJobFailedError carries Pictory's code and message.
    pictory_emulator.add_fault("fail_job", error_code="CONTENT_POLICY", error_message="Prompt rejected")
    failing = hook.generate_image("A prompt Pictory will refuse")
    with pytest.raises(PictoryJobFailedError, match="CONTENT_POLICY: Prompt rejected") as failure:
        hook.wait_for_job(failing, poll_interval=0.1, timeout=10)
    assert failure.value.error_code == "CONTENT_POLICY"


# --8<-- [end:faults]


# --8<-- [start:storage]
def test_store_the_png(pictory_connection: str, tmp_path) -> None:
    hook = PictoryHook()
    job_id = hook.generate_image("A minimalist poster of a mountain range")
    job = hook.wait_for_job(job_id, poll_interval=0.1, timeout=10)
    assert job.url is not None

    # A trailing "/" means "a folder": the file is named <job_id>.png.
    folder = f"{tmp_path}/images/"
    assert store_image(job.url, folder, job_id=job_id) == f"{tmp_path}/images/{job_id}.png"
    # Without it the path is the file itself (parents are created).
    assert store_image(job.url, f"{tmp_path}/latest.png", job_id=job_id) == f"{tmp_path}/latest.png"

    # Refusals raise PictoryDownloadError and leave nothing behind.
    with pytest.raises(PictoryDownloadError, match="non-http"):
        store_image("ftp://example.com/image.png", folder, job_id=job_id)
    with pytest.raises(PictoryDownloadError, match="limit"):
        store_image(job.url, f"{tmp_path}/small/", job_id=job_id, max_bytes=100)
    assert not (tmp_path / "small").exists()


# --8<-- [end:storage]
