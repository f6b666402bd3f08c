"""Event-time alignment of the two input topics: a request waits for the actions before it.

Requests and actions arrive on two topics, co-partitioned by user, and Faust processes
each topic's partition in its own stream, so the actions a user did just before a request
(refused sign-ins, say) may still be unprocessed when the request is decided. A request
therefore waits, for at most ``max_wait_s``, until the actions partition it shares is
either past the request's event time or drained: everything fetched is processed and the
consumer's position has reached the partition's high watermark, as the broker reported it
with the last fetch (a figure that is right even on the local broker, whose ListOffsets is
not). Decisions then see the same actions live as a replay in event-time order does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

OffsetOf = Callable[[int], int | None]
"""Partition of the actions topic → an offset of it (None: not known yet)."""


@dataclass(slots=True)
class _Partition:
    event_time: int = -1
    """Largest event time of the actions processed."""
    next_offset: int = 0
    """Offset after the last action processed."""
    changed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True, slots=True)
class AlignmentStats:
    """How requests waited: at once, after waiting, or until the time limit."""

    immediate: int
    waited: int
    timed_out: int


class ActionAlignment:
    """Tracks processed actions per partition; lets requests wait for their turn."""

    def __init__(self, highwater: OffsetOf, committed: OffsetOf, max_wait_s: float) -> None:
        """``highwater``: the high watermark the last fetch reported; ``committed``: the
        group's committed offset (everything before it was processed, by us or before us)."""
        self._highwater = highwater
        self._committed = committed
        self.max_wait_s = max_wait_s
        self._partitions: dict[int, _Partition] = {}
        self._immediate = self._waited = self._timed_out = 0

    def action_processed(self, partition: int, offset: int, event_time: int) -> None:
        """Record that the action at ``offset`` (event time ``event_time``) is processed."""
        state = self._state(partition)
        state.event_time = max(state.event_time, event_time)
        state.next_offset = max(state.next_offset, offset + 1)
        state.changed.set()
        state.changed = asyncio.Event()

    def ready(self, partition: int, event_time: int) -> bool:
        """Whether a request of ``event_time`` on ``partition`` may be decided now."""
        state = self._state(partition)
        if state.event_time >= event_time:
            return True
        highwater = self._highwater(partition)
        if highwater is None:
            return False
        processed = max(state.next_offset, self._committed(partition) or 0)
        return processed >= highwater

    async def wait(self, partition: int, event_time: int) -> bool:
        """Wait until :meth:`ready` or ``max_wait_s`` passed; False when the time ran out."""
        if self.ready(partition, event_time):
            self._immediate += 1
            return True
        deadline = time.monotonic() + self.max_wait_s
        while not self.ready(partition, event_time):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._timed_out += 1
                return False
            # Woken by each processed action; re-checked at least every 10 ms because a new
            # high watermark arrives with a fetch, not with an action.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._state(partition).changed.wait(), timeout=min(remaining, 0.01)
                )
        self._waited += 1
        return True

    @property
    def stats(self) -> AlignmentStats:
        """Counts of requests decided at once, after waiting, and at the time limit."""
        return AlignmentStats(self._immediate, self._waited, self._timed_out)

    def _state(self, partition: int) -> _Partition:
        state = self._partitions.get(partition)
        if state is None:
            state = self._partitions[partition] = _Partition()
        return state
