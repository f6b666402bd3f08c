"""The agents of the risk workers: records in, engine steps, decisions and alerts out.

Three agents share one :class:`RiskProcessor`:

* ``access.requests`` → the user's state, one Decision on ``risk.decisions``, alerts;
* ``access.actions`` → the user's state, alerts, and every failed sign-in with a source IP
  forwarded (original bytes) to the internal per-IP topic, keyed by that IP;
* the per-IP topic → the IP's state (password spray across users) and its alerts.

Every record is decoded here; what cannot be used goes to ``risk.deadletter`` unchanged
with its reason and coordinates (:mod:`riskseal.risk.deadletter`) and the stream goes on.
Processing is at-least-once: Faust flushes the producer (decisions, alerts, changelog)
before it commits source offsets, so a crash repeats work instead of losing it, and the
engine answers a repeated event with the same decision without counting it twice.

Records are taken in batches (up to :data:`BATCH_MAX_EVENTS`, or what arrived within
:data:`BATCH_WITHIN_S`). Requests and actions are not handled in the order their agents
take them: both agents hand their batches to a :class:`~riskseal.risk.alignment.Merger`,
which hands them back per partition in event-time order across the two topics, as a
replay orders them (one run at once to the agent that took the batch, the rest to its own
task); each record is acked once handled. A run's engine steps run one after the
other with no ``await`` in between, so no other run reads or writes a key meanwhile; then
the decisions, alerts, forwarded sign-ins and dead letters are sent. Changed
states are held back (:mod:`riskseal.risk.pending`) and written to the tables, once per key,
just before Faust commits offsets; a state that keeps a new decision is written with the
decision, so that a request redelivered after a crash finds it. A record is acked only
after it is handled, and Faust flushes the producer (table writes included) before it
commits offsets, so at-least-once holds as for single records. Decoded states are
kept in a small cache (:class:`StateCache`) as long as the key still holds the bytes they
were decoded from, so a busy user's state is not decoded again for every record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar, cast

import faust
from faust.streams import Stream
from faust.types import TP, EventT, StreamT

from riskseal.contract.codec import EventCodec
from riskseal.contract.events import AccessAction, AccessRequest, Alert, Decision
from riskseal.risk.alignment import Arrival, Lane, Merger, order_key
from riskseal.risk.deadletter import Coordinates, DeadLetterReason, Rejection, deadletter_headers
from riskseal.risk.engine import IpStep, RiskEngine, Scored, Step
from riskseal.risk.intake import RecordTime, decode_action, read_action, read_request
from riskseal.risk.pending import PendingWrites
from riskseal.risk.policy import PolicyDecision
from riskseal.risk.state import IpState, UserState
from riskseal.risk.tables import RiskTables
from riskseal.risk.topics import RiskTopics

log = logging.getLogger(__name__)

Output = tuple[bytes, bytes]  # (key, value) of a record to publish
Read = TypeVar("Read", AccessRequest | Rejection, AccessAction | Rejection)
ReadRequest = tuple[EventT[bytes], AccessRequest | Rejection]
"""A requests record with what the intake made of it."""
ReadAction = tuple[EventT[bytes], AccessAction | Rejection]
"""An actions record with what the intake made of it."""
ReadRecord = ReadRequest | ReadAction
State = TypeVar("State", UserState, IpState)

STATE_CACHE_SIZE = 4_096
"""Decoded states kept per table (least recently used dropped first)."""
BATCH_MAX_EVENTS = 500
"""Most records an agent takes at once (``noack_take`` / ``take_events``)."""
BATCH_WITHIN_S = 0.002
"""Longest an agent waits for a batch to fill: what batching may add to a decision's latency."""
RESEND_FIRST_DELAY_S = 0.5
RESEND_MAX_DELAY_S = 10.0
"""First and longest wait between two tries to send what a batch of the per-IP lane left."""
COMMITTED_USERS_MAX = 65_536
"""Users whose committed decisions are remembered until their next step (oldest dropped)."""


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


@dataclass(frozen=True, slots=True)
class _Outcome(Generic[State]):
    """A step with its outputs encoded: nothing is kept until all of them encode."""

    decoded: State
    state: bytes
    decisions: list[Output]
    alerts: list[Output]
    ip_failure: str | None = None


@dataclass(frozen=True, slots=True)
class _Decided:
    """A decided request, until its offset is committed."""

    offset: int
    key: bytes
    request_id: str


