"""Run every benchmark and (re)write docs/performance.md with the tables, verdicts and commands.

Run: ``.venv/bin/python benchmarks/run_all.py`` (about 10 minutes on 2 cores). ``--skip NAME``
leaves a script out (e.g. ``--skip poll_floor``); the raw JSON results are kept in a temp dir.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import PYTHON, ROOT, TerminateOnSignal, log, machine_info, md_table, run_child, source_digest
from capacity import derived

SCRIPTS = ["parse_cost", "capacity", "baseline_session_per_poll", "poll_floor", "resume_latency"]
TIMEOUTS = {
    "parse_cost": 600,
    "capacity": 900,
    "baseline_session_per_poll": 900,
    "poll_floor": 600,
    "resume_latency": 900,
}
TITLES = {
    "parse_cost": "DAG-parse import cost",
    "capacity": "Triggerer capacity",
    "baseline_session_per_poll": "Shared keep-alive session vs a session per poll",
    "poll_floor": "Per-poll CPU floor of this machine",
    "resume_latency": "Resume latency in a real triggerer",
}


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def targets(data: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    cap = data.get("capacity") or []
    real = [r for r in cap if r["n"] == 1000 and r["poll_interval"] >= 10 and not r.get("paced")]
    fast = [r for r in cap if r["n"] == 1000 and r["poll_interval"] < 10 and not r.get("paced")]
    if real:
        r = real[0]
        d = derived(r)
        steady = r.get("steady_cpu_per_poll")
        full = f"; {steady * 100 * r['n'] / r['poll_interval']:.1f} % with all {r['n']:,} polling" if steady else ""
        rows.append(
            [
                "N=1,000, CPU <= 5 % of one core",
                f"{d['cpu_pct']:.1f} % over the poll-10 s run ({d['cpu_per_poll_us']:.0f} µs/poll, "
                f"{d['polls_per_s']:.0f} polls/s){full}",
                verdict(d["cpu_pct"] <= 5.0),
            ]
        )
    if fast:
        d = derived(fast[0])
        rows.append(
            [
                "(same, projected from the poll-1 s run)",
                f"{d['cpu_pct_at_10s']:.1f} % ({d['cpu_per_poll_us']:.0f} µs/poll at {d['polls_per_s']:.0f} polls/s "
                "x 100 polls/s; optimistic, see the findings)",
                "projection only",
            ]
        )
    n1000 = real + fast
    if n1000:
        worst = max(derived(r)["rss_per_trigger_kib"] for r in n1000)
        rows.append(
            ["N=1,000, RSS <= 100 KiB per trigger", f"{worst:.1f} KiB (peak, worst N=1,000 run)", verdict(worst <= 100)]
        )
    big = [r for r in cap if r["n"] == 5000 and not r.get("paced")]
    if big:
        r = big[0]
        rows.append(
            [
                "N=5,000 completes with no errors",
                f"{r['errors']} errors, {r['n'] - r['errors']:,} success events in {r['wall']:.0f} s",
                verdict(r["errors"] == 0),
            ]
        )
    for ours, base in data.get("baseline_session_per_poll") or []:
        ratio = derived(base)["cpu_per_poll_us"] / derived(ours)["cpu_per_poll_us"]
        label = f"N={ours['n']:,} poll {ours['poll_interval']:g} s{' TLS' if ours['tls'] else ' plain HTTP'}"
        rows.append([f">= 3x less CPU/poll than session-per-poll ({label})", f"{ratio:.1f}x", verdict(ratio >= 3.0)])
    resume = data.get("resume_latency")
    if resume and resume.get("samples"):
        totals = sorted(sample["total"] for sample in resume["samples"])
        p99 = totals[min(len(totals) - 1, max(0, round(0.99 * len(totals) + 0.5) - 1))]
        limit = resume["poll_interval"] + 1
        rows.append(
            [
                f"resume latency p99 <= poll_interval + 1 s = {limit:g} s ({len(totals)} jobs, real triggerer)",
                f"{p99:.2f} s (job completed -> execute_complete starts)",
                verdict(p99 <= limit),
            ]
        )
    parse = data.get("parse_cost")
    if parse:
        rows.append(
            [
                "DAG-parse import ratio <= 1.10x",
                f"{parse['ratio']:.3f}x (modules: {', '.join(parse['modules'])})",
                verdict(parse["ratio"] <= 1.10),
            ]
        )
    return rows


def _floor(data: dict[str, Any], variant: str, rate: int) -> float | None:
    cell = (data.get("poll_floor") or {}).get(f"{variant} @ {rate}/s")
    return statistics.median(r["client"] for r in cell) if cell else None


def findings(data: dict[str, Any]) -> list[str]:
    """Observations computed from this run's numbers (each only if its inputs were measured)."""
    out: list[str] = []
    cap = data.get("capacity") or []
    real = next((r for r in cap if r["n"] == 1000 and r["poll_interval"] >= 10 and not r.get("paced")), None)
    fast = next((r for r in cap if r["n"] == 1000 and r["poll_interval"] < 10 and not r.get("paced")), None)
    if real and fast:
        dr, df = derived(real), derived(fast)
        out.append(
            f"**CPU per poll depends on the poll rate.** The same 1,000 triggers cost {df['cpu_per_poll_us']:.0f} µs "
            f"per poll at {df['polls_per_s']:.0f} polls/s (poll 1 s) but {dr['cpu_per_poll_us']:.0f} µs at "
            f"{dr['polls_per_s']:.0f} polls/s (poll 10 s): at low rates every poll pays for its own event-loop "
            "wakeups, which are expensive on this VM, so projecting the fast runs to poll 10 s underestimates."
        )
    names = [
        "asyncio.sleep only",
        "raw aiohttp GET, shared session",
        "PictoryHook.aget_job",
        "raw aiohttp GET, session per poll",
        "aget_job, wakeups aligned to 1 s",
    ]
    low = [_floor(data, v, 70) for v in names]
    high = [_floor(data, v, 700) for v in names]
    if all(v is not None for v in low):
        sleep, raw, ours, new, aligned = (float(v) for v in low)  # type: ignore[arg-type]
        text = (
            f"**Where a poll's CPU goes** (floor table, 70 polls/s): an empty `asyncio.sleep` wakeup alone costs "
            f"{sleep:.0f} µs here, a raw aiohttp GET on a shared keep-alive session {raw:.0f} µs, "
            f"the same GET with a new session {new:.0f} µs, "
            f"`PictoryHook.aget_job` {ours:.0f} µs, so the package's own layers (retry loop, pacer, "
            f"timeouts, response mapping, parsing) add about {ours - raw:.0f} µs ({100 * (ours - raw) / ours:.0f} %) "
            f"and aiohttp plus the event loop the rest."
        )
        if all(v is not None for v in high):
            h_raw, h_ours = float(high[1]), float(high[2])  # type: ignore[arg-type]
            text += f" At 700 polls/s: raw {h_raw:.0f} µs, ours {h_ours:.0f} µs."
        out.append(text)
        out.append(
            f"**Aligning wakeups is the big lever.** When the pollers of one second share a wakeup (each sleeps to "
            f"the next whole second of loop time), `aget_job` costs {aligned:.0f} µs per poll instead of "
            f"{ours:.0f} µs ({ours / aligned:.1f}x less), below even the spread-out raw aiohttp GET."
        )
    pairs = data.get("baseline_session_per_poll") or []
    if pairs:
        parts = []
        for o, b in pairs:
            ratio = derived(b)["cpu_per_poll_us"] / derived(o)["cpu_per_poll_us"]
            emu = derived(b)["emu_cpu_per_poll_us"] / max(derived(o)["emu_cpu_per_poll_us"], 1e-9)
            kind = "TLS" if o["tls"] else "HTTP"
            parts.append(f"{kind} N={o['n']:,}: {ratio:.1f}x client, {emu:.1f}x emulator")
        out.append(
            "**Session per poll** costs a TCP connect and close (plus a TLS handshake over HTTPS) per poll on both "
            "sides; the saving of the shared session, per poll: " + "; ".join(parts) + ". Over plain loopback "
            "HTTP the connection set-up is cheap next to the fixed per-poll cost above, so the ratio stays "
            "below 3x; with TLS (what api.pictory.ai uses) it grows, most at high poll rates."
        )
    paced = next((r for r in cap if r.get("paced")), None)
    unpaced = next((r for r in cap if r["n"] == paced["n"] and not r.get("paced")), None) if paced else None
    if paced and unpaced:
        dp = derived(paced)
        out.append(
            f"**The hook's default request pacer** (connection extra `max_requests_per_second` unset) held "
            f"{paced['n']:,} triggers at poll {paced['poll_interval']:g} s to {dp['polls_per_s']:.0f} polls/s: "
            f"{dp['polls_per_job']:.1f} polls per job instead of {derived(unpaced)['polls_per_job']:.1f} and a "
            f"detection latency p99 of {paced['latency_p99']:.1f} s instead of {unpaced['latency_p99']:.1f} s. "
            "With that cap a triggerer keeps poll_interval=10 s for at most cap x 10 jobs per API key; the other "
            "rows turn the cap off to measure the trigger itself."
        )
    return out


