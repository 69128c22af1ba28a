"""The Pictory emulator app served over TLS (the emulator CLI has no TLS option). Benchmark helper.

``python benchmarks/_tls_emulator.py --port N --job-seconds S --certfile server.pem --keyfile key.pem``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl

from aiohttp import web

from pictory_provider.emulator.routes import make_runner
from pictory_provider.emulator.state import EmulatorState


async def serve(args: argparse.Namespace) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.certfile, args.keyfile)
    runner = make_runner(EmulatorState(job_seconds=args.job_seconds))
    await runner.setup()
    try:
        site = web.TCPSite(runner, args.host, args.port, ssl_context=context)
        await site.start()
        print(f"Pictory emulator listening on https://{args.host}:{args.port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--job-seconds", type=float, default=2.0)
    parser.add_argument("--certfile", required=True)
    parser.add_argument("--keyfile", required=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