@dataclass(slots=True)
class _Batch:
    """What one batch of records changes: states go to ``states`` (written to the table
    when offsets are next committed), outputs are sent when all records are handled."""

    states: PendingWrites
    decisions: list[Output] = field(default_factory=list)
    alerts: list[Output] = field(default_factory=list)
    forwards: list[tuple[bytes, EventT[bytes]]] = field(default_factory=list)
    """Failed sign-ins to count by source IP: (the IP, the action's record)."""
    rejected: list[tuple[EventT[bytes], Rejection]] = field(default_factory=list)
    decided: set[bytes] = field(default_factory=set)
    """Keys whose state keeps a new decision: written with the decisions, not held back."""


@dataclass(frozen=True, slots=True)
class _Begun:
    """A request scored in a wave, waiting for the wave's policy decisions."""

    event: EventT[bytes]
    key: bytes
    current: bytes | None
    """The key's bytes before the request (the last good ones, should finishing fail)."""
    request_id: str
    begun: Scored | Step
    """The request scored, or its whole step when it needs no new decision (a redelivery)."""


@dataclass(slots=True)
class _Wave:
    """Records of different users handled together: the policy questions of their requests
    are asked with one call (:meth:`RiskEngine.begin_request`), then every record is
    finished in the order it came. A second record of a user already in the wave waits for
    the wave to finish: it must see that user's state after the first."""

    records: list[_Begun | tuple[EventT[bytes], AccessAction]] = field(default_factory=list)
    keys: set[bytes] = field(default_factory=set)


