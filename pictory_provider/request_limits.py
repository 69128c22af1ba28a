"""Limits a request body is held to before it is sent: nesting depth and size (pure Python, no Airflow).

A storyboard nested thousands of levels deep made ``copy.deepcopy`` fail with a raw ``RecursionError``;
one over the size Pictory accepts was sent, paid for nothing, and refused. Both are now refused first,
with the limit named, and without a request.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_NESTING", "MAX_REQUEST_BYTES", "body_limit_problem", "nesting_problem", "too_deep"]

#: Deepest nesting of objects and lists accepted in a request body. A real storyboard nests about 6 levels
#: (body, scenes, a scene, its background, ...); user data such as ``webhookInput`` gets ample room.
MAX_NESTING = 64
#: Largest JSON body sent, in bytes. Inferred, not documented: Pictory's API reference states no request size
#: limit; 6 MB is the payload limit of AWS Lambda, the smallest common limit of the AWS services that
#: Pictory's API visibly runs on (its uploads are signed S3 URLs). A storyboard's media are URLs, so a real
#: one is a few kilobytes.
MAX_REQUEST_BYTES = 6 * 1024 * 1024


def too_deep(limit: int = MAX_NESTING) -> str:
    """The refusal of a value nested deeper than ``limit`` levels."""
    return f"it nests objects and lists deeper than {limit} levels (the most accepted)"


def nesting_problem(value: Any, limit: int = MAX_NESTING) -> str | None:
    """What is wrong with ``value``'s nesting (deeper than ``limit`` levels), or None. Iterative, so any
    depth (and a value that contains itself) is measured without recursion."""
    level: list[Any] = [value]
    for depth in range(1, limit + 2):
        level = [
            child
            for item in level
            if isinstance(item, (dict, list, tuple))
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return None
        if len(level) > MAX_REQUEST_BYTES:  # each value takes a byte of JSON at least (shared values repeat)
            return f"it holds more than {MAX_REQUEST_BYTES:,} values, over the size of a request"
        if depth > limit:
            break
    return too_deep(limit)


def body_limit_problem(body: Any) -> str | None:
    """What keeps ``body`` from being sent as JSON (too deep, not JSON, over :data:`MAX_REQUEST_BYTES`), or None."""
    problem = nesting_problem(body)
    if problem:
        return problem
    try:
        size = len(json.dumps(body, allow_nan=False).encode())  # as the HTTP client serializes it
    except (TypeError, ValueError) as exc:
        return f"it is not JSON: {exc}"
    if size > MAX_REQUEST_BYTES:
        return (
            f"its JSON is {size:,} bytes, over the {MAX_REQUEST_BYTES:,}-byte (6 MB) limit of a request "
            "(inferred: Pictory documents none); put large media behind URLs (upload_media)"
        )
    return None
