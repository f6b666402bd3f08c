"""What every attack planner gets and returns, and the timing helpers they share."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from riskseal.generator.model import AttackKind, GeneratedEvent
from riskseal.generator.population import UserProfile
from riskseal.generator.sessions import (
    DAY_MS,
    MINUTE_MS,
    SessionPlan,
    local_day,
    local_midnight_ms,
)


class EventSource(Protocol):
    """Something that contributes a time-ordered run of events to the stream.

    Every event of ``events()`` is at or after ``start_ms``, in non-decreasing time order;
    ``label`` is unique in the run and breaks ties between sources deterministically.
    """

    @property
    def start_ms(self) -> int:
        """Time of the first event."""
        ...

    @property
    def label(self) -> str:
        """Unique, stable name of the source."""
        ...

    def events(self) -> list[GeneratedEvent]:
        """The events, in time order."""
        ...


@dataclass(frozen=True, slots=True)
class AttackInstance:
    """One injected attack: its kind, id, main victim and when it starts."""

    kind: AttackKind
    attack_id: str
    victim: str
    start_ms: int


@dataclass(frozen=True, slots=True)
class AttackContext:
    """What a planner may look at: the seed, everyone, everyone's sessions, the window."""

    seed: int
    population: Sequence[UserProfile]
    sessions: Mapping[int, Sequence[SessionPlan]]
    """Normal sessions by user index."""
    window_start_ms: int
    window_end_ms: int
    """Attacks start in ``[window_start_ms, window_end_ms)``."""


@dataclass(frozen=True, slots=True)
class PlannedAttack:
    """A planner's result: the attack and the event sources that make it up."""

    instance: AttackInstance
    sources: tuple[EventSource, ...]


def local_time_in_window(
    rng: random.Random,
    context: AttackContext,
    user: UserProfile,
    from_minute: int,
    to_minute: int,
) -> int:
    """A time in the attack window at local ``from_minute``-``to_minute`` of some day.

    Falls back to any time in the window when no day's interval meets it.
    """
    low, high = context.window_start_ms, context.window_end_ms
    intervals = []
    for day in range(local_day(low, user) - 1, local_day(high, user) + 1):
        midnight = local_midnight_ms(day, user)
        begin = max(low, midnight + from_minute * MINUTE_MS)
        end = min(high, midnight + to_minute * MINUTE_MS)
        if begin < end:
            intervals.append((begin, end))
    if not intervals:
        return rng.randrange(low, high)
    begin, end = rng.choice(intervals)
    return rng.randrange(begin, end)


def busy_intervals(sessions: Sequence[SessionPlan]) -> list[tuple[int, int]]:
    """When the user is active in normal sessions (the last events may run 2 min late)."""
    return [(plan.start_ms, plan.end_ms + 2 * MINUTE_MS) for plan in sessions]


def gap_ms(time_ms: int, intervals: Sequence[tuple[int, int]]) -> int:
    """Distance in ms from ``time_ms`` to the nearest interval (0 inside; a day if none)."""
    return min((max(begin - time_ms, time_ms - end, 0) for begin, end in intervals), default=DAY_MS)
