"""The sealed trail as replay input: requests, actions and decisions from verified blocks only.

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

from riskseal.audit.export import ExportFilter, export_rows
from riskseal.audit.verify import Verifier
from riskseal.contract.events import AccessAction, AccessRequest, Decision
from riskseal.contract.schemas_set import EventType
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


def read_sealed_stream(verifier: Verifier) -> SealedStream:
    """Every request, action and decision of the verified blocks ``verifier`` walks."""
    lanes: dict[int, tuple[list[tuple[int, Event]], list[tuple[int, Event]]]] = {}
    decisions: list[Decision] = []
    undecodable = 0
    for row in export_rows(verifier, ExportFilter()):
        if row.event is None:
            undecodable += 1
            continue
        record: Mapping[str, Any] = row.event
        if row.event_type == EventType.ACCESS_REQUEST.value:
            lane = lanes.setdefault(row.partition, ([], []))[0]
            lane.append((row.offset, AccessRequest.from_record(record)))
        elif row.event_type == EventType.ACCESS_ACTION.value:
            lane = lanes.setdefault(row.partition, ([], []))[1]
            lane.append((row.offset, AccessAction.from_record(record)))
        elif row.event_type == EventType.DECISION.value:
            decisions.append(Decision.from_record(record))
    in_offset_order = {
        partition: (_by_offset(requests), _by_offset(actions))
        for partition, (requests, actions) in lanes.items()
    }
    return SealedStream(in_merge_order(in_offset_order), decisions, undecodable)


def _by_offset(records: list[tuple[int, Event]]) -> list[Event]:
    return [event for _, event in sorted(records, key=lambda record: record[0])]
