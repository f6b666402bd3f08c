"""Offering events at a steady rate without drift, and the limits of a run.

The pacer schedules event ``i`` at ``t0 + i / rate`` on a monotonic clock and sleeps only
until that moment, so time lost on one event (a slow send, a GC pause) is made up by the
next ones instead of piling up: after ``n`` events, ``n / rate`` seconds have passed, not
``n / rate`` plus every delay. A publisher that cannot keep up simply runs without sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

MIN_SLEEP_S = 0.001
"""Shorter waits are skipped: at high rates the pacer sleeps once per batch of events."""


class Pacer:
    """Holds event ``i`` back until ``i / rate`` seconds after the first one (rate > 0)."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._t0: float | None = None

    def wait_turn(self, index: int) -> None:
        """Return when event ``index`` (0-based) is due; at once if the rate is 0."""
        if self.rate <= 0:
            return
        now = self._clock()
        if self._t0 is None:
            self._t0 = now
        ahead = self._t0 + index / self.rate - now
        if ahead >= MIN_SLEEP_S:
            self._sleep(ahead)


@dataclass(frozen=True, slots=True)
class RunLimits:
    """When a run stops: after ``events``, after ``duration_s``, or at the stream's end.

    With a rate, a duration is a number of events, ``ceil(rate * duration)``: the events
    scheduled in that time, sent even if the sink is slower, so the output is reproducible.
    Without a rate (as fast as possible), a duration is a wall-clock limit.
    """

    rate: float = 0.0
    events: int | None = None
    duration_s: float | None = None

    @property
    def max_events(self) -> int | None:
        """The most events the run sends (None: no count limit)."""
        counts = [self.events] if self.events is not None else []
        if self.rate > 0 and self.duration_s is not None:
            # The epsilon keeps 0.1 * 30 (= 3.0000000000000004 in floats) at 3 events.
            counts.append(math.ceil(self.rate * self.duration_s - 1e-9))
        return min(counts, default=None)

    @property
    def wall_limit_s(self) -> float | None:
        """Wall-clock seconds after which the run stops (only without a rate)."""
        return self.duration_s if self.rate <= 0 else None
