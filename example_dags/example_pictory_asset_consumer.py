"""Scheduled on the asset example_pictory_asset_producer.py generates into: reads the event's ``extra``."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Asset, dag, task

DAILY_BANNER = Asset("pictory_daily_banner")  # the same asset as in example_pictory_asset_producer.py


def describe_banner(extra: dict[str, Any]) -> str:
    """One line about the image an asset event announced (its ``extra`` comes from the Pictory task)."""
    where = extra.get("image_path") or extra["url"]
    return (
        f"Pictory job {extra['job_id']}: {extra['width']}x{extra['height']} image, "
        f"{extra['ai_credits_used']} AI credits, at {where}"
    )


@dag(
    schedule=[DAILY_BANNER],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "pictory", "assets"],
)
def example_pictory_asset_consumer():
    @task
    def announce(triggering_asset_events=None) -> list[str]:
        # no `or {}` here: a plain dict hashes the Asset, which Airflow 3.1's Asset.__hash__ cannot do
        events = [] if triggering_asset_events is None else triggering_asset_events.get(DAILY_BANNER, [])
        lines = [describe_banner(event.extra) for event in events]
        for line in lines:
            print(line)
        return lines

    announce()


example_pictory_asset_consumer()
