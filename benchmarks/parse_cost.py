"""DAG-parse import cost: ``import airflow.sdk`` alone vs plus the Pictory operator and sensor modules.

The DAG processor imports a DAG file's modules in fresh interpreters; what a provider adds to that is
what its operator/sensor modules pull in at import time. This runs each command in >= 15 fresh
interpreters, interleaved (A B, B A, A B, ... so drift hits both alike), after one untimed warm-up
of each (bytecode caches), and compares medians of the wall time. It then lists which heavy modules
(requests, aiohttp, tenacity, urllib3) are in ``sys.modules`` after ``airflow.sdk`` alone and after
the Pictory modules, and the slowest Pictory-attributable imports per ``-X importtime``.

Run: ``.venv/bin/python benchmarks/parse_cost.py [--runs 15]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import PYTHON, ROOT, TerminateOnSignal, log, md_table

CANDIDATES = ["pictory_provider.operators.pictory", "pictory_provider.sensors.pictory"]
HEAVY = ["requests", "aiohttp", "tenacity", "urllib3"]


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def run_timed(code: str, env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run([PYTHON, "-c", code], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def heavy_modules(modules: list[str], env: dict[str, str]) -> dict[str, dict[str, bool]]:
    code = (
        "import sys, json\n"
        "import airflow.sdk\n"
        f"heavy = {HEAVY!r}\n"
        "before = {m: m in sys.modules for m in heavy}\n"
        f"for name in {modules!r}: __import__(name)\n"
        "after = {m: m in sys.modules for m in heavy}\n"
        "print(json.dumps({'before': before, 'after': after}))\n"
    )
    out = subprocess.run([PYTHON, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def importtime_top(modules: list[str], env: dict[str, str], limit: int = 12) -> tuple[list[tuple[str, int, int]], int]:
    """Slowest imports (self, cumulative µs) that happen only because of the Pictory modules, and
    the total cumulative µs of the top-level imports made after ``airflow.sdk``."""
    code = "import airflow.sdk; import sys; sys.stderr.write('---MARK---\\n'); " + "; ".join(
        f"import {m}" for m in modules
    )
    out = subprocess.run([PYTHON, "-X", "importtime", "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    lines = out.stderr.split("---MARK---", 1)[-1].splitlines()
    rows = []
    total = 0
    for line in lines:
        if not line.startswith("import time:") or "|" not in line:
            continue
        raw = line[len("import time:") :].split("|")
        parts = [p.strip() for p in raw]
        if len(parts) == 3 and parts[0].isdigit():
            rows.append((parts[2], int(parts[0]), int(parts[1])))
            if not raw[2][1:].startswith(" "):  # top level: no nesting indent after the separator space
                total += int(parts[1])
    return sorted(rows, key=lambda r: -r[2])[:limit], total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="timed interpreters per command (>= 15)")
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args()
    runs = max(args.runs, 15)
    modules = [m for m in CANDIDATES if module_exists(m)]
    missing = [m for m in CANDIDATES if m not in modules]
    env = dict(os.environ)
    env.update(
        {"AIRFLOW_HOME": tempfile.mkdtemp(prefix="pictory-bench-home-"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # use the bytecode caches, as a DAG processor does
    base_code = "import airflow.sdk"
    ours_code = "import airflow.sdk; " + "; ".join(f"import {m}" for m in modules)
    began = time.monotonic()
    with TerminateOnSignal():
        log(f"parse_cost: warm-up; measuring {modules} ({runs} runs each, interleaved)")
        run_timed(base_code, env)
        run_timed(ours_code, env)
        base_times, ours_times = [], []
        for index in range(runs):
            order = [(base_code, base_times), (ours_code, ours_times)]
            if index % 2:
                order.reverse()
            for code, bucket in order:
                bucket.append(run_timed(code, env))
        heavy = heavy_modules(modules, env)
        top, top_total = importtime_top(modules, env)
    base_median, ours_median = statistics.median(base_times), statistics.median(ours_times)
    ratio = ours_median / base_median
    if args.json:
        with open(args.json, "w") as out:
            summary = {"modules": modules, "missing": missing, "base_times": base_times, "ours_times": ours_times}
            summary.update(ratio=ratio, heavy=heavy, importtime_total_us=top_total, importtime_top=top)
            json.dump(summary, out, indent=1)
    print("### DAG-parse import cost\n")
    print(f"Measured modules: {', '.join(f'`{m}`' for m in modules) or 'none'}")
    if missing:
        print(f"(not present, so not imported: {', '.join(f'`{m}`' for m in missing)})")
    print()
    print(
        md_table(
            ["command", "runs", "median (s)", "min (s)", "max (s)"],
            [
                [
                    "`import airflow.sdk`",
                    runs,
                    f"{base_median:.3f}",
                    f"{min(base_times):.3f}",
                    f"{max(base_times):.3f}",
                ],
                [
                    "`import airflow.sdk` + Pictory modules",
                    runs,
                    f"{ours_median:.3f}",
                    f"{min(ours_times):.3f}",
                    f"{max(ours_times):.3f}",
                ],
                ["**ratio** (target ≤ 1.10x)", "", f"**{ratio:.3f}x**", "", ""],
                ["difference of medians", "", f"{ours_median - base_median:+.3f}", "", ""],
            ],
        )
    )
    print()
    print(
        md_table(
            ["heavy module", "in sys.modules after `import airflow.sdk`", "after the Pictory modules"],
            [[f"`{m}`", "yes" if heavy["before"][m] else "no", "yes" if heavy["after"][m] else "no"] for m in HEAVY],
        )
    )
    print(
        f"\nNoise-free view (`-X importtime`, one run): the imports made after `airflow.sdk` take "
        f"{top_total / 1000:.1f} ms cumulative, {100 * top_total / 1e6 / base_median:.1f} % of the "
        "`import airflow.sdk` median. Slowest of them (µs):\n"
    )
    print(md_table(["module", "self µs", "cumulative µs"], [[f"`{n}`", s, c] for n, s, c in top]))
    print(f"\n_parse_cost.py wall time: {time.monotonic() - began:.0f} s_")


if __name__ == "__main__":
    main()
