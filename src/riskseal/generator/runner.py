"""Driving a stream into a sink: pacing, limits, counting and progress reports."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable

from riskseal.generator.model import GeneratedEvent
from riskseal.generator.pacing import Pacer, RunLimits
from riskseal.generator.tally import Tally

Sink = Callable[[GeneratedEvent], None]
"""Takes one event: publishes it, writes it, or hands it to an engine."""
Progress = Callable[[Tally], None]
"""Called now and then with the counts so far."""

PROGRESS_EVERY_S = 0.1


def drive(
    events: Iterable[GeneratedEvent],
    sink: Sink,
    limits: RunLimits,
    *,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Tally:
    """Hand ``events`` to ``sink`` at the limits' rate until a limit or the end; count them.

    The stream is read lazily and no further than the count limit, so a limited run does
    not build events it will not send.
    """
    pacer = Pacer(limits.rate, clock, sleep)
    tally = Tally()
    max_events = limits.max_events
    wall_limit = limits.wall_limit_s
    stream = events if max_events is None else itertools.islice(events, max_events)
    started = clock()
    reported = started
    for index, generated in enumerate(stream):
        pacer.wait_turn(index)
        sink(generated)
        tally.add(generated)
        now = clock()
        if progress is not None and now - reported >= PROGRESS_EVERY_S:
            progress(tally)
            reported = now
        if wall_limit is not None and now - started >= wall_limit:
            break
    if progress is not None:
        progress(tally)
    return tally
