"""Command line entry point: ``python -m pictory_provider.emulator`` (or ``pictory-emulator``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import signal
import sys

from aiohttp import web

from pictory_provider.emulator.routes import make_runner
from pictory_provider.emulator.state import EmulatorState


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pictory-emulator", description="Serve a local emulator of the Pictory AI Studio API (images and videos)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8931, help="port to bind, 0 for any free port (default: 8931)")
    parser.add_argument("--job-seconds", type=float, default=2.0, help="seconds a job stays in-progress (default: 2)")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accept only this pictai_ key (repeatable; default: any key starting with pictai_)",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        metavar="PER_SECOND",
        help="answer 429 + Retry-After to a key sending more than this many requests per second (default: off)",
    )
    parser.add_argument(
        "--rate-limit-burst", type=float, metavar="TOKENS", help="the key's token bucket size (default: the rate)"
    )
    return parser


async def _serve(host: str, port: int, state: EmulatorState) -> None:
    runner = make_runner(state)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = runner.addresses[0][1]
        print(f"Pictory emulator listening on http://{host}:{bound_port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Windows has no loop signal handlers: Ctrl+C raises KeyboardInterrupt instead.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until SIGINT/SIGTERM; return the exit code."""
    args = _parser().parse_args(argv)
    try:
        state = EmulatorState(
            job_seconds=args.job_seconds,
            api_keys=args.api_keys,
            rate_limit=args.rate_limit,
            rate_limit_burst=args.rate_limit_burst,
        )
    except ValueError as exc:
        print(f"pictory-emulator: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(args.host, args.port, state))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        hint = ""
        if exc.errno == errno.EADDRINUSE:
            hint = (
                " (another process, perhaps an emulator left running, listens there: stop it, or use "
                "another --port; --port 0 picks a free one)"
            )
        print(f"pictory-emulator: cannot serve on {args.host}:{args.port}: {exc}{hint}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
