"""The video pages stay true: parameter tables cover every constructor parameter, XCom keys are documented."""

from __future__ import annotations

import pytest

from pictory_provider import api
from pictory_provider.kinds import VIDEO
from pictory_provider.operators.pictory import PictoryGenerateVideoOperator
from pictory_provider.sensors.pictory import PictoryVideoJobSensor

from .test_docs import _init_parameters, _page


@pytest.mark.parametrize(
    ("page", "cls"), [("video-operator.md", PictoryGenerateVideoOperator), ("video-sensor.md", PictoryVideoJobSensor)]
)
def test_video_parameter_tables_cover_every_parameter(page: str, cls: type) -> None:
    text = _page(page)
    missing = [name for name in _init_parameters(cls) if f"| `{name}` |" not in text]
    assert not missing, f"{page} does not document {missing}"


def test_video_xcom_keys_models_and_values_are_documented() -> None:
    keys = [*VIDEO.xcom_keys.values(), VIDEO.path_key]
    for page in ("video-operator.md", "video-sensor.md"):
        text = _page(page)
        assert all(f"`{key}`" in text for key in keys), page
    operator_page = _page("video-operator.md")
    assert "`job_id`" in operator_page
    assert "Pictory Video" in operator_page
    for model, credits in api.VIDEO_MODEL_CREDITS_PER_SECOND.items():
        assert f"`{model}` ({credits:g}" in operator_page or f"`{model}` ({credits:g} AI" in operator_page, model
    for values in (*api.VIDEO_ASPECT_RATIOS.values(), *api.VIDEO_DURATIONS.values()):
        assert all(f"`{value}`" in operator_page or f'`"{value}"`' in operator_page for value in values)
    assert "generate_video(" in _page("hooks.md")
