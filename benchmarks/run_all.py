"""Run the many-waiting-jobs workload (``workload.py``) and rewrite docs/performance.md.

Each case runs in its own child process against its own fresh emulator process, one after the
other: the package as shipped next to session-per-poll on the same workload, for N = 100, 1,000,
5,000 and poll 5 s and 10 s, plus the crossover runs (few jobs: the list scan forced vs per-job
GETs); the targets' case (N=1,000, poll 5 s) runs three times (``--repeats``), alternating with
its baseline. ``make bench`` runs it (about 15 minutes on 2 cores); ``--only N`` restricts the sizes,
``--json FILE`` keeps the raw results. ``resume_latency.py`` (a real triggerer) is run on its own.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.metadata
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SIZES = (100, 1000, 5000)
POLLS = (5.0, 10.0)
CROSSOVER_SIZES = (5, 10, 20, 40)
#: The case the issue's targets are set for; it runs ``--repeats`` times (CPU varies between runs).
TARGET_CASE = (1000, 5.0)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def emulator() -> Iterator[str]:
    """A fresh emulator process; yields its base URL."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "pictory_provider.emulator", "--port", "0", "--job-seconds", "5"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on " not in line:
            raise RuntimeError(f"the emulator did not start: {line!r}")
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_case(n: int, poll: float, mode: str) -> dict[str, Any]:
    log(f"N={n} poll={poll:g} s {mode} ...")
    with emulator() as base:
        command = [PYTHON, str(ROOT / "benchmarks" / "workload.py"), "--base-url", base]
        out = subprocess.run(
            [*command, "--n", str(n), "--poll", str(poll), "--mode", mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # the triggers' own log lines (as shipped), not the result
            text=True,
            timeout=1800,
            cwd=ROOT,
            check=True,
        )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    log(f"  {result}")
    return result


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def version_of(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def ratios(values: list[float]) -> str:
    """Each repetition's ratio, and their median when there are several."""
    text = ", ".join(f"{v:.1f}x" for v in values)
    return text if len(values) == 1 else f"{text} (median {statistics.median(values):.1f}x)"


def every(values: list[float], floor: float) -> str:
    """The verdict over the repetitions: met only if every one met ``floor``; misses are counted."""
    missed = sum(1 for v in values if v < floor)
    if not missed:
        return verdict(True) if len(values) == 1 else f"met in all {len(values)} runs"
    return verdict(False) if len(values) == 1 else f"**missed in {missed} of {len(values)} runs**"


def render(results: list[dict[str, Any]], crossover: list[dict[str, Any]], started: float, load: str) -> str:
    from pictory_provider.hooks.scan import SCAN_MIN_JOBS

    def find(n: int, poll: float, mode: str) -> dict[str, Any] | None:
        return next((r for r in results if (r["n"], r["poll"], r["mode"]) == (n, poll, mode)), None)

    rows = []
    seen: dict[tuple[int, float, str], int] = {}
    for r in results:
        case = (r["n"], r["poll"], r["mode"])
        seen[case] = seen.get(case, 0) + 1
        label = {"package": "this package", "session_per_poll": "session per poll"}.get(r["mode"], r["mode"])
        rows.append(
            [
                f"{r['n']:,}",
                f"{r['poll']:g} s",
                label if seen[case] == 1 else f"{label} (run {seen[case]})",
                f"{r['requests_total']:,}",
                f"{r['requests']['list']:,}",
                f"{r['requests']['job']:,}",
                f"{r['cpu_seconds']:.2f}",
                f"{r['delay_p50']:.1f} / {r['delay_p99']:.1f} s",
                f"{r['correct']:,}/{r['n']:,}",
                str(r["errors"]),
            ]
        )
    targets = []
    ours_runs = [r for r in results if (r["n"], r["poll"], r["mode"]) == (1000, 5.0, "package")]
    base_runs = [r for r in results if (r["n"], r["poll"], r["mode"]) == (1000, 5.0, "session_per_poll")]
    pairs = list(zip(ours_runs, base_runs, strict=False))
    if pairs:
        fewer = [b["requests_total"] / max(1, o["requests_total"]) for o, b in pairs]
        less_cpu = [b["cpu_seconds"] / max(1e-9, o["cpu_seconds"]) for o, b in pairs]
        targets += [
            ["N=1,000 poll 5 s: >= 10x fewer requests than session-per-poll", ratios(fewer), every(fewer, 10)],
            ["N=1,000 poll 5 s: >= 3x less CPU than session-per-poll", ratios(less_cpu), every(less_cpu, 3)],
        ]
    if ours_runs:
        p99s = [o["delay_p99"] for o in ours_runs]
        correct = [o["correct"] for o in ours_runs]
        targets += [
            [
                "N=1,000 poll 5 s: detection p99 <= 7 s",
                ", ".join(f"{d:.1f} s" for d in p99s),
                every([-d for d in p99s], -7),
            ],
            [
                "N=1,000 poll 5 s: 1,000/1,000 correct events",
                ", ".join(f"{c:,}" for c in correct),
                every(correct, 1000),
            ],
        ]
    for poll in POLLS:
        big = find(5000, poll, "package")
        if big:
            ok = big["delay_p99"] <= poll + 3 and big["errors"] == 0 and big["correct"] == 5000
            targets.append(
                [
                    f"N=5,000 poll {poll:g} s: p99 <= {poll + 3:g} s, no errors",
                    f"{big['delay_p99']:.1f} s, {big['errors']} errors",
                    verdict(ok),
                ]
            )
    notes = []
    for r in results:
        if r["mode"] == "session_per_poll":
            # jobs run 15 s on average: about 15 / poll + 1 polls each when the loop keeps up
            scheduled = r["n"] * (15 / r["poll"] + 1)
            if r["requests_total"] < 0.6 * scheduled:
                notes.append(
                    f"* N={r['n']:,} poll {r['poll']:g} s: session-per-poll **fell behind its own schedule** on this "
                    f"machine ({r['requests_total']:,} requests where about {scheduled:,.0f} were due; detection p50 "
                    f"{r['delay_p50']:.0f} s): its event loop could not open a session per poll fast enough, so its "
                    "request count understates what it would send on an idle machine, and its delays overstate them."
                )
    missing = [
        f"N={n:,} poll {poll:g} s {label}"
        for n in SIZES
        for poll in POLLS
        for mode, label in (("package", "(this package)"), ("session_per_poll", "(session per poll)"))
        if find(n, poll, mode) is None
    ]
    if missing:
        notes.append(
            "* **Not measured in this run** (left out to fit the time on the shared machine; `make bench` "
            "runs them all): " + ", ".join(missing) + "."
        )
    cross_rows = []
    for n in sorted({r["n"] for r in crossover}):
        listed = next((r for r in crossover if r["n"] == n and r["mode"] == "list"), None)
        per_job = next((r for r in crossover if r["n"] == n and r["mode"] == "per_job"), None)
        if listed and per_job:
            cross_rows.append(
                [
                    str(n),
                    f"{listed['requests_total']} / {per_job['requests_total']}",
                    f"{listed['cpu_seconds']:.2f} / {per_job['cpu_seconds']:.2f}",
                    f"{listed['delay_p99']:.1f} / {per_job['delay_p99']:.1f} s",
                ]
            )
    machine = {
        "nproc": str(os.cpu_count()),
        "python": platform.python_version(),
        "aiohttp": version_of("aiohttp"),
        "apache-airflow": version_of("apache-airflow"),
        "load average at start (1/5/15 min)": load,
    }
    minutes = (time.time() - started) / 60
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""# Performance

_Generated by `make bench` (`benchmarks/run_all.py`) on {now}; the run took {minutes:.1f} min
(from its start to the last case written), on
a shared 2-core machine: other processes compete for the cores, so CPU seconds vary between runs;
figures measured side by side compare better than figures of different runs. The targets' case
(N=1,000, poll 5 s) ran {len(ours_runs)} time(s), the package and session-per-poll alternating; the targets
below give every repetition, and count misses._

## Workload

N image jobs of one API key are created up front, each finishing at a random moment 5-25 s after
creation. The account also holds 300 older transcription jobs with 3 KB of data each and, while
the triggers wait, receives 2 render jobs and 1 image job nobody waits for every second. All N waits
run in one event loop (as in one triggerer), with the defaults as shipped: `status_polling` auto,
rate ceiling 20 requests/s per key and triggerer. **Session per poll** is the pattern other providers use: a new
`aiohttp` session for every `GET /jobs/{{id}}`, every poll interval, no rate cap. Requests are
counted by the emulator (`list` = `GET /pictoryapis/v1/jobs` pages, `job` = `GET /jobs/{{id}}`), CPU
is the waiting process's user + system time while the waits ran (the account's other traffic comes
from a separate process and is not counted), detection delay is the event's
arrival minus the job's completion on the emulator.

## Results

{table(["N", "poll", "mode", "requests", "list", "job", "CPU s", "delay p50 / p99", "correct", "errors"], rows)}

## Targets

{table(["target", "measured", "verdict"], targets)}

{chr(10).join(notes) if notes else "Every session-per-poll run kept up with its own poll schedule."}

## The crossover: when the list pays

With few waiting jobs a page of the list is a heavier request than a job's own GET: it carries up
to a page of items (other job types with bulky data included) where a GET carries one job. The runs below
force each mode on the same workload with few jobs (poll 5 s): requests and CPU of the list scan vs
per-job GETs.

{table(["jobs", "requests list / per-job", "CPU s list / per-job", "p99 list / per-job"], cross_rows)}

In `auto` mode a key switches to the list once **{SCAN_MIN_JOBS} jobs** wait in one triggerer
(`pictory_provider.hooks.scan.SCAN_MIN_JOBS`) and back to per-job GETs below half of that; a walk
also stops paging once fewer unseen jobs than that remain (their own GETs are cheaper than more
pages). Why there: the list sends fewer requests at any size (one page answers for many jobs), but
with few jobs the saving is small in absolute terms (at poll 5 s, 10 jobs send 2 requests/s per-job,
far below the 20/s cap), while per-job polling keeps a lower **median** delay: each trigger polls on
its own phase of a 1 s grid, whereas the list serves every trigger on one grid of the poll interval
(median delay about half the interval instead of less; the p99 is the same). CPU with few jobs is
dominated by fixed per-trigger costs (the trigger's task, its logs and event) and is within this
machine's noise.
From 20 jobs on (4 requests/s at poll 5 s, and growing linearly) per-job polling
starts to take a visible share of the rate cap, which is what makes detection slow down in
proportion to N; the list's cost stays about flat. Set the connection extra `status_polling` to
`list` or `per_job` to force either mode.

## Machine

{table(["", ""], [[k, v] for k, v in machine.items()])}

Command: `make bench` (or `.venv/bin/python benchmarks/run_all.py`).
"""


def write_page(path: Path, page: str) -> None:
    """Write the page, keeping the section ``many_triggerers.py --all`` wrote there (it owns that one)."""
    from many_triggerers import SECTION_END, SECTION_START  # beside this script

    old = path.read_text() if path.exists() else ""
    if SECTION_START in old and SECTION_END in old:
        section = SECTION_START + old.split(SECTION_START, 1)[1].split(SECTION_END, 1)[0] + SECTION_END
        page = page.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(page)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the current case and its emulator too
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", type=int, action="append", help="run only these N (repeatable)")
    parser.add_argument("--polls", type=float, action="append", help="poll intervals (default 5 and 10)")
    parser.add_argument("--no-baseline-above", type=int, default=None, help="skip session-per-poll above this N")
    parser.add_argument("--crossover", type=int, action="append", help="crossover sizes (default 5, 10, 20, 40)")
    parser.add_argument("--no-crossover", action="store_true")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of the targets' case (N=1,000, poll 5 s), each side by side"
    )
    parser.add_argument("--json", type=Path, help="write the raw results here too")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--from-json", type=Path, help="only rewrite the page from a --json file of an earlier run")
    args = parser.parse_args()
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        write_page(args.output, render(saved["results"], saved["crossover"], saved["started"], saved["load"]))
        return
    started = time.time()
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    results: list[dict[str, Any]] = []
    crossover: list[dict[str, Any]] = []
    plan: list[tuple[list[dict[str, Any]], int, float, str]] = []
    for n in args.only or SIZES:
        for poll in args.polls or POLLS:
            for _ in range(args.repeats if (n, poll) == TARGET_CASE else 1):  # alternating, side by side
                plan.append((results, n, poll, "package"))
                if args.no_baseline_above is None or n <= args.no_baseline_above:
                    plan.append((results, n, poll, "session_per_poll"))
        if n == (args.only or SIZES)[0] and not args.no_crossover:  # the crossover after the first size
            for small in args.crossover or CROSSOVER_SIZES:
                plan += [(crossover, small, 5.0, "list"), (crossover, small, 5.0, "per_job")]
    for into, n, poll, mode in plan:
        into.append(run_case(n, poll, mode))
        # the page is rewritten after every case, so an interrupted run still shows what it measured
        if args.json:
            saved = {"results": results, "crossover": crossover, "started": started, "load": load}
            args.json.write_text(json.dumps(saved, indent=1))
        write_page(args.output, render(results, crossover, started, load))
    log(f"wrote {args.output}")


if __name__ == "__main__":
    main()
