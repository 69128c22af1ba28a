"""Pictory as documented: each documented example the provider relies on, held to the emulator and the parsers.

Every file of ``tests/contract/`` is one documented request/response example, as data beside the
address of the docs page it comes from (``docs``; ``"inferred"`` notes where the docs are silent):

- ``response`` (the documented example) must satisfy ``schema`` (JSON Schema of the shape the
  provider relies on), so the schema is no looser or stricter than the docs' own example;
- ``emulator`` (a list of steps ``{method, path, json?, params?, poll?, status?, headers?}``;
  ``"json": "request"`` sends the documented ``request``; ``{jobId}`` in a path is the last
  ``data.jobId`` an answer carried (a created job's, through the polls of it); ``poll`` repeats a
  GET until ``data.status`` is no longer ``in-progress``; ``status`` is the expected HTTP status,
  default 200; ``headers`` replace the
  default ones, e.g. a wrong key): the emulator's answer to the last step must satisfy the same
  ``schema``, so the emulator cannot drift from the docs silently;
- ``parser`` (optional, ``module:function``): the provider's reader of that answer must accept the
  documented example.
"""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from .conftest import API_KEY

CONTRACT_DIR = Path(__file__).parent / "contract"
CASES = {path.stem: json.loads(path.read_text()) for path in sorted(CONTRACT_DIR.glob("*.json"))}


def _ids(predicate: Any) -> list[str]:
    return [name for name, case in CASES.items() if predicate(case)]


def test_every_example_names_its_docs_page() -> None:
    for name, case in CASES.items():
        assert case["docs"].startswith("https://docs.pictory.ai/") or case["docs"].startswith("inferred"), name
        jsonschema.Draft202012Validator.check_schema(case["schema"])


@pytest.mark.parametrize("name", list(CASES))
def test_the_documented_example_has_the_shape_the_provider_relies_on(name: str) -> None:
    jsonschema.validate(CASES[name]["response"], CASES[name]["schema"])


def _run_steps(base_url: str, case: dict[str, Any]) -> Any:
    answer: Any = None
    job_id = None  # the last answer's data.jobId (a poll's answer has none: the created job's stays)
    for step in case["emulator"]:
        path = step["path"]
        if "{jobId}" in path:
            path = path.replace("{jobId}", job_id or "")
        body = case.get("request") if step.get("json") == "request" else step.get("json")
        deadline = time.monotonic() + 15
        while True:
            response = requests.request(
                step["method"],
                base_url + path,
                json=body,
                params=step.get("params"),
                headers=step.get("headers", {"Authorization": API_KEY}),
                timeout=10,
            )
            assert response.status_code == step.get("status", 200), (path, response.status_code, response.text[:300])
            answer = response.json()
            created = answer.get("data") if isinstance(answer, dict) else None
            if isinstance(created, dict) and isinstance(created.get("jobId"), str):
                job_id = created["jobId"]
            status = answer.get("data", {}).get("status") if isinstance(answer, dict) else None
            if not step.get("poll") or status != "in-progress" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    return answer


@pytest.mark.parametrize("name", _ids(lambda case: "emulator" in case))
def test_the_emulator_answers_in_the_documented_shape(name: str, emulator: Any) -> None:
    emulator.set_job_seconds(0.2)
    jsonschema.validate(_run_steps(emulator.base_url, CASES[name]), CASES[name]["schema"])


@pytest.mark.parametrize("name", _ids(lambda case: "parser" in case))
def test_the_provider_reads_the_documented_example(name: str) -> None:
    module, _, function = CASES[name]["parser"].partition(":")
    reader = getattr(importlib.import_module(module), function)
    reader(CASES[name]["response"])
