"""The sealed trail as replay input: requests, actions and decisions from verified blocks only,
each from its own topic.

Built on :func:`riskseal.audit.export.export_rows`, so every block is verified exactly as
``riskseal verify`` does before any of its events is used, and a block that fails stops the
replay with its finding. Requests and actions come back in the order a worker that fetched
both topics merges them (:func:`riskseal.risk.replay.in_merge_order`): per partition, each
topic in offset order, the two merged by event time and source stamp.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from riskseal.audit.event_checks import topic_event_types
from riskseal.audit.export import ExportFilter, export_rows
from riskseal.audit.verify import Verifier
from riskseal.contract.events import AccessAction, AccessRequest, Decision
from riskseal.contract.schemas_set import EventType
from riskseal.risk.intake import RecordTime
from riskseal.risk.replay import in_merge_order

Event = AccessRequest | AccessAction


@dataclass(frozen=True, slots=True)
class SealedStream:
    """What the trail holds for a replay."""

    events: list[Event]
    """Requests and actions, in a worker's merge order."""
    decisions: list[Decision]
    """Sealed decisions, in sealed order."""
    undecodable: int
    """Sealed records of these topics that do not decode (reported, not replayed)."""
    ahead: int = 0
    """Requests and actions stamped too far ahead of their record (not replayed)."""
    misplaced: int = 0
    """Events sealed on a topic not of their type (a worker refuses them; not replayed)."""


def read_sealed_stream(verifier: Verifier, max_event_ahead_s: float | None = None) -> SealedStream:
    """Every request, action and decision of the verified blocks ``verifier`` walks.

    With ``max_event_ahead_s``, requests and actions a worker would have dead-lettered for
    a time too far ahead of their record's Kafka timestamp are left out, as the worker
    left them (:class:`~riskseal.risk.intake.RecordTime`), and counted in ``ahead``.
    """
    max_ahead_ms = None if max_event_ahead_s is None else round(max_event_ahead_s * 1000)
    topic_types = topic_event_types(verifier.options.audit_topics)
    ahead = misplaced = 0
    lanes: dict[int, tuple[list[tuple[int, Event]], list[tuple[int, Event]]]] = {}
    decisions: list[Decision] = []
    undecodable = 0
    for row in export_rows(verifier, ExportFilter()):
        if row.event is None:
            undecodable += 1
            continue
        expected = topic_types.get(row.topic)
        if expected is None or row.event_type != expected.value:
            misplaced += 1  # e.g. a decision written to the requests topic is no decision
            continue
        record: Mapping[str, Any] = row.event
        event: Event
        if expected is EventType.ACCESS_REQUEST:
            event, lane_index = AccessRequest.from_record(record), 0
        elif expected is EventType.ACCESS_ACTION:
            event, lane_index = AccessAction.from_record(record), 1
        else:
            if expected is EventType.DECISION:
                decisions.append(Decision.from_record(record))
            continue
        arrival = None if max_ahead_ms is None else RecordTime(row.kafka_timestamp, max_ahead_ms)
        if arrival is not None and arrival.ahead(event.time) is not None:
            ahead += 1  # the worker dead-lettered it
            continue
        lanes.setdefault(row.partition, ([], []))[lane_index].append((row.offset, event))
    in_offset_order = {
        partition: (_by_offset(requests), _by_offset(actions))
        for partition, (requests, actions) in lanes.items()
    }
    return SealedStream(in_merge_order(in_offset_order), decisions, undecodable, ahead, misplaced)


def _by_offset(records: list[tuple[int, Event]]) -> list[Event]:
    return [event for _, event in sorted(records, key=lambda record: record[0])]
