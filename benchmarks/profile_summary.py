"""Summarise ``py-spy record --format raw`` output (``capacity.py --profile DIR``) by where CPU goes.

``python benchmarks/profile_summary.py DIR/ours-1000.txt [DIR/baseline-1000.txt ...]``

A sample belongs to the first *subtree* category with a frame in its stack (e.g. everything under
the TLS or connect code), else to the package of its innermost recognised frame (tenacity, aiohttp,
pictory_provider, asyncio). The table lists each category's share of the worker's on-CPU samples.
Record with ``--threads`` (``capacity.py --profile`` does) so the sampler thread can be told apart.
"""

from __future__ import annotations

import sys
from collections import Counter

# Subtree categories: a sample whose stack contains one of these frames belongs to it (first match).
SUBTREES: list[tuple[str, tuple[str, ...]]] = [
    ("benchmark sampler thread (not in the CPU figures)", ("thread (", "): sampler")),
    ("connection lookup (get_async_connection, executor thread)", ("aget_credentials", "ThreadPoolExecutor")),
    ("trigger logging (structlog)", ("structlog",)),
    ("TLS (ssl / asyncio sslproto)", ("ssl.py", "sslproto.py")),
    (
        "session + connector create/close",
        ("ClientSession.__init__", "ClientSession.close", "TCPConnector.__init__", "BaseConnector.close"),
    ),
    ("TCP connect", ("_create_direct_connection", "create_connection", "sock_connect")),
]
# Leaf categories: otherwise the innermost frame from one of these packages names the category.
LEAVES: list[tuple[str, str]] = [
    ("tenacity retry wrapper", "tenacity/"),
    ("aiohttp request/response", "aiohttp/"),
    ("pictory_provider frames (incl. C code they call)", "pictory_provider/"),
    ("asyncio: epoll wait", "EpollSelector.select"),
    ("asyncio: event loop, tasks, timers, transports", "asyncio/"),
]
NO_FRAME = "no Python frame (py-spy could not attribute)"


def categorise(stack: str) -> str:
    frames = stack.split(";")
    thread = frames[0] if frames and frames[0].startswith("thread (") else ""
    body = frames[1:] if thread else frames
    for name, patterns in SUBTREES:
        if name.startswith("benchmark sampler"):
            if thread.endswith(": sampler"):
                return name
            continue
        if any(pattern in frame for frame in frames for pattern in patterns):
            return name
    for frame in reversed(body):
        for name, pattern in LEAVES:
            if pattern in frame:
                return name
    return NO_FRAME if not any(f.strip() for f in body) else "other Python"


def summarise(path: str) -> tuple[int, Counter[str]]:
    counts: Counter[str] = Counter()
    total = 0
    with open(path) as raw:
        for line in raw:
            stack, _, number = line.rstrip("\n").rpartition(" ")
            if not number.isdigit():
                continue
            total += int(number)
            counts[categorise(stack)] += int(number)
    return total, counts


def main() -> None:
    paths = sys.argv[1:]
    if not paths:
        sys.exit(__doc__)
    results = [summarise(path) for path in paths]
    names = [name for name, _ in SUBTREES] + [name for name, _ in LEAVES] + ["other Python", NO_FRAME]
    header = "| category | " + " | ".join(p.rsplit("/", 1)[-1] for p in paths) + " |"
    print(header)
    print("|---|" + "---:|" * len(paths))
    for name in names:
        cells = [f"{100 * counts[name] / total:.1f} %" if total else "-" for total, counts in results]
        if any(counts[name] for _, counts in results):
            print(f"| {name} | " + " | ".join(cells) + " |")
    print("| samples | " + " | ".join(str(total) for total, _ in results) + " |")


if __name__ == "__main__":
    main()
