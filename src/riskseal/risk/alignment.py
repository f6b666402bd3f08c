"""Requests and actions of a partition handled in event-time order, across their two topics.

A user's requests and actions reach a worker on two co-partitioned topics, each read by its
own agent. Kafka keeps each topic's partition in order, but nothing orders the two agents:
whichever batch comes first is handled first. A worker catching up on a backlog took 500
requests spanning hours before the actions of those hours, and decided them without the
failed sign-ins, new devices or step-ups that came before them. Measured on 20,000 events
of the generator's mixed scenario published before the worker started: 9% of the verdicts
and 39% of the request risks differed from a replay of the same events in time order.

:class:`Merger` merges the two lanes per partition, as Kafka Streams does for a task with
several inputs: each lane's agent hands over the batches it takes and goes on taking, and
the records are handled as they fall due. A record is due when the other lane of its
partition

* holds a record that comes later (by :data:`OrderKey`: event time, then source stamp,
  which orders the events of one producer exactly as it published them), or
* holds nothing and has taken every record its partition had at the last fetch (the high
  watermark that comes back with fetched records, right on every broker), or
* has kept it waiting :data:`ALIGN_MAX_WAIT_S`: a stalled partition delays the other by that
  much at most, after which the record goes on as it would without alignment.

While the consumer group rebalances, every held record is due, in the merged order: a
partition of the other lane with records still to take counts as caught up. Faust then stops
fetching, clears what the agents had not taken, and waits until every record taken is acked
before it gives partitions up: a record waiting for the other lane would wait its longest,
and a wait longer than the group's rebalance timeout (the session timeout here; 6 s in the
local profile) gets the worker dropped from the group while it still handles those
partitions.

A record without an order key (one the intake refuses) touches no state, so it waits for
nothing of the other lane, but it stays behind the records of its own partition taken before
it: it is due once nothing before it is held. The records of a lane's partition keep their
offset order, and a record counts as held until its handling is over, so the other lane
never overtakes a record being handled. Records are acked once handled, in offset order
within a lane's partition, so offsets are never committed past a held record. (A refused
record used to be handled at once: acked ahead of a held record of its partition, it let
Faust commit past that record, and a dead-letter send that failed for it crashed the agent
with the records it had taken.)

:class:`Alignment` is the bookkeeping, pure; :class:`Merger` runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from riskseal.contract.events import AccessAction, AccessRequest

log = logging.getLogger(__name__)

OrderKey = tuple[int, str, int, int]
"""Event time (ms), then the source stamp's id, epoch and sequence number."""

ALIGN_MAX_WAIT_S = 10.0
"""Longest a record waits for a stalled partition of the other lane (one that holds nothing
and has records still to take): a guard against a partition that never comes, not a
latency budget. Wall time, so it includes the time the worker spends on other records, and
the local broker can leave a partition out of its fetch responses for seconds while it
fills them from others (measured on a 20,000-event backlog: 0.5 s and 2 s both let
records through early)."""

ALIGN_MAX_RUN = 500
"""Most records handed to a handler at once; the merge lets the agents run between runs."""

ALIGN_TICK_S = 0.05
"""How often a worker looks for records that waited their longest (nothing else arrived)."""

ALIGN_MAX_HELD = 20_000
"""Records a lane holds at most; its agent stops taking while it holds that many."""

Item = TypeVar("Item")


class Lane(enum.Enum):
    """The two inputs merged per partition."""

    REQUESTS = "requests"
    ACTIONS = "actions"

    @property
    def other(self) -> Lane:
        """The lane this one is merged with."""
        return Lane.ACTIONS if self is Lane.REQUESTS else Lane.REQUESTS


def order_key(event: AccessRequest | AccessAction) -> OrderKey:
    """Where ``event`` comes in a partition's merged order (replays sort by the same key)."""
    source = event.source
    return (event.time, source.source_id, source.epoch, source.seq)


