"""What a request is, for the submission record: its output fields, their fingerprint and a key-free description.

Two requests with the same fingerprint make the same output (the kind's ``match_fields`` with
Pictory's defaults applied; never ``webhook`` or a render's delivery fields, see
:data:`~pictory_provider.kinds.DELIVERY_FIELDS`), so a retry of one never buys the other again.
Pure Python.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pictory_provider.api import without_query
from pictory_provider.kinds import JobKind

__all__ = ["changed_fields", "describe_request", "field_digests", "fingerprint", "legacy_fingerprint", "output_fields"]


def output_fields(kind: JobKind, body: Mapping[str, Any]) -> dict[str, Any]:
    """The request fields that define the output (the kind's match fields, Pictory's defaults applied)."""
    defaults = kind.request_defaults(body)
    return {name: body.get(name, defaults.get(name)) for name in kind.match_fields}


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(kind: JobKind, body: Mapping[str, Any]) -> str:
    """SHA-256 of the create path and the request's output fields (not ``webhook``: it does not change
    what is made, and is often templated per try)."""
    return hashlib.sha256(_canonical({"path": kind.path, "fields": output_fields(kind, body)})).hexdigest()


def legacy_fingerprint(kind: JobKind, body: Mapping[str, Any]) -> str:
    """The fingerprint older versions stored (the whole body, webhook included), still honoured."""
    return hashlib.sha256(_canonical({"path": kind.path, "body": body})).hexdigest()


def field_digests(kind: JobKind, body: Mapping[str, Any]) -> dict[str, str]:
    fields = output_fields(kind, body)
    return {name: hashlib.sha256(_canonical(value)).hexdigest()[:16] for name, value in fields.items()}


def changed_fields(before: object, kind: JobKind, body: Mapping[str, Any]) -> list[str]:
    """The output fields whose digest differs from a stored record's (``[]`` when it cannot tell)."""
    if not isinstance(before, dict) or not isinstance(before.get("fields"), dict):
        return []
    now = field_digests(kind, body)
    return sorted(name for name in now.keys() | before["fields"].keys() if now.get(name) != before["fields"].get(name))


def describe_request(kind: JobKind, body: Mapping[str, Any]) -> str:
    """A short, key-free description of a request for logs and messages."""
    method, path, sent = kind.create_request(body)
    parts = []
    for name, value in sent.items():
        if name == "webhook":
            continue  # may carry a token in its query
        text = without_query(str(value))
        parts.append(f"{name}={text[:60] + '...' if len(text) > 60 else text!r}")
    return f"{method} {path} ({', '.join(parts)})"
