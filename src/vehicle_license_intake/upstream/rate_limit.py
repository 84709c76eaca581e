"""Request rates: a sliding one-second window, shared by the client's limiter, the emulators'
429 answers and the tests' measurement of the busiest second."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from vehicle_license_intake.ports import Deadline
from vehicle_license_intake.upstream.errors import UpstreamOutOfTime

# The default of UPSTREAM_RATE_MARGIN_SECONDS (config.Settings): how much later than its start a
# call may be counted upstream (it arrives later, and by a varying time).
RATE_WINDOW_MARGIN_SECONDS = 0.2
# Times this close are the same time: a float's rounding (3.6 - 2.4 < 1.2) must not leave a wait
# too small to move the clock.
_ROUNDING_SECONDS = 1e-9


class SlidingWindow:
    """At most `capacity` events in any window of `window` seconds. A fractional rate (0.5/s)
    is kept as one event per 1/rate seconds. Not thread-safe: callers hold their own lock."""

    def __init__(self, per_second: float, margin_seconds: float = 0.0) -> None:
        self.window = (1.0 if per_second >= 1 else 1.0 / per_second) + margin_seconds
        self.capacity = max(1, int(per_second))
        self._times: deque[float] = deque()

    def wait_before(self, now: float) -> float:
        """Seconds until an event at `now` would fit (0: it fits now)."""
        while self._times and now - self._times[0] >= self.window - _ROUNDING_SECONDS:
            self._times.popleft()
        if len(self._times) < self.capacity:
            return 0.0
        return self.window - (now - self._times[0])

    def try_add(self, now: float) -> bool:
        """Count an event at `now` if it fits; False (not counted) if the window is full."""
        if self.wait_before(now) > 0:
            return False
        self._times.append(now)
        return True

    def __len__(self) -> int:
        return len(self._times)


def busiest_window(times: Iterable[float], window: float = 1.0) -> int:
    """The most events that fell in any one window of `window` seconds."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


class RateLimiter:
    """Blocks until a call fits in the window (thread-safe).

    The window is widened by `margin_seconds`: what counts is when requests *arrive* upstream,
    and a request on a fresh connection arrives later than one on a warm connection.
    """

    def __init__(
        self,
        max_per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin_seconds: float = RATE_WINDOW_MARGIN_SECONDS,
    ) -> None:
        self._window = SlidingWindow(max_per_second, margin_seconds)
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def acquire(self, deadline: Deadline | None = None) -> None:
        with self._lock:
            while True:
                now = self._clock()
                wait = self._window.wait_before(now)
                if wait <= 0:
                    self._window.try_add(now)
                    return
                if deadline is not None and wait > deadline.remaining_seconds():
                    raise UpstreamOutOfTime("no time left to wait for the rate limit", code="OUT_OF_TIME")
                self._sleep(wait)