@dataclass(frozen=True, slots=True)
class Arrival(Generic[Item]):
    """A record a lane has taken: what to hand back, where it came from, its order key."""

    item: Item
    partition: int
    offset: int
    key: OrderKey | None
    """None: not an event the engine orders (refused by the intake); it waits for nothing of
    the other lane, only for the records taken before it in its partition."""


class LogPositions(Protocol):
    """Where each lane's partitions stand in the log (the worker asks its consumer)."""

    def highwater(self, lane: Lane, partition: int) -> int | None:
        """The partition's end as of the last fetch; None when not known yet."""

    def start_offset(self, lane: Lane, partition: int) -> int | None:
        """Where reading the partition started (its committed offset); None when unknown."""

    def rebalancing(self) -> bool:
        """Whether the consumer group is rebalancing: every held record goes at once."""


class EverythingFetched:
    """Log positions with nothing left to fetch (a replay, or records put straight into the
    agents in test mode): only the merge rule orders the records."""

    def highwater(self, lane: Lane, partition: int) -> int | None:
        """Every partition ends where it was read from."""
        return 0

    def start_offset(self, lane: Lane, partition: int) -> int | None:
        """Reading started at the start."""
        return 0

    def rebalancing(self) -> bool:
        """Never."""
        return False


@dataclass(slots=True)
class _Waiting(Generic[Item]):
    arrival: Arrival[Item]
    key: OrderKey | None
    """None: refused by the intake; due once nothing before it in its partition is held."""
    index: int
    """Order of taking (across batches): due records are handed back in that order."""


