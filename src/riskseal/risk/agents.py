"""The agents of the risk workers: records in, engine steps, decisions and alerts out.

Three agents share one :class:`RiskProcessor`:

* ``access.requests`` → the user's state, one Decision on ``risk.decisions``, alerts; a
  request first waits (briefly) for the actions of its partition that precede it in event
  time, so its decision counts them (:mod:`riskseal.risk.alignment`);
* ``access.actions`` → the user's state, alerts, and every failed sign-in with a source IP
  forwarded (original bytes) to the internal per-IP topic, keyed by that IP;
* the per-IP topic → the IP's state (password spray across users) and its alerts.

Every record is decoded here; what cannot be used goes to ``risk.deadletter`` unchanged
with its reason and coordinates (:mod:`riskseal.risk.deadletter`) and the stream goes on.
Processing is at-least-once: Faust flushes the producer (decisions, alerts, changelog)
before it commits source offsets, so a crash repeats work instead of losing it, and the
engine answers a repeated event with the same decision without counting it twice.

Records are handled in batches (``stream.take_events``: up to :data:`BATCH_MAX_EVENTS`, or
what arrived within :data:`BATCH_WITHIN_S`), one record after the other. A batch writes each
table key once, at its end, with the state after the key's last record: a user with many
records in a batch costs one changelog record instead of one per event. Faust acks the
records of a batch only after it has been handled, and flushes the producer (these table
writes included) before it commits their offsets, so at-least-once holds as before. Decoded
states are kept in a small cache (:class:`StateCache`) as long as the table still holds the
bytes they were decoded from, so a busy user's state is not decoded again for every record.

The agents run on one event loop. Users are written by the request and the action agents,
which interleave at their awaits, addresses by the per-IP agent; each table is read and
written through one set of pending writes shared by its agents, and a batch's end flushes
all of them (no await in between), so every record sees the state all records before it
left, and every write is sent before the records that caused it are acked.
"""

from __future__ import annotations

import logging
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

import faust
from faust import streams as faust_streams
from faust.streams import Stream
from faust.types import EventT, StreamT, TableT, TopicT

from riskseal.contract.codec import EventCodec
from riskseal.contract.events import Alert, Decision
from riskseal.risk.alignment import ActionAlignment
from riskseal.risk.deadletter import Coordinates, DeadLetterReason, Rejection, deadletter_headers
from riskseal.risk.engine import IpStep, RiskEngine, Step
from riskseal.risk.intake import decode_action, read_action, read_request
from riskseal.risk.state import IpState, UserState
from riskseal.risk.tables import RiskTables
from riskseal.risk.topics import RiskTopics

log = logging.getLogger(__name__)

Output = tuple[bytes, bytes]  # (key, value) of a record to publish
State = TypeVar("State", UserState, IpState)

BATCH_MAX_EVENTS = 500
"""Most records an agent handles per batch (one table write per key per batch)."""
BATCH_WITHIN_S = 0.005
"""Longest wait for a batch to fill: the most it adds to a request's latency."""
STATE_CACHE_SIZE = 4_096
"""Decoded states kept per table (least recently used dropped first)."""


class StateCache(Generic[State]):
    """Decoded states by key, each valid while its key still holds the bytes it came from.

    The engine updates states in place: after a step, :meth:`keep` the state with its new
    bytes; after a failed step, :meth:`drop` it (it may be half updated).
    """

    def __init__(self, decode: Callable[[bytes], State], size: int = STATE_CACHE_SIZE) -> None:
        self._decode: Callable[[bytes], State] = decode
        self._size = size
        self._entries: OrderedDict[bytes, tuple[bytes, State]] = OrderedDict()

    def load(self, key: bytes, data: bytes | None) -> State | None:
        """The state encoded by ``data`` (the key's current bytes), from the cache if it can."""
        if data is None:
            return None
        entry = self._entries.get(key)
        if entry is not None and (entry[0] is data or entry[0] == data):
            self._entries.move_to_end(key)
            return entry[1]
        return self._decode(data)

    def keep(self, key: bytes, data: bytes, state: State) -> None:
        """Remember that ``state`` is what ``data`` encodes."""
        self._entries[key] = (data, state)
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def drop(self, key: bytes) -> None:
        """Forget the state of ``key``."""
        self._entries.pop(key, None)


@dataclass(slots=True)
class _Writes:
    """Pending table writes: the newest bytes per key, written when a batch ends."""

    table: TableT[bytes, bytes]
    pending: dict[bytes, tuple[bytes, EventT[bytes]]] = field(default_factory=dict)
    original: dict[bytes, bytes | None] = field(default_factory=dict)

    def current(self, key: bytes) -> bytes | None:
        """The key's bytes as the batch has left them so far."""
        pending = self.pending.get(key)
        if pending is not None:
            return pending[0]
        if key not in self.original:
            self.original[key] = self.table.get(key)
        return self.original[key]

    def put(self, key: bytes, data: bytes, event: EventT[bytes]) -> None:
        """Set ``key`` to ``data``, because of ``event`` (a record of the key's partition)."""
        self.pending[key] = (data, event)

    def flush(self) -> None:
        """Write each changed key once, as if during its last record (for its partition)."""
        for key, (data, event) in self.pending.items():
            if data != self.original.get(key):  # a redelivery may have changed nothing
                with _current(event):
                    self.table[key] = data
        self.pending.clear()
        self.original.clear()


