"""Merging event sources into one stream in time order, lazily.

Sources are opened in order of their start time, only when the stream's clock reaches them,
so memory holds the sessions in progress, not the whole run. Ties are broken by the
sources' labels and then by position within a source, so the order is fully determined.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator

from riskseal.generator.attacks.base import EventSource
from riskseal.generator.model import GeneratedEvent

_Entry = tuple[int, int, int, list[GeneratedEvent]]


def merge_sources(sources: Iterable[EventSource]) -> Iterator[GeneratedEvent]:
    """Every event of ``sources`` in non-decreasing time order.

    Relies on each source's contract: its events are at or after its ``start_ms`` and in
    non-decreasing time order.
    """
    ordered = sorted(sources, key=lambda source: (source.start_ms, source.label))
    heap: list[_Entry] = []
    opened = 0
    while opened < len(ordered) or heap:
        while opened < len(ordered) and (not heap or ordered[opened].start_ms <= heap[0][0]):
            events = ordered[opened].events()
            if events:
                heapq.heappush(heap, (events[0].time_ms, opened, 0, events))
            opened += 1
        if not heap:
            continue
        _, rank, index, events = heap[0]
        yield events[index]
        if index + 1 < len(events):
            heapq.heapreplace(heap, (events[index + 1].time_ms, rank, index + 1, events))
        else:
            heapq.heappop(heap)