class Alignment(Generic[Item]):
    """Which of the records the two lanes hold are due; no I/O, no waiting.

    ``clock`` readings are passed in, so tests control time. The longest wait runs from when
    a lane's partition finds the other lane's partition stalled (holding nothing, records
    still to take), not from when its records were taken: behind the other lane's held
    records a record waits as long as the merge needs, since one of the two fronts is always
    due.
    """

    def __init__(self, positions: LogPositions, max_wait_s: float = ALIGN_MAX_WAIT_S) -> None:
        self._positions = positions
        self._max_wait_s = max_wait_s
        self._held: dict[Lane, dict[int, deque[_Waiting[Item]]]] = {lane: {} for lane in Lane}
        self._out: list[tuple[Lane, _Waiting[Item]]] = []
        """Records handed out in the current run, in run order, until it is done."""
        self._next_offset: dict[Lane, dict[int, int]] = {lane: {} for lane in Lane}
        """One past the last offset each lane took from each partition."""
        self._taken = 0
        self._stalled: dict[Lane, dict[int, float]] = {lane: {} for lane in Lane}
        """Since when each lane's partition waits for a stalled partition of the other."""

    def take(self, lane: Lane, arrivals: Sequence[Arrival[Item]]) -> None:
        """Hold ``arrivals`` (one batch of ``lane``, in offset order per partition)."""
        held, next_offset = self._held[lane], self._next_offset[lane]
        for index, arrival in enumerate(arrivals, self._taken):
            partition = arrival.partition
            next_offset[partition] = max(next_offset.get(partition, 0), arrival.offset + 1)
            held.setdefault(partition, deque()).append(_Waiting(arrival, arrival.key, index))
        self._taken += len(arrivals)

    def held(self, lane: Lane) -> int:
        """How many records ``lane`` holds (handed out in the current run included)."""
        out = sum(1 for out_lane, _ in self._out if out_lane is lane)
        return out + sum(map(len, self._held[lane].values()))

    def next_run(self, now: float, limit: int) -> list[tuple[Lane, Arrival[Item]]]:
        """The records due now, both lanes merged in their order, at most ``limit``; they
        are handed out until :meth:`done` (handled) or :meth:`put_back` (failed)."""
        run: list[tuple[Lane, Arrival[Item]]] = []
        progressed = True
        while progressed and len(run) < limit:
            progressed = False
            for lane in Lane:
                ready = self._due(lane, now)[: limit - len(run)]
                for entry in ready:
                    self._held[lane][entry.arrival.partition].popleft()
                    self._out.append((lane, entry))
                    run.append((lane, entry.arrival))
                progressed = progressed or bool(ready)
        return run

    def done(self) -> None:
        """The run handed out is handled: release it."""
        self._out.clear()

    def put_back(self) -> None:
        """The run handed out failed: hold it again, where it was, for the next run."""
        for lane, entry in reversed(self._out):
            self._held[lane][entry.arrival.partition].appendleft(entry)
        self._out.clear()

    def _due(self, lane: Lane, now: float) -> list[_Waiting[Item]]:
        """The held records of ``lane`` that are due now, in the order taken."""
        ready: list[_Waiting[Item]] = []
        rebalancing = self._positions.rebalancing()
        for partition, waiting in self._held[lane].items():
            if not waiting:
                continue
            bound = self._bound(lane.other, partition)
            if bound is _Unbounded.NONE and rebalancing:
                # Nothing more comes before the partitions are given up: merge what is held
                # (one of the two fronts is always due, so everything drains, in order).
                bound = _Unbounded.ALL
            if bound is _Unbounded.NONE:
                since = self._stalled[lane].setdefault(partition, now)
                if now - since < self._max_wait_s:
                    ready += itertools.takewhile(_refused, waiting)
                    continue
                # Waited out: as if there were no other lane, until it shows signs of life.
                ready += waiting
                self._waited_out(lane.other, partition)
                continue
            self._stalled[lane].pop(partition, None)
            for entry in waiting:
                if entry.key is not None and not _before(entry.key, bound, lane):
                    break
                ready.append(entry)
        ready.sort(key=lambda entry: entry.index)
        return ready

    def forget(self, lane: Lane, partitions: Sequence[int]) -> None:
        """The lane's partitions were revoked: what it took from them says nothing any more
        (records it still holds stay held until handled)."""
        for partition in partitions:
            self._next_offset[lane].pop(partition, None)

    def _bound(self, lane: Lane, partition: int) -> OrderKey | _Unbounded:
        """What ``lane``'s partition lets through: keys before its first held record's (refused
        records order nothing); all keys once it is caught up; none while it has records to
        take."""
        for entry in self._held[lane].get(partition, ()):
            if entry.key is not None:
                return entry.key
        return _Unbounded.ALL if self._caught_up(lane, partition) else _Unbounded.NONE

    def _caught_up(self, lane: Lane, partition: int) -> bool:
        """Whether ``lane`` took every record its partition had at the last fetch."""
        highwater = self._positions.highwater(lane, partition)
        if highwater is None:
            return False
        next_offset = self._next_offset[lane].get(partition)
        if next_offset is None:
            next_offset = self._positions.start_offset(lane, partition)
        if next_offset is None:
            return highwater == 0  # an empty partition, or nothing known yet
        return next_offset >= highwater

    def _waited_out(self, lane: Lane, partition: int) -> None:
        """A record of the other lane waited its longest for ``lane``'s partition. If ``lane``
        never took a record of it (where it started reading is unknown: a new consumer group
        on a log whose start was deleted), take it as caught up at the current high
        watermark, so that the partition does not hold every later record that long."""
        started = self._positions.start_offset(lane, partition)
        if partition not in self._next_offset[lane] and started is None:
            highwater = self._positions.highwater(lane, partition)
            if highwater is not None:
                self._next_offset[lane][partition] = highwater


def _refused(entry: _Waiting[Item]) -> bool:
    return entry.key is None


class _Unbounded(enum.Enum):
    ALL = "all"
    NONE = "none"


def _before(key: OrderKey, bound: OrderKey | _Unbounded, lane: Lane) -> bool:
    """Whether a record of ``lane`` with ``key`` goes before the other lane's ``bound``. On
    equal keys (one event on both topics) actions go first."""
    if bound is _Unbounded.ALL:
        return True
    if bound is _Unbounded.NONE:
        return False
    return key < bound or (key == bound and lane is Lane.ACTIONS)