class RiskProcessor:
    """Handles batches of records for the agents; testable without a broker.

    The engine steps of a batch run back to back, with no ``await`` between them: the agents
    share one event loop, so no other batch reads or writes a key meanwhile, and the
    engine's code and data stay in the processor's caches (measured: a step costs about
    twice as much when Faust's work runs between every two of them). Then each changed key
    is written once, and the outputs are sent.
    """

    def __init__(
        self,
        engine: RiskEngine,
        topics: RiskTopics,
        tables: RiskTables,
        codec: EventCodec,
        max_event_ahead_s: float | None = None,
    ) -> None:
        """``max_event_ahead_s``: refuse events whose time is further ahead of their
        record's Kafka timestamp (:class:`~riskseal.risk.intake.RecordTime`); None: no
        check."""
        self.engine = engine
        self._max_ahead_ms = None if max_event_ahead_s is None else round(max_event_ahead_s * 1000)
        self.topics = topics
        self.tables = tables
        self.codec = codec
        self.user_states: StateCache[UserState] = StateCache(UserState.from_bytes)
        self.ip_states: StateCache[IpState] = StateCache(IpState.from_bytes)
        self.pending_users = PendingWrites(tables.users)
        self.pending_ips = PendingWrites(tables.ips)
        self._uncommitted: dict[TP, list[_Decided]] = {}
        """Requests decided since their partition's last commit, in offset order."""
        self._committed: dict[bytes, list[str]] = {}
        """User key → ids of committed requests whose decisions its state may drop."""
        self._outbox: deque[Callable[[], Awaitable[Any]]] = deque()
        """Outputs of handled records not sent yet (:meth:`_send_outbox`)."""
        self._sending = asyncio.Lock()
        self._failing_since: float | None = None
        """When sending the outbox started failing (monotonic); None while it does not."""

    async def on_requests(self, events: Sequence[EventT[bytes]]) -> None:
        """Decide a batch of access requests (dead-letter what cannot be decided)."""
        await self.handle_merged((Lane.REQUESTS, read) for read in self.read_requests(events))

    async def on_actions(self, events: Sequence[EventT[bytes]]) -> None:
        """Account a batch of user actions; forward failed sign-ins by source IP."""
        await self.handle_merged((Lane.ACTIONS, read) for read in self.read_actions(events))

    def read_requests(self, events: Iterable[EventT[bytes]]) -> list[ReadRequest]:
        """Each record with the access request it holds, or why it is refused."""
        codec, arrival = self.codec, self._arrival
        return [
            (e, read_request(codec, e.message.key, e.message.value, arrival(e))) for e in events
        ]

    def read_actions(self, events: Iterable[EventT[bytes]]) -> list[ReadAction]:
        """Each record with the user action it holds, or why it is refused."""
        codec, arrival = self.codec, self._arrival
        return [(e, read_action(codec, e.message.key, e.message.value, arrival(e))) for e in events]

    def _arrival(self, event: EventT[bytes]) -> RecordTime | None:
        if self._max_ahead_ms is None:
            return None
        timestamp = event.message.timestamp  # seconds (float) as Faust gives it; None: none
        # the same rule as the sealed record's: negative means none, 0 is 1970 (checked)
        stamped = -1 if timestamp is None or timestamp < 0 else round(timestamp * 1000)
        return RecordTime(stamped, self._max_ahead_ms)

    async def handle_merged(self, run: Iterable[tuple[Lane, ReadRecord]]) -> None:
        """Handle requests and actions already read (:meth:`read_requests`,
        :meth:`read_actions`), in the order given, as one batch."""
        await self._send_left_over()
        batch = _Batch(self.pending_users)
        wave = _Wave()
        for lane, (event, read) in run:
            if isinstance(read, Rejection):
                batch.rejected.append((event, read))
                continue
            key = read.user_id.encode()
            if key in wave.keys:
                self._decide_wave(wave, batch)
                wave = _Wave()
            wave.keys.add(key)
            if lane is Lane.REQUESTS:
                self._begin_request(event, key, cast(AccessRequest, read), batch, wave)
            else:
                wave.records.append((event, cast(AccessAction, read)))
        self._decide_wave(wave, batch)
        await self._finish(batch)

    async def on_ip_failures(self, events: Sequence[EventT[bytes]]) -> None:
        """Account a batch of failed sign-ins against their source IPs (the record keys)."""
        batch = _Batch(self.pending_ips)
        for event in events:
            self._ip_failure(event, batch)
        await self._finish(batch)

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

    def write_states(self) -> int:
        """Write the pending states to the tables (the worker does it before every offset
        commit); returns how many were written."""
        return self.pending_users.flush() + self.pending_ips.flush()

    def forget_committed(self, committed: Mapping[TP, int]) -> int:
        """Let states drop the kept decisions of the requests below the ``committed`` offsets:
        those requests cannot come again. Returns how many decisions that concerns.

        A user's state drops them at its next step, which encodes and writes the state
        anyway; a state then keeps only the decisions of its user's requests since the last
        commit, instead of its last :data:`~riskseal.risk.state.MAX_DECISIONS`, and is
        written (with every new decision) that much smaller.
        """
        count = 0
        for tp, offset in committed.items():
            decided = self._uncommitted.get(tp)
            if not decided:
                continue
            done = 0
            while done < len(decided) and decided[done].offset < offset:
                item = decided[done]
                self._committed.setdefault(item.key, []).append(item.request_id)
                done += 1
            del decided[:done]
            count += done
        while len(self._committed) > COMMITTED_USERS_MAX:
            del self._committed[next(iter(self._committed))]
        return count

    def forget_partitions(self, revoked: Iterable[TP]) -> None:
        """Stop tracking the decisions of partitions this worker no longer owns."""
        for tp in revoked:
            self._uncommitted.pop(tp, None)
        self._committed.clear()  # keys do not say their partition; dropping them is harmless

    def user_state(self, user_id: str) -> bytes | None:
        """The user's newest state bytes on this worker, pending or in the table."""
        return self.pending_users.get(user_id.encode())

    def reload(self) -> bool:
        """Re-read rules, policies and entities; True when something changed."""
        changed = self.engine.reload()
        if changed:
            log.info("risk engine reloaded: %s", self.engine.versions)
        return changed

    # --- one record --------------------------------------------------------------------------
    def _begin_request(
        self, event: EventT[bytes], key: bytes, request: AccessRequest, batch: _Batch, wave: _Wave
    ) -> None:
        """Score ``request`` (``key``: its user id, which read_request checked is the record
        key) into ``wave``; dead-letter it if that fails."""
        current = batch.states.get(key, event)
        try:
            state = self._without_committed(key, self.user_states.load(key, current))
            # Until the request is finished its state is changed but not encoded: a run
            # given up halfway (and handled again) must start from the bytes, not from it.
            self.user_states.drop(key)
            begun = self.engine.begin_request(state, request)
        except Exception as exc:  # one poison record must not stop the stream
            self._failed(batch, self.user_states, key, event, exc)
            return
        wave.records.append(_Begun(event, key, current, request.event_id, begun))

    def _decide_wave(self, wave: _Wave, batch: _Batch) -> None:
        """Ask the policies about the wave's requests at once, then finish its records in
        their order."""
        engine = self.engine
        asks = [
            record.begun.policy_request
            for record in wave.records
            if isinstance(record, _Begun)
            and isinstance(record.begun, Scored)
            and record.begun.policy_request is not None
        ]
        answers: Iterator[PolicyDecision] | None = None
        if asks:
            try:
                decided = engine.policies.evaluate_batch(asks)
                if len(decided) != len(asks):
                    raise RuntimeError(f"{len(decided)} answers to {len(asks)} questions")
                answers = iter(decided)
            except Exception:
                log.exception("deciding %d requests at once failed; deciding each alone", len(asks))
        for record in wave.records:
            if isinstance(record, _Begun):
                self._finish_request(record, answers, batch)
            else:
                self._action(*record, batch)

    def _finish_request(
        self, record: _Begun, answers: Iterator[PolicyDecision] | None, batch: _Batch
    ) -> None:
        """Finish a request of a wave with the next of the wave's ``answers`` (None: ask the
        policies about it alone), keep its state and queue its outputs."""
        engine, step, key = self.engine, record.begun, record.key
        try:
            if isinstance(step, Scored):  # not a redelivery: decide it
                ask = step.policy_request
                if ask is None:
                    policy = None
                else:
                    policy = next(answers) if answers is not None else engine.policies.evaluate(ask)
                step = engine.finish_request(step, policy)
            outcome = self._user_outcome(step)
        except Exception as exc:  # one poison record must not stop the stream
            self._failed(batch, self.user_states, key, record.event, exc)
            return
        self._keep(batch, self.user_states, key, record.event, record.current, outcome)
        batch.decisions += outcome.decisions
        batch.alerts += outcome.alerts
        batch.decided.add(key)
        message = record.event.message
        self._uncommitted.setdefault(TP(message.topic, message.partition), []).append(
            _Decided(message.offset, key, record.request_id)
        )

    def _action(self, event: EventT[bytes], action: AccessAction, batch: _Batch) -> None:
        key = action.user_id.encode()
        outcome = self._step(
            batch,
            self.user_states,
            key,
            event,
            lambda state: self._user_outcome(
                self.engine.on_action(self._without_committed(key, state), action)
            ),
        )
        if outcome is not None:
            batch.alerts += outcome.alerts
            if outcome.ip_failure is not None:
                batch.forwards.append((outcome.ip_failure.encode(), event))

    def _ip_failure(self, event: EventT[bytes], batch: _Batch) -> None:
        message = event.message
        action = decode_action(self.codec, message.value)
        if isinstance(action, Rejection):
            batch.rejected.append((event, action))
            return
        if not message.key:
            batch.rejected.append(
                (event, Rejection(DeadLetterReason.MALFORMED, "no source IP key"))
            )
            return
        outcome = self._step(
            batch,
            self.ip_states,
            message.key,
            event,
            lambda state: self._ip_outcome(self.engine.on_ip_failure(state, action)),
        )
        if outcome is not None:
            batch.alerts += outcome.alerts

    # --- internals -------------------------------------------------------------------------
    async def _finish(self, batch: _Batch) -> None:
        for key in batch.decided:
            batch.states.write(key)
        topics = self.topics
        outbox = self._outbox
        outbox.extend(partial(topics.decisions.send, key=k, value=v) for k, v in batch.decisions)
        outbox.extend(partial(topics.alerts.send, key=k, value=v) for k, v in batch.alerts)
        outbox.extend(
            partial(
                topics.ip_failures.send, key=ip, value=event.message.value, headers=_headers(event)
            )
            for ip, event in batch.forwards
        )
        outbox.extend(
            partial(self.deadletter, event, rejection) for event, rejection in batch.rejected
        )
        await self._send_outbox()

    async def send_outbox_until_sent(self) -> None:
        """Send the outbox again and again, waiting longer each time (from
        :data:`RESEND_FIRST_DELAY_S` up to :data:`RESEND_MAX_DELAY_S`), until it is empty:
        for a batch that cannot be handled again (the per-IP lane, whose records Faust acks
        when the next batch is taken)."""
        delay = RESEND_FIRST_DELAY_S
        while True:
            try:
                await self._send_outbox()
            except Exception:
                log.exception("sending outputs failed; trying again in %.1f s", delay)
                await asyncio.sleep(delay)
                delay = min(RESEND_MAX_DELAY_S, 2 * delay)
            else:
                return

    async def _send_left_over(self) -> None:
        """Send what a failed batch left in the outbox before a batch is handled (again):
        while sending fails, a retried batch then raises before it queues its outputs once
        more (the outbox grew by a copy of them at every retry). Once it succeeds, the retry
        queues them a second time: at most one duplicate, which consumers already take
        (outputs are keyed and carry the ids they are about)."""
        if self._outbox:
            await self._send_outbox()

    async def _send_outbox(self) -> None:
        """Send the outputs waiting in the outbox, oldest first.

        A send that fails leaves it and the outputs after it in the outbox, and the batch
        is handled again; by then its records are in the states (the engine counts each
        event once), so the retry does not produce their alerts and forwarded sign-ins
        again: they are sent from here, with the retry's outputs after them.
        """
        async with self._sending:
            outbox = self._outbox
            while outbox:
                try:
                    await outbox[0]()
                except Exception:  # a cancelled send is not a failing one
                    if self._failing_since is None:
                        self._failing_since = time.monotonic()
                    raise
                outbox.popleft()
            self._failing_since = None

    def output_status(self) -> dict[str, Any]:
        """What the worker still has to send: outputs waiting (of handled records) and for
        how long sending them has been failing (None: it is not). Sending is retried for as
        long as it fails, and the records' offsets are not committed past them, so a
        ``failing_for_s`` that keeps growing means the worker is stuck on its outputs (an
        authorization error, a missing topic) and needs an operator."""
        since = self._failing_since
        return {
            "waiting": len(self._outbox),
            "failing_for_s": None if since is None else round(time.monotonic() - since, 1),
        }

    @staticmethod
    def _step(
        batch: _Batch,
        cache: StateCache[State],
        key: bytes,
        event: EventT[bytes],
        compute: Callable[[State | None], _Outcome[State]],
    ) -> _Outcome[State] | None:
        """Run one engine step on ``key``'s state as the batch has left it; None when it
        failed (the record is dead-lettered, the key keeps its last good bytes)."""
        current = batch.states.get(key, event)
        try:
            outcome = compute(cache.load(key, current))
        except Exception as exc:  # one poison record must not stop the stream
            RiskProcessor._failed(batch, cache, key, event, exc)
            return None
        RiskProcessor._keep(batch, cache, key, event, current, outcome)
        return outcome

    @staticmethod
    def _failed(
        batch: _Batch, cache: StateCache[State], key: bytes, event: EventT[bytes], exc: Exception
    ) -> None:
        """Dead-letter ``event``, whose step failed; its key keeps its last good bytes."""
        log.exception("risk engine failed on %s", _where(event), exc_info=exc)
        cache.drop(key)  # the engine may have left the state half updated
        rejection = Rejection(DeadLetterReason.ENGINE_ERROR, f"{type(exc).__name__}: {exc}")
        batch.rejected.append((event, rejection))

    @staticmethod
    def _keep(
        batch: _Batch,
        cache: StateCache[State],
        key: bytes,
        event: EventT[bytes],
        current: bytes | None,
        outcome: _Outcome[State],
    ) -> None:
        """Keep a step's state: in the batch's writes (``current``: the bytes it started
        from) and decoded in ``cache``."""
        # Every step's state is encoded, so a failing step falls back to the last good bytes.
        if outcome.state != current:  # a repeated event leaves the bytes as they were
            batch.states.put(key, outcome.state, event)
        cache.keep(key, outcome.state, outcome.decoded)

    def _without_committed(self, key: bytes, state: UserState | None) -> UserState | None:
        """``state`` without the decisions :meth:`forget_committed` let it drop."""
        request_ids = self._committed.pop(key, None)
        if state is not None and request_ids:
            state.forget_decisions(request_ids)
        return state

    def _user_outcome(self, step: Step) -> _Outcome[UserState]:
        decisions = [] if step.decision is None else [self._decision(step, step.decision)]
        alerts = [self._encoded(alert) for alert in step.alerts]
        return _Outcome(step.state, step.state.to_bytes(), decisions, alerts, step.ip_failure)

    def _ip_outcome(self, step: IpStep) -> _Outcome[IpState]:
        alerts = [self._encoded(a) for a in step.alerts]
        return _Outcome(step.state, step.state.to_bytes(), [], alerts)

    def _decision(self, step: Step, decision: Decision) -> Output:
        """The decision as a record: the very bytes the engine keeps in the state to answer a
        redelivery (encoded again only when they exceed this worker's size limit, to raise
        its error)."""
        kept = step.encoded_decision
        if kept is None or len(kept) > self.codec.max_event_bytes:
            return self._encoded(decision)
        return decision.user_id.encode(), kept

    def _encoded(self, event: Decision | Alert) -> Output:
        return event.user_id.encode(), self.codec.encode_event(event)


