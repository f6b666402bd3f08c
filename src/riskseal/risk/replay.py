"""Replay: the risk engine, in process, over a recorded stream of requests and actions.

:class:`Replayer` keeps per-user and per-address state in dictionaries and runs the same
:class:`~riskseal.risk.engine.RiskEngine` the workers run, so the same events with the same
rules and policies give the same decisions. :func:`diff_decisions` compares two sets of
decisions (say, replayed against sealed) field by field; the source stamp is the only field
left out, because it names the process that emitted the decision.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskseal.contract.codec import EventCodec
from riskseal.contract.events import AccessAction, AccessRequest, Alert, Decision
from riskseal.risk.alignment import Alignment, Arrival, EverythingFetched, Lane, order_key
from riskseal.risk.engine import RiskEngine
from riskseal.risk.state import IpState, UserState
from riskseal.sdk.jsonlines import EventLineError, parse_event_line

Event = AccessRequest | AccessAction
COMPARED_FIELDS = (
    "time",
    "user_id",
    "verdict",
    "request_risk",
    "user_risk",
    "risk_level",
    "reasons",
    "policy_ids",
    "versions",
    "fallback",
)
"""Decision fields a replay must reproduce (all but ``source`` and the ids it is keyed by)."""


@dataclass(frozen=True, slots=True)
class ReplayOutput:
    """What one event produced: its decision (requests only) and alerts."""

    event: Event
    decision: Decision | None
    alerts: tuple[Alert, ...]


@dataclass(slots=True)
class Replayer:
    """Feeds events to ``engine`` with in-memory state."""

    engine: RiskEngine
    users: dict[str, UserState] = field(default_factory=dict)
    ips: dict[str, IpState] = field(default_factory=dict)

    def feed(self, event: Event) -> ReplayOutput:
        """Process one event as a worker would: user state first, then the address's."""
        user = event.actor.uid
        if isinstance(event, AccessRequest):
            step = self.engine.on_request(self.users.get(user), event)
        else:
            step = self.engine.on_action(self.users.get(user), event)
        self.users[user] = step.state
        alerts = step.alerts
        if step.ip_failure is not None and isinstance(event, AccessAction):
            ip_step = self.engine.on_ip_failure(self.ips.get(step.ip_failure), event)
            self.ips[step.ip_failure] = ip_step.state
            alerts += ip_step.alerts
        return ReplayOutput(event, step.decision, alerts)

    def run(self, events: Iterable[Event]) -> Iterator[ReplayOutput]:
        """Feed ``events`` in the order given."""
        for event in events:
            yield self.feed(event)


def in_event_time_order(events: Iterable[Event]) -> list[Event]:
    """``events`` sorted by event time, then source id, epoch and seq: a worker's merge
    order when each topic's partitions hold their events in that order (one producer, or
    producers whose clocks agree); see :func:`in_merge_order` otherwise."""
    return sorted(events, key=order_key)


def in_merge_order(
    partitions: Mapping[int, tuple[Sequence[Event], Sequence[Event]]],
) -> list[Event]:
    """Requests and actions as a worker that has fetched both topics merges them: per
    partition, the (requests, actions) each in offset order, merged by the worker's own
    :class:`~riskseal.risk.alignment.Alignment` (by :func:`order_key`, each topic keeping
    its own order even where a producer's clock went back); the partitions' runs are then
    interleaved by the same key (only the per-IP counts see that interleaving)."""
    runs = []
    for partition, (requests, actions) in sorted(partitions.items()):
        alignment: Alignment[Event] = Alignment(EverythingFetched())
        for lane, events in ((Lane.REQUESTS, requests), (Lane.ACTIONS, actions)):
            arrivals = [
                Arrival(e, partition, offset, order_key(e)) for offset, e in enumerate(events)
            ]
            alignment.take(lane, arrivals)
        runs.append(
            [arrival.item for _, arrival in alignment.next_run(0.0, len(requests) + len(actions))]
        )
    return list(heapq.merge(*runs, key=order_key))


def read_event_lines(path: Path) -> Iterator[tuple[int, Event]]:
    """(line number, event) of a JSON-lines file in the ``riskseal emit`` format.

    Raises :class:`EventLineError` with the line number for a line that is not an event or
    lacks its ``event_id`` or ``time`` (a replay must give the same decisions every run).
    """
    codec = EventCodec()
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                yield number, parse_event_line(raw, codec, fill_identity=False).event
            except EventLineError as exc:
                raise EventLineError(f"{path}:{number}: {exc}") from None


@dataclass(frozen=True, slots=True)
class DecisionDiff:
    """How a replayed decision differs from the expected one (``None``: it is missing)."""

    request_id: str
    expected: Decision | None
    actual: Decision | None
    fields: tuple[tuple[str, Any, Any], ...] = ()
    """(field, expected value, actual value) of every differing field."""

    def describe(self) -> str:
        """One line for a human."""
        if self.expected is None:
            return f"request {self.request_id}: replay decided, but no decision was expected"
        if self.actual is None:
            return f"request {self.request_id}: expected a decision, replay made none"
        changes = "; ".join(f"{name}: {old!r} -> {new!r}" for name, old, new in self.fields)
        return f"request {self.request_id}: {changes}"


def diff_decisions(expected: Iterable[Decision], actual: Iterable[Decision]) -> list[DecisionDiff]:
    """Every request whose decisions differ, by request id, in expected order then extras.

    Each expected decision is compared, so a request with two different expected decisions
    (one sealed twice with another verdict, say) differs however the replay decides it.
    """
    want: dict[str, list[Decision]] = {}
    for decision in expected:
        want.setdefault(decision.request_id, []).append(decision)
    got = _by_request(actual)
    diffs: list[DecisionDiff] = []
    for request_id, olds in want.items():
        new = got.get(request_id)
        for old in olds:
            if new is None:
                diffs.append(DecisionDiff(request_id, old, None))
                continue
            changed = tuple(
                (name, getattr(old, name), getattr(new, name))
                for name in COMPARED_FIELDS
                if getattr(old, name) != getattr(new, name)
            )
            if changed:
                diffs.append(DecisionDiff(request_id, old, new, changed))
    diffs.extend(
        DecisionDiff(request_id, None, new)
        for request_id, new in got.items()
        if request_id not in want
    )
    return diffs


def decision_document(decision: Decision) -> dict[str, Any]:
    """A decision as a JSON-ready object (the Avro record, enums as strings)."""
    document: dict[str, Any] = json.loads(json.dumps(decision.to_record(), default=str))
    return document


def _by_request(decisions: Iterable[Decision]) -> Mapping[str, Decision]:
    by_request: dict[str, Decision] = {}
    for decision in decisions:
        by_request.setdefault(decision.request_id, decision)
    return by_request