Handler = Callable[[list[tuple[Lane, Item]]], Awaitable[None]]
"""Handles a run of records of both lanes, in its order, and acks them."""


class Merger(Generic[Item]):
    """The merge, for agents sharing one event loop.

    An agent hands over each batch (:meth:`take`), which handles one run of what is due
    then (on live traffic, usually the batch itself) and returns: the agent goes on taking,
    so it never keeps back records the other lane waits for, and pauses only while its lane
    holds :data:`ALIGN_MAX_HELD` records or more. The rest, a backlog's long merges and the
    records that waited their longest, is drained by a task of its own (:meth:`run`). Runs
    hold both lanes' records in their merged order (at most :data:`ALIGN_MAX_RUN`), so a
    user's state changed by a run's requests and actions is written once per run; one run
    is in hand at a time.
    """

    def __init__(
        self,
        positions: LogPositions,
        max_wait_s: float = ALIGN_MAX_WAIT_S,
        max_held: int = ALIGN_MAX_HELD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.alignment: Alignment[Item] = Alignment(positions, max_wait_s)
        self._max_held = max_held
        self._clock = clock
        self._handler: Handler[Item] | None = None
        self._taken = asyncio.Event()
        self._room = {lane: asyncio.Event() for lane in Lane}
        self._running = False
        """A run is in hand (its records are out of the alignment until it ends)."""

    def handle(self, handler: Handler[Item]) -> None:
        """Hand the runs to ``handler``."""
        self._handler = handler

    async def take(self, lane: Lane, arrivals: Sequence[Arrival[Item]]) -> None:
        """Hold a batch of ``lane`` for the merge, and handle one run of what it made due
        (on live traffic, usually the whole batch) unless a run is in hand already; the
        merge task does the rest. Returns when the lane has room for another batch."""
        self.alignment.take(lane, arrivals)
        try:
            await self._one_run()
        except Exception:  # a failed send: the run stays held, the merge task retries it
            log.exception("handling merged records failed; the merge task retries")
        self._taken.set()
        room = self._room[lane]
        while self.alignment.held(lane) >= self._max_held:
            room.clear()
            await room.wait()

    async def run(self, tick_s: float = ALIGN_TICK_S) -> None:
        """Drain whenever a batch was taken, and every ``tick_s`` (for records that waited
        their longest); a failed run stays held and is tried again at the next drain."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(tick_s):
                    await self._taken.wait()
            self._taken.clear()
            try:
                await self.drain()
            except Exception:  # a failed send: the records stay held, the next drain retries
                log.exception("handling merged records failed; retrying")

    async def drain(self) -> None:
        """Hand the due records over, run after run, until nothing more is due (or another
        task has a run in hand: it sets off the next drain when done)."""
        while await self._one_run():
            await asyncio.sleep(0)  # the agents take what arrived meanwhile

    async def _one_run(self) -> bool:
        """Hand over one run of due records; False if none is due or one is in hand."""
        if self._running:
            return False
        alignment = self.alignment
        run = alignment.next_run(self._clock(), ALIGN_MAX_RUN)
        if not run:
            return False
        self._running = True
        try:
            await self._handle([(lane, arrival.item) for lane, arrival in run])
        except BaseException:
            alignment.put_back()
            raise
        finally:
            self._running = False
        alignment.done()
        for room in self._room.values():
            room.set()
        return True

    def forget(self, lane: Lane, partitions: Sequence[int]) -> None:
        """See :meth:`Alignment.forget`."""
        self.alignment.forget(lane, partitions)

    async def _handle(self, run: list[tuple[Lane, Item]]) -> None:
        if self._handler is None:
            raise RuntimeError("no handler: call Merger.handle() first")
        await self._handler(run)