def _headers(event: EventT[bytes]) -> list[tuple[str, bytes]]:
    """The record's headers, to be sent again; a name that was not UTF-8 (read as surrogate
    escapes, see ``lenient_records``) is sent as text with its bytes escaped (``\\xff``)."""
    headers = event.message.headers
    if not headers:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [
        (
            name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"),
            value if value is not None else b"",
        )
        for name, value in items
    ]


def _where(event: EventT[bytes]) -> str:
    message = event.message
    return f"{message.topic}/{message.partition}@{message.offset}"


def _batches(stream: StreamT[bytes]) -> AsyncIterator[Sequence[EventT[bytes]]]:
    """The stream's records in batches; Faust acks a batch's records after it is handled."""
    return cast(Stream[bytes], stream).take_events(BATCH_MAX_EVENTS, BATCH_WITHIN_S)


def _arrivals(
    read: Sequence[tuple[EventT[bytes], Read]],
) -> list[Arrival[tuple[EventT[bytes], Read]]]:
    """Records as the merger takes them: refused ones have no order key."""
    return [
        Arrival(
            (event, activity),
            event.message.partition,
            event.message.offset,
            None if isinstance(activity, Rejection) else order_key(activity),
        )
        for event, activity in read
    ]


def _held_batches(stream: StreamT[bytes]) -> AsyncIterator[Sequence[EventT[bytes]]]:
    """The stream's records in batches, acked by whoever handles them (the merger may hold
    a record past its batch: it must not be acked, nor its offset committed, before)."""
    batches = cast(Stream[bytes], stream).noack_take(BATCH_MAX_EVENTS, BATCH_WITHIN_S)
    return cast(AsyncIterator[Sequence[EventT[bytes]]], batches)  # it yields events


