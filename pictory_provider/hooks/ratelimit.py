"""The request rate of one API key in one triggerer: a pacer whose rate adapts to Pictory's limit.

Each triggerer process (each event loop) paces every API key on its own: it cannot see what other
triggerers send with the same key. So the connection extra ``max_requests_per_second`` is a ceiling
per triggerer process, and the rate under it adapts to what Pictory accepts, as the AWS SDKs'
"adaptive" retry mode does: a 429 cuts the key's rate to :data:`BETA` times the rate it was getting
through (answers other than 429 per second lately; the rate it was sending at when nothing got
through; at most the current rate), and the rate then climbs back CUBIC-style (fast at first, flat
near :data:`HEADROOM` times that rate, then probing above it), so several triggerers that share a
key settle near the account's limit without talking to each other. ``Retry-After`` pauses the key;
a 429 is never a failure.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import random
import weakref

from pictory_provider.hooks.connection import PictoryCredentials

log = logging.getLogger(__name__)

__all__ = [
    "BETA",
    "HEADROOM",
    "MAX_IN_FLIGHT_PER_KEY",
    "MIN_RATE",
    "RECOVERY_REQUESTS",
    "RECOVERY_SECONDS",
    "AdaptiveRate",
    "DeadlineReached",
    "RequestPacer",
    "pacer_for",
]

#: Requests one API key may have in flight at once in one event loop, so that a slow host or key
#: never takes the whole connection pool (the others keep their own connections).
MAX_IN_FLIGHT_PER_KEY = 16
#: After a 429 the key's rate drops to this share of the rate it was getting through.
BETA = 0.7
#: After a 429 the rate is back where it was once about this many requests could have been sent at
#: it (then it probes above, slowly at first): at 1 request/s that is 30 s, at 10/s 5 s. So a key
#: probes its limit about once per this many requests, whatever its rate: few 429s at low rates.
RECOVERY_REQUESTS = 30.0
#: Bounds of that recovery time, in seconds.
RECOVERY_SECONDS = (5.0, 60.0)
#: The adaptive rate never goes below this (requests per second); ``Retry-After`` still pauses longer.
MIN_RATE = 0.2
#: After a 429 the rate climbs back to this share of the rate that was getting through (then probes
#: above): room for the other triggerers of the key, which all climb back at once.
HEADROOM = (1 + BETA) / 2
#: Seconds of answers over which the rate getting through is measured.
THROUGHPUT_WINDOW = 5.0


class DeadlineReached(Exception):
    """The caller's deadline (a trigger's ``end_time``) arrived before an answer: fire ``timeout``."""


class AdaptiveRate:
    """The allowed request rate of one key in one event loop (see the module docstring).

    :param ceiling: ``max_requests_per_second``; 0 means no ceiling: the key is not paced until
        its first 429, and adapts from then on.
    """

    def __init__(self, ceiling: float) -> None:
        self.ceiling = ceiling if ceiling > 0 else math.inf
        self.w_max: float | None = None  # the rate to climb back to after the last 429; None: never throttled
        self.recovery = RECOVERY_SECONDS[0]  # CUBIC's K: seconds from a cut back to w_max
        self.start = 0.0  # the rate right after the last cut
        self.cut_at = -math.inf  # loop time of the last cut
        self.throttles = 0  # 429s answered (counted for logs and tests)
        self.cuts = 0  # of which cut the rate (one per congestion event)
        self._answered: collections.deque[float] = collections.deque()  # times of non-429 answers
        self._sent: collections.deque[float] = collections.deque()  # times of requests sent
        self._first: float | None = None  # loop time of the first request

    def rate(self, now: float) -> float:
        """Requests per second allowed at loop time ``now`` (``inf``: not paced)."""
        if self.w_max is None:
            return self.ceiling
        # CUBIC: ``start`` at the cut, ``w_max`` after K seconds (flat around it), then above
        since = (now - self.cut_at - self.recovery) / self.recovery
        return min(self.ceiling, max(MIN_RATE, self.w_max + (self.w_max - self.start) * since**3))

    def _per_second(self, times: collections.deque[float], now: float) -> float:
        while times and times[0] < now - THROUGHPUT_WINDOW:
            times.popleft()
        observed = THROUGHPUT_WINDOW if self._first is None else now - self._first
        return len(times) / min(THROUGHPUT_WINDOW, max(1.0, observed))

    def throughput(self, now: float) -> float:
        """Answers other than 429 per second over the last :data:`THROUGHPUT_WINDOW` seconds."""
        return self._per_second(self._answered, now)

    def sent(self, now: float) -> None:
        if self._first is None:
            self._first = now
        self._sent.append(now)

    def answered(self, sent_at: float, now: float, throttled: bool) -> bool:
        """Record an answer to a request sent at ``sent_at``; return True if a 429 cut the rate.

        A 429 to a request sent before the last cut belongs to the same congestion event and cuts
        nothing more (the requests in flight then all hear it).
        """
        if not throttled:
            self._answered.append(now)
            return False
        self.throttles += 1
        if sent_at < self.cut_at:
            return False
        getting_through = self.throughput(now)
        if not getting_through:  # nothing got through lately: what was sent is the only measure
            getting_through = self._per_second(self._sent, now)
        through = max(MIN_RATE, min(self.rate(now), getting_through))
        self.start = BETA * through  # the rate right after the cut
        # the rate to climb back to: a little under what got through, leaving room for the others
        # sharing the key (CUBIC's "fast convergence")
        self.w_max = HEADROOM * through
        self.recovery = min(max(RECOVERY_REQUESTS / self.w_max, RECOVERY_SECONDS[0]), RECOVERY_SECONDS[1])
        self.cut_at = now
        self.cuts += 1
        return True


class RequestPacer:
    """Paces the requests of one API key in one event loop, and pauses them after a 429.

    Every request of the key waits its turn here, in arrival order; turns are ``1 / rate`` apart
    (a token bucket of one token: never a burst), where ``rate`` is the :class:`AdaptiveRate` under
    the ``max_requests_per_second`` ceiling. A 429 pauses every request of the key for its
    ``Retry-After`` and lowers the rate; a waiter that is cancelled holds no turn (turns are taken
    when due, not reserved ahead). It also bounds the key's requests in flight
    (:data:`MAX_IN_FLIGHT_PER_KEY`).
    """

    def __init__(self, rate: float, max_in_flight: int = MAX_IN_FLIGHT_PER_KEY, label: str = "") -> None:
        self.adaptive = AdaptiveRate(rate)
        self.label = label
        self._last = -math.inf
        self._paused_until = 0.0
        self._queue = asyncio.Lock()
        self.in_flight = asyncio.Semaphore(max_in_flight)

    def interval(self, now: float) -> float:
        """Seconds between two turns at loop time ``now``."""
        return 1.0 / self.adaptive.rate(now)

    async def wait_turn(self, deadline: float | None = None) -> float:
        """Wait for the next turn; return its loop time (when the request is sent).

        At once when the key is not paced (no ceiling, never throttled) and no pause runs.

        :param deadline: Loop time (``loop.time()``) after which waiting is pointless: raise
            :class:`DeadlineReached` instead of sleeping past it.
        """
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not self.interval(now) and self._paused_until <= now and not self._queue.locked():
            self.adaptive.sent(now)
            return now
        async with self._queue:  # FIFO; a cancelled waiter simply leaves the queue
            while True:
                now = loop.time()
                due = max(self._last + self.interval(now), self._paused_until)
                if due <= now:
                    break
                if deadline is not None and due > deadline:
                    await asyncio.sleep(max(0.0, deadline - now))
                    raise DeadlineReached
                # a 429 may arrive meanwhile (a longer wait), or the rate climb (a shorter one): look again
                await asyncio.sleep(min(due - now, 1.0))
            self._last = now
            self.adaptive.sent(now)
            return now

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, asyncio.get_running_loop().time() + seconds)

    def answered(self, sent_at: float, throttled: bool, pause: float = 0.0) -> None:
        """Record the answer to a request sent at ``sent_at`` (a turn's time); a 429 pauses the key
        for ``pause`` seconds (its ``Retry-After``) and may lower the rate."""
        now = asyncio.get_running_loop().time()
        cut = self.adaptive.answered(sent_at, now, throttled)
        if throttled:  # plus up to one turn of jitter: triggerers that heard 429 together do not return together
            self.pause(pause + random.uniform(0.0, min(1.0, self.interval(now))))
        if cut:
            log.warning(
                "Pictory answered 429 Too Many Requests%s: this triggerer now sends this API key at most "
                "%.2f requests/s (it got %.2f/s through; ceiling %s), pausing %.1f s",
                f" at {self.label}" if self.label else "",
                self.adaptive.rate(now),
                self.adaptive.w_max or 0.0,
                "none" if math.isinf(self.adaptive.ceiling) else f"{self.adaptive.ceiling:g}/s",
                pause,
            )


_PACERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str, float], RequestPacer]] = (
    weakref.WeakKeyDictionary()
)


def pacer_for(creds: PictoryCredentials) -> RequestPacer:
    """The running loop's pacer for these credentials (one per base URL, API key and ceiling)."""
    key = (creds.base_url, creds.key_digest, creds.max_requests_per_second)
    pacers = _PACERS.setdefault(asyncio.get_running_loop(), {})
    if key not in pacers:
        pacers[key] = RequestPacer(creds.max_requests_per_second, label=creds.base_url)
    return pacers[key]