SUGGESTIONS = """### What changed after the first measurements

The first full run (same machine, same day) missed the CPU targets: 1,277 µs per poll and 10.2 % of a core
for 1,000 triggers at poll 10 s, and 1.4x / 1.8x (plain HTTP, N=100 / 1,000) and 2.0x / 3.7x (TLS) less CPU
per poll than session-per-poll. py-spy and the floor table pointed at per-wakeup cost, then at the package's
own per-poll layers. Three changes followed, and every number on this page is measured after them:

1. **Coalesced wakeups**: `PictoryJobTrigger` sleeps to the nearest tick of a shared 1 s grid
   (`_until_next_tick`), so the triggers due in the same second share one event-loop wakeup. The average
   interval, and so detection latency, stays at `poll_interval`.
2. **No retry objects on the happy path**: `PictoryHook.aget_job` is a plain loop that only computes a backoff
   after a failure (the same `backoff_seconds` rule as the sync path's tenacity policy).
3. **Per-hook constants**: the `aiohttp.ClientTimeout`, the headers dict and the API key's digest (the rate
   cap's key) are built once, not per poll.
"""


STATIC_NOTES = """\
### How it is measured

* **Capacity**: one worker process runs N `PictoryJobTrigger(job_id, poll_interval=P).run()` as N asyncio tasks
  on a plain `asyncio.run` loop (as the triggerer does, one task iterating each trigger's generator to its
  single event); the emulator CLI runs in another process. Trigger starts are spread over one poll interval
  (triggers reach a triggerer over time); job lengths are spread over 3-10 poll intervals in 20 batches
  (`/_emulator/config` between batches), so completions are staggered. Jobs are created by the orchestrator
  process, not the worker, so neither their CPU nor their memory is counted. One warm-up trigger runs first (lazy
  imports, aiohttp start-up), then the baseline RSS is read.
* **CPU µs/poll (all-in)** = worker user+sys CPU over the trigger window (trigger construction, connection
  lookup, polling, events, INFO logs written to a file) minus the sampler thread's own CPU, divided by the
  polls served by the emulator (`requests['job']`). **Steady** is the least-squares slope of worker CPU over
  polls once every trigger has started, i.e. the marginal cost of one poll without start-up costs.
* **CPU % of a core** = that CPU / wall time of the run. The "at poll 10 s" column multiplies the measured
  µs/poll by N/10 polls/s; it is optimistic because CPU per poll grows as the poll rate falls on this machine
  (see the floor table), so the N=1,000, poll 10 s row measures the target directly.
* **RSS/trigger** = (VmRSS after every trigger has started, or peak VmRSS) - VmRSS after warm-up, / N.
* **Detection latency** = the time the event reached the consumer - the job's `completes_at`
  (`/_emulator/jobs/{id}`); it is bounded by the poll interval.
* **TCP**: client sockets to the emulator port in `/proc/net/tcp` (ESTABLISHED max and mean over the run,
  sampled every 2 s); "client ports seen" is the number of distinct client addresses the emulator saw
  (port reuse makes it undercount for session-per-poll, which opens one connection per poll).
* **TLS**: the emulator app is served over HTTPS by `benchmarks/_tls_emulator.py` with a throwaway CA made
  with `cryptography`; both triggers trust it through `SSL_CERT_FILE` (aiohttp's default SSL context
  loads it), so the hook needed no change.
* The emulator and the benchmark share the 2 cores; the emulator's CPU is reported next to the worker's.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip", action="append", default=[], choices=SCRIPTS)
    parser.add_argument("--output", default=str(ROOT / "docs" / "performance.md"))
    args = parser.parse_args()
    outdir = tempfile.mkdtemp(prefix="pictory-bench-results-")
    digest_before = source_digest()
    with open("/proc/loadavg") as loadavg:
        load_at_start = " ".join(loadavg.read().split()[:3])
    began = time.monotonic()
    sections: dict[str, str] = {}
    durations: dict[str, float] = {}
    commands: dict[str, str] = {}
    data: dict[str, Any] = {}
    with TerminateOnSignal():
        for name in SCRIPTS:
            if name in args.skip:
                continue
            json_path = os.path.join(outdir, f"{name}.json")
            cmd = [PYTHON, f"benchmarks/{name}.py", "--json", json_path]
            commands[name] = f".venv/bin/python benchmarks/{name}.py"
            log(f"run_all: {commands[name]}")
            started = time.monotonic()
            try:
                result = run_child(cmd, timeout=TIMEOUTS[name])
                output = result.stdout
                if result.returncode:
                    output += f"\n\n**{name}.py exited with status {result.returncode}** (see its stderr)."
            except Exception as exc:  # keep going: a failed script is reported in the document
                output = f"**{name}.py failed: {type(exc).__name__}: {exc}**"
            durations[name] = time.monotonic() - started
            sections[name] = output.strip()
            if os.path.exists(json_path):
                with open(json_path) as raw:
                    data[name] = json.load(raw)
    total = time.monotonic() - began
    digest_after = source_digest()
    info = machine_info()
    info["load average at start (1/5/15 min)"] = load_at_start
    info["pictory_provider sources (sha256/12)"] = digest_before + (
        "" if digest_after == digest_before else f" -> {digest_after} (**the code changed during the run**)"
    )
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc = [
        "# Performance",
        "",
        f"_Generated by `benchmarks/run_all.py` on {now}; the run took {total / 60:.1f} min. "
        "Numbers are from one run on the machine below. Between runs, CPU per poll varied by up to ~25 % "
        "on this shared 2-core VM (other processes compete for the cores); ratios measured side by side "
        "vary less._",
        "",
        "## Machine",
        "",
        md_table(["", ""], [[k, v] for k, v in info.items()]),
        "",
        "## Targets",
        "",
        md_table(["target", "measured", "verdict"], targets(data)),
        "",
    ]
    found = findings(data)
    if found:
        doc += ["## Findings", ""] + [f"* {item}" for item in found] + ["", SUGGESTIONS, ""]
    doc += [STATIC_NOTES, ""]
    for name in SCRIPTS:
        if name not in sections:
            continue
        doc += [
            f"## {TITLES[name]} (`benchmarks/{name}.py`, {durations[name]:.0f} s)",
            "",
            f"Command: `{commands[name]}`",
            "",
            sections[name].replace("### ", "#### ", 1) if sections[name].startswith("### ") else sections[name],
            "",
        ]
    doc += [
        "## Commands",
        "",
        "```sh",
        "cd /path/to/airflow-provider-pictory",
        ".venv/bin/python benchmarks/run_all.py          # everything, rewrites this file",
        *[f"{commands[name]:<48} # {TITLES[name]}" for name in SCRIPTS if name in commands],
        ".venv/bin/python benchmarks/capacity.py --profile /tmp/prof   # + py-spy stacks (pip install py-spy)",
        ".venv/bin/python benchmarks/profile_summary.py /tmp/prof/*.txt",
        "```",
        "",
        f"Raw JSON of this run: `{outdir}` (temporary).",
        "",
    ]
    with open(args.output, "w") as out:
        out.write("\n".join(doc))
    log(f"run_all: wrote {args.output} in {total:.0f} s")
    print("\n".join(doc))


if __name__ == "__main__":
    main()
