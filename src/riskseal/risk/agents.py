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

Between reading a table value and writing it back there is no ``await``, so the agents,
which run on one event loop, never interleave on the same key. Decoded states are kept in a
small cache (:class:`StateCache`) as long as the table still holds the bytes they were
decoded from, so a busy user's state is not decoded again for every record.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import faust
from faust.types import EventT, StreamT, TableT, TopicT

from riskseal.contract.codec import EventCodec
from riskseal.contract.events import Alert, Decision
from riskseal.risk.deadletter import Coordinates, DeadLetterReason, Rejection, deadletter_headers
from riskseal.risk.engine import IpStep, RiskEngine, Step
from riskseal.risk.intake import decode_action, read_action, read_request
from riskseal.risk.state import IpState, UserState
from riskseal.risk.tables import RiskTables
from riskseal.risk.topics import RiskTopics

log = logging.getLogger(__name__)

Output = tuple[bytes, bytes]  # (key, value) of a record to publish
State = TypeVar("State", UserState, IpState)

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


@dataclass(frozen=True, slots=True)
class _Outcome(Generic[State]):
    """A step with its outputs encoded: nothing is written until all of them encode."""

    decoded: State
    state: bytes
    decisions: list[Output]
    alerts: list[Output]
    ip_failure: str | None = None


class RiskProcessor:
    """Handles one record at a time for the agents; testable without a broker."""

    def __init__(
        self, engine: RiskEngine, topics: RiskTopics, tables: RiskTables, codec: EventCodec
    ) -> None:
        self.engine = engine
        self.topics = topics
        self.tables = tables
        self.codec = codec
        self.user_states: StateCache[UserState] = StateCache(UserState.from_bytes)
        self.ip_states: StateCache[IpState] = StateCache(IpState.from_bytes)

    async def on_request(self, event: EventT[bytes]) -> None:
        """Decide one access request (or dead-letter it)."""
        message = event.message
        request = read_request(self.codec, message.key, message.value)
        if isinstance(request, Rejection):
            await self.deadletter(event, request)
            return
        key = request.user_id.encode()  # read_request checked it is the record key
        old = self.tables.users.get(key)
        outcome = self._guarded(
            event,
            lambda: self._user_outcome(
                self.engine.on_request(self.user_states.load(key, old), request)
            ),
        )
        if isinstance(outcome, Rejection):
            self.user_states.drop(key)
            await self.deadletter(event, outcome)
            return
        _store(self.tables.users, key, old, outcome.state)
        self.user_states.keep(key, outcome.state, outcome.decoded)
        await _publish(self.topics.decisions, outcome.decisions)
        await _publish(self.topics.alerts, outcome.alerts)

    async def on_action(self, event: EventT[bytes]) -> None:
        """Account one user action (or dead-letter it); forward failed sign-ins by IP."""
        message = event.message
        action = read_action(self.codec, message.key, message.value)
        if isinstance(action, Rejection):
            await self.deadletter(event, action)
            return
        key = action.user_id.encode()
        old = self.tables.users.get(key)
        outcome = self._guarded(
            event,
            lambda: self._user_outcome(
                self.engine.on_action(self.user_states.load(key, old), action)
            ),
        )
        if isinstance(outcome, Rejection):
            self.user_states.drop(key)
            await self.deadletter(event, outcome)
            return
        _store(self.tables.users, key, old, outcome.state)
        self.user_states.keep(key, outcome.state, outcome.decoded)
        await _publish(self.topics.alerts, outcome.alerts)
        if outcome.ip_failure is not None:
            await self.topics.ip_failures.send(
                key=outcome.ip_failure.encode(),
                value=message.value,
                headers=_headers(event),
            )

    async def on_ip_failure(self, event: EventT[bytes]) -> None:
        """Account one failed sign-in against its source IP (the record key)."""
        message = event.message
        action = decode_action(self.codec, message.value)
        if isinstance(action, Rejection):
            await self.deadletter(event, action)
            return
        key = message.key
        if not key:
            await self.deadletter(event, Rejection(DeadLetterReason.MALFORMED, "no source IP key"))
            return
        old = self.tables.ips.get(key)
        outcome = self._guarded(
            event,
            lambda: self._ip_outcome(
                self.engine.on_ip_failure(self.ip_states.load(key, old), action)
            ),
        )
        if isinstance(outcome, Rejection):
            self.ip_states.drop(key)
            await self.deadletter(event, outcome)
            return
        _store(self.tables.ips, key, old, outcome.state)
        self.ip_states.keep(key, outcome.state, outcome.decoded)
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

    @staticmethod
    def _guarded(
        event: EventT[bytes], compute: Callable[[], _Outcome[State]]
    ) -> _Outcome[State] | Rejection:
        """Run the engine; a failure dead-letters this record instead of stopping the stream."""
        try:
            return compute()
        except Exception as exc:  # one poison record must not stop the stream
            log.exception("risk engine failed on %s", _where(event))
            return Rejection(DeadLetterReason.ENGINE_ERROR, f"{type(exc).__name__}: {exc}")


def _store(table: TableT[bytes, bytes], key: bytes, old: bytes | None, new: bytes) -> None:
    if new != old:  # a repeated event leaves the state as it was: no changelog record
        table[key] = new


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


def register_agents(app: faust.App, processor: RiskProcessor, reload_interval_s: float) -> None:
    """Declare the three agents and the reload timer of ``processor`` on ``app``."""
    topics = processor.topics

    @app.agent(topics.requests, name="riskseal.risk.requests")
    async def requests(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            await processor.on_request(event)

    @app.agent(topics.actions, name="riskseal.risk.actions")
    async def actions(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            await processor.on_action(event)

    @app.agent(topics.ip_failures, name="riskseal.risk.ip_failures")
    async def ip_failures(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            await processor.on_ip_failure(event)

    async def reload() -> None:
        processor.reload()

    app.timer(reload_interval_s, name="riskseal.risk.reload")(reload)