@contextmanager
def _current(event: EventT[bytes]) -> Iterator[None]:
    """Make ``event`` Faust's current event: a table write goes to its partition.

    Faust picks the changelog (and RocksDB) partition of a table write from the current
    event, a context variable its stream sets per record; ``take_events`` fills batches in
    another task, so the agent sets it itself for each write.
    """
    token = faust_streams._current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        faust_streams._current_event.reset(token)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """A step with its outputs encoded: nothing is written until all of them encode."""

    state: bytes
    decisions: list[Output]
    alerts: list[Output]
    ip_failure: str | None
    decoded: UserState | IpState
    """The state object ``state`` encodes (kept in the cache)."""


class RiskProcessor:
    """Handles one record at a time for the agents; testable without a broker."""

    def __init__(
        self,
        engine: RiskEngine,
        topics: RiskTopics,
        tables: RiskTables,
        codec: EventCodec,
        alignment: ActionAlignment | None = None,
    ) -> None:
        """``alignment``: when given, a request waits for its partition's earlier actions
        (:mod:`riskseal.risk.alignment`); without it requests are decided as they come."""
        self.engine = engine
        self.alignment = alignment
        self.topics = topics
        self.tables = tables
        self.codec = codec
        self.users: StateCache[UserState] = StateCache(UserState.from_bytes)
        self.ips: StateCache[IpState] = StateCache(IpState.from_bytes)
        # One set of pending writes per table, shared by the agents that write it: the
        # request and action agents interleave at their awaits and must see each other's
        # updates of a user, not the table's older value.
        self._user_writes = _Writes(tables.users)
        self._ip_writes = _Writes(tables.ips)

    async def on_requests(self, events: Sequence[EventT[bytes]]) -> None:
        """Decide a batch of access requests (dead-letter what cannot be decided)."""
        for event in events:
            await self._request(event, self._user_writes)
        self._user_writes.flush()

    async def on_actions(self, events: Sequence[EventT[bytes]]) -> None:
        """Account a batch of user actions; forward failed sign-ins by IP."""
        for event in events:
            await self._action(event, self._user_writes)
        self._user_writes.flush()

    async def on_ip_failures(self, events: Sequence[EventT[bytes]]) -> None:
        """Account a batch of failed sign-ins against their source IPs (the record keys)."""
        for event in events:
            await self._ip_failure(event, self._ip_writes)
        self._ip_writes.flush()

    async def _request(self, event: EventT[bytes], writes: _Writes) -> None:
        message = event.message
        request = read_request(self.codec, message.key, message.value)
        if isinstance(request, Rejection):
            await self.deadletter(event, request)
            return
        key = request.user_id.encode()  # read_request checked it is the record key
        if self.alignment is not None:
            await self.alignment.wait(message.partition, request.time)
        outcome = self._guarded(
            event,
            key,
            self.users,
            lambda: self._user_outcome(
                self.engine.on_request(self.users.load(key, writes.current(key)), request)
            ),
        )
        if isinstance(outcome, Rejection):
            await self.deadletter(event, outcome)
            return
        self._store(key, outcome, writes, event, self.users)
        await _publish(self.topics.decisions, outcome.decisions)
        await _publish(self.topics.alerts, outcome.alerts)

    async def _action(self, event: EventT[bytes], writes: _Writes) -> None:
        message = event.message
        action = read_action(self.codec, message.key, message.value)
        if isinstance(action, Rejection):
            await self.deadletter(event, action)
            self._action_done(message.partition, message.offset, -1)
            return
        key = action.user_id.encode()
        outcome = self._guarded(
            event,
            key,
            self.users,
            lambda: self._user_outcome(
                self.engine.on_action(self.users.load(key, writes.current(key)), action)
            ),
        )
        if isinstance(outcome, Rejection):
            await self.deadletter(event, outcome)
            self._action_done(message.partition, message.offset, -1)
            return
        self._store(key, outcome, writes, event, self.users)
        self._action_done(message.partition, message.offset, action.time)
        await _publish(self.topics.alerts, outcome.alerts)
        if outcome.ip_failure is not None:
            await self.topics.ip_failures.send(
                key=outcome.ip_failure.encode(),
                value=message.value,
                headers=_headers(event),
            )

    async def _ip_failure(self, event: EventT[bytes], writes: _Writes) -> None:
        message = event.message
        action = decode_action(self.codec, message.value)
        if isinstance(action, Rejection):
            await self.deadletter(event, action)
            return
        key = message.key
        if not key:
            await self.deadletter(event, Rejection(DeadLetterReason.MALFORMED, "no source IP key"))
            return
        outcome = self._guarded(
            event,
            key,
            self.ips,
            lambda: self._ip_outcome(
                self.engine.on_ip_failure(self.ips.load(key, writes.current(key)), action)
            ),
        )
        if isinstance(outcome, Rejection):
            await self.deadletter(event, outcome)
            return
        self._store(key, outcome, writes, event, self.ips)
        await _publish(self.topics.alerts, outcome.alerts)

    async def deadletter(self, event: EventT[bytes], rejection: Rejection) -> None:
        """Send the record unchanged to the dead-letter topic with reason and coordinates."""
        message = event.message
        source = Coordinates(message.topic, message.partition, message.offset)
        log.warning(
            "dead letter from %s/%d@%d: %s: %s",
            source.topic,
            source.partition,
            source.offset,
            rejection.reason.value,
            rejection.detail,
        )
        await self.topics.deadletter.send(
            key=message.key,
            value=message.value,
            headers=deadletter_headers(rejection, source, _headers(event)),
        )

    def reload(self) -> bool:
        """Re-read rules, policies and entities; True when something changed."""
        changed = self.engine.reload()
        if changed:
            log.info("risk engine reloaded: %s", self.engine.versions)
        return changed

    # --- internals -------------------------------------------------------------------------
    def _action_done(self, partition: int, offset: int, event_time: int) -> None:
        if self.alignment is not None:
            self.alignment.action_processed(partition, offset, event_time)

    def _user_outcome(self, step: Step) -> _Outcome:
        decisions = [] if step.decision is None else [self._decision(step)]
        alerts = [self._encoded(alert) for alert in step.alerts]
        return _Outcome(step.state.to_bytes(), decisions, alerts, step.ip_failure, step.state)

    def _ip_outcome(self, step: IpStep) -> _Outcome:
        alerts = [self._encoded(a) for a in step.alerts]
        return _Outcome(step.state.to_bytes(), [], alerts, None, step.state)

    @staticmethod
    def _store(
        key: bytes,
        outcome: _Outcome,
        writes: _Writes,
        event: EventT[bytes],
        cache: StateCache[State],
    ) -> None:
        # The state is encoded after every step, so a failing step falls back to the bytes
        # of the last good one; a repeated event leaves the bytes as they were: no write.
        if outcome.state != writes.current(key):
            writes.put(key, outcome.state, event)
        cache.keep(key, outcome.state, cast(State, outcome.decoded))

    def _decision(self, step: Step) -> Output:
        """The step's decision as a record: the engine keeps it encoded in the state (to
        answer a redelivery identically), so those very bytes are published."""
        decision = cast(Decision, step.decision)
        kept = step.state.decisions.get(decision.request_id)
        if kept is None or len(kept) > self.codec.max_event_bytes:
            return self._encoded(decision)  # encodes, or raises the size error
        return decision.user_id.encode(), kept

    def _encoded(self, event: Decision | Alert) -> Output:
        return event.user_id.encode(), self.codec.encode_event(event)

    @staticmethod
    def _guarded(
        event: EventT[bytes],
        key: bytes,
        cache: StateCache[State],
        compute: Callable[[], _Outcome],
    ) -> _Outcome | Rejection:
        """Run the engine; a failure dead-letters this record instead of stopping the stream.

        The key's cached state is dropped, as the engine may have left it half updated; the
        next record of the key starts again from the bytes of the last good step.
        """
        try:
            return compute()
        except Exception as exc:  # one poison record must not stop the stream
            cache.drop(key)
            log.exception("risk engine failed on %s", _where(event))
            return Rejection(DeadLetterReason.ENGINE_ERROR, f"{type(exc).__name__}: {exc}")


