"""The two forms of ``AIRFLOW_CONN_PICTORY_DEFAULT`` (JSON and URI), built from a base URL and a key.

Included in docs/connection.md; tests/test_docs.py executes it and checks that ``PictoryHook`` reads
the same base URL and key from both values.
"""

from __future__ import annotations

# --8<-- [start:values]
import json
from urllib.parse import quote

base_url = "http://127.0.0.1:8931"  # the emulator; omit "host" entirely for https://api.pictory.ai
api_key = "pictai_local"

# JSON form: no escaping needed.
as_json = json.dumps({"conn_type": "pictory", "host": base_url, "password": api_key})

# URI form: a full URL in the host part must be percent-encoded, or the URI does not parse.
as_uri = f"pictory://:{quote(api_key, safe='')}@{quote(base_url, safe='')}"
assert as_uri == "pictory://:pictai_local@http%3A%2F%2F127.0.0.1%3A8931"
# --8<-- [end:values]