def register_agents(
    app: faust.App, processor: RiskProcessor, merger: Merger[Any], reload_interval_s: float
) -> None:
    """Declare the three agents of ``processor`` on ``app``, its reload timer and the merge
    task: requests and actions are handled in the order ``merger`` gives them
    (:mod:`riskseal.risk.alignment`)."""
    topics = processor.topics
    streams: dict[Lane, StreamT[bytes]] = {}

    async def handle_and_ack(run: list[tuple[Lane, ReadRecord]]) -> None:
        await processor.handle_merged(run)
        for lane, (event, _) in run:
            await streams[lane].ack(event)

    merger.handle(handle_and_ack)

    @app.agent(topics.requests, name="riskseal.risk.requests")
    async def requests(stream: StreamT[bytes]) -> None:
        streams[Lane.REQUESTS] = stream
        async for events in _held_batches(stream):
            await merger.take(Lane.REQUESTS, _arrivals(processor.read_requests(events)))

    @app.agent(topics.actions, name="riskseal.risk.actions")
    async def actions(stream: StreamT[bytes]) -> None:
        streams[Lane.ACTIONS] = stream
        async for events in _held_batches(stream):
            await merger.take(Lane.ACTIONS, _arrivals(processor.read_actions(events)))

    @app.agent(topics.ip_failures, name="riskseal.risk.ip_failures")
    async def ip_failures(stream: StreamT[bytes]) -> None:
        async for events in _batches(stream):
            try:
                await processor.on_ip_failures(events)
            except Exception:
                # Its events are in the IP states and its outputs in the outbox: send them
                # before the next batch is taken (that acks this one), never crash the agent
                # (it would drop the records it had taken).
                log.exception("sending the outputs of a batch of failed sign-ins failed")
                await processor.send_outbox_until_sent()

    async def reload() -> None:
        processor.reload()

    app.timer(reload_interval_s, name="riskseal.risk.reload")(reload)

    async def merge_requests_and_actions() -> None:
        await merger.run()

    app.task(merge_requests_and_actions)