async def _publish(topic: TopicT, records: list[Output]) -> None:
    for key, value in records:
        await topic.send(key=key, value=value)


def _headers(event: EventT[bytes]) -> list[tuple[str, bytes]]:
    headers = event.message.headers
    if not headers:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [(name, value if value is not None else b"") for name, value in items]


def _where(event: EventT[bytes]) -> str:
    message = event.message
    return f"{message.topic}/{message.partition}@{message.offset}"


def _batches(stream: StreamT[bytes]) -> AsyncIterator[Sequence[EventT[bytes]]]:
    """The stream's records in batches; Faust acks each batch after the agent handled it."""
    return cast(Stream[bytes], stream).take_events(BATCH_MAX_EVENTS, BATCH_WITHIN_S)


def register_agents(app: faust.App, processor: RiskProcessor, reload_interval_s: float) -> None:
    """Declare the three agents and the reload timer of ``processor`` on ``app``."""
    topics = processor.topics

    @app.agent(topics.requests, name="riskseal.risk.requests")
    async def requests(stream: StreamT[bytes]) -> None:
        async for events in _batches(stream):
            await processor.on_requests(events)

    @app.agent(topics.actions, name="riskseal.risk.actions")
    async def actions(stream: StreamT[bytes]) -> None:
        async for events in _batches(stream):
            await processor.on_actions(events)

    @app.agent(topics.ip_failures, name="riskseal.risk.ip_failures")
    async def ip_failures(stream: StreamT[bytes]) -> None:
        async for events in _batches(stream):
            await processor.on_ip_failures(events)

    async def reload() -> None:
        processor.reload()

    app.timer(reload_interval_s, name="riskseal.risk.reload")(reload)
